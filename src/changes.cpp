// Why: see changes.hpp.
#include "ovlmount/changes.hpp"

namespace ovlmount {

char change_letter(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::modify: return 'C';
    case ChangeKind::add: return 'A';
    case ChangeKind::remove: return 'D';
  }
  return '?';
}

Result<std::vector<Change>> container_changes(const RootDir&, const std::string& writable_dir,
                                              const std::vector<std::string>&) {
  return failure(writable_dir, "not implemented yet");
}

Result<std::string> bodyfile_line(const RootDir&, const std::string& writable_dir, const Change&) {
  return failure(writable_dir, "not implemented yet");
}

}  // namespace ovlmount
