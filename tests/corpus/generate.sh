#!/usr/bin/env bash
# Why: ovlmount runs as root on stores that may come from a compromised host (issue 9). This
# generator builds the adversarial corpus: copies of the four real store fixtures (Docker
# overlay2, containerd, containers-storage, Docker's containerd image store), each with ONE
# defect an attacker or a crash could leave (truncated files, wrong JSON types, missing files,
# wrong digests, IDs that are paths, escaping symlinks, loops, FIFOs, sockets, device nodes,
# hard links to outside files, torn or cyclic bolt pages, deep or huge JSON...).
#
#   tests/corpus/generate.sh DEST
#
# Sources (the integration fixtures, never changed): $OVLMOUNT_TEST_DATA_ROOT (a Docker
# overlay2 data root, copied under the tests' data-root lock), $OVLMOUNT_TEST_PODMAN_DIR/root,
# $OVLMOUNT_TEST_CONTAINERD_DIR/root, $OVLMOUNT_TEST_DOCKER29_DIR/variant-a/docker.
#
# DEST/<case>/store is the broken store; DEST/<case>/outside holds what its links point at;
# DEST/<case>/manifest says (key=value, one a line):
#   kind      docker | containers-storage | containerd | docker-containerd
#   defect    the defect class (truncated, json-type, missing, digest, id, symlink, ...)
#   what      one sentence
#   root      the store's option: --data-root | --storage-root | --containerd-root
#   extra     more options (e.g. "--namespace default"), space separated, may be empty
#   ref       the image to ask for (may be empty)
#   container the container to ask for (may be empty)
#   expect    the exit code of every command that reads the broken object (3 or 4)
#   expect.C  the exit code of command C where it differs (C: resolve mount mount-rw container
#             container-rw container-vols images containers inspect verify diff which export
#             files run)
#   names     what stderr must name: alternatives separated by '|'
#   absent    (optional) text no command may print on stdout
#   listed    (optional) text `images` must print on stdout (a broken image is still listed)
# Layer contents (overlay2/*/diff, overlay/*/diff, snapshots/*/fs) are hard links into a
# pristine copy under DEST/.pristine (the tool must never write there); every other file of a
# case is its own copy. Deterministic: the same fixtures give the same corpus.
# shellcheck disable=SC2016 # the $1... in replace's arguments are perl's back-references
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
DEST=$1
: "${OVLMOUNT_TEST_DATA_ROOT:?}"
# The fixtures sit beside the test data root unless named (as their store.sh scripts decide).
fixtures=$(dirname "$OVLMOUNT_TEST_DATA_ROOT")
OVLMOUNT_TEST_PODMAN_DIR=${OVLMOUNT_TEST_PODMAN_DIR:-$fixtures/podman}
OVLMOUNT_TEST_CONTAINERD_DIR=${OVLMOUNT_TEST_CONTAINERD_DIR:-$fixtures/containerd}
OVLMOUNT_TEST_DOCKER29_DIR=${OVLMOUNT_TEST_DOCKER29_DIR:-$fixtures/docker29}
mkdir -p "$DEST"
DEST=$(realpath "$DEST")
PRISTINE=$DEST/.pristine
mkdir -p "$PRISTINE"

# ---- pristine copies -------------------------------------------------------------------------

docker_src=$(realpath "$OVLMOUNT_TEST_DATA_ROOT")
lock=/tmp/ovltest-$(printf '%s' "$docker_src" | sha256sum | cut -c1-16).lock
flock "$lock" cp -a --one-file-system "$docker_src" "$PRISTINE/docker"
cp -a "$OVLMOUNT_TEST_PODMAN_DIR/root" "$PRISTINE/containers-storage"
cp -a "$OVLMOUNT_TEST_CONTAINERD_DIR/root" "$PRISTINE/containerd"
cp -a "$OVLMOUNT_TEST_DOCKER29_DIR/variant-a/docker" "$PRISTINE/docker-containerd"

# ---- helpers ---------------------------------------------------------------------------------

CASES=0
C='' S='' KIND=''

# Rewrites each file given as a private copy (no hard link left), keeping mode, owner and times.
privatize() {
  perl -e 'for my $f (@ARGV) {
    my @s = lstat($f) or die "$f: $!";
    open(my $i, "<:raw", $f) or die "$f: $!"; local $/; my $d = <$i> // ""; close $i;
    unlink($f) or die "$f: $!";
    open(my $o, ">:raw", $f) or die "$f: $!"; print $o $d; close $o;
    chown($s[4], $s[5], $f); chmod($s[2] & 07777, $f); utime($s[8], $s[9], $f);
  }' "$@"
}

# new_case NAME KIND DEFECT WHAT: DEST/NAME with a copy of KIND's pristine store.
new_case() {
  local name=$1
  KIND=$2
  C=$DEST/$name
  S=$C/store
  mkdir -p "$C/outside"
  cp -al "$PRISTINE/$KIND" "$S"
  find "$S" \( -path "$S/overlay2/*/diff" -o -path "$S/overlay/*/diff" -o -path "*/snapshots/*/fs" \) -prune \
    -o -type f -print0 | xargs -0 -r -n 400 bash -c 'privatize "$@"' _
  local root extra=
  case $KIND in
    docker | docker-containerd) root=--data-root ;;
    containers-storage) root=--storage-root ;;
    containerd) root=--containerd-root extra="--namespace default" ;;
  esac
  printf 'kind=%s\ndefect=%s\nwhat=%s\nroot=%s\nextra=%s\n' "$KIND" "$3" "$4" "$root" "$extra" >"$C/manifest"
  CASES=$((CASES + 1))
}
export -f privatize

man() { printf '%s=%s\n' "$1" "$2" >>"$C/manifest"; }

# Replaces FILE (a path below the store) with a FIFO, a socket, a device node, a dir, a symlink...
make_fifo() { rm -rf "$1"; mkfifo -m 0600 "$1"; }
make_socket() {
  rm -rf "$1"
  (cd "$(dirname "$1")" && perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die; bind($s, sockaddr_un($ARGV[0])) or die "$!"' "$(basename "$1")")
}
make_chardev() { rm -rf "$1"; mknod -m 0600 "$1" c 1 3; }
make_blockdev() { rm -rf "$1"; mknod -m 0600 "$1" b 7 0; }
make_dir() { rm -rf "$1"; mkdir -m 0700 "$1"; }
# A symlink to a copy of the file outside the store (same content: only the link is wrong).
make_symlink_out() {
  local copy
  copy=$C/outside/$(basename "$1")
  cp -a "$1" "$copy"
  rm -rf "$1"
  ln -s "$copy" "$1"
}
# A hard link to a file outside the store with the same content.
make_hardlink_out() {
  local copy
  copy=$C/outside/$(basename "$1")
  cp -a "$1" "$copy"
  rm -f "$1"
  ln "$copy" "$1"
}
truncate_half() { truncate -s $(($(stat -c %s "$1") / 2)) "$1"; }
# replace FILE FROM TO: every FROM (a perl regex) in FILE becomes TO (perl replacement text).
replace() { perl -0777 -pi -e "s#$2#$3#g" "$1"; }
# N nested JSON arrays.
deep_json() { perl -e 'print "[" x $ARGV[0], "]" x $ARGV[0]' "$1"; }
sha() { sha256sum "$1" | cut -c1-64; }

# Bolt pages are 4096 bytes here; the two meta pages are 0 and 1 (magic at 16, checksum at 72).
bolt_bad_magic() { printf '\0\0\0\0' | dd of="$1" bs=1 seek=16 conv=notrunc status=none; printf '\0\0\0\0' | dd of="$1" bs=1 seek=$((4096 + 16)) conv=notrunc status=none; }
bolt_bad_checksum() {
  perl -e 'open(my $f, "+<:raw", $ARGV[0]) or die; for my $o (72, 4096 + 72) { seek($f, $o, 0); read($f, my $b, 1); seek($f, $o, 0); print $f chr(ord($b) ^ 0xff); }' "$1"
}
# Every branch page's first child pointer points at the page itself: a cycle.
bolt_page_cycle() {
  perl -e 'open(my $f, "+<:raw", $ARGV[0]) or die; my $n = (-s $ARGV[0]) / 4096; my $done = 0;
    for my $p (2 .. $n - 1) { seek($f, $p * 4096, 0); read($f, my $h, 16);
      my ($id, $flags, $count) = unpack("Q< S< S<", $h);
      next unless $id == $p && $flags == 1 && $count > 0;
      seek($f, $p * 4096 + 16 + 8, 0); print $f pack("Q<", $p); $done++; }
    die "no branch page in $ARGV[0]\n" unless $done;' "$1"
}

# ---- Docker overlay2 ---------------------------------------------------------------------------

P=$PRISTINE/docker
REPOS=image/overlay2/repositories.json
IMAGEDB=image/overlay2/imagedb/content/sha256
LAYERDB=image/overlay2/layerdb
image_id() { grep -o "\"$1\":\"sha256:[0-9a-f]*\"" "$P/$REPOS" | head -1 | sed 's/.*sha256://; s/"$//'; }
BASE_ID=$(image_id ovltest-base:1)
MULTI_ID=$(image_id ovltest-multi:latest)
diff_ids() { grep -o '"diff_ids":\[[^]]*\]' "$P/$IMAGEDB/$1" | grep -o 'sha256:[0-9a-f]\{64\}' | sed 's/sha256://'; }
mapfile -t MULTI_DIFFS < <(diff_ids "$MULTI_ID")
BASE_CHAIN=${MULTI_DIFFS[0]}
MULTI_CHAIN2=$(printf 'sha256:%s sha256:%s' "${MULTI_DIFFS[0]}" "${MULTI_DIFFS[1]}" | sha256sum | cut -c1-64)
MULTI2_CACHE=$(cat "$P/$LAYERDB/sha256/$MULTI_CHAIN2/cache-id")
chain_ids() {
  local prev='' d
  for d in "$@"; do
    if [[ -z $prev ]]; then prev=$d; else prev=$(printf 'sha256:%s sha256:%s' "$prev" "$d" | sha256sum | cut -c1-64); fi
    echo "$prev"
  done
}
# The 100-layer image and the builder's intermediate images are left out of the Docker copies
# (they are only size here): the layers no other image uses, their configs and names.
DEEP_ID=$(image_id ovltest-deep:latest)
if [[ -n $DEEP_ID ]]; then
  declare -A KEEP=()
  for c in $(chain_ids "${MULTI_DIFFS[@]}"); do KEEP[$c]=1; done
  mapfile -t DEEP_DIFFS < <(diff_ids "$DEEP_ID")
  for c in $(chain_ids "${DEEP_DIFFS[@]}"); do
    [[ -n ${KEEP[$c]:-} || ! -d $P/$LAYERDB/sha256/$c ]] && continue
    cache=$(cat "$P/$LAYERDB/sha256/$c/cache-id")
    rm -rf "${P:?}/overlay2/l/$(cat "$P/overlay2/$cache/link")" "${P:?}/overlay2/$cache" "${P:?}/$LAYERDB/sha256/$c"
  done
  for f in "$P/$IMAGEDB"/*; do
    id=$(basename "$f")
    [[ $id == "$BASE_ID" || $id == "$MULTI_ID" ]] && continue
    rm -rf "$f" "$P/image/overlay2/imagedb/metadata/sha256/$id"
  done
  replace "$P/$REPOS" '"ovltest-deep":\{[^}]*\},?' ''
fi
container_id() { grep -l "\"Name\":\"/$1\"" "$P"/containers/*/config.v2.json | head -1 | xargs dirname | xargs basename; }
VOLS_ID=$(container_id ovltest-vols)
VOLS_MOUNT=$(cat "$P/$LAYERDB/mounts/$VOLS_ID/mount-id")
H64=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

# A new image config (written under its own digest) named corpus:latest.
docker_add_config() {
  local file=$C/outside/config id
  printf '%s' "$1" >"$file"
  id=$(sha "$file")
  mv "$file" "$S/$IMAGEDB/$id"
  sed -i "s/^names=/names=${id:0:12}|/" "$C/manifest"
  replace "$S/$REPOS" '^\{"Repositories":\{' "{\"Repositories\":{\"corpus\":{\"corpus:latest\":\"sha256:$id\"},"
}
config_with_diff_ids() {
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":%s}}' "$1"
}
docker_image_case() { new_case "$1" docker "$2" "$3"; man ref "$4"; man expect "$5"; man names "$6"; }
docker_container_case() { new_case "$1" docker "$2" "$3"; man container ovltest-vols; man expect "$4"; man names "$5"; }

F=$REPOS
docker_image_case docker-repositories-truncated truncated "repositories.json cut in half" ovltest-multi:latest 4 repositories.json
truncate_half "$S/$F"
docker_image_case docker-repositories-not-object json-type "repositories.json is a JSON array" ovltest-multi:latest 4 repositories.json
printf '[]' >"$S/$F"
docker_image_case docker-repositories-tag-number json-type "a tag maps to a number, not an ID" ovltest-multi:latest 4 "repositories.json|ovltest-multi"
replace "$S/$F" '"ovltest-multi:latest":"sha256:[0-9a-f]+"' '"ovltest-multi:latest":42'
docker_image_case docker-repositories-id-traversal id "a tag maps to sha256:../../../etc/passwd" ovltest-multi:latest 4 "repositories.json|ovltest-multi|etc/passwd"
replace "$S/$F" '"ovltest-multi:latest":"sha256:[0-9a-f]+"' '"ovltest-multi:latest":"sha256:../../../../../../etc/passwd"'
docker_image_case docker-repositories-id-newline id "a tag maps to an ID with a newline in it" ovltest-multi:latest 4 "repositories.json|ovltest-multi"
replace "$S/$F" '"ovltest-multi:latest":"sha256:([0-9a-f]{32})[0-9a-f]+"' '"ovltest-multi:latest":"sha256:$1\\n$1"'
docker_image_case docker-repositories-id-short id "a tag maps to a 63-digit ID" ovltest-multi:latest 4 "repositories.json|ovltest-multi"
replace "$S/$F" '"ovltest-multi:latest":"sha256:([0-9a-f]{63})[0-9a-f]"' '"ovltest-multi:latest":"sha256:$1"'
docker_image_case docker-repositories-missing missing "no repositories.json" ovltest-multi:latest 3 ovltest-multi
man expect.images 0
rm "$S/$F"
docker_image_case docker-repositories-fifo fifo "repositories.json is a FIFO" ovltest-multi:latest 4 repositories.json
make_fifo "$S/$F"
docker_image_case docker-repositories-socket socket "repositories.json is a socket" ovltest-multi:latest 4 repositories.json
make_socket "$S/$F"
docker_image_case docker-repositories-chardev device "repositories.json is /dev/null's device node" ovltest-multi:latest 4 repositories.json
make_chardev "$S/$F"
docker_image_case docker-repositories-blockdev device "repositories.json is a block device node" ovltest-multi:latest 4 repositories.json
make_blockdev "$S/$F"
docker_image_case docker-repositories-dir unreadable "repositories.json is a directory" ovltest-multi:latest 4 repositories.json
make_dir "$S/$F"
docker_image_case docker-repositories-symlink-out symlink "repositories.json is a symlink to a copy outside the store" ovltest-multi:latest 4 repositories.json
make_symlink_out "$S/$F"
docker_image_case docker-repositories-symlink-etc symlink "repositories.json is a symlink to /etc/passwd" ovltest-multi:latest 4 repositories.json
rm "$S/$F"; ln -s /etc/passwd "$S/$F"
docker_image_case docker-repositories-hardlink-out hardlink "repositories.json is a hard link to a file outside the store" ovltest-multi:latest 4 repositories.json
make_hardlink_out "$S/$F"
docker_image_case docker-repositories-deep-nesting deep-json "repositories.json nests 100000 arrays" ovltest-multi:latest 4 repositories.json
deep_json 100000 >"$S/$F"
docker_image_case docker-repositories-huge huge-json "repositories.json is 200 MiB (sparse)" ovltest-multi:latest 4 repositories.json
truncate -s 200M "$S/$F"

F=$IMAGEDB/$MULTI_ID
docker_image_case docker-config-truncated truncated "the image config cut in half" ovltest-multi:latest 4 "${MULTI_ID:0:12}"
truncate_half "$S/$F"
docker_image_case docker-config-one-byte digest "one byte of the image config changed (digest mismatch)" ovltest-multi:latest 4 "${MULTI_ID:0:12}"
replace "$S/$F" '"created":"2' '"created":"3'
docker_image_case docker-config-missing missing "the config a tag points at is gone" ovltest-multi:latest 3 "${MULTI_ID:0:12}"
rm "$S/$F"
docker_image_case docker-config-fifo fifo "the image config is a FIFO" ovltest-multi:latest 4 "${MULTI_ID:0:12}"
make_fifo "$S/$F"
docker_image_case docker-config-symlink-out symlink "the image config is a symlink to a copy outside" ovltest-multi:latest 4 "${MULTI_ID:0:12}"
make_symlink_out "$S/$F"
docker_image_case docker-config-hardlink-out hardlink "the image config is a hard link to a file outside" ovltest-multi:latest 4 "${MULTI_ID:0:12}"
make_hardlink_out "$S/$F"
docker_image_case docker-config-diff-ids-string json-type "rootfs.diff_ids is a string" corpus:latest 4 "corpus|rootfs|diff_ids"
docker_add_config "$(config_with_diff_ids '"sha256:'"$BASE_CHAIN"'"')"
docker_image_case docker-config-diff-ids-empty empty "rootfs.diff_ids is empty" corpus:latest 4 "corpus|diff_ids|layer"
docker_add_config "$(config_with_diff_ids '[]')"
docker_image_case docker-config-diff-id-traversal id "a diff_id is sha256:../../../../etc" corpus:latest 4 "corpus|etc"
docker_add_config "$(config_with_diff_ids '["sha256:../../../../etc"]')"
docker_image_case docker-config-diff-id-slash id "a diff_id holds a /" corpus:latest 4 "corpus|sha256:"
docker_add_config "$(config_with_diff_ids "[\"sha256:${H64:0:32}/${H64:0:31}\"]")"
docker_image_case docker-config-diff-id-newline id "a diff_id holds a newline" corpus:latest 4 "corpus|sha256:"
docker_add_config "$(config_with_diff_ids "[\"sha256:${H64:0:32}\\n${H64:0:31}\"]")"
docker_image_case docker-config-diff-id-nul id "a diff_id holds a NUL" corpus:latest 4 "corpus|sha256:"
docker_add_config "$(config_with_diff_ids "[\"sha256:${H64:0:32}\\u0000${H64:0:31}\"]")"
docker_image_case docker-config-diff-id-nonascii id "a diff_id holds non-ASCII letters" corpus:latest 4 "corpus|sha256:"
docker_add_config "$(config_with_diff_ids "[\"sha256:${H64:0:60}äö\"]")"
docker_image_case docker-config-diff-id-short id "a diff_id of 63 hex digits" corpus:latest 4 "corpus|sha256:"
docker_add_config "$(config_with_diff_ids "[\"sha256:${H64:0:63}\"]")"
docker_image_case docker-config-diff-id-uppercase id "a diff_id in upper case" corpus:latest 4 "corpus|sha256:"
docker_add_config "$(config_with_diff_ids "[\"sha256:${BASE_CHAIN^^}\"]")"
docker_image_case docker-config-many-diff-ids resource "100000 diff_ids" corpus:latest 4 "corpus|layers"
docker_add_config "$(config_with_diff_ids "[$(perl -e 'print join(",", ("\"sha256:$ARGV[0]\"") x 100000)' "$BASE_CHAIN")]")"
docker_image_case docker-config-deep-nesting deep-json "the config nests 100000 objects" corpus:latest 4 "corpus"
docker_add_config "$(perl -e 'print "{\"a\":" x 100000, "1", "}" x 100000')"

L=$LAYERDB/sha256/$MULTI_CHAIN2
docker_image_case docker-cache-id-traversal id "a cache-id is ../../../../etc" ovltest-multi:latest 4 cache-id
printf '../../../../etc' >"$S/$L/cache-id"
docker_image_case docker-cache-id-slash id "a cache-id holds a /" ovltest-multi:latest 4 cache-id
printf '%s/%s' "${MULTI2_CACHE:0:32}" "${MULTI2_CACHE:33}" >"$S/$L/cache-id"
docker_image_case docker-cache-id-newline id "a cache-id holds a newline inside" ovltest-multi:latest 4 cache-id
printf '%s\n%s' "${MULTI2_CACHE:0:32}" "${MULTI2_CACHE:33}" >"$S/$L/cache-id"
docker_image_case docker-cache-id-nul id "a cache-id holds a NUL" ovltest-multi:latest 4 cache-id
printf '%s\0%s' "${MULTI2_CACHE:0:32}" "${MULTI2_CACHE:33}" >"$S/$L/cache-id"
docker_image_case docker-cache-id-nonascii id "a cache-id holds non-ASCII bytes" ovltest-multi:latest 4 cache-id
printf '%s\xc3\xa4' "${MULTI2_CACHE:0:62}" >"$S/$L/cache-id"
docker_image_case docker-cache-id-short id "a cache-id of 63 hex digits" ovltest-multi:latest 4 cache-id
printf '%s' "${MULTI2_CACHE:0:63}" >"$S/$L/cache-id"
docker_image_case docker-cache-id-empty empty "an empty cache-id" ovltest-multi:latest 4 cache-id
: >"$S/$L/cache-id"
docker_image_case docker-cache-id-fifo fifo "a cache-id is a FIFO" ovltest-multi:latest 4 cache-id
make_fifo "$S/$L/cache-id"
docker_image_case docker-cache-id-dir unreadable "a cache-id is a directory" ovltest-multi:latest 4 cache-id
make_dir "$S/$L/cache-id"
docker_image_case docker-cache-id-chardev device "a cache-id is a character device node" ovltest-multi:latest 4 cache-id
make_chardev "$S/$L/cache-id"
docker_image_case docker-cache-id-symlink-etc symlink "a cache-id is a symlink to /etc/hostname" ovltest-multi:latest 4 cache-id
rm "$S/$L/cache-id"; ln -s /etc/hostname "$S/$L/cache-id"
docker_image_case docker-cache-id-symlink-relative symlink "a cache-id is a symlink ../../../../../../etc/hostname" ovltest-multi:latest 4 cache-id
rm "$S/$L/cache-id"; ln -s ../../../../../../../../../../etc/hostname "$S/$L/cache-id"
docker_image_case docker-cache-id-hardlink-out hardlink "a cache-id is a hard link to a file outside the store" ovltest-multi:latest 4 cache-id
make_hardlink_out "$S/$L/cache-id"
docker_image_case docker-layerdb-diff-mismatch digest "a layer's diff file names another digest" ovltest-multi:latest 4 "$MULTI_CHAIN2|${MULTI_CHAIN2:0:12}|/diff"
printf 'sha256:%s' "$H64" >"$S/$L/diff"
docker_image_case docker-layerdb-parent-loop loop "a layer's parent file names the layer itself" ovltest-multi:latest 4 "$MULTI_CHAIN2|${MULTI_CHAIN2:0:12}|parent"
printf 'sha256:%s' "$MULTI_CHAIN2" >"$S/$L/parent"
docker_image_case docker-layerdb-missing missing "a layerdb/sha256/<chain> dir is gone" ovltest-multi:latest 3 "$MULTI_CHAIN2|${MULTI_CHAIN2:0:12}"
rm -rf "${S:?}/$L"
docker_image_case docker-layerdb-symlink-out symlink "a layerdb/sha256/<chain> dir is a symlink to a copy outside" ovltest-multi:latest 4 "$MULTI_CHAIN2"
make_symlink_out "$S/$L"
docker_image_case docker-layerdb-file unreadable "a layerdb/sha256/<chain> dir is a file" ovltest-multi:latest 4 "$MULTI_CHAIN2"
rm -rf "${S:?}/$L"; printf 'x' >"$S/$L"

O=overlay2/$MULTI2_CACHE
docker_image_case docker-layer-dir-missing missing "an overlay2/<cache-id> dir is gone" ovltest-multi:latest 3 "$MULTI2_CACHE"
rm -rf "${S:?}/$O"
docker_image_case docker-layer-dir-file layer-file "an overlay2/<cache-id> dir is a file" ovltest-multi:latest 4 "$MULTI2_CACHE"
rm -rf "${S:?}/$O"; printf 'x' >"$S/$O"
docker_image_case docker-layer-diff-symlink-etc symlink "an overlay2/<cache-id>/diff is a symlink to /etc" ovltest-multi:latest 4 "$MULTI2_CACHE"
rm -rf "${S:?}/$O/diff"; ln -s /etc "$S/$O/diff"
docker_image_case docker-layer-diff-symlink-relative symlink "an overlay2/<cache-id>/diff is a symlink ../../../../etc" ovltest-multi:latest 4 "$MULTI2_CACHE"
rm -rf "${S:?}/$O/diff"; ln -s ../../../../../../../../etc "$S/$O/diff"
docker_image_case docker-layer-diff-fifo fifo "an overlay2/<cache-id>/diff is a FIFO" ovltest-multi:latest 4 "$MULTI2_CACHE"
rm -rf "${S:?}/$O/diff"; mkfifo "$S/$O/diff"
docker_image_case docker-layer-diff-socket socket "an overlay2/<cache-id>/diff is a socket" ovltest-multi:latest 4 "$MULTI2_CACHE"
rm -rf "${S:?}/$O/diff"; make_socket "$S/$O/diff"
docker_image_case docker-layer-diff-blockdev device "an overlay2/<cache-id>/diff is a block device node" ovltest-multi:latest 4 "$MULTI2_CACHE"
rm -rf "${S:?}/$O/diff"; make_blockdev "$S/$O/diff"
docker_image_case docker-layer-dir-symlink-out symlink "an overlay2/<cache-id> dir is a symlink to a copy outside" ovltest-multi:latest 4 "$MULTI2_CACHE"
mv "$S/$O" "$C/outside/layer"; ln -s "$C/outside/layer" "$S/$O"
docker_image_case docker-link-name-traversal id "an overlay2/<cache-id>/link names ../../../../etc (used nowhere, shown nowhere)" ovltest-multi:latest 0 ""
man absent "../../../../etc"
printf '../../../../../../../../etc' >"$S/$O/link"
docker_image_case docker-overlay2-symlink-etc symlink "the overlay2 dir is a symlink to /etc" ovltest-multi:latest 4 "overlay2"
mv "$S/overlay2" "$C/outside/overlay2"; ln -s /etc "$S/overlay2"
docker_image_case docker-imagedb-symlink-relative symlink "imagedb/content/sha256 is a symlink ../../../../../.." ovltest-multi:latest 4 "imagedb|sha256"
mv "$S/$IMAGEDB" "$C/outside/imagedb"; ln -s ../../../../../../../../.. "$S/$IMAGEDB"
docker_image_case docker-ambiguous-prefix ambiguous "two image IDs share the prefix asked for" "${MULTI_ID:0:8}" 3 "${MULTI_ID:0:8}"
man expect.images 4
cp -a "$S/$IMAGEDB/$MULTI_ID" "$S/$IMAGEDB/${MULTI_ID:0:8}${H64:8}"

M=$LAYERDB/mounts/$VOLS_ID
F=containers/$VOLS_ID/config.v2.json
docker_container_case docker-container-config-truncated truncated "a container's config.v2.json cut in half" 4 "config.v2.json|${VOLS_ID:0:12}"
truncate_half "$S/$F"
docker_container_case docker-container-config-not-object json-type "a container's config.v2.json is a JSON string" 4 "config.v2.json|${VOLS_ID:0:12}"
printf '"ovltest-vols"' >"$S/$F"
docker_container_case docker-container-config-mounts-type json-type "MountPoints is an array of numbers" 4 "config.v2.json|${VOLS_ID:0:12}|MountPoints"
replace "$S/$F" '"MountPoints":\{.*?\}\}(,"SecretReferences"|,"ConfigReferences"|,"Driver")' '"MountPoints":[1,2,3]$1'
docker_container_case docker-container-config-deep-nesting deep-json "a container's config.v2.json nests 100000 arrays" 4 "config.v2.json|${VOLS_ID:0:12}"
deep_json 100000 >"$S/$F"
docker_container_case docker-container-config-fifo fifo "a container's config.v2.json is a FIFO" 4 "config.v2.json|${VOLS_ID:0:12}"
make_fifo "$S/$F"
docker_container_case docker-container-config-symlink-etc symlink "a container's config.v2.json is a symlink to /etc/passwd" 4 "config.v2.json|${VOLS_ID:0:12}"
rm "$S/$F"; ln -s /etc/passwd "$S/$F"
docker_container_case docker-container-config-hardlink-out hardlink "a container's config.v2.json is a hard link to a file outside" 4 "config.v2.json|${VOLS_ID:0:12}"
make_hardlink_out "$S/$F"
docker_container_case docker-container-id-traversal id "a container's ID field is ../../../etc" 4 "config.v2.json|${VOLS_ID:0:12}|etc"
replace "$S/$F" "\"ID\":\"$VOLS_ID\"" '"ID":"../../../../../../../../etc"'
docker_container_case docker-container-image-traversal id "a container's Image field is sha256:../../../../etc" 4 "config.v2.json|${VOLS_ID:0:12}|etc"
replace "$S/$F" '"Image":"sha256:[0-9a-f]{64}"' '"Image":"sha256:../../../../../../../../etc"'
docker_container_case docker-container-volume-name-traversal id "a named volume is called ../../../../etc" 4 "config.v2.json|volume name"
replace "$S/$F" '"Name":"ovltest-vol"' '"Name":"../../../../../../../../etc"'
docker_container_case docker-container-mount-id-traversal id "a container's mount-id is ../../../../etc" 4 "mount-id"
printf '../../../../../../../../etc' >"$S/$M/mount-id"
docker_container_case docker-container-mount-id-fifo fifo "a container's mount-id is a FIFO" 4 "mount-id"
make_fifo "$S/$M/mount-id"
docker_container_case docker-container-mount-id-missing missing "a container's mount-id is gone" 3 "mount-id|${VOLS_ID:0:12}"
rm "$S/$M/mount-id"
docker_container_case docker-container-init-id-newline id "a container's init-id holds a newline" 4 "init-id"
printf '%s\n%s-init' "${VOLS_MOUNT:0:20}" "${VOLS_MOUNT:21}" >"$S/$M/init-id"
docker_container_case docker-container-writable-dir-file layer-file "a container's writable layer dir is a file" 4 "$VOLS_MOUNT"
rm -rf "${S:?}/overlay2/$VOLS_MOUNT"; printf 'x' >"$S/overlay2/$VOLS_MOUNT"
docker_container_case docker-container-dir-symlink-out symlink "containers/<id> is a symlink to a copy outside" 4 "${VOLS_ID:0:12}|containers"
mv "$S/containers/$VOLS_ID" "$C/outside/container"; ln -s "$C/outside/container" "$S/containers/$VOLS_ID"
docker_container_case docker-container-name-twice duplicate-name "two containers are named ovltest-vols (Docker allows one)" 4 "ovltest-vols"
man expect.containers 0
cp -a "$S/containers/$VOLS_ID" "$S/containers/${H64}"
cp -a "$S/$M" "$S/$LAYERDB/mounts/$H64"
replace "$S/containers/${H64}/config.v2.json" "\"ID\":\"$VOLS_ID\"" "\"ID\":\"$H64\""

# ---- containers-storage ------------------------------------------------------------------------

P=$PRISTINE/containers-storage
PONE=localhost/ovltest-one:latest
PMULTI=localhost/ovltest-multi:latest
cs_layer_of_image() { grep -o "\"id\":\"$1\",[^}]*\"layer\":\"[0-9a-f]*\"" "$P/overlay-images/images.json" | sed 's/.*"layer":"//; s/"$//'; }
PMULTI_TOP=$(cs_layer_of_image "$MULTI_ID")
PBASE_LAYER=$(cs_layer_of_image "$BASE_ID")
cs_container_id() { grep -o "\"id\":\"[0-9a-f]*\",\"names\":\\[\"$1\"\\]" "$P/overlay-containers/containers.json" | sed 's/"id":"//; s/".*//'; }
PVOLS_ID=$(cs_container_id ovltest-pvols)
cs_image_case() { new_case "$1" containers-storage "$2" "$3"; man ref "$4"; man expect "$5"; man names "$6"; }
cs_container_case() { new_case "$1" containers-storage "$2" "$3"; man container ovltest-pvols; man expect "$4"; man names "$5"; }

F=overlay-images/images.json
cs_image_case cs-images-truncated truncated "images.json cut in half" $PONE 4 images.json
truncate_half "$S/$F"
cs_image_case cs-images-not-array json-type "images.json is an object" $PONE 4 images.json
printf '{"id":"x"}' >"$S/$F"
cs_image_case cs-images-names-type json-type "an image's names is a string" $PONE 4 "images.json|${BASE_ID:0:12}"
replace "$S/$F" '"names":\["localhost/ovltest-one:latest","localhost/ovltest-base:1"\]' '"names":"localhost/ovltest-one:latest"'
cs_image_case cs-images-missing missing "no images.json" $PONE 3 ovltest-one
man expect.images 0
rm "$S/$F"
cs_image_case cs-images-fifo fifo "images.json is a FIFO" $PONE 4 images.json
make_fifo "$S/$F"
cs_image_case cs-images-socket socket "images.json is a socket" $PONE 4 images.json
make_socket "$S/$F"
cs_image_case cs-images-symlink-etc symlink "images.json is a symlink to /etc/passwd" $PONE 4 images.json
rm "$S/$F"; ln -s /etc/passwd "$S/$F"
cs_image_case cs-images-hardlink-out hardlink "images.json is a hard link to a file outside" $PONE 4 images.json
make_hardlink_out "$S/$F"
cs_image_case cs-images-deep-nesting deep-json "images.json nests 100000 arrays" $PONE 4 images.json
deep_json 100000 >"$S/$F"
cs_image_case cs-images-huge huge-json "images.json is 200 MiB (sparse)" $PONE 4 images.json
truncate -s 200M "$S/$F"
cs_image_case cs-image-layer-traversal id "an image's top layer is ../../../../etc" $PONE 4 "images.json|${BASE_ID:0:12}|etc"
replace "$S/$F" "\"layer\":\"$PBASE_LAYER\"" '"layer":"../../../../../../../../etc"'
cs_image_case cs-image-id-wrong-length id "an image's ID is 65 hex digits" $PONE 4 "images.json|${BASE_ID:0:12}"
replace "$S/$F" "\"id\":\"$BASE_ID\"" "\"id\":\"${BASE_ID}0\""
cs_image_case cs-image-name-twice duplicate-name "two images are named localhost/ovltest-one:latest (containers-storage allows one)" $PONE 4 "ovltest-one"
man expect.images 0
replace "$S/$F" '"names":\[([^]]*)"localhost/ovltest-multi:latest"' '"names":[$1"localhost/ovltest-multi:latest","localhost/ovltest-one:latest"'

F=overlay-layers/layers.json
cs_image_case cs-layers-truncated truncated "layers.json cut in half" $PMULTI 4 layers.json
truncate_half "$S/$F"
cs_image_case cs-layers-parent-type json-type "a layer's parent is a number" $PMULTI 4 "layers.json|${PMULTI_TOP:0:12}|parent"
replace "$S/$F" "(\"id\":\"$PMULTI_TOP\",\"parent\"):\"[0-9a-f]+\"" '$1:7'
cs_image_case cs-layers-parent-self loop "a layer's parent is itself" $PMULTI 4 "$PMULTI_TOP|layers.json|loop"
replace "$S/$F" "(\"id\":\"$PMULTI_TOP\",\"parent\"):\"[0-9a-f]+\"" "\$1:\"$PMULTI_TOP\""
cs_image_case cs-layers-parent-cycle loop "the bottom layer's parent is the top layer (a cycle)" $PMULTI 4 "layers.json|loop|${PMULTI_TOP:0:12}|${PBASE_LAYER:0:12}"
replace "$S/$F" "(\"id\":\"$PBASE_LAYER\",)" "\$1\"parent\":\"$PMULTI_TOP\","
cs_image_case cs-layers-id-traversal id "a layer's ID is ../../../../etc" $PONE 4 "layers.json|etc"
replace "$S/$F" "\"id\":\"$PBASE_LAYER\"" '"id":"../../../../../../../../etc"'
cs_image_case cs-layers-parent-slash id "a layer's parent holds a /" $PMULTI 4 "layers.json|${PMULTI_TOP:0:12}"
replace "$S/$F" "(\"id\":\"$PMULTI_TOP\",\"parent\"):\"([0-9a-f]{32})[0-9a-f]([0-9a-f]+)\"" '$1:"$2/$3"'
cs_image_case cs-layers-fifo fifo "layers.json is a FIFO" $PONE 4 layers.json
make_fifo "$S/$F"
cs_image_case cs-layers-blockdev device "layers.json is a block device node" $PONE 4 layers.json
make_blockdev "$S/$F"
cs_image_case cs-layers-dir unreadable "layers.json is a directory" $PONE 4 layers.json
make_dir "$S/$F"
cs_image_case cs-layer-dir-missing missing "overlay/<layer> is gone" $PONE 3 "$PBASE_LAYER"
rm -rf "${S:?}/overlay/$PBASE_LAYER"
cs_image_case cs-layer-dir-file layer-file "overlay/<layer> is a file" $PONE 4 "$PBASE_LAYER"
rm -rf "${S:?}/overlay/$PBASE_LAYER"; printf 'x' >"$S/overlay/$PBASE_LAYER"
cs_image_case cs-layer-diff-symlink-etc symlink "overlay/<layer>/diff is a symlink to /etc" $PONE 4 "$PBASE_LAYER"
rm -rf "${S:?}/overlay/$PBASE_LAYER/diff"; ln -s /etc "$S/overlay/$PBASE_LAYER/diff"
cs_image_case cs-layer-diff-fifo fifo "overlay/<layer>/diff is a FIFO" $PONE 4 "$PBASE_LAYER"
rm -rf "${S:?}/overlay/$PBASE_LAYER/diff"; mkfifo "$S/overlay/$PBASE_LAYER/diff"
cs_image_case cs-image-config-digest digest "an image's config big-data file changed (digest mismatch)" $PONE 4 "${BASE_ID:0:12}"
replace "$S/overlay-images/$BASE_ID/=$(printf 'sha256:%s' "$BASE_ID" | base64 -w0)" '"created":"2' '"created":"3'

F=overlay-containers/containers.json
cs_container_case cs-containers-truncated truncated "containers.json cut in half" 4 containers.json
truncate_half "$S/$F"
cs_container_case cs-containers-not-array json-type "containers.json is a number" 4 containers.json
printf '42' >"$S/$F"
cs_container_case cs-container-layer-traversal id "a container's layer is ../../../../etc" 4 "containers.json|${PVOLS_ID:0:12}|etc"
replace "$S/$F" "(\"id\":\"$PVOLS_ID\",\"names\":\\[\"ovltest-pvols\"\\],\"image\":\"[0-9a-f]+\",\"layer\"):\"[0-9a-f]+\"" '$1:"../../../../../../../../etc"'
cs_container_case cs-container-id-nonhex id "a container's ID is not hex" 4 "containers.json|ovltest-pvols"
replace "$S/$F" "\"id\":\"$PVOLS_ID\"" "\"id\":\"${PVOLS_ID:0:60}zzzz\""
cs_container_case cs-containers-symlink-out symlink "containers.json is a symlink to a copy outside" 4 containers.json
make_symlink_out "$S/$F"
cs_container_case cs-containers-chardev device "containers.json is a character device node" 4 containers.json
make_chardev "$S/$F"
cs_container_case cs-libpod-db-torn bolt-torn "libpod's bolt_state.db torn inside its third page" 4 "bolt_state.db"
truncate -s $((2 * 4096 + 100)) "$S/libpod/bolt_state.db"
cs_container_case cs-libpod-db-fifo fifo "libpod's bolt_state.db is a FIFO" 4 "bolt_state.db"
make_fifo "$S/libpod/bolt_state.db"

# ---- containerd --------------------------------------------------------------------------------

P=$PRISTINE/containerd
META=io.containerd.metadata.v1.bolt/meta.db
SNAPDB=io.containerd.snapshotter.v1.overlayfs/metadata.db
SNAPS=io.containerd.snapshotter.v1.overlayfs/snapshots
BLOBS=io.containerd.content.v1.content/blobs/sha256
CBASE=docker.io/library/ovltest-base:1
CMULTI=docker.io/library/ovltest-multi:latest
ctr_image_case() { new_case "$1" containerd "$2" "$3"; man ref "$4"; man expect "$5"; man names "$6"; }
ctr_container_case() { new_case "$1" containerd "$2" "$3"; man container ovltest-cchanges; man expect "$4"; man names "$5"; }
# The manifest digest an image name points at in meta.db.
CBASE_MANIFEST=$(perl -0777 -ne 'print $1 if /ovltest-base:1.{0,400}?digestsha256:([0-9a-f]{64})/s' "$P/$META")
CBASE_CONFIG=$(grep -o '"config":{[^}]*"digest":"sha256:[0-9a-f]*"' "$P/$BLOBS/$CBASE_MANIFEST" | grep -o '[0-9a-f]\{64\}')

F=$META
ctr_image_case ctr-meta-torn bolt-torn "meta.db cut in half (torn pages)" $CBASE 4 meta.db
truncate_half "$S/$F"
ctr_image_case ctr-meta-short bolt-torn "meta.db is 100 bytes" $CBASE 4 meta.db
truncate -s 100 "$S/$F"
ctr_image_case ctr-meta-bad-magic bolt-magic "both meta pages of meta.db have a bad magic" $CBASE 4 meta.db
bolt_bad_magic "$S/$F"
ctr_image_case ctr-meta-bad-checksum bolt-checksum "both meta pages of meta.db have a bad checksum" $CBASE 4 meta.db
bolt_bad_checksum "$S/$F"
ctr_image_case ctr-meta-page-cycle bolt-cycle "meta.db's branch pages point at themselves" $CBASE 4 meta.db
bolt_page_cycle "$S/$F"
ctr_image_case ctr-meta-missing missing "no meta.db" $CBASE 3 "ovltest-base|meta.db"
rm "$S/$F"
ctr_image_case ctr-meta-fifo fifo "meta.db is a FIFO" $CBASE 4 meta.db
make_fifo "$S/$F"
ctr_image_case ctr-meta-socket socket "meta.db is a socket" $CBASE 4 meta.db
make_socket "$S/$F"
ctr_image_case ctr-meta-chardev device "meta.db is a character device node" $CBASE 4 meta.db
make_chardev "$S/$F"
ctr_image_case ctr-meta-dir unreadable "meta.db is a directory" $CBASE 4 meta.db
make_dir "$S/$F"
ctr_image_case ctr-meta-symlink-out symlink "meta.db is a symlink to a copy outside" $CBASE 4 meta.db
make_symlink_out "$S/$F"
ctr_image_case ctr-meta-hardlink-out hardlink "meta.db is a hard link to a file outside" $CBASE 4 meta.db
make_hardlink_out "$S/$F"
ctr_image_case ctr-meta-target-traversal id "an image's target digest is sha256:../../../.." $CBASE 4 "ovltest-base|sha256:../|meta.db"
replace "$S/$F" "digestsha256:$CBASE_MANIFEST" "digestsha256:$(printf '../%.0s' {1..21})x"
ctr_image_case ctr-meta-snapshot-parent-self loop "every snapshot's parent (meta.db) is itself" $CMULTI 4 "loop|parent|meta.db|sha256:"
perl -0777 -pi -e 's{(sha256:[0-9a-f]{64})((?:(?!sha256:[0-9a-f]{64}).){0,200}?parent)sha256:[0-9a-f]{64}}{$1$2$1}gs' "$S/$F"
ctr_image_case ctr-meta-snapshot-name-traversal id "a snapshot's name (meta.db) is default/2/../../../.." $CBASE 4 "meta.db|default/2/../|sha256:470e"
replace "$S/$F" "namedefault/2/sha256:[0-9a-f]{64}" "namedefault/2/$(printf '../%.0s' {1..23})xx"

F=$SNAPDB
ctr_image_case ctr-snapdb-torn bolt-torn "the snapshotter's metadata.db cut in half" $CBASE 4 metadata.db
truncate_half "$S/$F"
ctr_image_case ctr-snapdb-bad-checksum bolt-checksum "both meta pages of metadata.db have a bad checksum" $CBASE 4 metadata.db
bolt_bad_checksum "$S/$F"
ctr_image_case ctr-snapdb-page-cycle bolt-cycle "metadata.db's branch pages point at themselves" $CBASE 4 metadata.db
bolt_page_cycle "$S/$F"
ctr_image_case ctr-snapdb-fifo fifo "the snapshotter's metadata.db is a FIFO" $CBASE 4 metadata.db
make_fifo "$S/$F"
ctr_image_case ctr-snapdb-parent-self loop "every snapshot's parent (metadata.db) is itself" $CMULTI 4 "loop|parent|metadata.db|default/"
perl -0777 -pi -e 's{(default/(\d+)/sha256:[0-9a-f]{64})((?:(?!default/\d).){0,200}?parent)default/(\d+)/sha256:[0-9a-f]{64}}{length($2) == length($4) ? "$1$3$1" : $&}gse' "$S/$F"

CBASE_SNAP=1
ctr_image_case ctr-snapshot-missing missing "snapshots/1 is gone" $CBASE 3 "snapshots/1"
rm -rf "${S:?}/$SNAPS/$CBASE_SNAP"
ctr_image_case ctr-snapshot-fs-file layer-file "snapshots/1/fs is a file" $CBASE 4 "snapshots/1"
rm -rf "${S:?}/$SNAPS/$CBASE_SNAP/fs"; printf 'x' >"$S/$SNAPS/$CBASE_SNAP/fs"
ctr_image_case ctr-snapshot-fs-symlink-etc symlink "snapshots/1/fs is a symlink to /etc" $CBASE 4 "snapshots/1"
rm -rf "${S:?}/$SNAPS/$CBASE_SNAP/fs"; ln -s /etc "$S/$SNAPS/$CBASE_SNAP/fs"
ctr_image_case ctr-snapshot-dir-symlink-out symlink "snapshots/1 is a symlink to a copy outside" $CBASE 4 "snapshots/1"
mv "$S/$SNAPS/$CBASE_SNAP" "$C/outside/snap"; ln -s "$C/outside/snap" "$S/$SNAPS/$CBASE_SNAP"
ctr_image_case ctr-snapshot-fs-chardev device "snapshots/1/fs is a character device node" $CBASE 4 "snapshots/1"
rm -rf "${S:?}/$SNAPS/$CBASE_SNAP/fs"; make_chardev "$S/$SNAPS/$CBASE_SNAP/fs"

ctr_image_case ctr-manifest-digest digest "the image's manifest blob changed (digest mismatch)" $CBASE 4 "$CBASE_MANIFEST|${CBASE_MANIFEST:0:12}"
replace "$S/$BLOBS/$CBASE_MANIFEST" '"schemaVersion": *2' '"schemaVersion":3'
ctr_image_case ctr-manifest-missing missing "the image's manifest blob is gone (images lists it as broken, without an ID)" $CBASE 3 "$CBASE_MANIFEST|${CBASE_MANIFEST:0:12}"
man listed "$CBASE  BROKEN"
rm "$S/$BLOBS/$CBASE_MANIFEST"
ctr_image_case ctr-manifest-fifo fifo "the image's manifest blob is a FIFO" $CBASE 4 "$CBASE_MANIFEST|${CBASE_MANIFEST:0:12}"
make_fifo "$S/$BLOBS/$CBASE_MANIFEST"
ctr_image_case ctr-manifest-symlink-etc symlink "the image's manifest blob is a symlink to /etc/passwd" $CBASE 4 "$CBASE_MANIFEST|${CBASE_MANIFEST:0:12}"
rm "$S/$BLOBS/$CBASE_MANIFEST"; ln -s /etc/passwd "$S/$BLOBS/$CBASE_MANIFEST"
ctr_image_case ctr-config-truncated truncated "the image's config blob cut in half" $CBASE 4 "$CBASE_CONFIG|${CBASE_CONFIG:0:12}"
truncate_half "$S/$BLOBS/$CBASE_CONFIG"
ctr_image_case ctr-config-hardlink-out hardlink "the image's config blob is a hard link to a file outside" $CBASE 4 "$CBASE_CONFIG|${CBASE_CONFIG:0:12}"
make_hardlink_out "$S/$BLOBS/$CBASE_CONFIG"
ctr_image_case ctr-blobs-symlink-relative symlink "the content store's sha256 dir is a symlink ../../../../.." $CBASE 4 "blobs|sha256"
mv "$S/$BLOBS" "$C/outside/blobs"; ln -s ../../../../../../../.. "$S/$BLOBS"
ctr_container_case ctr-container-snapshot-missing missing "the container's writable snapshot dir is gone" 3 "ovltest-cchanges|snapshots/"
# The container's own snapshot is the one whose key is the container ID (the newest snapshot dir).
rm -rf "${S:?}/$SNAPS/$(ls "$S/$SNAPS" | sort -n | tail -1)"

# ---- Docker's containerd image store -----------------------------------------------------------

P=$PRISTINE/docker-containerd
DMETA=containerd/daemon/io.containerd.metadata.v1.bolt/meta.db
DSNAPS=containerd/daemon/io.containerd.snapshotter.v1.overlayfs/snapshots
DBLOBS=containerd/daemon/io.containerd.content.v1.content/blobs/sha256
d29_container_id() { grep -l "\"Name\":\"/$1\"" "$P"/containers/*/config.v2.json | head -1 | xargs dirname | xargs basename; }
D29_BASE_CID=$(d29_container_id d29-created-base)
D29_MANIFEST=$(perl -0777 -ne 'print $1 if /ovltest-base:1.{0,400}?digestsha256:([0-9a-f]{64})/s' "$P/$DMETA")
D29_CONFIG=$(grep -o '"config":{[^}]*"digest":"sha256:[0-9a-f]*"' "$P/$DBLOBS/$D29_MANIFEST" | grep -o '[0-9a-f]\{64\}')
d29_image_case() { new_case "$1" docker-containerd "$2" "$3"; man ref ovltest-base:1; man expect "$4"; man names "$5"; }
d29_container_case() { new_case "$1" docker-containerd "$2" "$3"; man container d29-created-base; man expect "$4"; man names "$5"; }

d29_image_case d29-meta-torn bolt-torn "dockerd's containerd meta.db cut in half" 4 meta.db
truncate_half "$S/$DMETA"
d29_image_case d29-meta-bad-magic bolt-magic "both meta pages of meta.db have a bad magic" 4 meta.db
bolt_bad_magic "$S/$DMETA"
d29_image_case d29-meta-page-cycle bolt-cycle "meta.db's branch pages point at themselves" 4 meta.db
bolt_page_cycle "$S/$DMETA"
d29_image_case d29-meta-socket socket "meta.db is a socket" 4 meta.db
make_socket "$S/$DMETA"
d29_image_case d29-meta-target-traversal id "an image's target digest is sha256:../../../.." 4 "ovltest-base|sha256:../|meta.db"
replace "$S/$DMETA" "digestsha256:$D29_MANIFEST" "digestsha256:$(printf '../%.0s' {1..21})x"
d29_image_case d29-config-digest digest "the image's config blob changed (digest mismatch)" 4 "$D29_CONFIG|${D29_CONFIG:0:12}"
replace "$S/$DBLOBS/$D29_CONFIG" '"created":"2' '"created":"3'
d29_image_case d29-manifest-missing missing "the image's manifest blob is gone (images lists it as broken, by its target digest)" 3 "$D29_MANIFEST|${D29_MANIFEST:0:12}"
man listed "${D29_MANIFEST:0:12}"
rm "$S/$DBLOBS/$D29_MANIFEST"
d29_image_case d29-snapshots-symlink-etc symlink "the snapshotter's snapshots dir is a symlink to /etc" 4 "snapshots"
mv "$S/$DSNAPS" "$C/outside/snapshots"; ln -s /etc "$S/$DSNAPS"

F=containers/$D29_BASE_CID/config.v2.json
d29_container_case d29-container-config-truncated truncated "a container's config.v2.json cut in half" 4 "config.v2.json|${D29_BASE_CID:0:12}"
truncate_half "$S/$F"
d29_container_case d29-container-id-traversal id "a container's ID field is ../../../etc" 4 "config.v2.json|${D29_BASE_CID:0:12}|etc"
replace "$S/$F" "\"ID\":\"$D29_BASE_CID\"" '"ID":"../../../../../../../../etc"'
d29_container_case d29-container-driver-type json-type "a container's Driver is a number" 4 "config.v2.json|${D29_BASE_CID:0:12}|Driver"
replace "$S/$F" '"Driver":"[a-z0-9]*"' '"Driver":7'
d29_container_case d29-container-config-fifo fifo "a container's config.v2.json is a FIFO" 4 "config.v2.json|${D29_BASE_CID:0:12}"
make_fifo "$S/$F"
d29_container_case d29-container-dir-file unreadable "containers/<id> is a file" 4 "${D29_BASE_CID:0:12}|containers"
rm -rf "${S:?}/containers/$D29_BASE_CID"; printf 'x' >"$S/containers/$D29_BASE_CID"

echo "$CASES cases in $DEST"
