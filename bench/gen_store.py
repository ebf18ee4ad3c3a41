#!/usr/bin/env python3
"""Generate a synthetic image store for ovlmount's benchmarks.

Usage:
    bench/gen_store.py KIND DIR --images N [--depths 1,10,100,125,128,500]
                       [--filler-depth 5] [--max-layers 50000] [--seed S] [--bulk-mib M]

KIND is one of:
    docker              a Docker data root with the overlay2 graph driver
                        (use with: ovlmount --data-root DIR ...)
    containerd          a containerd root, overlayfs snapshotter, namespace "default"
                        (use with: ovlmount --containerd-root DIR ...)
    containers-storage  a podman/CRI-O graph root, overlay driver
                        (use with: ovlmount --storage-root DIR ...)

DIR must not exist or must be empty. The store holds:
  - bench/depth-D:latest for each D in --depths, a stack of exactly D layers;
  - bench/filler-<i>:latest up to N images in all, --filler-depth layers each. Each filler
    gets its own chain of layers while the store holds fewer than --max-layers layers; past
    that, fillers are new image configs over existing chains (10,000 images: about 50,000
    layers; 100,000 images: still about 50,000 layers);
  - with --bulk-mib M, one more image, bench/bulk:latest, of four layers whose files hold M
    MiB of pseudo-random bytes in all (the throughput benchmarks of verify, files, export).
Containerd and containers-storage spell the names docker.io/bench/...; Docker keeps them
as bench/depth-D in repositories.json. Layer number k of a stack is a directory holding
one file, layers/<k>, so a mount of bench/depth-D shows D files in /layers.

Layer tars are real (USTAR, mtime 0, uid/gid 0, two zero blocks at the end, as Go writes
them); they are not stored, only hashed into diff_ids and described by tar-splits (Docker,
containers-storage). Containerd keeps the layer blobs (uncompressed tars) of the depth
images only, so `ovlmount verify` checks those; filler layers have no blob there, and
verify reports them "not covered". The same --seed gives the same file contents (timestamps aside).
"""
# Why: benchmarks of resolve, list and mount need stores of thousands of images with known
# depths, and real engines take hours to build those. This writes every file the engines
# write that ovlmount reads (JSON catalogues, layerdb, overlay2 link names, bbolt files,
# tar-splits, content blobs) with real digests, so ovlmount treats the result exactly as a
# real store. It only needs the Python standard library; the bbolt files are written by a
# small bulk loader (sorted keys packed into 4096-byte pages, branch levels above them,
# nested buckets as their own trees, inline buckets where bbolt would inline them).

import argparse
import base64
import calendar
import functools
import gzip
import hashlib
import json
import os
import platform
import random
import struct
import sys
import tarfile
import time

CREATED = "2026-11-28T00:00:00Z"
CREATED_UNIX = calendar.timegm(time.strptime(CREATED, "%Y-%m-%dT%H:%M:%SZ"))
GO_SECONDS_BEFORE_UNIX_EPOCH = 62135596800
TAR_BLOCK = 512
TAR_END = b"\0" * (2 * TAR_BLOCK)
CRC64_ISO_POLY = 0xD800000000000000
BULK_LAYERS = 4

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"

BOLT_PAGE_SIZE = 4096
BOLT_MAGIC = 0xED0CDAED
BOLT_VERSION = 2
BOLT_BRANCH = 0x01
BOLT_LEAF = 0x02
BOLT_META = 0x04
BOLT_FREELIST = 0x10
BOLT_BUCKET_FLAG = 0x01
BOLT_HEADER = 16
BOLT_ELEMENT = 16


# ---------------------------------------------------------------- digests, encodings

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def derived_hex(seed, purpose, serial):
    return sha256_hex(f"{seed}/{purpose}/{serial}".encode())


def chain_id(parent_chain_id, diff_id):
    if not parent_chain_id:
        return diff_id
    return "sha256:" + sha256_hex(f"{parent_chain_id} {diff_id}".encode())


def overlay_link_name(seed, purpose, serial):
    digest = hashlib.sha256(f"{seed}/{purpose}/{serial}".encode()).digest()
    return base64.b32encode(digest[:16]).decode()[:26]


@functools.lru_cache(maxsize=1)
def crc64_iso_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ CRC64_ISO_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


def crc64_iso(data):
    table = crc64_iso_table()
    crc = 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def uvarint(value):
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint(value):
    return uvarint(value << 1 if value >= 0 else ~(value << 1))


def go_time(unix_seconds):
    return b"\x01" + struct.pack(">qih", unix_seconds + GO_SECONDS_BEFORE_UNIX_EPOCH, 0, -1)


def compact_json(value):
    return json.dumps(value, separators=(",", ":")).encode()


def host_architecture():
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)


# ---------------------------------------------------------------- layer tars

@functools.lru_cache(maxsize=None)
def tar_header(name, is_dir, size):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def tar_padding(size):
    return b"\0" * (-size % TAR_BLOCK)


def layer_file_name(number):
    return f"layers/{number}"


def layer_tar(layer):
    file_header = tar_header(layer_file_name(layer.number), False, len(layer.content))
    return (tar_header("layers/", True, 0) + file_header + layer.content +
            tar_padding(len(layer.content)) + TAR_END)


def tar_split_gz(layer):
    content = layer.content
    entries = [
        {"type": 2, "payload": base64.b64encode(tar_header("layers/", True, 0)).decode(), "position": 0},
        {"type": 1, "name": "layers/", "payload": None, "position": 1},
        {"type": 2, "payload": base64.b64encode(tar_header(layer_file_name(layer.number), False,
                                                           len(content))).decode(), "position": 2},
        {"type": 1, "name": layer_file_name(layer.number), "size": len(content),
         "payload": base64.b64encode(struct.pack(">Q", crc64_iso(content))).decode(), "position": 3},
        {"type": 2, "payload": base64.b64encode(tar_padding(len(content)) + TAR_END).decode(), "position": 4},
        {"type": 2, "payload": "", "position": 5},
    ]
    text = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries)
    return gzip.compress(text.encode(), mtime=0)


# ---------------------------------------------------------------- the store's plan

class Layer:
    __slots__ = ("number", "serial", "content", "diff_id", "tar_size", "chain_id", "parent")

    def __init__(self, number, serial, seed, parent, content=None):
        self.number = number
        self.serial = serial
        self.content = content if content is not None else f"bench layer {serial} seed {seed}\n".encode()
        self.parent = parent
        tar = layer_tar(self)
        self.tar_size = len(tar)
        self.diff_id = "sha256:" + sha256_hex(tar)
        self.chain_id = chain_id(parent.chain_id if parent else "", self.diff_id)


class Image:
    __slots__ = ("repository", "chain", "config", "config_digest", "with_layer_blobs")

    def __init__(self, repository, chain, with_layer_blobs):
        self.repository = repository
        self.chain = chain
        self.with_layer_blobs = with_layer_blobs
        self.config = image_config(repository, chain)
        self.config_digest = "sha256:" + sha256_hex(self.config)


def image_config(repository, chain):
    return compact_json({
        "architecture": host_architecture(),
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.ovlmount.bench.image": repository},
        },
        "history": [{"created": CREATED, "created_by": f"gen_store.py layer {layer.number}"}
                    for layer in chain],
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in chain]},
    })


def new_chain(depth, seed, next_serial):
    chain = []
    for number in range(1, depth + 1):
        chain.append(Layer(number, next_serial + number - 1, seed, chain[-1] if chain else None))
    return chain


def bulk_chain(mib, seed, next_serial):
    generator = random.Random(f"bulk {seed}")
    chain = []
    for number in range(1, BULK_LAYERS + 1):
        content = generator.randbytes((mib << 20) // BULK_LAYERS)
        chain.append(Layer(number, next_serial + number - 1, seed, chain[-1] if chain else None, content))
    return chain


def plan_images(images, depths, filler_depth, max_layers, seed, bulk_mib=0):
    planned = []
    layer_count = 0
    if bulk_mib:
        planned.append(Image("bench/bulk", bulk_chain(bulk_mib, seed, 1), with_layer_blobs=True))
        layer_count += BULK_LAYERS
    for depth in depths:
        chain = new_chain(depth, seed, layer_count + 1)
        layer_count += depth
        planned.append(Image(f"bench/depth-{depth}", chain, with_layer_blobs=True))
    filler_chains = []
    for index in range(1, images - len(depths) + 1):
        if layer_count < max_layers:
            chain = new_chain(filler_depth, seed, layer_count + 1)
            layer_count += filler_depth
            filler_chains.append(chain)
        else:
            pool = filler_chains or [image.chain for image in planned]
            chain = pool[(index - 1) % len(pool)]
        planned.append(Image(f"bench/filler-{index}", chain, with_layer_blobs=False))
    return planned


def unique_layers(images):
    seen = set()
    ordered = []
    for image in images:
        for layer in image.chain:
            if layer.serial not in seen:
                seen.add(layer.serial)
                ordered.append(layer)
    return ordered


def oci_manifest(image):
    return compact_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": image.config_digest, "size": len(image.config)},
        "layers": [{"mediaType": OCI_LAYER_TAR, "digest": layer.diff_id, "size": layer.tar_size}
                   for layer in image.chain],
    })


# ---------------------------------------------------------------- file helpers

def write_file(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def make_dirs(*paths, mode=0o755):
    for path in paths:
        os.makedirs(path, mode=mode, exist_ok=True)


def write_layer_content(diff_dir, layer):
    os.mkdir(diff_dir, 0o755)
    os.mkdir(os.path.join(diff_dir, "layers"), 0o755)
    write_file(os.path.join(diff_dir, layer_file_name(layer.number)), layer.content)


# ---------------------------------------------------------------- Docker (overlay2)

def write_docker(root, images, seed):
    image_dir = os.path.join(root, "image", "overlay2")
    layerdb = os.path.join(image_dir, "layerdb", "sha256")
    configs = os.path.join(image_dir, "imagedb", "content", "sha256")
    overlay2 = os.path.join(root, "overlay2")
    make_dirs(layerdb, configs, os.path.join(image_dir, "imagedb", "metadata", "sha256"),
              os.path.join(image_dir, "layerdb", "mounts"), os.path.join(image_dir, "layerdb", "tmp"),
              os.path.join(image_dir, "distribution"), os.path.join(root, "containers"),
              os.path.join(root, "tmp"), os.path.join(root, "volumes"), mode=0o700)
    make_dirs(os.path.join(overlay2, "l"), mode=0o710)
    lowers = {}
    for layer in unique_layers(images):
        lowers[layer.serial] = write_docker_layer(root, layer, seed, lowers)
    repositories = {}
    for image in images:
        write_file(os.path.join(configs, image.config_digest[7:]), image.config, 0o600)
        repositories[image.repository] = {image.repository + ":latest": image.config_digest}
    write_file(os.path.join(image_dir, "repositories.json"), compact_json({"Repositories": repositories}), 0o600)


def write_docker_layer(root, layer, seed, lowers):
    cache_id = derived_hex(seed, "cache-id", layer.serial)
    link = overlay_link_name(seed, "overlay2-link", layer.serial)
    layer_dir = os.path.join(root, "overlay2", cache_id)
    os.mkdir(layer_dir, 0o710)
    write_layer_content(os.path.join(layer_dir, "diff"), layer)
    write_file(os.path.join(layer_dir, "link"), link.encode())
    lower = ""
    if layer.parent:
        parent_link, parent_lower = lowers[layer.parent.serial]
        lower = "l/" + parent_link + (":" + parent_lower if parent_lower else "")
        write_file(os.path.join(layer_dir, "lower"), lower.encode())
    os.mkdir(os.path.join(layer_dir, "work"), 0o700)
    write_file(os.path.join(layer_dir, "committed"), b"", 0o600)
    os.symlink(f"../{cache_id}/diff", os.path.join(root, "overlay2", "l", link))

    db_dir = os.path.join(root, "image", "overlay2", "layerdb", "sha256", layer.chain_id[7:])
    os.mkdir(db_dir, 0o700)
    write_file(os.path.join(db_dir, "cache-id"), cache_id.encode())
    write_file(os.path.join(db_dir, "diff"), layer.diff_id.encode())
    if layer.parent:
        write_file(os.path.join(db_dir, "parent"), layer.parent.chain_id.encode())
    write_file(os.path.join(db_dir, "size"), str(len(layer.content)).encode())
    write_file(os.path.join(db_dir, "tar-split.json.gz"), tar_split_gz(layer))
    return link, lower


# ---------------------------------------------------------------- containers-storage (overlay)

def containers_storage_layer_id(layer, ids):
    if not layer.parent:
        return layer.diff_id[7:]
    return sha256_hex(f"{ids[layer.parent.serial]}+{layer.diff_id[7:]}".encode())


def big_data_file_name(key):
    if all(c.isdigit() or ("a" <= c <= "z") or c == "." for c in key):
        return key
    return "=" + base64.b64encode(key.encode()).decode()


def write_containers_storage(root, images, seed):
    overlay = os.path.join(root, "overlay")
    layers_dir = os.path.join(root, "overlay-layers")
    images_dir = os.path.join(root, "overlay-images")
    containers_dir = os.path.join(root, "overlay-containers")
    make_dirs(os.path.join(overlay, "l"), layers_dir, images_dir, containers_dir,
              os.path.join(root, "tmp"), os.path.join(root, "mounts"), mode=0o700)
    ids = {}
    links = {}
    catalogue = []
    for layer in unique_layers(images):
        ids[layer.serial] = containers_storage_layer_id(layer, ids)
        catalogue.append(write_containers_storage_layer(root, layer, seed, ids, links))
    write_file(os.path.join(layers_dir, "layers.json"), compact_json(catalogue), 0o600)
    image_catalogue = [write_containers_storage_image(root, image, ids) for image in images]
    write_file(os.path.join(images_dir, "images.json"), compact_json(image_catalogue), 0o600)
    write_file(os.path.join(containers_dir, "containers.json"), b"[]", 0o600)
    for lock in (os.path.join(root, "storage.lock"), os.path.join(layers_dir, "layers.lock"),
                 os.path.join(images_dir, "images.lock"), os.path.join(containers_dir, "containers.lock")):
        write_file(lock, b"")


def write_containers_storage_layer(root, layer, seed, ids, links):
    layer_id = ids[layer.serial]
    link = overlay_link_name(seed, "overlay-link", layer.serial)
    links[layer.serial] = link
    layer_dir = os.path.join(root, "overlay", layer_id)
    os.mkdir(layer_dir, 0o700)
    write_layer_content(os.path.join(layer_dir, "diff"), layer)
    write_file(os.path.join(layer_dir, "link"), link.encode())
    if layer.parent:
        lower_links = []
        below = layer.parent
        while below:
            lower_links.append("l/" + links[below.serial])
            below = below.parent
        write_file(os.path.join(layer_dir, "lower"), ":".join(lower_links).encode())
    else:
        os.mkdir(os.path.join(layer_dir, "empty"), 0o700)
    os.mkdir(os.path.join(layer_dir, "work"), 0o700)
    os.symlink(f"../{layer_id}/diff", os.path.join(root, "overlay", "l", link))
    write_file(os.path.join(root, "overlay-layers", layer_id + ".tar-split.gz"), tar_split_gz(layer), 0o600)
    entry = {"id": layer_id}
    if layer.parent:
        entry["parent"] = ids[layer.parent.serial]
    entry.update({"created": CREATED, "compressed-diff-digest": layer.diff_id, "compressed-size": layer.tar_size,
                  "diff-digest": layer.diff_id, "diff-size": layer.tar_size, "uidset": [0], "gidset": [0]})
    return entry


def write_containers_storage_image(root, image, ids):
    image_id = image.config_digest[7:]
    manifest = oci_manifest(image)
    manifest_digest = "sha256:" + sha256_hex(manifest)
    big_data = {
        image.config_digest: image.config,
        "manifest-" + manifest_digest: manifest,
        "manifest": manifest,
    }
    image_dir = os.path.join(root, "overlay-images", image_id)
    os.mkdir(image_dir, 0o700)
    for key, data in big_data.items():
        write_file(os.path.join(image_dir, big_data_file_name(key)), data, 0o600)
    return {
        "id": image_id,
        "digest": manifest_digest,
        "names": [f"docker.io/{image.repository}:latest"],
        "layer": ids[image.chain[-1].serial],
        "metadata": "{}",
        "big-data-names": list(big_data),
        "big-data-sizes": {key: len(data) for key, data in big_data.items()},
        "big-data-digests": {key: "sha256:" + sha256_hex(data) for key, data in big_data.items()},
        "created": CREATED,
    }


# ---------------------------------------------------------------- bbolt bulk loader

class Bucket:
    """A bbolt bucket to be written: items maps bytes keys to bytes values or Buckets."""

    def __init__(self, items=None, sequence=0):
        self.items = items if items is not None else {}
        self.sequence = sequence

    def child(self, key):
        return self.items.setdefault(key, Bucket())


def leaf_element_size(key, value):
    return BOLT_ELEMENT + len(key) + len(value)


def page_bytes(page_id, flags, elements, overflow=0):
    """elements: (flags, key, value) for a leaf, (key, child page id) for a branch."""
    count = len(elements)
    table = bytearray()
    data = bytearray()
    for index, element in enumerate(elements):
        pos = (count - index) * BOLT_ELEMENT + len(data)
        if flags == BOLT_LEAF:
            element_flags, key, value = element
            table += struct.pack("<IIII", element_flags, pos, len(key), len(value))
            data += key + value
        else:
            key, child = element
            table += struct.pack("<IIQ", pos, len(key), child)
            data += key
    return struct.pack("<QHHI", page_id, flags, count, overflow) + table + data


class BoltWriter:
    def __init__(self, path, page_size=BOLT_PAGE_SIZE):
        self.page_size = page_size
        self.file = open(path, "wb")
        self.next_page = 3
        self.file.seek(self.next_page * page_size)

    def allocate(self, flags, elements, size):
        page_id = self.next_page
        span = -(-size // self.page_size)
        raw = page_bytes(page_id, flags, elements, overflow=span - 1)
        self.file.write(raw.ljust(span * self.page_size, b"\0"))
        self.next_page += span
        return page_id

    def pack(self, flags, elements, size_of):
        """Writes `elements` into pages of one level; returns (first key, page id) per page."""
        written = []
        group, group_size = [], BOLT_HEADER
        for element in elements:
            element_size = size_of(element)
            if group and group_size + element_size > self.page_size:
                written.append((first_key(group), self.allocate(flags, group, group_size)))
                group, group_size = [], BOLT_HEADER
            group.append(element)
            group_size += element_size
        if group or not written:
            written.append((first_key(group) if group else b"", self.allocate(flags, group, group_size)))
        return written

    def write_tree(self, elements):
        level = self.pack(BOLT_LEAF, elements, lambda e: leaf_element_size(e[1], e[2]))
        while len(level) > 1:
            level = self.pack(BOLT_BRANCH, level, lambda e: BOLT_ELEMENT + len(e[0]))
        return level[0][1]

    def bucket_value(self, bucket, may_inline=True):
        elements = []
        for key in sorted(bucket.items):
            value = bucket.items[key]
            if isinstance(value, Bucket):
                elements.append((BOLT_BUCKET_FLAG, key, self.bucket_value(value)))
            else:
                elements.append((0, key, value))
        inline_size = BOLT_HEADER + sum(leaf_element_size(k, v) for _, k, v in elements)
        has_sub_buckets = any(flags & BOLT_BUCKET_FLAG for flags, _, _ in elements)
        if may_inline and not has_sub_buckets and inline_size <= self.page_size // 4:
            return struct.pack("<QQ", 0, bucket.sequence) + page_bytes(0, BOLT_LEAF, elements)
        return struct.pack("<QQ", self.write_tree(elements), bucket.sequence)

    def finish(self, root):
        root_page, root_sequence = struct.unpack("<QQ", self.bucket_value(root, may_inline=False)[:16])
        high_water = self.next_page
        self.file.seek(0)
        for meta_page, txid in ((0, 2), (1, 3)):
            self.file.write(meta_page_bytes(meta_page, self.page_size, root_page, root_sequence, high_water, txid))
        self.file.write(struct.pack("<QHHI", 2, BOLT_FREELIST, 0, 0).ljust(self.page_size, b"\0"))
        self.file.truncate(high_water * self.page_size)
        self.file.close()


def first_key(elements):
    element = elements[0]
    return element[1] if len(element) == 3 else element[0]


def fnv1a_64(data):
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def meta_page_bytes(page_id, page_size, root_page, root_sequence, high_water, txid):
    body = struct.pack("<IIII", BOLT_MAGIC, BOLT_VERSION, page_size, 0)
    body += struct.pack("<QQ", root_page, root_sequence)
    body += struct.pack("<QQQ", 2, high_water, txid)
    raw = struct.pack("<QHHI", page_id, BOLT_META, 0, 0) + body + struct.pack("<Q", fnv1a_64(body))
    return raw.ljust(page_size, b"\0")


def write_bolt(path, root):
    writer = BoltWriter(path)
    writer.finish(root)


# ---------------------------------------------------------------- containerd (overlayfs snapshotter)

NAMESPACE = "default"


def timestamps():
    now = go_time(CREATED_UNIX)
    return {b"createdat": now, b"updatedat": now}


def write_containerd(root, images, seed):
    blobs = os.path.join(root, "io.containerd.content.v1.content", "blobs", "sha256")
    snapshotter = os.path.join(root, "io.containerd.snapshotter.v1.overlayfs")
    make_dirs(blobs, os.path.join(root, "io.containerd.content.v1.content", "ingest"),
              os.path.join(root, "io.containerd.metadata.v1.bolt"), os.path.join(snapshotter, "snapshots"),
              mode=0o700)
    namespace = Bucket()
    content = namespace.child(b"content")
    blob_bucket = content.child(b"blob")
    content.child(b"ingests")
    image_bucket = namespace.child(b"images")
    namespace.child(b"leases")
    meta_snapshots = namespace.child(b"snapshots").child(b"overlayfs")
    snapshot_records = Bucket()
    parents = Bucket()

    snapshot_ids = {}
    snapshot_keys = {}
    for layer in unique_layers(images):
        snapshot_id = len(snapshot_ids) + 1
        snapshot_ids[layer.serial] = snapshot_id
        sequence = 2 * snapshot_id
        key = f"{NAMESPACE}/{sequence}/{layer.chain_id}"
        snapshot_keys[layer.serial] = key
        write_containerd_snapshot_dir(snapshotter, snapshot_id, layer)
        add_snapshot_records(layer, snapshot_id, key, snapshot_ids, snapshot_keys, meta_snapshots,
                             snapshot_records, parents)
        meta_snapshots.sequence = sequence
    snapshot_records.sequence = len(snapshot_ids)

    layer_blobs_written = set()
    for image in images:
        add_containerd_image(blobs, image, blob_bucket, image_bucket, layer_blobs_written)

    meta_root = Bucket({b"v1": Bucket({NAMESPACE.encode(): namespace, b"version": varint(3)})})
    write_bolt(os.path.join(root, "io.containerd.metadata.v1.bolt", "meta.db"), meta_root)
    snapshot_root = Bucket({b"v1": Bucket({b"snapshots": snapshot_records, b"parents": parents})})
    write_bolt(os.path.join(snapshotter, "metadata.db"), snapshot_root)


def write_containerd_snapshot_dir(snapshotter, snapshot_id, layer):
    snapshot_dir = os.path.join(snapshotter, "snapshots", str(snapshot_id))
    os.mkdir(snapshot_dir, 0o700)
    write_layer_content(os.path.join(snapshot_dir, "fs"), layer)
    os.mkdir(os.path.join(snapshot_dir, "work"), 0o711)


def add_snapshot_records(layer, snapshot_id, key, snapshot_ids, snapshot_keys, meta_snapshots,
                         snapshot_records, parents):
    meta_record = Bucket(dict(timestamps()))
    meta_record.items[b"name"] = key.encode()
    record = Bucket(dict(timestamps()))
    record.items.update({b"id": uvarint(snapshot_id), b"kind": b"\x03",
                         b"inodes": varint(3), b"size": varint(len(layer.content))})
    if layer.parent:
        parent_key = snapshot_keys[layer.parent.serial]
        meta_record.items[b"parent"] = layer.parent.chain_id.encode()
        record.items[b"parent"] = parent_key.encode()
        meta_snapshots.items[layer.parent.chain_id.encode()].child(b"children").items[layer.chain_id.encode()] = b""
        parent_id = snapshot_ids[layer.parent.serial]
        parents.items[uvarint(parent_id) + b"\0" + uvarint(snapshot_id)] = key.encode()
    meta_snapshots.items[layer.chain_id.encode()] = meta_record
    snapshot_records.items[key.encode()] = record


def content_record(size, labels):
    record = Bucket(dict(timestamps()))
    record.items[b"size"] = varint(size)
    record.items[b"labels"] = Bucket({key.encode(): value.encode() for key, value in labels.items()})
    return record


def write_blob(blobs, digest, data):
    write_file(os.path.join(blobs, digest[7:]), data, 0o444)


def add_containerd_image(blobs, image, blob_bucket, image_bucket, layer_blobs_written):
    manifest = oci_manifest(image)
    manifest_digest = "sha256:" + sha256_hex(manifest)
    write_blob(blobs, image.config_digest, image.config)
    write_blob(blobs, manifest_digest, manifest)
    blob_bucket.items[image.config_digest.encode()] = content_record(
        len(image.config), {"containerd.io/gc.ref.snapshot.overlayfs": image.chain[-1].chain_id})
    blob_bucket.items[manifest_digest.encode()] = content_record(len(manifest), manifest_gc_labels(image))
    if image.with_layer_blobs:
        add_containerd_layer_blobs(blobs, image, blob_bucket, layer_blobs_written)
    name = f"docker.io/{image.repository}:latest"
    record = Bucket(dict(timestamps()))
    record.items[b"annotations"] = Bucket({b"io.containerd.image.name": name.encode(),
                                           b"org.opencontainers.image.ref.name": b"latest"})
    record.items[b"target"] = Bucket({b"digest": manifest_digest.encode(), b"mediatype": OCI_MANIFEST.encode(),
                                      b"size": varint(len(manifest))})
    image_bucket.items[name.encode()] = record


def manifest_gc_labels(image):
    labels = {"containerd.io/gc.ref.content.config": image.config_digest}
    for index, layer in enumerate(image.chain):
        labels[f"containerd.io/gc.ref.content.l.{index}"] = layer.diff_id
    return labels


def add_containerd_layer_blobs(blobs, image, blob_bucket, layer_blobs_written):
    for layer in image.chain:
        if layer.serial in layer_blobs_written:
            continue
        layer_blobs_written.add(layer.serial)
        write_blob(blobs, layer.diff_id, layer_tar(layer))
        blob_bucket.items[layer.diff_id.encode()] = content_record(
            layer.tar_size, {"containerd.io/uncompressed": layer.diff_id})


# ---------------------------------------------------------------- command line

WRITERS = {"docker": write_docker, "containerd": write_containerd, "containers-storage": write_containers_storage}


def parse_depths(text):
    depths = [int(part) for part in text.split(",") if part.strip()]
    if not depths or any(depth < 1 for depth in depths) or len(set(depths)) != len(depths):
        raise argparse.ArgumentTypeError("want distinct positive depths separated by commas")
    return depths


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(WRITERS))
    parser.add_argument("dir")
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--depths", type=parse_depths, default=[1, 10, 100, 125, 128, 500])
    parser.add_argument("--filler-depth", type=int, default=5)
    parser.add_argument("--max-layers", type=int, default=50000)
    parser.add_argument("--seed", default="0")
    parser.add_argument("--bulk-mib", type=int, default=0)
    arguments = parser.parse_args(argv)
    if arguments.images < len(arguments.depths):
        parser.error(f"--images {arguments.images} is fewer than the {len(arguments.depths)} depth images")
    if arguments.filler_depth < 1:
        parser.error("--filler-depth must be at least 1")
    return arguments


def prepare_dir(path):
    if os.path.exists(path):
        if not os.path.isdir(path) or os.listdir(path):
            sys.exit(f"gen_store.py: {path} exists and is not an empty directory")
    else:
        os.makedirs(path, 0o711)


def main(argv):
    arguments = parse_arguments(argv)
    prepare_dir(arguments.dir)
    started = time.monotonic()
    images = plan_images(arguments.images, arguments.depths, arguments.filler_depth,
                         arguments.max_layers, arguments.seed, arguments.bulk_mib)
    planned = time.monotonic()
    WRITERS[arguments.kind](arguments.dir, images, arguments.seed)
    layers = len(unique_layers(images))
    print(f"gen_store.py: {arguments.kind} store in {arguments.dir}: {len(images)} images, {layers} layers "
          f"(plan {planned - started:.1f}s, write {time.monotonic() - planned:.1f}s)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
