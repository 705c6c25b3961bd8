#!/usr/bin/python3
"""A third-party WebSocket client for vsd's exec and console streams.

The framing, masking, close handshake and Sec-WebSocket-Accept check are
python3-websockets' sans-I/O ClientConnection (RFC 6455), not ours: this
proves the daemon speaks the protocol to a client it was not written with.
Only the request line is ours, since exec takes its JSON body with a POST;
with --get the request is the library's own GET (a redeemed stream ticket,
as a browser opens it).

usage: ws-client.py SOCKET PATH BODY [--stdin TEXT] [--text MSG] [--close-after S]
                    [--stall SECONDS] [--ping] [--vanish] [--get]
                    [--protocols P1,P2] [--stdin-size N] [--vanish-after SECONDS]
Prints one JSON object: subprotocol, stdout, stderr, exit (the exit
message or null), close_code, pong, text (every text message).
--text: send MSG as a text (control) message once open.
--close-after: send a close (1000) once stdout holds S.
--stall: once open, read nothing for that many seconds.
--vanish: drop the connection (no close frame) once output arrived.
--get: send the handshake as the library makes it (GET PATH; BODY unused).
--protocols: the subprotocols to offer (default vsd.exec.v1).
--stdin-size: once open, send N bytes of "y\n" lines on channel 0 in 16 KiB
  messages, without the eof message.
--vanish-after: drop the connection (no close frame) that many seconds
  after it opened, reading output meanwhile; what the daemon has not taken
  by then is not sent, and "held_back" is true in the output.
"""
import argparse
import json
import socket
import sys
import time

from websockets.client import ClientConnection
from websockets.frames import Opcode
from websockets.uri import parse_uri


def handshake(sock, conn, path, body, get):
    req = conn.connect()
    conn.send_request(req)
    if get:
        for chunk in conn.data_to_send():
            sock.sendall(chunk)
        return
    conn.data_to_send()  # the GET it would send; ours is a POST
    head = [f"POST {path} HTTP/1.1"]
    head += [f"{k}: {v}" for k, v in req.headers.raw_items()]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    sock.sendall("\r\n".join(head).encode() + body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("path")
    ap.add_argument("body")
    ap.add_argument("--stdin")
    ap.add_argument("--text")
    ap.add_argument("--close-after")
    ap.add_argument("--stall", type=float, default=0)
    ap.add_argument("--ping", action="store_true")
    ap.add_argument("--vanish", action="store_true")
    ap.add_argument("--get", action="store_true")
    ap.add_argument("--protocols", default="vsd.exec.v1")
    ap.add_argument("--stdin-size", type=int, default=0)
    ap.add_argument("--vanish-after", type=float)
    a = ap.parse_args()

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(a.socket)
    conn = ClientConnection(parse_uri("ws://vsd" + a.path),
                            subprotocols=a.protocols.split(","))
    handshake(sock, conn, a.path, a.body.encode(), a.get)
    out = {"stdout": "", "stderr": "", "exit": None, "close_code": None, "pong": False,
           "text": [], "subprotocol": None}
    opened = False
    deadline = None
    while True:
        if deadline is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if deadline is None:
                raise
            sock.close()
            print(json.dumps(out))
            return 0
        if data:
            conn.receive_data(data)
        else:
            conn.receive_eof()
        if conn.handshake_exc is not None:
            print(json.dumps({"handshake_error": str(conn.handshake_exc)}))
            return 2
        if not opened and conn.state.name == "OPEN":
            opened = True
            out["subprotocol"] = conn.subprotocol
            if a.ping:
                conn.send_ping(b"vsd")
            if a.stall:
                time.sleep(a.stall)  # read nothing: the daemon must hold back
            if a.text is not None:
                conn.send_text(a.text.encode())
            if a.stdin is not None:
                conn.send_binary(b"\x00" + a.stdin.encode())
                conn.send_text(json.dumps({"type": "eof"}).encode())
            for off in range(0, a.stdin_size, 16384):
                n = min(16384, a.stdin_size - off)
                conn.send_binary(b"\x00" + (b"y\n" * 8192)[:n])
            if a.vanish_after is not None:
                deadline = time.monotonic() + a.vanish_after
                sock.settimeout(a.vanish_after)
        for ev in conn.events_received():
            if not hasattr(ev, "opcode"):
                continue  # the handshake response
            if ev.opcode == Opcode.BINARY:
                ch = "stdout" if ev.data[0] == 1 else "stderr" if ev.data[0] == 2 else "bad"
                out[ch] = out.get(ch, "") + ev.data[1:].decode(errors="replace")
                if a.close_after and a.close_after in out["stdout"] and \
                        conn.state.name == "OPEN":
                    conn.send_close(1000)
                if a.vanish:
                    sock.close()
                    print(json.dumps(out))
                    return 0
            elif ev.opcode == Opcode.TEXT:
                msg = json.loads(ev.data)
                out["text"].append(msg)
                if msg.get("type") == "exit":
                    out["exit"] = msg
            elif ev.opcode == Opcode.PONG:
                out["pong"] = ev.data == b"vsd"
        for chunk in conn.data_to_send():
            if chunk:
                try:
                    sock.sendall(chunk)
                except socket.timeout:
                    if deadline is None:
                        raise
                    out["held_back"] = True  # the daemon stopped reading
                    break
        if not data or conn.state.name == "CLOSED":
            break
    out["close_code"] = conn.close_code
    sock.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
