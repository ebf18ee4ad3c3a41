// Why: see export.hpp.
#include "ovlmount/cli/export.hpp"

namespace ovlmount {

Result<void> run_export(const Stores&, const ExportArgs& args, const Registry&, Mounter&, std::ostream&) {
  return failure(args.reference, "export is not written yet");
}

}  // namespace ovlmount
