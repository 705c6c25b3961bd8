#!/usr/bin/env python3
"""Edit a CRIU image the way the issue 9 security review did, for
checkpoint-security.bats. No protobuf library: a few fields of proto2 wire
format, read and re-encoded by hand. Usage:
  cr-tamper.py userns DIR        every task's user_ns_id := CRIU's own (host)
  cr-tamper.py caps DIR          every thread's capability sets := all ones
  cr-tamper.py capzero DIR      every thread's bounding set emptied (no words)
  cr-tamper.py idmap DIR        every user namespace's id map one id longer
  cr-tamper.py mount DIR         add a host ext4 bind mount at /mnt/host
  cr-tamper.py flip DIR FILE     flip one byte in the middle of FILE
  cr-tamper.py reseal DIR KEY    rewrite vsd-digest.json under the node key
"""
import hashlib
import hmac
import json
import os
import struct
import sys


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def parse(b):
    """A message as a list of [field, wiretype, value] (bytes for wt 2)."""
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif w == 5:
            v = b[i:i + 4]
            i += 4
        elif w == 1:
            v = b[i:i + 8]
            i += 8
        else:
            raise ValueError("wire type %d" % w)
        out.append([f, w, v])
    return out


def enc(fields):
    out = bytearray()
    for f, w, v in fields:
        out += enc_varint(f << 3 | w)
        if w == 0:
            out += enc_varint(v)
        elif w == 2:
            out += enc_varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def read_img(path):
    b = open(path, "rb").read()
    (m,) = struct.unpack("<I", b[:4])
    hdr = 8 if m in (0x54564319, 0x55105940) else 4
    i, msgs = hdr, []
    while i < len(b):
        (n,) = struct.unpack("<I", b[i:i + 4])
        msgs.append(parse(b[i + 4:i + 4 + n]))
        i += 4 + n
    return b[:hdr], msgs


def write_img(path, hdr, msgs):
    out = bytearray(hdr)
    for m in msgs:
        e = enc(m)
        out += struct.pack("<I", len(e)) + e
    open(path, "wb").write(out)


def images(d, prefix):
    return [os.path.join(d, n) for n in sorted(os.listdir(d))
            if n.startswith(prefix) and n.endswith(".img")]


def host_userns(d):
    _, inv = read_img(os.path.join(d, "inventory.img"))
    for f, w, v in inv[0]:
        if f == 3:
            for g, _, x in parse(v):
                if g == 10:
                    return x
    raise SystemExit("no root_ids.user_ns_id")


def tamper_userns(d):
    host = host_userns(d)
    for p in images(d, "ids-"):
        hdr, msgs = read_img(p)
        for fl in msgs[0]:
            if fl[0] == 10:
                fl[2] = host
        write_img(p, hdr, msgs)


def tamper_capzero(d):
    for p in images(d, "core-"):
        hdr, msgs = read_img(p)
        for fl in msgs[0]:
            if fl[0] != 5:
                continue
            tc = parse(fl[2])
            for t in tc:
                if t[0] == 10:
                    t[2] = enc([c for c in parse(t[2]) if c[0] != 12])
            fl[2] = enc(tc)
        write_img(p, hdr, msgs)


def tamper_caps(d):
    for p in images(d, "core-"):
        hdr, msgs = read_img(p)
        for fl in msgs[0]:
            if fl[0] != 5:
                continue
            tc = parse(fl[2])
            for t in tc:
                if t[0] == 10:
                    creds = parse(t[2])
                    for c in creds:
                        if c[0] in (10, 11, 12):
                            c[1], c[2] = 0, 0xFFFFFFFF
                    t[2] = enc(creds)
            fl[2] = enc(tc)
        write_img(p, hdr, msgs)


def tamper_idmap(d):
    for p in images(d, "userns-"):
        hdr, msgs = read_img(p)
        for fl in msgs[0]:
            if fl[0] in (1, 2):
                ext = parse(fl[2])
                for e in ext:
                    if e[0] == 3:
                        e[2] += 1
                fl[2] = enc(ext)
        write_img(p, hdr, msgs)


def tamper_mount(d):
    p = images(d, "mountpoints-")[0]
    hdr, msgs = read_img(p)
    root = [m for m in msgs if any(f == 7 and v == b"/" for f, _, v in m)][0]
    root_id = [v for f, _, v in root if f == 2][0]
    ids = [v for m in msgs for f, _, v in m if f == 2]
    entry = [[1, 0, 16], [2, 0, max(ids) + 1], [3, 0, 0x800001], [4, 0, root_id],
             [5, 0, 0], [6, 2, b"/etc"], [7, 2, b"/mnt/host"], [8, 2, b"/dev/vda1"],
             [9, 2, b"rw"], [14, 2, b"ext4"]]
    msgs.append(entry)
    write_img(p, hdr, msgs)


def flip(d, name):
    p = os.path.join(d, name)
    b = bytearray(open(p, "rb").read())
    b[len(b) // 2] ^= 0xFF
    open(p, "wb").write(b)


def reseal(d, keyfile):
    key = open(keyfile, "rb").read()
    files, dirs = [], []
    for n in sorted(os.listdir(d)):
        if n == "vsd-digest.json" or n.endswith(".log"):
            continue
        p = os.path.join(d, n)
        if os.path.isdir(p):
            dirs.append(n)
            continue
        data = open(p, "rb").read()
        files.append({"name": n, "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    text = "vsd-image-digest/1\n"
    ents = sorted([(f["name"], f) for f in files] + [(n, None) for n in dirs])
    for n, f in ents:
        text += "dir %s\n" % n if f is None else "file %s %d %s\n" % (f["sha256"], f["size"], n)
    mac = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    with open(os.path.join(d, "vsd-digest.json"), "w") as fh:
        json.dump({"format": "vsd-image-digest/1", "files": files, "dirs": dirs,
                   "hmac_sha256": mac}, fh)


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "userns":
        tamper_userns(d)
    elif cmd == "caps":
        tamper_caps(d)
    elif cmd == "capzero":
        tamper_capzero(d)
    elif cmd == "idmap":
        tamper_idmap(d)
    elif cmd == "mount":
        tamper_mount(d)
    elif cmd == "flip":
        flip(d, sys.argv[3])
    elif cmd == "reseal":
        reseal(d, sys.argv[3])
    else:
        raise SystemExit(__doc__)


main()
