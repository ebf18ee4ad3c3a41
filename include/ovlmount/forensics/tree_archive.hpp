// Why: `export` hands an image's or container's tree on as the tar `docker export` writes, so
// the tar must hold what Docker's holds, in Docker's order. What Docker writes was read from
// moby's pkg/archive (Go's archive/tar in PAX format) and checked against `docker export`:
//   - every entry below the root, the root itself left out; names relative ("etc/passwd"),
//     a directory's with a trailing '/'; a directory before its contents, each directory's
//     names in bytewise order (Go's filepath.Walk);
//   - ustar headers, with a pax header only when a field needs one (a name that is long or not
//     ASCII, a big number, extended attributes as SCHILY.xattr.<name>);
//   - a regular file with more than one link is written once, under the first of its names;
//     its other names are hard-link entries to that one;
//   - mtimes in whole seconds, no atime or ctime; no user or group names (Docker's are those
//     of the host that runs dockerd, not the image's);
//   - sockets are left out (tar has no type for them; Docker skips them too).
// Extended attributes: Docker copies only security.capability; this copies every attribute
// except overlayfs's own trusted.overlay.* and security.selinux (a label of whatever host
// wrote the layer, which an importing host would apply as its own). A file capability of
// revision 3 is written as revision 2, as Docker does.
#pragma once

#include "ovlmount/core/error.hpp"

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>

namespace ovlmount {

// How the tar stream is compressed.
enum class TarCompression { none, gzip, zstd };

// How a tree is written.
struct TreeArchiveOptions {
  TarCompression compression = TarCompression::none;
  bool reproducible = false;  // every mtime 0, so that equal trees give equal bytes
  // When set and non-zero (a signal handler sets it), writing stops with an error.
  const volatile std::sig_atomic_t* interrupted = nullptr;
};

// How much of a tree: its entries (the root not counted, sockets neither) and the bytes of
// their contents (a file with several names counted once).
struct TreeSize {
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
};

// Called with what is written so far, after each entry and each chunk of a file's content.
using TreeArchiveProgress = std::function<void(const TreeSize& done)>;

// What `write_tree_archive` would write from the directory `root_fd`, counted from metadata
// only (nothing is read). Fails naming the first path it cannot list or stat.
Result<TreeSize> measure_tree(int root_fd);

// Writes the tree below the directory `root_fd` to `out_fd` as the tar described above.
// Never follows a symlink in the tree; opens each file with O_NOFOLLOW and O_NOATIME and
// streams it in chunks (memory does not grow with file sizes). `output` names `out_fd` in
// messages; `progress` may be empty. Fails on the first path it cannot read (the object is its
// path in the tree, "/etc/passwd"), on a write error or an interruption (the object is
// `output`); after a failure nothing more is written to `out_fd`, not even the end of the tar.
Result<TreeSize> write_tree_archive(int root_fd, int out_fd, const std::string& output,
                                    const TreeArchiveOptions& options, const TreeArchiveProgress& progress);

}  // namespace ovlmount
