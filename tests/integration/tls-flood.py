#!/usr/bin/env python3
"""Hold many idle and half-sent TCP connections to an HTTPS listener
(127.0.0.1 only) and report, as JSON, how many the server closed within a
deadline. Bounded in count and time; every socket is closed on exit.

  tls-flood.py PORT COUNT DEADLINE_SECONDS READY_FILE

Half the connections send nothing (idle), half send the start of a TLS
ClientHello and then stop (half-sent). READY_FILE is written once all
connections are open (or refused), so the caller can probe the daemon
meanwhile; then the script waits up to DEADLINE_SECONDS for the server to
close them."""
import json
import selectors
import socket
import sys
import time


def main():
    port, count, deadline = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    ready = sys.argv[4]
    if count > 1000 or deadline > 120:
        sys.exit("tls-flood.py: at most 1000 connections and 120 s")
    socks, refused = [], 0
    # A TLS record header and the start of a ClientHello, never finished.
    partial = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            if i % 2:
                s.sendall(partial)
        except OSError:
            refused += 1
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    start = time.monotonic()
    with open(ready, "w") as f:
        f.write("%d\n" % len(socks))
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed, open_ = 0, len(socks)
    while open_ > 0 and time.monotonic() - start < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:  # closed by the server (or reset)
                sel.unregister(s)
                s.close()
                closed += 1
                open_ -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print(json.dumps({"opened": len(socks), "refused": refused, "closed": closed,
                      "still_open": open_, "seconds": round(time.monotonic() - start, 1)}))


if __name__ == "__main__":
    main()
