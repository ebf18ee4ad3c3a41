// Why: `docker diff` is the first thing an analyst asks of a container, and it must be answered
// from the store alone, exactly as the container's engine answers it. Docker's overlay2 driver
// and its containerd image store compute it by comparing the container's rootfs with its init
// layer's rootfs (the "naive diff"); containers-storage (`podman diff`) walks the writable
// layer alone. This computes both answers from the diff dirs, and describes each change as a
// Sleuthkit body-file line for a timeline.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"

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
// layer first, then the image's layers), all relative to `root`: what `docker diff` prints for
// overlay2 (Docker 18.06 to 28 with the graphdriver store). Docker compares the merged tree of
// writable + lowers ("new") with the merged tree of the lowers alone ("old"), both as overlayfs
// shows them (0/0 character devices are whiteouts, trusted.overlay.opaque=y dirs hide what is
// below them). A path in new only is an A, and so is everything below it; in old only a D, and
// nothing below it is listed; in both a C when type and mode, uid, gid or device number
// differ, or (non-directories only) mtime or size (the same second counts as equal when either
// side has no nanoseconds), or security.capability differs. Content and symlink targets are
// not compared. A dir not listed itself but with a change below it is listed as C just before
// that change. So `rm -rf /d && mkdir /d && touch /d/x` gives C /d, A /d/x and a D for each
// old entry of /d, and a file copied up without a change is not listed.
// Order: depth first, names sorted bytewise, a dir before what is below it (Docker's own order
// is random: Go map iteration). Only the writable layer's entries are walked; every other path
// is the same lower inode in both trees. Reads change no timestamp (list, lstat, xattrs of
// dirs and files; O_NOATIME). Any RootDir error, and dirs nested deeper than 4096 levels, fail
// the walk.
Result<std::vector<Change>> container_changes(const RootDir& root, const std::string& writable_dir,
                                              const std::vector<std::string>& lower_dirs);

// The changes of `writable_dir` over `lower_dirs` (top first) as containers-storage's overlay
// driver reports them (`podman diff`; c/storage pkg/archive OverlayChanges with its native
// diff, which podman uses on kernels whose overlayfs passes its check). Only the writable
// layer is walked, names sorted, a dir before what is below it. Each entry is a D when it is a
// whiteout, or an opaque dir whose path the top-most lower layer that has it does not white
// out (`rm -rf /d && mkdir /d` gives D /d, then A for what is in the new /d; the old entries
// are not listed); else an A unless a lower layer has the path (not below a whiteout of that
// layer), then a C, except a dir whose size, mode and mtime equal the lower one's, which is
// not listed. An A or a D lists each parent dir not listed yet as C before it; a C does not.
// The paths podman makes in every container it runs (/dev, /proc, /sys, /run, /etc/hosts,
// /etc/hostname, /etc/resolv.conf, /etc/mtab, /run/.containerenv, /run/secrets, ...) are left
// out, exactly those paths, as `podman diff` does.
// Unlike c/storage, a lower path is never looked up through a symlink (Go's os.Stat follows
// one, onto the analyst's own machine for an absolute link): such a path counts as absent.
Result<std::vector<Change>> writable_layer_changes(const RootDir& root, const std::string& writable_dir,
                                                   const std::vector<std::string>& lower_dirs);

// The Sleuthkit body-file line (TSK 3: MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime,
// no newline) of `change`, from the entry's own inode at `writable_dir` + change.path: MD5 of a
// regular file's content ("0" otherwise), the mode as fls prints it ("r/rrw-r--r--",
// "d/drwxr-xr-x", "l/lrwxrwxrwx", "c/c---------", with s/S/t/T), times in whole seconds,
// crtime 0 when the filesystem records none. The name is change.path, with '%', '|' and
// control bytes written %XX (which mactime decodes back). A D is described by the writable
// layer's record of the removal, named "<path> (deleted)": its whiteout, the opaque dir at its
// path (podman's D of a dir removed and made again), or, for an entry removed with its dir
// (rm -rf + mkdir), the nearest opaque dir above it. Linux 5.8 and later
// make every whiteout of one mount a hard link of one shared inode, so whiteouts share their
// inode number and times. not_found when there is no such entry; usage error when change.path
// is not "/<something>". Reading changes no timestamp (O_NOATIME, no readlink).
Result<std::string> bodyfile_line(const RootDir& root, const std::string& writable_dir, const Change& change);

}  // namespace ovlmount
