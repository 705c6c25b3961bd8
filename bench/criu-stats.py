#!/usr/bin/python3
"""criu-stats.py FILE: "freezing_us frozen_us" from a CRIU stats-dump image
(a protobuf stats_entry { dump_stats_entry dump = 1 } after two magics and
a size), or "- -" when there is none. Used by bench/cr.sh and
bench/migrate.sh."""
import struct
import sys


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    i, out = 0, {}
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i : i + n]
            i += n
        else:
            raise ValueError("wire type %d" % wt)
        out[num] = v
    return out


try:
    data = open(sys.argv[1], "rb").read()
    size = struct.unpack("<I", data[8:12])[0]
    dump = fields(fields(data[12 : 12 + size])[1])
    print(dump[1], dump[2])
except Exception:
    print("- -")
