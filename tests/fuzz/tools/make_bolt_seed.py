#!/usr/bin/env python3
# Why: real bbolt files are 64 KiB and more, mostly zeros, which makes each fuzz run slow; this
# writes a tiny valid one (512-byte pages) with a branch page, a leaf, an inline bucket and
# nested buckets, so the bolt fuzz target starts from every page shape in a few KiB.
# Usage: make_bolt_seed.py OUT [PREFIX_BYTE]
import struct, sys

PAGE = 512

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

def page(pgid, flags, count, body, overflow=0):
    raw = struct.pack('<QHHI', pgid, flags, count, overflow) + body
    return raw.ljust(PAGE * (overflow + 1), b'\0')

def leaf_body(items):  # items: (flags, key, value)
    elems, data = b'', b''
    n = len(items)
    for i, (flags, key, value) in enumerate(items):
        pos = (n - i) * 16 + len(data)
        elems += struct.pack('<IIII', flags, pos, len(key), len(value))
        data += key + value
    return elems + data

def branch_body(items):  # items: (key, pgid)
    elems, data = b'', b''
    n = len(items)
    for i, (key, pgid) in enumerate(items):
        pos = (n - i) * 16 + len(data)
        elems += struct.pack('<IIQ', pos, len(key), pgid)
        data += key
    return elems + data

def bucket(root):
    return struct.pack('<QQ', root, 0)

def meta(pgid, txid, root, high):
    body = struct.pack('<IIII', 0xED0CDAED, 2, PAGE, 0) + bucket(root) + struct.pack('<QQQ', 2, high, txid)
    return page(pgid, 0x04, 0, body + struct.pack('<Q', fnv1a64(body)))

ctr = b'0123456789abcdef' * 4
inline_page = struct.pack('<QHHI', 0, 0x02, 2, 0) + leaf_body([(0, b'k1', b'v1'), (0, b'k2', b'v2')])
pages = [
    meta(0, 6, 3, 8),
    meta(1, 7, 3, 8),
    page(2, 0x10, 0, b''),
    page(3, 0x02, 4, leaf_body([(1, b'big', bucket(5)), (1, b'ctr', bucket(4)),
                                (1, b'inline', bucket(0) + inline_page), (0, b'plain', b'value')])),
    page(4, 0x02, 1, leaf_body([(1, ctr, bucket(0) + struct.pack('<QHHI', 0, 0x02, 2, 0) +
                                 leaf_body([(0, b'config', b'{"id":"' + ctr + b'"}'), (0, b'state', b'{"state":3}')]))])),
    page(5, 0x01, 2, branch_body([(b'a', 6), (b'm', 7)])),
    page(6, 0x02, 2, leaf_body([(0, b'a', b'\x02'), (0, b'b', b'\x01' + b'\0' * 14)])),
    page(7, 0x02, 2, leaf_body([(0, b'm', b'\x80\x01'), (0, b'z', b'')])),
]
prefix = bytes([int(sys.argv[2])]) if len(sys.argv) > 2 else b''
with open(sys.argv[1], 'wb') as out:
    out.write(prefix + b''.join(pages))
