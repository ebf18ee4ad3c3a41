#!/bin/sh
# manifest.sh DIR
#
# Prints one line per entry below DIR (DIR itself excluded), sorted by path:
#
#   PATH <TAB> TYPE <TAB> MODE <TAB> UID <TAB> GID <TAB> SIZE <TAB> MTIME <TAB> DATA <TAB> LINK
#
# TYPE is f d l c b p s; MODE the octal permission bits (with setuid/setgid/sticky); SIZE is
# given for regular files and symlinks only (a directory's size depends on the filesystem);
# DATA is the MD5 of a regular file, the target of a symlink, "major,minor" of a device;
# LINK is, for a regular file that shares its inode with an earlier path, that path.
#
# Docker's init-layer entries (.dockerenv dev dev/console dev/pts dev/shm etc etc/hosts
# etc/hostname etc/resolv.conf etc/mtab proc sys) are left out; their children are listed.
#
# It must run under busybox sh with busybox applets only: the test VM runs it inside the guest
# on the mounted image and the host runs the very same script (with the same busybox binary)
# on Docker's export of that image, so both sides use identical tools and formats.
# Path names containing a newline are not supported.
set -e
export LC_ALL=C
cd "$1"
tmp=${TMPDIR:-/tmp}/manifest.$$
mkdir "$tmp"
trap 'rm -rf "$tmp"' EXIT

# One process each for metadata and digests; names come last, so spaces are fine.
find . -mindepth 1 -exec stat -c '%f %a %u %g %s %i %Y %t %T %n' {} + >"$tmp/stat"
find . -mindepth 1 -type f -exec md5sum {} + >"$tmp/md5"
: >"$tmp/links"
find . -mindepth 1 -type l >"$tmp/linknames"
while IFS= read -r p; do
  printf '%s\t%s\n' "$p" "$(readlink "$p")" >>"$tmp/links"
done <"$tmp/linknames"

awk -v md5file="$tmp/md5" -v linkfile="$tmp/links" '
function rest(s, n,   i) {            # s without its first n space-separated fields
  for (i = 0; i < n; i++) s = substr(s, index(s, " ") + 1)
  return s
}
BEGIN {
  FS = " "
  while ((getline line < md5file) > 0) md5[substr(line, 35)] = substr(line, 1, 32)
  while ((getline line < linkfile) > 0) {
    t = index(line, "\t"); target[substr(line, 1, t - 1)] = substr(line, t + 1)
  }
  split(".dockerenv dev dev/console dev/pts dev/shm etc etc/hosts etc/hostname etc/resolv.conf etc/mtab proc sys", ign, " ")
  for (k in ign) ignored[ign[k]] = 1
}
{
  name = rest($0, 9)
  rel = substr(name, 3)
  if (rel in ignored) next
  ft = sprintf("%d", ("0x" $1) + 0)   # busybox awk reads hex with a 0x prefix
  t = int(ft / 4096) % 16
  type = (t == 8) ? "f" : (t == 4) ? "d" : (t == 10) ? "l" : (t == 2) ? "c" : (t == 6) ? "b" : (t == 1) ? "p" : (t == 12) ? "s" : "?" t
  size = (type == "f" || type == "l") ? $5 : "-"
  data = "-"; link = "-"
  if (type == "f") data = md5[name]
  else if (type == "l") data = target[name]
  else if (type == "c" || type == "b") data = sprintf("%d,%d", ("0x" $8) + 0, ("0x" $9) + 0)
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rel, type, $2, $3, $4, size, $7, data, $6
}' "$tmp/stat" | sort -t "$(printf '\t')" -k1,1 >"$tmp/lines"

# Replace inode numbers by "first path with the same inode" (regular files), else "-".
awk -F '\t' 'BEGIN { OFS = "\t" }
{ ino = $9; $9 = "-"
  if ($2 == "f") { if (ino in first) $9 = first[ino]; else first[ino] = $1 }
  print }' "$tmp/lines"
