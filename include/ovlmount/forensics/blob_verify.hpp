// Why: containerd keeps no tar-split, so a layer's tar stream cannot be rebuilt from its
// snapshot dir. What it does keep, until garbage collection, is the layer's blob as pulled
// (tar, tar+gzip or tar+zstd) in its content store. Its digest proves the blob, the SHA-256 of
// its uncompressed stream proves it is the layer of the diff_id, and walking its entries
// against the snapshot dir names every difference. libarchive reads the blob: ovlmount never
// parses tar or compression itself.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/forensics/layer_verify.hpp"
#include "ovlmount/store/image_store.hpp"

namespace ovlmount {

// Verifies image layer `layer` (with a non-empty layer.blob and blob_digest) from its blob,
// read beneath `root` with O_NOATIME in 1 MiB reads, in two passes with constant memory (only
// entry names are kept). Pass 1 hashes the compressed bytes, which must hash to
// layer.blob_digest (else the problem "blob digest mismatch" with path ""), and the
// uncompressed stream (gzip, zstd or none; no external filter program is ever run), whose
// digest is `actual` and must equal layer.diff_id. Pass 2 walks the tar entries ("./" and
// trailing "/" dropped; the last of a path listed twice counts) against layer.dir, without
// following symlinks: a ".wh.x" entry needs the overlay whiteout "x" (a 0/0 character device),
// ".wh..wh..opq" needs its dir to be opaque (trusted.overlay.opaque=y); any other entry needs
// an entry of the same type: a regular file the same size and the same bytes ("content
// differs"), a symlink a target of the same length (targets themselves are not read: readlink
// would change the store's atime), a hard link the same inode as its target. Each entry on
// disk the blob does not list is "not in the layer blob" (a dir holding listed entries is
// fine), each listed one not on disk "missing". `bytes` counts the uncompressed stream,
// `entries` the tar entries. Progress reports compressed bytes read against the blob's size,
// once per pass. ok = both digests match and no problem was found. Problems are sorted by
// path. Fails when the blob cannot be opened (not_found when it is missing or layer.blob is
// ""), or corrupt naming the blob when libarchive cannot read it as a tar stream.
Result<LayerVerification> verify_layer_blob(const RootDir& root, const Layer& layer, const VerifyProgress& progress);

}  // namespace ovlmount
