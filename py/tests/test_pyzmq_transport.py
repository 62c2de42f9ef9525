"""Both transports against a real libzmq ROUTER (pyzmq); skipped where pyzmq is not importable."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import unittest
from typing import Any, List

from pyleash.transport import TransportError, open_transport

try:
    import zmq
except ImportError:
    zmq = None  # type: ignore[assignment]

SIZES = [0, 5, 255, 256, 300, 70000, 1024 * 1024]


@unittest.skipUnless(zmq is not None, "pyzmq is not importable")
class RouterCase(unittest.TestCase):
    kind = "pyzmq"
    tcp = False

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pyleash-zmq-")
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.rcvtimeo = 10000
        if self.tcp:
            self.router.bind("tcp://127.0.0.1:0")
            self.endpoint = self.router.last_endpoint.decode()
        else:
            self.endpoint = "ipc://" + os.path.join(self.dir, "router.sock")
            self.router.bind(self.endpoint)
        self.clients: List[Any] = []
        self.sockets = [self.router]  # closed before ctx.term(), which waits for every socket

    def tearDown(self) -> None:
        for c in self.clients:
            c.close()
        for s in self.sockets:
            s.close(0)
        self.ctx.term()
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self, **kw: Any) -> Any:
        t = open_transport(self.endpoint, self.kind, **kw)
        self.clients.append(t)
        return t

    def test_round_trips_all_sizes(self) -> None:
        t = self.connect(routing_id=b"agent-" + self.kind.encode())
        self.assertEqual(t.name, self.kind)
        msg = [bytes([n % 251]) * n for n in SIZES]
        t.send(msg)
        got = self.router.recv_multipart()
        self.assertEqual(got, [b"agent-" + self.kind.encode()] + msg)  # no delimiter frame added
        self.router.send_multipart(got)
        self.assertEqual(t.recv(10), msg)
        self.assertIsNone(t.recv(0.05))

    def test_send_many_arrives_as_separate_messages_in_order(self) -> None:
        t = self.connect(routing_id=b"many")
        t.send_many([[b"one"], [b"two", b"parts"], [b"x" * 70000]])  # the big one takes the long path
        t.send_many([[b"small"], [b"after"]])
        got = [self.router.recv_multipart()[1:] for _ in range(5)]
        self.assertEqual(got, [[b"one"], [b"two", b"parts"], [b"x" * 70000], [b"small"], [b"after"]])

    def test_concurrent_senders_while_receiving(self) -> None:
        t = self.connect(routing_id=b"A")
        n_threads, per_thread = 8, 200

        def sender(tid: int) -> None:
            for seq in range(per_thread):
                t.send([b"%d" % tid, b"%d" % seq, b"p" * (seq % 400)])

        senders = [threading.Thread(target=sender, args=(i,)) for i in range(n_threads)]
        done: List[Any] = []
        receiver = threading.Thread(target=lambda: done.append(t.recv(None)))  # holds the socket meanwhile
        receiver.start()
        for s in senders:
            s.start()
        next_seq = [0] * n_threads
        for _ in range(n_threads * per_thread):
            _, tid, seq, payload = self.router.recv_multipart()
            self.assertEqual(int(seq), next_seq[int(tid)])
            self.assertEqual(payload, b"p" * (int(seq) % 400))
            next_seq[int(tid)] += 1
        self.router.send_multipart([b"A", b"done"])
        receiver.join(10)
        for s in senders:
            s.join(10)
        self.assertEqual(done, [[b"done"]])

    def test_send_reaches_peer_while_recv_blocks(self) -> None:
        t = self.connect(routing_id=b"B")
        receiver = threading.Thread(target=lambda: t.recv(5))
        receiver.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        threading.Thread(target=t.send, args=([b"reply"],)).start()
        self.assertEqual(self.router.recv_multipart(), [b"B", b"reply"])
        self.assertLess(time.monotonic() - t0, 1.0)
        self.router.send_multipart([b"B", b"bye"])
        receiver.join(10)

    def test_peer_goes_away(self) -> None:
        t = self.connect(routing_id=b"C")
        t.send([b"hello"])  # until the ROUTER has seen a message from us it may not route to us yet
        self.assertEqual(self.router.recv_multipart(), [b"C", b"hello"])
        self.router.send_multipart([b"C", b"last"])
        self.assertEqual(t.recv(5), [b"last"])
        self.router.close(0)
        with self.assertRaises(TransportError) as ctx:
            for _ in range(50):
                t.recv(0.1)
        self.assertIn("closed", str(ctx.exception))

    def test_close_wakes_recv_and_is_idempotent(self) -> None:
        t = self.connect()
        errors: List[BaseException] = []

        def reader() -> None:
            try:
                t.recv(None)
            except TransportError as exc:
                errors.append(exc)

        th = threading.Thread(target=reader)
        th.start()
        time.sleep(0.1)
        t.close()
        th.join(5)
        self.assertFalse(th.is_alive())
        self.assertEqual(len(errors), 1)
        t.close()
        with self.assertRaises(TransportError):
            t.send([b"late"])

    def test_connect_timeout(self) -> None:
        t0 = time.monotonic()
        with self.assertRaises(TransportError):
            open_transport("ipc://" + os.path.join(self.dir, "nobody.sock"), self.kind, connect_timeout=0.3)
        self.assertLess(time.monotonic() - t0, 3.0)


class BuiltinAgainstLibzmq(RouterCase):
    kind = "builtin"

    def test_heartbeats_answered(self) -> None:
        # libzmq drops the connection when PINGs go unanswered for HEARTBEAT_TIMEOUT.
        router = self.ctx.socket(zmq.ROUTER)
        router.linger = 0
        router.rcvtimeo = 10000
        router.setsockopt(zmq.HEARTBEAT_IVL, 50)  # before bind: listeners copy options at bind time
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 200)
        self.sockets.append(router)
        if self.tcp:
            self.endpoint = "tcp://127.0.0.1:%d" % router.bind_to_random_port("tcp://127.0.0.1")
        else:
            self.endpoint = "ipc://" + os.path.join(self.dir, "heartbeat.sock")
            router.bind(self.endpoint)
        t = self.connect(routing_id=b"H")
        t.send([b"hi"])
        self.assertEqual(router.recv_multipart(), [b"H", b"hi"])
        self.assertIsNone(t.recv(1.0))
        router.send_multipart([b"H", b"still", b"here"])
        self.assertEqual(t.recv(5), [b"still", b"here"])


class BuiltinAgainstLibzmqTcp(BuiltinAgainstLibzmq):
    tcp = True


class PyzmqTcp(RouterCase):
    tcp = True


@unittest.skipUnless(zmq is not None, "pyzmq is not importable")
class PyzmqSpecific(unittest.TestCase):
    def test_auto_picks_builtin_without_curve_even_with_pyzmq_importable(self) -> None:
        ctx = zmq.Context()
        router = ctx.socket(zmq.ROUTER)
        router.linger = 0
        port = router.bind_to_random_port("tcp://127.0.0.1")
        t = open_transport("tcp://127.0.0.1:%d" % port)
        try:
            self.assertEqual(t.name, "builtin")
        finally:
            t.close()
            router.close()
            ctx.term()

    def test_auto_picks_pyzmq_where_curve_is_needed(self) -> None:
        ctx = zmq.Context()
        server_public, server_secret = zmq.curve_keypair()
        own_public, own_secret = zmq.curve_keypair()
        router = ctx.socket(zmq.ROUTER)
        router.linger = 0
        router.curve_server = True
        router.curve_secretkey = server_secret
        port = router.bind_to_random_port("tcp://127.0.0.1")
        t = open_transport("tcp://127.0.0.1:%d" % port, "auto", curve=(server_public, own_public, own_secret))
        try:
            self.assertEqual(t.name, "pyzmq")
        finally:
            t.close()
            router.close()
            ctx.term()

    def test_handshake_failure_reported(self) -> None:
        ctx = zmq.Context()
        pub = ctx.socket(zmq.PUB)
        pub.linger = 0
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        try:
            with self.assertRaises(TransportError) as cm:
                open_transport("tcp://127.0.0.1:%d" % port, "pyzmq", connect_timeout=3)
            self.assertIn("handshake", str(cm.exception))  # PUB cannot talk to a DEALER
        finally:
            pub.close()
            ctx.term()


if __name__ == "__main__":
    unittest.main()
