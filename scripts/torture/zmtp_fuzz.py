"""ZMTP-level fuzzing of the agent's built-in transport: a seeded generator of malformed server streams.

`python zmtp_fuzz.py run SEED COUNT SECONDS` plays the ROUTER on a unix socket and lets the real ZmtpTransport
(handshake, Decoder, commands) connect to each input in turn; it prints a progress line per 500 inputs and a final
JSON line of outcome counts. `python zmtp_fuzz.py emit SEED COUNT` prints the inputs (hex, one per line) instead,
for the live agents the Node side feeds. Standard library only; imports pyleash from PYTHONPATH.
"""
import json
import os
import random
import resource
import socket
import struct
import sys
import tempfile
import threading
import time

from pyleash.transport.errors import TransportError
from pyleash.transport.zmtp import GREETING, ZmtpTransport, encode_command, encode_properties

SERVER_GREETING = GREETING[:32] + b"\x01" + GREETING[33:]  # as-server set; otherwise the agent's own greeting
READY = encode_command(b"READY", encode_properties({"Socket-Type": b"ROUTER"}))
GOOD = SERVER_GREETING + READY
LONG_SIZES = [2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1, 2**62, 2**32, 2**31, 256 * 1024 * 1024 + 1, 256 * 1024 * 1024]


def short(flags, body):
    return bytes((flags, len(body))) + body


def long_(flags, size, body=b""):
    return struct.pack(">BQ", flags | 0x02, size) + body


def generate(rng):
    """One malformed (or merely odd) server stream and its class."""
    kind = rng.choice(["greeting", "greeting", "ready", "ready", "long", "flags", "truncated", "command",
                       "soup", "multipart", "data"])
    if kind == "greeting":
        how = rng.randrange(5)
        if how == 0:
            return kind, bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 90)))
        g = bytearray(SERVER_GREETING)
        if how == 1:
            g[rng.randrange(64)] ^= 1 << rng.randrange(8)
        elif how == 2:
            g[10] = rng.choice([0, 1, 2, 4, 255])
        elif how == 3:
            g[12:32] = rng.choice([b"PLAIN", b"CURVE", b"GSSAPI", b"\xff" * 5, b""]).ljust(20, b"\x00")
        else:
            g = g[:rng.randrange(64)]
        return kind, bytes(g)
    if kind == "ready":
        props = {}
        how = rng.randrange(6)
        if how == 0:
            props = {"Socket-Type": rng.choice([b"PUB", b"SUB", b"REQ", b"", b"\xff\xfe"])}
        elif how == 1:
            props = {"Identity": b"x"}
        elif how == 2:
            body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", rng.choice([2**32 - 1, 2**31, 1000]))
            return kind, SERVER_GREETING + short(0x04, body)
        elif how == 3:
            body = b"\x05READY" + b"\x00" + b"junk"
            return kind, SERVER_GREETING + short(0x04, body)
        elif how == 4:
            return kind, SERVER_GREETING + encode_command(rng.choice([b"HELLO", b"INITIATE", b"ERROR", b"PING", b"X" * 255]), b"\x03abc")
        else:
            return kind, SERVER_GREETING + short(0x04, b"\x00") + READY
        return kind, SERVER_GREETING + encode_command(b"READY", encode_properties(props))
    if kind == "long":
        size = rng.choice(LONG_SIZES) if rng.random() < 0.7 else rng.randrange(256, 2**20)
        return kind, GOOD + long_(rng.choice([0, 1, 4]), size, bytes(rng.randrange(64)))
    if kind == "flags":
        flags = rng.choice([0x08, 0x10, 0x20, 0x40, 0x80, 0xFF, 0x05, 0x07, 0xF8]) | rng.randrange(8)
        return kind, GOOD + bytes((flags, rng.randrange(256))) + bytes(rng.randrange(300))
    if kind == "truncated":
        frame = short(0, json.dumps({"type": "ping", "id": 1}).encode()) if rng.random() < 0.5 else long_(0, 5000, b"x" * 4000)
        cut = rng.randrange(len(frame))
        return kind, GOOD + frame[:cut]
    if kind == "command":
        how = rng.randrange(5)
        if how == 0:
            return kind, GOOD + short(0x04, b"\x04PING")  # PING without TTL/context
        if how == 1:
            return kind, GOOD + encode_command(b"READY", encode_properties({"Socket-Type": b"ROUTER"}))  # a second READY
        if how == 2:
            return kind, GOOD + encode_command(b"ERROR", bytes((rng.randrange(256),)) + b"reason")
        if how == 3:
            return kind, GOOD + short(0x04, bytes((rng.randrange(1, 256),)) + bytes(rng.randrange(4)))  # name past the body
        return kind, GOOD + encode_command(b"SUBSCRIBE", bytes(rng.randrange(100)))
    if kind == "soup":
        return kind, GOOD + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400)))
    if kind == "multipart":
        parts = b"".join(short(0x01, b"part") for _ in range(rng.randrange(1, 50)))
        ending = rng.choice([b"", short(0x04, b"\x04PONG"), short(0x01, b"x")])
        return kind, GOOD + parts + ending
    # data: many frames, some empty, some long-encoded though short (legal), before the end of the stream
    out = bytearray(GOOD)
    for _ in range(rng.randrange(1, 200)):
        out += short(0, b"") if rng.random() < 0.5 else long_(0, 3, b"abc")
    return kind, bytes(out)


def classify(exc):
    """A TransportError message reduced to its class (numbers, reprs and endpoint dropped)."""
    text = str(exc).split(" failed: ", 1)[-1]
    for needle in ["greeting signature", "major version", "security mechanism", "larger than", "invalid flags",
                   "before its READY", "command frame inside", "malformed command", "expected READY", "truncated property",
                   "is truncated", "no Socket-Type", "cannot talk to a DEALER", "malformed PING", "second READY",
                   "peer sent ERROR", "peer closed", "timed out", "connection error"]:
        if needle in text:
            return needle
    return text[:60]


def serve(listener, inputs, done):
    while not done.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        data = inputs.pop(0)
        try:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(2)
            while conn.recv(65536):
                pass
        except OSError:
            pass
        finally:
            conn.close()


def run(seed, count, seconds):
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="pyleash-torture-zmtp-")
    path = os.path.join(tmp, "router.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    inputs = []
    done = threading.Event()
    threading.Thread(target=serve, args=(listener, inputs, done), daemon=True).start()
    outcomes, kinds, crashes = {}, {}, []
    messages = 0
    slowest = 0.0
    t_end = time.monotonic() + seconds
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tried = 0
    for i in range(count):
        if time.monotonic() > t_end:
            break
        kind, data = generate(rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        inputs.append(data)
        t0 = time.monotonic()
        try:
            t = ZmtpTransport("ipc://" + path, connect_timeout=2.0)
            try:
                while True:
                    got = t.recv(2.0)
                    if got is None:
                        outcome = "waited 2 s for more (connection open)"
                        break
                    messages += 1
            except TransportError as exc:
                outcome = "after handshake: " + classify(exc)
            finally:
                t.close()
        except TransportError as exc:
            outcome = "handshake refused: " + classify(exc)
        except Exception as exc:  # anything but TransportError would escape the agent's control loop
            outcome = "UNEXPECTED %s" % type(exc).__name__
            if len(crashes) < 20:
                crashes.append({"index": i, "kind": kind, "error": "%s: %s" % (type(exc).__name__, exc), "input": data[:160].hex()})
        slowest = max(slowest, time.monotonic() - t0)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        tried += 1
        if tried % 500 == 0:
            print(json.dumps({"progress": tried}), flush=True)
    done.set()
    listener.close()
    os.unlink(path)
    os.rmdir(tmp)
    print(json.dumps({
        "seed": seed, "tried": tried, "kinds": kinds, "outcomes": outcomes, "unexpected": crashes,
        "messagesDecoded": messages, "slowestInputMs": round(slowest * 1000, 1),
        "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "startRssKb": rss0,
    }), flush=True)


def emit(seed, count):
    rng = random.Random(seed)
    for _ in range(count):
        kind, data = generate(rng)
        print(kind, data.hex())


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        emit(int(sys.argv[2]), int(sys.argv[3]))
