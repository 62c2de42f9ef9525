"""The transport interface over a pyzmq DEALER socket, made safe for concurrent senders.

pyzmq sockets are not thread-safe, so one lock guards every use of the socket.
recv() holds it for as long as it runs (including while blocked in poll); a
send() that finds the lock free sends straight to the socket, one that finds it
taken (recv() is polling, or another thread is sending) appends the message to
an outbox and writes a byte to a wake-up pipe that recv() polls together with
the socket. Whoever holds the lock flushes the outbox before sending, recv()
flushes it on entry and whenever the pipe wakes it, and every lock holder
re-checks the outbox after releasing, so a queued message never waits for the
next recv() call: it leaves as soon as the current holder is done.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Deque, List, Optional, Sequence, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from .errors import TransportError

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_WATCHED = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | _HANDSHAKE_FAILED
CLOSE_LINGER_MS = 1000  # let final replies drain on close without risking a hang
ZERO_COPY_BYTES = 1 << 16  # pyzmq's copy_threshold: frames this large are sent by reference


def _event_name(event: int) -> str:
    try:
        return zmq.Event(event).name or str(event)
    except (AttributeError, ValueError):  # older pyzmq has no zmq.Event enum
        return "event 0x%x" % event


class PyzmqTransport:
    """pyzmq DEALER; see pyleash.transport for the interface."""

    name = "pyzmq"

    def __init__(self, endpoint: str, routing_id: Optional[bytes] = None, connect_timeout: float = 10.0,
                 curve: Optional[Tuple[bytes, bytes, bytes]] = None, heartbeat_ms: int = 0) -> None:
        """curve: (server public key, own public key, own secret key), z85; heartbeat_ms: ZMTP PING interval, the
        connection counts as lost after three silent intervals (libzmq's heartbeat options)."""
        if routing_id is not None and not 0 < len(routing_id) < 256:
            raise ValueError("routing_id must be 1..255 bytes")
        if not endpoint.startswith(("ipc://", "tcp://")):
            raise TransportError("unsupported endpoint %r (expected ipc:// or tcp://)" % endpoint)
        self.endpoint = endpoint
        self._closed = False
        self._closing = False
        self._error: Optional[str] = None
        self._lock = threading.Lock()  # owns the zmq socket
        self._outbox: Deque[List[bytes]] = deque()
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        self._rfd, self._wfd = os.pipe()
        os.set_blocking(self._rfd, False)
        os.set_blocking(self._wfd, False)
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._monitor: Optional[zmq.Socket] = None
        try:
            self._sock.linger = CLOSE_LINGER_MS
            self._sock.sndhwm = 0  # no high-water mark: a full queue would block a send holding the lock
            self._sock.rcvhwm = 0
            if routing_id is not None:
                self._sock.setsockopt(zmq.ROUTING_ID, routing_id)
            if curve is not None:
                self._sock.curve_serverkey, self._sock.curve_publickey, self._sock.curve_secretkey = curve
            if heartbeat_ms > 0:
                self._sock.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
                self._sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * heartbeat_ms)
                self._sock.setsockopt(zmq.HEARTBEAT_TTL, 3 * heartbeat_ms)
            self._monitor = self._sock.get_monitor_socket(_WATCHED)
            self._poller = zmq.Poller()
            self._poller.register(self._sock, zmq.POLLIN)
            self._poller.register(self._rfd, zmq.POLLIN)
            self._poller.register(self._monitor, zmq.POLLIN)
            self._sock.connect(endpoint)
            self._await_handshake(connect_timeout)
        except zmq.ZMQError as exc:
            self.close()
            raise TransportError("cannot connect to %s: %s" % (endpoint, exc)) from None
        except BaseException:
            self.close()
            raise

    def _await_handshake(self, timeout: float) -> None:
        monitor = self._monitor
        assert monitor is not None  # opened with the socket
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not monitor.poll(max(1, int(remaining * 1000))):
                raise TransportError("could not connect to %s within %g s" % (self.endpoint, timeout))
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return
            if event & _HANDSHAKE_FAILED:
                raise TransportError("ZMTP handshake with %s failed (%s)" % (self.endpoint, _event_name(event)))
            if event == zmq.EVENT_DISCONNECTED:
                # libzmq reports a refused handshake (e.g. incompatible socket type) only as this.
                raise TransportError("%s closed the connection during the ZMTP handshake "
                                     "(is it a ROUTER socket?)" % self.endpoint)

    def _check_monitor(self) -> None:
        monitor = self._monitor
        if monitor is None:
            return
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)["event"]
            except zmq.Again:
                return
            if event & (zmq.EVENT_DISCONNECTED | _HANDSHAKE_FAILED) and self._error is None:
                self._error = "peer closed the connection (%s)" % _event_name(event)

    def _flush(self) -> None:
        """Send everything queued; caller holds the socket lock."""
        outbox = self._outbox
        while outbox:
            parts = outbox.popleft()
            # Binary frames leave without a copy; a small frame is cheaper copied than tracked (pyzmq's own advice).
            self._sock.send_multipart(parts, copy=len(parts) == 1 or max(map(len, parts)) < ZERO_COPY_BYTES)

    def _release(self) -> None:
        """Release the socket lock, then flush whatever was queued while we held it."""
        self._lock.release()
        while self._outbox and not self._closed:
            if not self._lock.acquire(False):
                return  # the new holder flushes when it releases
            try:
                self._flush()
            finally:
                self._lock.release()

    def _wake(self) -> None:
        with self._wake_lock:
            if not self._wake_pending and self._wfd >= 0:
                self._wake_pending = True
                try:
                    os.write(self._wfd, b"\0")
                except BlockingIOError:
                    pass

    def _drain_wake(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
            try:
                os.read(self._rfd, 4096)
            except BlockingIOError:
                pass

    def send(self, frames: Sequence[bytes]) -> None:
        """Send one multipart message; safe to call from any number of threads at once."""
        self.send_many([frames])

    def send_many(self, messages: Sequence[Sequence[bytes]]) -> None:
        """Send several messages in order, as send() would one after the other."""
        if self._closed or self._closing:
            raise TransportError("transport is closed")
        if not all(messages):
            raise ValueError("a message needs at least one frame")
        # Queue first, then try the lock: a holder that releases after our failed
        # acquire is then sure to see the message in its re-check (see _release).
        self._outbox.extend(list(frames) for frames in messages)  # copies: the caller may reuse its lists
        if self._lock.acquire(False):
            try:
                self._flush()
            except zmq.ZMQError as exc:
                raise TransportError("send failed: %s" % exc) from None
            finally:
                self._release()
        else:
            self._wake()

    def flush(self) -> None:
        """Hand every message queued so far to libzmq (before the agent exits)."""
        with self._lock:
            self._flush()

    def recv(self, timeout: Optional[float] = None) -> Optional[List[bytes]]:
        """Next whole message, or None after timeout seconds; one receiving thread only."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._lock.acquire()
        try:
            if self._closed or self._closing:
                raise TransportError("transport is closed")
            sock = self._sock
            while True:
                if self._outbox:
                    self._flush()
                try:
                    return sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    pass
                if self._error is not None:
                    raise TransportError(self._error)
                if deadline is None:
                    events = self._poller.poll(None)
                else:
                    remaining = deadline - time.monotonic()
                    events = self._poller.poll(max(0, int(remaining * 1000 + 0.999)))
                for item, _ in events:
                    if item == self._rfd:
                        self._drain_wake()
                        if self._closing:
                            raise TransportError("transport is closed")
                    elif item is self._monitor:
                        self._check_monitor()
                if not events and deadline is not None and time.monotonic() >= deadline:
                    return None
        except zmq.ZMQError as exc:
            raise TransportError("receive failed: %s" % exc) from None
        finally:
            self._release()

    def close(self) -> None:
        """Close socket and context; wakes a thread blocked in recv(). Idempotent."""
        if self._closed or self._closing:
            return
        self._closing = True
        self._wake()  # recv() sees _closing, raises and lets go of the lock
        with self._lock:
            try:
                self._flush()
            except zmq.ZMQError:
                pass
            self._closed = True
            if self._monitor is not None:
                self._sock.disable_monitor()
                self._monitor.close(linger=0)
            self._sock.close()
            self._ctx.term()
        with self._wake_lock:
            os.close(self._rfd)
            os.close(self._wfd)
            self._rfd = self._wfd = -1

    def __enter__(self) -> "PyzmqTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
