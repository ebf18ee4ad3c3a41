// Why: see files.hpp.
#include "ovlmount/cli/files.hpp"

namespace ovlmount {

Result<void> run_files(const Stores&, const FilesArgs& args, const Registry&, Mounter&, std::ostream&, std::ostream&) {
  return failure(args.reference, "files is not written yet");
}

}  // namespace ovlmount
