#!/usr/bin/env python3
"""Slowloris against an HTTPS listener on 127.0.0.1: complete the TLS
handshake, then send a request head one byte every INTERVAL seconds, never
finishing it. Prints, as JSON, after how many seconds the server cut the
connection (null if it had not after LIMIT seconds, then closes it).

  tls-trickle.py PORT INTERVAL LIMIT"""
import json
import socket
import ssl
import sys
import time


def main():
    port, interval, limit = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    if limit > 60:
        sys.exit("tls-trickle.py: at most 60 s")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw)
    start = time.monotonic()
    head = b"GET /v1/node HTTP/1.1\r\nHost: vsd\r\n" + b"X-Slow: " + b"a" * 4096
    cut = None
    for b in head:
        if time.monotonic() - start > limit:
            break
        try:
            s.send(bytes([b]))
            # A cut connection reads as EOF (or a reset) at once.
            s.settimeout(interval)
            try:
                if s.recv(1) == b"":
                    cut = time.monotonic() - start
                    break
            except (socket.timeout, ssl.SSLWantReadError):
                pass
        except (OSError, ssl.SSLError):
            cut = time.monotonic() - start
            break
    s.close()
    print(json.dumps({"cut_after": None if cut is None else round(cut, 1)}))


if __name__ == "__main__":
    main()
