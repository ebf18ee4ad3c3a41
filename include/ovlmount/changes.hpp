// Why: `docker diff` is the first thing an analyst asks of a container, and it must be answered
// from the store alone. Docker computes it (overlay2, native diff) by walking the container's
// writable layer and checking each entry against the layers below; this reproduces that walk
// exactly, and describes each change as a Sleuthkit body-file line for a timeline.
#pragma once

#include "ovlmount/error.hpp"
#include "ovlmount/root_dir.hpp"

#include <string>
#include <vector>

namespace ovlmount {

// Docker's change kinds: C, A, D.
enum class ChangeKind { modify, add, remove };

// 'C', 'A' or 'D'.
char change_letter(ChangeKind kind);

// One change of a container's filesystem.
struct Change {
  ChangeKind kind = ChangeKind::modify;
  std::string path;  // absolute inside the container: "/etc/passwd"
};

// The changes of the writable layer `writable_dir` over `lower_dirs` (top first; the init
// layer first, then the image's layers), all relative to `root`, in Docker's order: Docker
// 20.10's OverlayChanges. A whiteout (0/0 character device) is a D of its path; an opaque
// dir is a D of its path and its content is walked on; any other entry is a C if some lower
// layer has that path (a directory only when its size, mode or mtime differ from the first
// lower that has it), else an A; the parent dir of an A or D is listed as C once, before it,
// unless it was already listed. Lower entries are looked at with lstat (Docker stats through
// symlinks on the host it runs on, which a copy cannot reproduce). Reads change no timestamp.
Result<std::vector<Change>> container_changes(const RootDir& root, const std::string& writable_dir,
                                              const std::vector<std::string>& lower_dirs);

// The Sleuthkit body-file line (TSK 3: MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime)
// of `change`, from the entry's own inode in `writable_dir`: MD5 of a regular file's content
// ("0" otherwise), the mode as a string ("r/rrw-r--r--"), times in seconds, crtime 0 when the
// filesystem has none. A D's entry is its whiteout (or opaque dir), named "<path> (deleted)".
// Reading changes no timestamp (O_NOATIME, no readlink).
Result<std::string> bodyfile_line(const RootDir& root, const std::string& writable_dir, const Change& change);

}  // namespace ovlmount
