"""Capture every frame on one interface (stdlib AF_PACKET raw socket) into a file, for the wire tests.

Usage: python capture.py IFACE OUT MAX_SECONDS. Prints "ready" once bound; stops at MAX_SECONDS, when its stdin
closes (the test is done, or gone) or on SIGTERM. OUT holds the frames as they came, each after its 4-byte length.
"""
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def write(f, frame: bytes) -> None:
    f.write(struct.pack(">I", len(frame)) + frame)
    f.flush()


def drain(sock: socket.socket, f, limit: int = 100000) -> int:
    """Every frame already queued on the socket (at most `limit`), without waiting for more."""
    sock.setblocking(False)
    n = 0
    while n < limit:
        try:
            frame = sock.recv(65536)
        except BlockingIOError:
            break
        write(f, frame)
        n += 1
    return n


def main() -> int:
    iface, out, max_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + max_seconds
    frames = 0
    with open(out, "wb") as f:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                readable, _, _ = select.select([sock, sys.stdin], [], [], min(remaining, 0.5))
                if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
                    frames += drain(sock, f)  # what the kernel holds for us yet (a loaded machine lags) still counts
                    break
                if sock in readable:
                    write(f, sock.recv(65536))
                    frames += 1
        finally:
            sys.stderr.write("capture: %d frames\n" % frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
