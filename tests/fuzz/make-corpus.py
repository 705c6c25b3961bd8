#!/usr/bin/env python3
"""Seed corpora for the import fuzzers: small real archives.

tests/fuzz/corpus/import/  template archives (tar, tar.gz, tar.xz, tar.zst)
tests/fuzz/corpus/backup/  vsd backups (backup.json, config.json, layer/)
Each holds dirs, files, symlinks, hard links, xattrs (pax), a whiteout and
a fifo. Deterministic (fixed mtimes). Run from the repository root:
    python3 tests/fuzz/make-corpus.py
zstd output needs the zstd program (a build-time tool, not the daemon)."""
import io, json, os, subprocess, sys, tarfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def add(t, name, kind="file", data=b"", **kw):
    i = tarfile.TarInfo(name)
    i.mtime = 1700000000
    i.mode = kw.get("mode", 0o755 if kind == "dir" else 0o644)
    i.uid = i.gid = kw.get("owner", 0)
    if kind == "dir":
        i.type = tarfile.DIRTYPE
    elif kind == "symlink":
        i.type, i.linkname = tarfile.SYMTYPE, kw["target"]
    elif kind == "hardlink":
        i.type, i.linkname = tarfile.LNKTYPE, kw["target"]
    elif kind == "chr":
        i.type, i.devmajor, i.devminor = tarfile.CHRTYPE, kw["dev"][0], kw["dev"][1]
    elif kind == "fifo":
        i.type = tarfile.FIFOTYPE
    if "xattrs" in kw:
        i.pax_headers = {"SCHILY.xattr." + k: v for k, v in kw["xattrs"].items()}
    i.size = len(data)
    t.addfile(i, io.BytesIO(data) if data else None)


def rootfs(t, pre):
    add(t, pre, "dir")
    for d in ("sbin", "bin", "etc", "proc", "sys", "dev", "home", "home/u"):
        add(t, f"{pre}/{d}", "dir")
    add(t, f"{pre}/bin/busybox", data=b"\x7fELF" + b"\0" * 60, mode=0o755)
    add(t, f"{pre}/sbin/init", "symlink", target="/bin/busybox")
    add(t, f"{pre}/bin/sh", "hardlink", target=f"{pre}/bin/busybox")
    add(t, f"{pre}/etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n")
    add(t, f"{pre}/home/u/f", data=b"u\n", owner=1000, xattrs={"user.k": "v"})
    add(t, f"{pre}/dev/null", "chr", dev=(1, 3))
    add(t, f"{pre}/etc/fifo", "fifo")


def tar_bytes(build):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        build(t)
    return b.getvalue()


def compress(raw, how):
    if how == "tar":
        return raw
    if how == "gz":
        import gzip
        return gzip.compress(raw, mtime=0)
    if how == "xz":
        import lzma
        return lzma.compress(raw)
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, capture_output=True,
                          check=True).stdout


def backup(t):
    man = {"format": "vsd-backup", "version": 1, "name": "fz",
           "template": {"name": "busybox", "digest": "sha256:" + "ab" * 32, "included": True},
           "created_at": 0}
    cfg = {"name": "fz", "template": "busybox", "hostname": "fz", "privileged": False,
           "idmap": {"uid": 100000, "gid": 100000, "size": 65536},
           "init": ["/sbin/init"], "stop_signal": "SIGUSR2", "created_at": 0}
    for name, obj in (("backup.json", man), ("config.json", cfg)):
        data = json.dumps(obj).encode()
        add(t, name, data=data, mode=0o600)
    add(t, "layer", "dir")
    add(t, "layer/etc", "dir", xattrs={"trusted.overlay.opaque": "y"})
    add(t, "layer/etc/hostname", "chr", dev=(0, 0))
    add(t, "layer/root", "dir", mode=0o700)
    add(t, "layer/root/kept", data=b"keep-me\n", xattrs={"user.a": "b"})
    add(t, "layer/root/kept2", "hardlink", target="layer/root/kept")
    add(t, "layer/root/l", "symlink", target="../etc/passwd")
    add(t, "layer/home", "dir", owner=1000)
    rootfs(t, "template")


def main():
    os.makedirs(f"{OUT}/import", exist_ok=True)
    os.makedirs(f"{OUT}/backup", exist_ok=True)
    tpl = tar_bytes(lambda t: rootfs(t, "rootfs"))
    flat = tar_bytes(lambda t: rootfs(t, "."))
    bk = tar_bytes(backup)
    for how in ("tar", "gz", "xz", "zst"):
        ext = "tar" if how == "tar" else "tar." + how
        open(f"{OUT}/import/rootfs.{ext}", "wb").write(compress(tpl, how))
        open(f"{OUT}/backup/backup.{ext}", "wb").write(compress(bk, how))
    open(f"{OUT}/import/flat.tar", "wb").write(flat)
    print("corpus written under", OUT)


if __name__ == "__main__":
    sys.exit(main())
