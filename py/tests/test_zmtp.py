"""Built-in ZMTP client: framing helpers, and the transport against a hand-written ROUTER peer."""
from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
import threading
import time
import unittest
from typing import List, Optional, Tuple

from pyleash.transport import TransportError, open_transport
from pyleash.transport import zmtp
from pyleash.transport.zmtp import Decoder, ZmtpTransport

try:
    import zmq  # noqa: F401
    HAVE_ZMQ = True
except ImportError:
    HAVE_ZMQ = False

# The peer side is encoded by hand here, independently of the code under test.
PEER_GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x01" + b"NULL" + b"\x00" * 16 + b"\x01" + b"\x00" * 31


def frame(body: bytes, flags: int = 0) -> bytes:
    if len(body) > 255:
        return struct.pack(">BQ", flags | 0x02, len(body)) + body
    return bytes((flags, len(body))) + body


def message(frames: List[bytes]) -> bytes:
    return b"".join(frame(f, 0x01 if i < len(frames) - 1 else 0) for i, f in enumerate(frames))


def command(name: bytes, data: bytes = b"") -> bytes:
    return frame(bytes((len(name),)) + name + data, 0x04)


def prop(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


PEER_READY = command(b"READY", prop(b"Socket-Type", b"ROUTER"))


def read_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("client closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_frame(conn: socket.socket) -> Tuple[int, bytes]:
    flags, size = read_exact(conn, 2)
    if flags & 0x02:
        size = struct.unpack(">Q", bytes((size,)) + read_exact(conn, 7))[0]
    return flags, read_exact(conn, size)


def read_message(conn: socket.socket) -> List[bytes]:
    """Next data message; fails on a command frame."""
    frames = []
    while True:
        flags, body = read_frame(conn)
        assert not flags & 0x04, "unexpected command %r" % body
        frames.append(body)
        if not flags & 0x01:
            return frames


class FakeRouter:
    """One-connection ROUTER peer: accepts, exchanges greeting and READY by hand in a thread."""

    def __init__(self, greeting: bytes = PEER_GREETING, ready: Optional[bytes] = PEER_READY,
                 tcp: bool = False, eager: bool = False, send_greeting: bool = True) -> None:
        self.dir = tempfile.mkdtemp(prefix="pyleash-zmtp-")
        if tcp:
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.bind(("127.0.0.1", 0))
            self.endpoint = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        else:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path = os.path.join(self.dir, "router.sock")
            self.listener.bind(path)
            self.endpoint = "ipc://" + path
        self.listener.listen(1)
        self.greeting, self.ready, self.eager, self.send_greeting = greeting, ready, eager, send_greeting
        self.conn: Optional[socket.socket] = None
        self.client_greeting = b""
        self.client_ready: Tuple[int, bytes] = (0, b"")
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.listener.settimeout(10)
            conn, _ = self.listener.accept()
            conn.settimeout(10)
            self.conn = conn
            if not self.send_greeting:
                return
            if self.eager:  # everything at once, before reading anything from the client
                conn.sendall(self.greeting + (self.ready or b"") + message([b"early", b"bird"]))
            else:
                conn.sendall(self.greeting)
            self.client_greeting = read_exact(conn, 64)
            self.client_ready = read_frame(conn)
            if self.ready is not None and not self.eager:
                conn.sendall(self.ready)
        except BaseException as exc:  # noqa: BLE001 - reported through .error
            self.error = exc

    def handshaken(self) -> socket.socket:
        self.thread.join(10)
        if self.error is not None:
            raise self.error
        assert self.conn is not None
        return self.conn

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()
        self.thread.join(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class FramingTest(unittest.TestCase):
    def test_encode_short_long_and_multipart(self) -> None:
        frames = [b"", b"a" * 255, b"b" * 256, b"c" * 70000]
        self.assertEqual(zmtp.encode_message(frames), message(frames))
        self.assertEqual(zmtp.encode_message([b"x"]), b"\x00\x01x")
        self.assertEqual(zmtp.encode_message([bytearray(b"ab"), b"c"]), b"\x01\x02ab\x00\x01c")
        self.assertEqual(zmtp.encode_message([b"z" * 300])[:9], b"\x02" + struct.pack(">Q", 300))
        with self.assertRaises(ValueError):
            zmtp.encode_message([])

    def test_encode_command(self) -> None:
        self.assertEqual(zmtp.encode_command(b"PONG", b"ctx"), command(b"PONG", b"ctx"))
        long_cmd = zmtp.encode_command(b"READY", b"v" * 400)
        self.assertEqual(long_cmd[0], 0x06)
        self.assertEqual(long_cmd, command(b"READY", b"v" * 400))

    def test_properties_round_trip(self) -> None:
        props = {"Socket-Type": b"DEALER", "Identity": b"\x01id", "X-Big": b"q" * 300, "Empty": b""}
        raw = zmtp.encode_properties(props)
        self.assertEqual(raw[:20], prop(b"Socket-Type", b"DEALER")[:20])
        self.assertEqual(zmtp.decode_properties(raw), props)
        for cut in (1, 5, len(raw) - 1):
            with self.assertRaises(TransportError):
                zmtp.decode_properties(raw[:cut])

    def test_decoder_every_split(self) -> None:
        got: List[Tuple[bytes, bytes]] = []
        stream = (command(b"READY", prop(b"Socket-Type", b"ROUTER")) + message([b"a", b"b" * 300])
                  + command(b"PING", b"\x00\x0aCTX") + message([b"", b"c" * 70000]) + message([b"d"]))
        expect = [[b"a", b"b" * 300], [b"", b"c" * 70000], [b"d"]]
        for big_frame in (zmtp.BIG_FRAME, 1000):  # 1000: the 70000-byte frame arrives in pieces
            for step in (1, 2, 3, 7, 9, 256, 4096, len(stream)):
                del got[:]
                # the callback runs within this iteration, on this iteration's decoder
                dec = Decoder(lambda name, data: (got.append((name, data)), setattr(dec, "ready", True)))  # noqa: B023
                dec.big_frame = big_frame
                for i in range(0, len(stream), step):
                    dec.feed(stream[i:i + step])
                self.assertEqual(list(dec.messages), expect, "step %d" % step)
                self.assertIsNone(dec.big)
                self.assertEqual([g[0] for g in got], [b"READY", b"PING"])
                self.assertEqual(got[1][1], b"\x00\x0aCTX")

    def test_decoder_big_frame_in_pieces(self) -> None:
        dec = Decoder(lambda name, data: None)
        dec.ready = True
        payload = bytes(range(256)) * 1024  # 256 KiB, above BIG_FRAME
        raw = message([b"head", payload]) + message([b"tail"])
        big_end = 6 + 9 + len(payload)
        dec.feed(raw[:1000])
        self.assertIsNotNone(dec.big)
        while dec.big is not None:  # as the transport does with socket.recv
            dec.big_add(raw[big_end - dec.want:][:min(dec.want, 50000)])
        dec.feed(raw[big_end:])
        self.assertEqual(list(dec.messages), [[b"head", payload], [b"tail"]])

    def test_decoder_skips_an_oversized_message_unread_and_goes_on(self) -> None:
        limit = 1000
        stream = (message([b"before"]) + message([b"x" * 5000]) + message([b"head", b"y" * 3000, b"tail"])
                  + message([b"z" * 1001, b"rest"]) + message([b"after"]))
        for step in (1, 7, 999, 4096, len(stream)):
            dec = Decoder(lambda name, data: None, max_frame=limit)
            dec.ready = True
            for i in range(0, len(stream), step):
                dec.feed(stream[i:i + step])
                self.assertIsNone(dec.big)  # never a buffer of the declared size
            self.assertEqual(list(dec.messages), [[b"before"], [b"after"]], "step %d" % step)
            self.assertEqual(dec.dropped, [5000, 3004, 1001])  # "head" counts towards its message

    def test_a_frame_only_announced_costs_what_has_arrived_not_its_declared_size(self) -> None:
        dec = Decoder(lambda name, data: None)
        dec.ready = True
        declared = zmtp.MAX_FRAME  # 256 MiB: within the limit, so it is read, not skipped
        before = _rss_kb()
        dec.feed(struct.pack(">BQ", 0x02, declared) + b"x" * 1000)
        self.assertIsNotNone(dec.big)
        self.assertEqual(dec.want, declared - 1000)
        chunk = b"y" * 300000
        for _ in range(10):
            dec.feed(chunk)
        self.assertEqual(dec.want, declared - 1000 - 10 * len(chunk))
        if before is not None:  # the frame's buffer is reserved, not touched: only what arrived is in memory
            self.assertLess(_rss_kb() - before, 32 * 1024)

    def test_decoder_skips_a_frame_declared_near_2_to_the_63(self) -> None:
        dec = Decoder(lambda name, data: None)
        dec.ready = True
        dec.feed(struct.pack(">BQ", 0x02, 2 ** 63 - 1) + b"abc")
        self.assertEqual(list(dec.messages), [])
        self.assertEqual(dec.dropped, [2 ** 63 - 1])

    def test_encode_pieces(self) -> None:
        big = b"B" * 200000
        for frames in ([big], [b"a", big], [big, b"z"], [b"a", big, b"m", b"q" * 300, big, b""]):
            pieces = zmtp.encode_pieces(frames)
            self.assertEqual(b"".join(pieces), message(frames))
            self.assertTrue(any(p is big for p in pieces))  # sent without copying

    def test_decoder_rejects(self) -> None:
        cases = {
            "larger than": struct.pack(">BQ", 0x06, zmtp.MAX_FRAME + 1),  # a command: refused from the header alone
            "flags": b"\x08\x00",
            "flags byte 0x05": b"\x05\x00",
            "inside a multipart": frame(b"a", 0x01) + command(b"PING", b"\x00\x00"),
            "before its READY": message([b"x"]),
            "malformed command": frame(b"\x09AB", 0x04),
        }
        for needle, data in cases.items():
            dec = Decoder(lambda name, data: None)
            dec.ready = needle != "before its READY"
            with self.assertRaises(TransportError) as ctx:
                dec.feed(data)
            self.assertIn(needle, str(ctx.exception))

    def test_check_greeting(self) -> None:
        for i in range(65):
            zmtp.check_greeting(PEER_GREETING[:i])  # any prefix of a good greeting passes
        zmtp.check_greeting(b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f" + PEER_GREETING[10:])
        bad = {
            b"GET / HTTP/1.1\r\n": "signature",
            b"\xff" + b"\x00" * 8 + b"\x01": "signature",
            PEER_GREETING[:10] + b"\x02\x00": "major version 2",
            PEER_GREETING[:12] + b"PLAIN" + b"\x00" * 15: "mechanism",
            PEER_GREETING[:12] + b"NULL\x00\x00X": "mechanism",
        }
        for data, needle in bad.items():
            with self.assertRaises(TransportError) as ctx:
                zmtp.check_greeting(data + b"\x00" * (64 - len(data)))
            self.assertIn(needle, str(ctx.exception))


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


class TransportTest(unittest.TestCase):
    def setUp(self) -> None:
        self.peers: List[FakeRouter] = []
        self.clients: List[ZmtpTransport] = []

    def tearDown(self) -> None:
        for c in self.clients:
            c.close()
        for p in self.peers:
            p.close()

    def peer(self, **kw: object) -> FakeRouter:
        p = FakeRouter(**kw)  # type: ignore[arg-type]
        self.peers.append(p)
        return p

    def connect(self, peer: FakeRouter, **kw: object) -> ZmtpTransport:
        c = ZmtpTransport(peer.endpoint, connect_timeout=kw.pop("connect_timeout", 5.0), **kw)  # type: ignore[arg-type]
        self.clients.append(c)
        return c

    def pair(self, **kw: object) -> Tuple[ZmtpTransport, socket.socket]:
        p = self.peer(**kw)
        c = self.connect(p)
        return c, p.handshaken()

    def test_handshake(self) -> None:
        p = self.peer()
        c = self.connect(p, routing_id=b"agent-1")
        p.handshaken()
        self.assertEqual(c.name, "builtin")
        g = p.client_greeting
        self.assertEqual((len(g), g[0], g[9], g[10:12], g[12:32], g[32]), (64, 0xFF, 0x7F, b"\x03\x01",
                                                                          b"NULL" + b"\x00" * 16, 0))
        flags, body = p.client_ready
        self.assertEqual((flags, body[:6]), (0x04, b"\x05READY"))
        self.assertEqual(zmtp.decode_properties(body[6:]), {"Socket-Type": b"DEALER", "Identity": b"agent-1"})
        self.assertEqual(c.peer_properties, {"Socket-Type": b"ROUTER"})

    def test_tcp_endpoint(self) -> None:
        c, conn = self.pair(tcp=True)
        self.assertNotEqual(c._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 0)
        c.send([b"over", b"tcp"])
        self.assertEqual(read_message(conn), [b"over", b"tcp"])

    def test_send_and_recv_big_frames(self) -> None:
        c, conn = self.pair()
        big = os.urandom(3 * 1024 * 1024 + 5)
        sender = threading.Thread(target=c.send, args=([b"h", big, b"t"],))
        sender.start()
        self.assertEqual(read_message(conn), [b"h", big, b"t"])
        sender.join(10)
        echo = threading.Thread(target=conn.sendall, args=(message([big, b"x" * 300]) + message([b"next"]),))
        echo.start()
        self.assertEqual(c.recv(10), [big, b"x" * 300])
        self.assertEqual(c.recv(10), [b"next"])
        echo.join(10)

    def test_send_short_long_multipart(self) -> None:
        c, conn = self.pair()
        c.send([b"x" * 300])
        self.assertEqual(read_frame(conn), (0x02, b"x" * 300))
        c.send([b"hdr", b"y" * 70000, b""])
        self.assertEqual(read_frame(conn), (0x01, b"hdr"))
        self.assertEqual(read_frame(conn), (0x03, b"y" * 70000))
        self.assertEqual(read_frame(conn), (0x00, b""))

    def test_send_many_small_messages_in_one_write(self) -> None:
        c, conn = self.pair()
        c.send_many([[b"a"], [b"b", b"c"]])
        self.assertEqual(conn.recv(64), b"\x00\x01a\x01\x01b\x00\x01c")  # both, in order

    def test_a_writer_stopped_as_its_write_returns_leaves_no_message_of_others_stuck(self) -> None:
        # A task's thread writes for others (progress()); a stop's exception lands as its write returns (CPython
        # raises an asynchronous exception when the call returns), while another thread's message waits in the queue.
        c, conn = self.pair()
        real = c._sock

        class StoppedHere(BaseException):
            pass

        class StopsOnce:
            def sendall(self, data: bytes) -> None:
                real.sendall(data)
                c._sock = real
                c._outgoing.append((zmtp.encode_message([b"theirs"]),))  # queued meanwhile: its sender returned
                raise StoppedHere()

        c._sock = StopsOnce()  # type: ignore[assignment]
        with self.assertRaises(StoppedHere):
            c.send([b"mine"])
        self.assertEqual([read_message(conn) for _ in range(2)], [[b"mine"], [b"theirs"]])  # a helper wrote it
        c.send([b"after"])
        self.assertEqual(read_message(conn), [b"after"])

    def test_flush_writes_what_queued_while_it_held_the_lock(self) -> None:
        c, conn = self.pair()
        c._outgoing.append((zmtp.encode_message([b"queued"]),))
        c.flush()
        self.assertEqual(read_message(conn), [b"queued"])
        self.assertEqual(len(c._outgoing), 0)

    def test_recv_short_long_multipart_batched_and_split(self) -> None:
        c, conn = self.pair()
        msgs = [[b"one"], [b"a" * 300, b"b"], [b"", b"c" * 70000, b"d" * 255], [b"e" * 256]]
        conn.sendall(b"".join(message(m) for m in msgs))
        for m in msgs:
            self.assertEqual(c.recv(5), m)
        raw = message([b"split", b"f" * 1000])
        # Tiny writes from a thread: each one costs a whole socket buffer slot in the kernel.
        dribbler = threading.Thread(target=lambda: [conn.sendall(raw[i:i + 3]) for i in range(0, len(raw), 3)])
        dribbler.start()
        self.assertEqual(c.recv(5), [b"split", b"f" * 1000])
        dribbler.join(5)
        self.assertIsNone(c.recv(0))

    def test_ping_pong_echoes_context(self) -> None:
        c, conn = self.pair()
        conn.sendall(command(b"PING", b"\x00\x64ctx-1234") + message([b"after", b"ping"]))
        self.assertEqual(c.recv(5), [b"after", b"ping"])
        self.assertEqual(read_frame(conn), (0x04, b"\x04PONGctx-1234"))
        conn.sendall(command(b"PING", b"\x00\x00"))
        self.assertIsNone(c.recv(0.2))
        self.assertEqual(read_frame(conn), (0x04, b"\x04PONG"))

    def test_unknown_commands_ignored(self) -> None:
        c, conn = self.pair()
        conn.sendall(command(b"X-FUTURE", b"whatever") + command(b"PONG", b"z") + message([b"ok"]))
        self.assertEqual(c.recv(5), [b"ok"])

    def test_peer_padding_accepted(self) -> None:
        greeting = b"\xff\x01\x02\x03\x04\x05\x06\x07\x08\x7f" + PEER_GREETING[10:]
        c, conn = self.pair(greeting=greeting)
        c.send([b"hi"])
        self.assertEqual(read_message(conn), [b"hi"])

    def test_zmtp30_peer_accepted(self) -> None:
        c, conn = self.pair(greeting=PEER_GREETING[:11] + b"\x00" + PEER_GREETING[12:])
        conn.sendall(message([b"v3.0"]))
        self.assertEqual(c.recv(5), [b"v3.0"])

    def test_eager_peer_sends_everything_at_once(self) -> None:
        c, conn = self.pair(eager=True)
        self.assertEqual(c.recv(5), [b"early", b"bird"])

    def test_ready_with_extra_properties(self) -> None:
        ready = command(b"READY", prop(b"X-Custom", b"1") + prop(b"Socket-Type", b"ROUTER")
                        + prop(b"Identity", b"") + prop(b"Resource", b"r" * 300))
        c, conn = self.pair(ready=ready)
        self.assertEqual(c.peer_properties["X-Custom"], b"1")
        conn.sendall(message([b"fine"]))
        self.assertEqual(c.recv(5), [b"fine"])

    def assert_handshake_fails(self, needle: str, **kw: object) -> None:
        p = self.peer(**kw)
        t0 = time.monotonic()
        with self.assertRaises(TransportError) as ctx:
            self.connect(p)
        self.assertIn(needle, str(ctx.exception))
        self.assertLess(time.monotonic() - t0, 4.0)

    def test_bad_signature(self) -> None:
        self.assert_handshake_fails("signature", greeting=b"HTTP/1.1 400 Bad Request\r\n" + b"\x00" * 38)

    def test_wrong_mechanism(self) -> None:
        self.assert_handshake_fails("mechanism", greeting=PEER_GREETING[:12] + b"CURVE" + PEER_GREETING[17:])

    def test_wrong_major_version(self) -> None:
        self.assert_handshake_fails("version", greeting=PEER_GREETING[:10] + b"\x02\x00" + PEER_GREETING[12:])

    def test_incompatible_socket_type(self) -> None:
        self.assert_handshake_fails("'PUB'", ready=command(b"READY", prop(b"Socket-Type", b"PUB")))

    def test_missing_socket_type(self) -> None:
        self.assert_handshake_fails("no Socket-Type", ready=command(b"READY", prop(b"Identity", b"x")))

    def test_error_instead_of_ready(self) -> None:
        self.assert_handshake_fails("ERROR: go away", ready=command(b"ERROR", b"\x07go away"))

    def test_message_before_ready(self) -> None:
        self.assert_handshake_fails("before its READY", ready=message([b"rude"]))

    def test_handshake_timeout(self) -> None:
        p = self.peer(send_greeting=False)
        t0 = time.monotonic()
        with self.assertRaises(TransportError) as ctx:
            self.connect(p, connect_timeout=0.3)
        self.assertIn("timed out", str(ctx.exception))
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_connect_timeout_when_nobody_listens(self) -> None:
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        t0 = time.monotonic()
        with self.assertRaises(TransportError) as ctx:
            ZmtpTransport("ipc://" + os.path.join(d, "nobody.sock"), connect_timeout=0.2)
        self.assertIn("could not connect", str(ctx.exception))
        self.assertGreaterEqual(time.monotonic() - t0, 0.15)
        with self.assertRaises(TransportError):
            ZmtpTransport("udp://127.0.0.1:1")

    def test_peer_closes_after_messages(self) -> None:
        c, conn = self.pair()
        conn.sendall(message([b"last", b"words"]))
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        self.assertEqual(c.recv(5), [b"last", b"words"])
        for _ in range(2):  # and it stays broken
            with self.assertRaises(TransportError) as ctx:
                c.recv(5)
            self.assertIn("peer closed", str(ctx.exception))

    def test_peer_error_command(self) -> None:
        c, conn = self.pair()
        conn.sendall(message([b"before"]) + command(b"ERROR", b"\x0bbad request"))
        self.assertEqual(c.recv(5), [b"before"])
        with self.assertRaises(TransportError) as ctx:
            c.recv(5)
        self.assertIn("bad request", str(ctx.exception))

    def test_an_oversized_message_costs_the_peer_that_message_not_the_connection(self) -> None:
        c, conn = self.pair()
        c._decoder.max_frame = 4096
        conn.sendall(message([b"x" * 100000]) + message([b"next"]))
        self.assertEqual(c.recv(5), [b"next"])

    @unittest.skipUnless(os.path.exists("/proc/self/status"), "reads VmRSS from /proc")
    def test_an_oversized_frame_from_a_raw_socket_is_never_held_in_memory(self) -> None:
        c, conn = self.pair()
        c._decoder.max_frame = 1 << 20
        chunk = bytes(1 << 20)
        rss = _rss_kib()
        declared = 48 << 20  # sent in full, a MiB at a time: the client skips it as it comes

        def flood() -> None:
            conn.sendall(struct.pack(">BQ", 0x02, declared))
            for _ in range(declared // len(chunk)):
                conn.sendall(chunk)
            conn.sendall(message([b"next"]))
        sender = threading.Thread(target=flood)
        sender.start()
        self.assertEqual(c.recv(30), [b"next"])
        sender.join()
        self.assertLess(_rss_kib() - rss, 16 * 1024)  # far below the 48 MiB it was sent

    def test_a_message_whose_frames_add_up_past_the_limit_is_dropped_unread(self) -> None:
        c, conn = self.pair()
        c._decoder.max_frame = 4096
        conn.sendall(message([b"a" * 3000, b"b" * 3000]) + message([b"c" * 3000]))
        self.assertEqual(c.recv(5), [b"c" * 3000])

    def test_recv_timeout(self) -> None:
        c, _ = self.pair()
        t0 = time.monotonic()
        self.assertIsNone(c.recv(0.2))
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertIsNone(c.recv(0))

    def test_close_wakes_blocked_recv_and_is_idempotent(self) -> None:
        c, _ = self.pair()
        result: List[BaseException] = []

        def reader() -> None:
            try:
                c.recv(None)
            except BaseException as exc:  # noqa: BLE001 - checked below
                result.append(exc)

        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.1)
        c.close()
        t.join(5)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(result[0], TransportError)
        c.close()
        with self.assertRaises(TransportError):
            c.send([b"late"])
        with self.assertRaises(TransportError):
            c.recv(0)

    def test_concurrent_senders_while_receiving(self) -> None:
        c, conn = self.pair()
        n_threads, per_thread, pings = 8, 200, 20
        sizes = [0, 1, 17, 255, 256, 300, 4000]
        received: List[List[bytes]] = []
        pongs: List[bytes] = []

        def peer_reader() -> None:
            frames: List[bytes] = []
            while len(received) < n_threads * per_thread or len(pongs) < pings:
                flags, body = read_frame(conn)
                if flags & 0x04:
                    pongs.append(body)
                    continue
                frames.append(body)
                if not flags & 0x01:
                    received.append(frames)
                    frames = []

        def sender(tid: int) -> None:
            for seq in range(per_thread):
                size = 70000 if seq % 97 == 0 else sizes[(seq + tid) % len(sizes)]
                c.send([b"t%d" % tid, b"%d" % seq, bytes([tid]) * size])

        reader_thread = threading.Thread(target=peer_reader)
        reader_thread.start()
        senders = [threading.Thread(target=sender, args=(t,)) for t in range(n_threads)]
        for s in senders:
            s.start()
        for i in range(pings):  # the receiving thread answers PINGs while the others send
            conn.sendall(command(b"PING", b"\x00\x01p%d" % i) + message([b"tick", b"%d" % i]))
            self.assertEqual(c.recv(5), [b"tick", b"%d" % i])
        for s in senders:
            s.join(30)
        reader_thread.join(30)
        self.assertFalse(reader_thread.is_alive())
        self.assertEqual(sorted(pongs), sorted(b"\x04PONGp%d" % i for i in range(pings)))
        next_seq = [0] * n_threads
        for frames in received:
            tid, seq = int(frames[0][1:]), int(frames[1])
            self.assertEqual(seq, next_seq[tid])  # per-thread order kept
            size = 70000 if seq % 97 == 0 else sizes[(seq + tid) % len(sizes)]
            self.assertEqual(frames[2], bytes([tid]) * size)
            next_seq[tid] += 1
        self.assertEqual(next_seq, [per_thread] * n_threads)


class OpenTransportTest(unittest.TestCase):
    def test_builtin_and_bad_kind(self) -> None:
        p = FakeRouter()
        self.addCleanup(p.close)
        t = open_transport(p.endpoint, "builtin")
        self.addCleanup(t.close)
        self.assertEqual(t.name, "builtin")
        with self.assertRaises(TransportError):
            open_transport(p.endpoint, "carrier-pigeon")

    @unittest.skipIf(HAVE_ZMQ, "pyzmq is importable here")
    def test_pyzmq_missing(self) -> None:
        with self.assertRaises(TransportError) as ctx:
            open_transport("ipc:///nonexistent", "pyzmq")
        self.assertIn("pyzmq is not importable", str(ctx.exception))
        p = FakeRouter()
        self.addCleanup(p.close)
        t = open_transport(p.endpoint, "auto")
        self.addCleanup(t.close)
        self.assertEqual(t.name, "builtin")


def _rss_kb() -> Optional[int]:
    """This process's resident memory in KiB (Linux), else None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


if __name__ == "__main__":
    unittest.main()
