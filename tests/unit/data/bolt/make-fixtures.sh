#!/bin/bash
# Why: the bbolt reader must be tested on files the real containerd wrote, not on files we
# wrote ourselves from our own reading of the format. This script makes them: it builds a tiny
# two-layer OCI image (plain files, fixed mtimes, so its digests never change), starts a PRIVATE
# containerd (own root, state, sockets and config under a mktemp dir; never /var/lib/containerd
# or /run/containerd), imports the image into two namespaces, makes a snapshot view, stops
# containerd by its PID and copies the two bolt files here. A second run of the same containerd
# tags and untags the image in a loop while another loop copies meta.db, and one of those
# copies, taken while commits were in flight, is kept as the third fixture.
#
# Needs root and Debian 12's containerd (1.6). Writes only into this directory and its temp dir.
# Prints what `ctr` itself reports (the last run is kept in make-fixtures.out); the expected
# values in tests/unit/bolt_test.cpp come from it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/ovlmount-bolt-fixtures.XXXXXX)
containerd_pid=
copier_pid=

unmount_under_tmp() {
  awk -v prefix="$tmp/" '{ if (index($5, prefix) == 1) print $5 }' /proc/self/mountinfo |
    sort -r | while read -r target; do umount -l "$target" || true; done
}

stop_containerd() {
  if [[ -n $containerd_pid ]] && kill -0 "$containerd_pid" 2>/dev/null; then
    kill "$containerd_pid"
    wait "$containerd_pid" || true
  fi
  containerd_pid=
}

cleanup() {
  if [[ -n $copier_pid ]] && kill -0 "$copier_pid" 2>/dev/null; then
    kill "$copier_pid"
    wait "$copier_pid" || true
  fi
  stop_containerd
  unmount_under_tmp
  rm -rf "$tmp"
}
trap cleanup EXIT

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# An OCI image layout with two uncompressed layers, tarred into $tmp/image.tar.
build_image() {
  local dir=$tmp/image
  mkdir -p "$dir/blobs/sha256" "$tmp/layer1/bin" "$tmp/layer2/etc"
  printf 'ovlmount bolt fixture, layer 1\n' >"$tmp/layer1/bin/hello"
  printf 'ovlmount bolt fixture, layer 2\n' >"$tmp/layer2/etc/motd"
  local tar_flags=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
  tar "${tar_flags[@]}" -C "$tmp/layer1" -cf "$tmp/layer1.tar" bin
  tar "${tar_flags[@]}" -C "$tmp/layer2" -cf "$tmp/layer2.tar" etc
  local l1 l2
  l1=$(sha256_of "$tmp/layer1.tar")
  l2=$(sha256_of "$tmp/layer2.tar")
  cp "$tmp/layer1.tar" "$dir/blobs/sha256/$l1"
  cp "$tmp/layer2.tar" "$dir/blobs/sha256/$l2"
  printf '{"architecture":"amd64","config":{"Cmd":["/bin/sh"]},"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
    "$l1" "$l2" >"$tmp/config.json"
  local config
  config=$(sha256_of "$tmp/config.json")
  cp "$tmp/config.json" "$dir/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$(size_of "$tmp/config.json")" "$l1" "$(size_of "$tmp/layer1.tar")" "$l2" "$(size_of "$tmp/layer2.tar")" \
    >"$tmp/manifest.json"
  local manifest
  manifest=$(sha256_of "$tmp/manifest.json")
  cp "$tmp/manifest.json" "$dir/blobs/sha256/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/library/ovlfixture:1","org.opencontainers.image.ref.name":"1"}}]}' \
    "$manifest" "$(size_of "$tmp/manifest.json")" >"$dir/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$tmp/image.tar" .
  chain_top=$(printf 'sha256:%s sha256:%s' "$l1" "$l2" | sha256sum | cut -d' ' -f1)
  echo "layer diff_ids: sha256:$l1 sha256:$l2; top chainID sha256:$chain_top"
  echo "manifest sha256:$manifest, $(size_of "$tmp/manifest.json") bytes"
}

# containerd's default config with every path and socket moved under $tmp, CRI off.
write_config() {
  containerd config default | awk -v tmp="$tmp" '
    /^\[/ || /^  \[/ { section = $0; gsub(/^ +/, "", section) }
    /^root = / { print "root = \"" tmp "/root\""; next }
    /^state = / { print "state = \"" tmp "/state\""; next }
    /^disabled_plugins = / { print "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]"; next }
    section == "[grpc]" && /^  address = / { print "  address = \"" tmp "/containerd.sock\""; next }
    section == "[ttrpc]" && /^  address = / { print "  address = \"" tmp "/containerd.sock.ttrpc\""; next }
    section == "[debug]" && /^  address = / { print "  address = \"" tmp "/debug.sock\""; next }
    section == "[plugins.\"io.containerd.internal.v1.opt\"]" && /^    path = / { print "    path = \"" tmp "/opt\""; next }
    { print }' >"$tmp/config.toml"
  if grep -nE '/var/lib/containerd|/run/containerd|/opt/containerd' "$tmp/config.toml"; then
    echo "make-fixtures: config still points at a system path" >&2
    exit 1
  fi
}

start_containerd() {
  mkdir -p "$tmp/tmpdir"
  TMPDIR=$tmp/tmpdir containerd --config "$tmp/config.toml" --log-level warn >>"$tmp/containerd.log" 2>&1 &
  containerd_pid=$!
  local tries
  for tries in $(seq 100); do
    if ctr --address "$tmp/containerd.sock" version >/dev/null 2>&1; then return 0; fi
    kill -0 "$containerd_pid" || break
    sleep 0.1
  done
  cat "$tmp/containerd.log" >&2
  echo "make-fixtures: containerd did not start" >&2
  exit 1
}

ctr_in() {
  local namespace=$1
  shift
  ctr --address "$tmp/containerd.sock" --namespace "$namespace" "$@"
}

meta_db=$tmp/root/io.containerd.metadata.v1.bolt/meta.db
snapshot_db=$tmp/root/io.containerd.snapshotter.v1.overlayfs/metadata.db

build_image
write_config

start_containerd
for namespace in default k8s.io; do
  ctr_in "$namespace" images import "$tmp/image.tar"
  echo "== ctr -n $namespace images ls"
  ctr_in "$namespace" images ls
done
ctr_in default snapshots view ovlfixture-view "sha256:$chain_top" >/dev/null
echo "== ctr -n default snapshots mounts /mnt ovlfixture-view (snapshot ids are the directory numbers)"
ctr_in default snapshots mounts /mnt ovlfixture-view | sed "s|$tmp|\$tmp|g"
for namespace in default k8s.io; do
  echo "== ctr -n $namespace snapshots ls"
  ctr_in "$namespace" snapshots ls
done
stop_containerd
install -m 0644 "$meta_db" "$here/meta.db"
install -m 0644 "$snapshot_db" "$here/metadata.db"

start_containerd
mkdir -p "$tmp/copies"
(
  copy_number=0
  while :; do
    cp "$meta_db" "$tmp/copies/$(printf %05d "$copy_number").db"
    copy_number=$((copy_number + 1))
  done
) &
copier_pid=$!
for round in $(seq 12); do
  ctr_in default images tag docker.io/library/ovlfixture:1 "docker.io/library/ovlfixture:busy$round" >/dev/null
  ctr_in k8s.io images tag docker.io/library/ovlfixture:1 "docker.io/library/ovlfixture:busy$round" >/dev/null
  if ((round % 3 == 0)); then
    ctr_in default images rm "docker.io/library/ovlfixture:busy$((round - 1))" >/dev/null
  fi
done
kill "$copier_pid"
wait "$copier_pid" || true
copier_pid=
stop_containerd

mapfile -t copies < <(ls "$tmp/copies")
echo "== ${#copies[@]} copies of meta.db taken while containerd committed"
middle=${copies[${#copies[@]} / 2]}
install -m 0644 "$tmp/copies/$middle" "$here/meta-midcommit.db"
echo "kept copy $middle as meta-midcommit.db"

ls -l "$here"/*.db
