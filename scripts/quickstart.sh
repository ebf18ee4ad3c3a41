#!/usr/bin/env bash
# Quick start: on a fresh Debian 12 machine, as root, installs what ovlmount needs, builds and
# installs it (/usr/local/sbin/ovlmount), then mounts a real image read-only and shows it.
# The image is the host Docker's first tagged image if the host has one (its data root is only
# read); otherwise a small image is built offline, from busybox-static, by a private dockerd
# whose data root is kept in /var/lib/ovlmount-demo/root.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "quickstart: run me as root" >&2; exit 1; }
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DOVLMOUNT_BUILD_TESTS=OFF >/dev/null
cmake --build build-release --target ovlmount
install -m 0755 build-release/ovlmount /usr/local/sbin/ovlmount

first_host_image() {
  local root
  root=$(sed -n 's/.*"data-root"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' /etc/docker/daemon.json 2>/dev/null | head -n 1)
  root=${root:-/var/lib/docker}
  local repos="$root/image/overlay2/repositories.json"
  [ -r "$repos" ] || return 1
  local ref
  ref=$(grep -o '"[^"@]*:[^"@]*":"sha256:' "$repos" | head -n 1 | sed 's/^"\([^"]*\)".*/\1/')
  [ -n "$ref" ] || return 1
  echo "$root $ref"
}

demo=/var/lib/ovlmount-demo
docker=(/usr/bin/docker -H "unix://$demo/sock")
build_demo_image() {
  grep -qs '"demo:latest"' "$demo/root/image/overlay2/repositories.json" && return 0
  echo "quickstart: the host has no Docker images; building one with a private dockerd (data root $demo/root)"
  trap 'tests/docker/dockerd.sh stop "$demo" >/dev/null 2>&1 || true' EXIT
  tests/docker/dockerd.sh start "$demo" >/dev/null
  local ctx
  ctx=$(mktemp -d)
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  for tool in sh ls cat echo rm; do ln -s busybox "$ctx/rootfs/bin/$tool"; done
  echo "root:x:0:0:root:/root:/bin/sh" >"$ctx/rootfs/etc/passwd"
  tar -C "$ctx/rootfs" -cf "$ctx/rootfs.tar" .
  "${docker[@]}" import "$ctx/rootfs.tar" demo-base:1 >/dev/null
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM demo-base:1
RUN echo "hello from a Docker image layer" > /hello.txt
RUN rm /etc/passwd && echo "mounted by ovlmount" > /etc/motd
DOCKERFILE
  DOCKER_BUILDKIT=0 "${docker[@]}" build -q --network none -t demo:latest "$ctx" >/dev/null
  rm -rf "$ctx"
  tests/docker/dockerd.sh stop "$demo" >/dev/null
  trap - EXIT
}

if found=$(first_host_image); then
  data_root=${found%% *}
  image=${found#* }
else
  build_demo_image
  data_root=$demo/root
  image=demo
fi

target=$(mktemp -d /tmp/ovlmount-root.XXXXXX)
echo "\$ ovlmount --data-root $data_root mount $image $target"
ovlmount --data-root "$data_root" mount "$image" "$target"
echo "\$ ls -la $target"
ls -la "$target"
if [ -f "$target/hello.txt" ]; then
  echo "\$ cat $target/hello.txt $target/etc/motd"
  cat "$target/hello.txt" "$target/etc/motd"
fi
echo "\$ ovlmount list"
ovlmount list
echo "\$ ovlmount umount $target"
ovlmount umount "$target"
rmdir "$target"
echo "quickstart: done. Mount it yourself with: ovlmount --data-root $data_root $image /mnt/somewhere"
