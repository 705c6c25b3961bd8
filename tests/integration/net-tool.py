#!/usr/bin/python3
"""Small network endpoints for network.bats and bench/net.sh, run with host
python inside a test namespace (ip netns exec, nsenter --net):

  sniff IFACE SECONDS READY [--src-ip IP] [--src-mac MAC] [--arp-target IP]
        [--tcp-flags FR]
      count the frames RECEIVED on IFACE (not the ones it sends) that match
      every given filter, for SECONDS; touch READY once the socket listens;
      print the count. --tcp-flags: TCP segments with any of the flags
      given (F FIN, S SYN, R RST, P PSH, A ACK).
  sink PORT READY [--family 4|6]
      accept TCP connections and discard what they send, forever.
  source HOST PORT
      connect and send zeros until killed.
  converse HOST PORT DIR
      connect to an echo server, check one line comes back, touch DIR/step1,
      wait for DIR/go, check a second line comes back; write "ok" or the
      error to DIR/result (the connection must survive what the test does
      between step1 and go).
  chat HOST PORT DIR
      connect to an echo server and, every 50 ms, send a numbered line and
      check it comes back, over that one connection, until DIR/stop
      exists; touch DIR/step1 after the first answer; write "ok ANSWERS
      LONGEST-GAP-MS" or the error to DIR/result.
"""
import ipaddress
import os
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def touch(path):
    with open(path, "w"):
        pass


TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def tcp_flags(f):
    """The flags byte of a TCP segment in frame f, or None."""
    etype = int.from_bytes(f[12:14], "big")
    if etype == 0x0800 and len(f) >= 34 and f[23] == 6:
        tcp = 14 + (f[14] & 0x0F) * 4
    elif etype == 0x86DD and len(f) >= 54 and f[20] == 6:
        tcp = 54
    else:
        return None
    return f[tcp + 13] if len(f) > tcp + 13 else None


def frame_matches(f, src_ip, src_mac, arp_target, flags=None):
    if len(f) < 14:
        return False
    etype = int.from_bytes(f[12:14], "big")
    if src_mac is not None and f[6:12] != src_mac:
        return False
    ip_src = None
    arp_tgt = None
    if etype == 0x0800 and len(f) >= 34:
        ip_src = f[26:30]
    elif etype == 0x86DD and len(f) >= 54:
        ip_src = f[22:38]
    elif etype == 0x0806 and len(f) >= 42:
        ip_src = f[28:32]
        arp_tgt = f[38:42]
    if src_ip is not None and ip_src != src_ip:
        return False
    if arp_target is not None and arp_tgt != arp_target:
        return False
    if flags is not None:
        got = tcp_flags(f)
        if got is None or not got & flags:
            return False
    return True


def sniff(args):
    iface, seconds, ready = args[0], float(args[1]), args[2]
    src_ip = src_mac = arp_target = flags = None
    opts = args[3:]
    for i in range(0, len(opts), 2):
        k, v = opts[i], opts[i + 1]
        if k == "--src-ip":
            src_ip = ipaddress.ip_address(v).packed
        elif k == "--src-mac":
            src_mac = bytes.fromhex(v.replace(":", ""))
        elif k == "--arp-target":
            arp_target = ipaddress.ip_address(v).packed
        elif k == "--tcp-flags":
            flags = sum(TCP_FLAGS[c] for c in v)
        else:
            sys.exit("sniff: unknown option " + k)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    touch(ready)
    count = 0
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            f, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if addr[2] == PACKET_OUTGOING:
            continue
        if frame_matches(f, src_ip, src_mac, arp_target, flags):
            count += 1
    print(count)


def sink(args):
    port, ready = int(args[0]), args[1]
    fam = socket.AF_INET6 if "--family" in args and args[args.index("--family") + 1] == "6" else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
    s.listen(8)
    touch(ready)
    while True:
        c, _ = s.accept()
        if os.fork() == 0:
            s.close()
            while c.recv(1 << 16):
                pass
            os._exit(0)
        c.close()


def source(args):
    host, port = args[0], int(args[1])
    c = socket.create_connection((host, port), timeout=10)
    c.settimeout(None)
    buf = bytes(1 << 16)
    while True:
        c.sendall(buf)


def expect_echo(c, line):
    c.sendall(line)
    got = b""
    while not got.endswith(b"\n"):
        b = c.recv(100)
        if not b:
            raise RuntimeError("connection closed by the peer after %r" % got)
        got += b
    if got != line:
        raise RuntimeError("sent %r, got back %r" % (line, got))


def converse(args):
    host, port, d = args[0], int(args[1]), args[2]
    result = "ok"
    try:
        c = socket.create_connection((host, port), timeout=10)
        c.settimeout(20)
        expect_echo(c, b"one\n")
        touch(os.path.join(d, "step1"))
        deadline = time.monotonic() + 300
        while not os.path.exists(os.path.join(d, "go")):
            if time.monotonic() > deadline:
                raise RuntimeError("no go within 300 s")
            time.sleep(0.1)
        expect_echo(c, b"two\n")
        c.close()
    except Exception as e:  # the test reads the reason
        result = "error: %s: %s" % (type(e).__name__, e)
    with open(os.path.join(d, "result"), "w") as f:
        f.write(result + "\n")


def chat(args):
    host, port, d = args[0], int(args[1]), args[2]
    n = 0
    gap = 0.0
    try:
        c = socket.create_connection((host, port), timeout=10)
        c.settimeout(60)
        last = time.monotonic()
        while not os.path.exists(os.path.join(d, "stop")):
            n += 1
            expect_echo(c, b"%d\n" % n)
            now = time.monotonic()
            gap = max(gap, now - last)
            last = now
            if n == 1:
                touch(os.path.join(d, "step1"))
            time.sleep(0.05)
        c.close()
        result = "ok %d %d" % (n, gap * 1000)
    except Exception as e:  # the test reads the reason
        result = "error after %d answers: %s: %s" % (n, type(e).__name__, e)
    with open(os.path.join(d, "result"), "w") as f:
        f.write(result + "\n")


def main():
    cmds = {"sniff": sniff, "sink": sink, "source": source, "converse": converse, "chat": chat}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
