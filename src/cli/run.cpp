// Why: see run.hpp.
#include "ovlmount/cli/run.hpp"

namespace ovlmount {

Result<int> run_run(const Stores&, const RunArgs& args, const Registry&, Mounter&, std::ostream&) {
  return failure(args.reference, "run is not written yet");
}

}  // namespace ovlmount
