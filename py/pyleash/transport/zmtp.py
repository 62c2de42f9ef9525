"""Built-in ZMTP 3.1 DEALER client (NULL mechanism) over a plain stdlib socket."""
from __future__ import annotations

import math
import select
import socket
import sys
import struct
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, NoReturn, Optional, Sequence, Tuple, Union

from pyleash.threads import start_thread

from .errors import TransportError
from .fresh_bytes import FreshBytes

MAX_FRAME = 256 * 1024 * 1024  # a message whose frames add up to more is skipped unread (dropped), never buffered
READ_CHUNK = 65536  # below glibc's mmap threshold, so a recv() buffer is cheap to allocate
BIG_FRAME = 128 * 1024  # frames this large skip the join on send and are received in pieces, joined once
MAX_JOINED = 1024  # the most queued pieces one write joins
BIG_READ = 256 * 1024  # the most one recv() asks for while a large frame arrives (a socket holds about this much)

FLAG_MORE = 0x01
FLAG_LONG = 0x02
FLAG_COMMAND = 0x04

GREETING = (
    b"\xff" + b"\x00" * 8 + b"\x7f"  # signature; padding is ours to choose, zeros
    + b"\x03\x01"  # version 3.1
    + b"NULL" + b"\x00" * 16  # mechanism
    + b"\x00"  # as-server: we are the client
    + b"\x00" * 31  # filler
)
GREETING_SIZE = 64
NULL_MECHANISM = b"NULL" + b"\x00" * 16
COMPATIBLE_PEERS = (b"ROUTER", b"DEALER")

_Q = struct.Struct(">Q")
_I = struct.Struct(">I")
_LONG_HEAD = struct.Struct(">BQ")
_unpack_q = _Q.unpack_from
# Headers of short frames, precomputed because encoding sits on every call's hot path.
_SHORT_LAST = [bytes((0, n)) for n in range(256)]
_SHORT_MORE = [bytes((FLAG_MORE, n)) for n in range(256)]

Frames = Sequence[Union[bytes, bytearray]]


def encode_message(frames: Frames) -> bytes:
    """Encode one multipart message (bytes or bytearray frames) as ZMTP data frames."""
    last = len(frames) - 1
    if last < 0:
        raise ValueError("a message needs at least one frame")
    out: List[Union[bytes, bytearray]] = []
    append = out.append
    for i, frame in enumerate(frames):
        n = len(frame)
        if n < 256:
            append((_SHORT_MORE if i < last else _SHORT_LAST)[n])
        else:
            append(_LONG_HEAD.pack(FLAG_LONG | FLAG_MORE if i < last else FLAG_LONG, n))
        append(frame)
    return b"".join(out)


def encode_pieces(frames: Frames, big: int = BIG_FRAME) -> List[Union[bytes, bytearray]]:
    """Like encode_message, but frames of big bytes or more stay separate pieces (no copy)."""
    pieces: List[Union[bytes, bytearray]] = []
    small: List[Union[bytes, bytearray]] = []
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        n = len(frame)
        if n < 256:
            small.append((_SHORT_MORE if i < last else _SHORT_LAST)[n])
        else:
            small.append(_LONG_HEAD.pack(FLAG_LONG | FLAG_MORE if i < last else FLAG_LONG, n))
        if n >= big:
            pieces += [b"".join(small), frame]
            small = []
        else:
            small.append(frame)
    if small:
        pieces.append(b"".join(small))
    return pieces


def encode_command(name: bytes, data: bytes = b"") -> bytes:
    """Encode one command frame: name length, name, command data."""
    if not 0 < len(name) < 256:
        raise ValueError("command name must be 1..255 bytes")
    body = bytes((len(name),)) + name + data
    if len(body) < 256:
        return bytes((FLAG_COMMAND, len(body))) + body
    return _LONG_HEAD.pack(FLAG_COMMAND | FLAG_LONG, len(body)) + body


def encode_properties(props: Dict[str, bytes]) -> bytes:
    """Encode READY metadata: 1-byte name length, name, 4-byte value length, value."""
    out = []
    for name, value in props.items():
        raw = name.encode("ascii")
        if not 0 < len(raw) < 256:
            raise ValueError("property name must be 1..255 bytes")
        out += [bytes((len(raw),)), raw, _I.pack(len(value)), value]
    return b"".join(out)


def decode_properties(data: bytes) -> Dict[str, bytes]:
    """Decode READY metadata; raises TransportError when it is truncated."""
    props = {}
    pos, n = 0, len(data)
    while pos < n:
        name_end = pos + 1 + data[pos]
        if data[pos] == 0 or name_end + 4 > n:
            raise TransportError("malformed READY: truncated property at byte %d" % pos)
        name = data[pos + 1:name_end].decode("ascii", "replace")
        value_end = name_end + 4 + _I.unpack_from(data, name_end)[0]
        if value_end > n:
            raise TransportError("malformed READY: value of property %r is truncated" % name)
        props[name] = bytes(data[name_end + 4:value_end])
        pos = value_end
    return props


def check_greeting(data: Union[bytes, bytearray]) -> None:
    """Validate as much of the peer's 64-byte greeting as has arrived (any prefix)."""
    if len(data) >= 1 and data[0] != 0xFF or len(data) >= 10 and data[9] != 0x7F:
        raise TransportError("bad ZMTP greeting signature %r: the peer is not a ZMTP 3 endpoint" % bytes(data[:10]))
    if len(data) >= 11 and data[10] != 3:
        raise TransportError("unsupported ZMTP major version %d (need 3)" % data[10])
    if len(data) >= 32 and bytes(data[12:32]) != NULL_MECHANISM:
        raise TransportError("unsupported security mechanism %r (need NULL)" % bytes(data[12:32]).rstrip(b"\x00"))


class Decoder:
    """Incremental frame decoder: whole messages go to .messages, commands to the callback."""

    def __init__(self, on_command: Callable[[bytes, bytes], None], max_frame: int = MAX_FRAME) -> None:
        self.messages: Deque[List[bytes]] = deque()
        self.ready = False  # data frames before the peer's READY are a protocol error
        self.want = 0  # bytes still missing from the frame being received
        self.max_frame = max_frame
        self.big_frame = BIG_FRAME
        self.big: Optional[FreshBytes] = None  # the large frame being received (see big_add)
        self._big_flags = 0
        self._buf = bytearray()
        self._parts: List[bytes] = []
        self._on_command = on_command
        self._skip = 0  # bytes of an oversized frame still to discard as they arrive
        self._dropping = False  # the rest of a message that had an oversized frame is discarded too
        self.dropped: List[int] = []  # sizes of the oversized messages skipped, up to their oversized frame

    def big_add(self, piece: Union[bytes, memoryview]) -> None:
        """The next bytes of the large frame (at most `want`), written into the frame's own bytes object
        (transport/fresh_bytes.py): no join, and a peer that only announces a large frame costs the agent what it
        has sent so far, not the size it announced."""
        big = self.big
        assert big is not None
        big.add(piece)
        self.want = big.want
        if self.want == 0:
            self._big_done()

    def big_filled(self, n: int) -> None:
        """`n` more bytes of the large frame were received straight into `big.slot()`."""
        big = self.big
        assert big is not None
        big.filled(n)
        self.want = big.want
        if self.want == 0:
            self._big_done()

    def _big_done(self) -> None:
        frame, self.big = self.big.result(), None  # type: ignore[union-attr]
        if self._dropping:
            self._dropping = bool(self._big_flags & FLAG_MORE)
        else:
            self._frame(self._big_flags, frame)

    def feed(self, data: bytes) -> None:
        """Add received bytes and decode every whole frame they complete."""
        if self._skip:
            take = min(len(data), self._skip)
            self._skip -= take
            if take == len(data):
                return
            data = data[take:]
        while self.big is not None:
            take = min(len(data), self.want)
            self.big_add(memoryview(data)[:take] if take < len(data) else data)
            if take == len(data):
                return
            data = data[take:]
        if self._buf:
            self._buf += data
            with memoryview(self._buf) as view:
                used = self._parse(view)
            del self._buf[:used]
        else:
            # Fast path: parse straight from the received bytes, keep only the tail.
            used = self._parse(data)
            if used < len(data):
                self._buf += memoryview(data)[used:]

    def _parse(self, b: Union[bytes, memoryview]) -> int:
        n = len(b)
        pos = 0
        self.want = 0
        while n - pos >= 2:
            flags = b[pos]
            if flags & 0xF8 or flags & (FLAG_COMMAND | FLAG_MORE) == FLAG_COMMAND | FLAG_MORE:
                raise TransportError("malformed frame: invalid flags byte 0x%02x" % flags)
            if flags & FLAG_LONG:
                if n - pos < 9:
                    break
                size = _unpack_q(b, pos + 1)[0]
                start = pos + 9
                held = sum(map(len, self._parts)) if self._parts else 0  # earlier frames of the same message
                if size > self.max_frame - held:
                    if flags & FLAG_COMMAND or not self.ready:
                        raise TransportError("frame of %d bytes is larger than the %d byte limit" % (size, self.max_frame))
                    # A peer's oversized message costs it the message, not the connection: skip it unread.
                    self.dropped.append(held + size)
                    self._parts = []
                    self._dropping = bool(flags & FLAG_MORE)
                    if start + size > n:
                        self._skip = start + size - n
                        return n
                    pos = start + size
                    continue
            else:
                size = b[pos + 1]
                start = pos + 2
            end = start + size
            if end > n:
                if size >= self.big_frame:
                    # Keep what we have; the rest arrives in pieces of its own (big_add).
                    self.big = FreshBytes(size, bytes(b[start:n]))
                    self._big_flags, self.want = flags, end - n
                    return n
                self.want = end - n
                break
            pos = end
            if self._dropping and not flags & FLAG_COMMAND:
                self._dropping = bool(flags & FLAG_MORE)  # the rest of a message with an oversized frame
            elif flags & (FLAG_COMMAND | FLAG_MORE) or not self.ready:
                self._frame(flags, bytes(b[start:end]))
            elif self._parts:  # last frame of a multipart message
                self._parts.append(bytes(b[start:end]))
                self.messages.append(self._parts)
                self._parts = []
            else:  # the common single-frame message
                self.messages.append([bytes(b[start:end])])
        return pos

    def _frame(self, flags: int, frame: bytes) -> None:
        if flags & FLAG_COMMAND:
            if self._parts:
                raise TransportError("malformed stream: command frame inside a multipart message")
            self._command(frame)
        elif not self.ready:
            raise TransportError("peer sent a message before its READY command")
        else:
            self._parts.append(frame)
            if not flags & FLAG_MORE:
                self.messages.append(self._parts)
                self._parts = []

    def _command(self, body: bytes) -> None:
        if not body or len(body) < 1 + body[0] or body[0] == 0:
            raise TransportError("malformed command frame %r" % body[:32])
        self._on_command(body[1:1 + body[0]], body[1 + body[0]:])


def _parse_endpoint(endpoint: str) -> Tuple[int, Union[str, Tuple[str, int]]]:
    if endpoint.startswith("ipc://"):
        path = endpoint[6:]
        if not path:
            raise TransportError("empty ipc endpoint path in %r" % endpoint)
        # libzmq spells the Linux abstract namespace with a leading '@'.
        return socket.AF_UNIX, "\0" + path[1:] if path.startswith("@") else path
    if endpoint.startswith("tcp://"):
        host, sep, port = endpoint[6:].rpartition(":")
        if not sep or not host or not port.isdigit():
            raise TransportError("bad tcp endpoint %r (expected tcp://HOST:PORT)" % endpoint)
        return socket.AF_INET, (host.strip("[]"), int(port))
    raise TransportError("unsupported endpoint %r (expected ipc:// or tcp://)" % endpoint)


def _connect(endpoint: str, deadline: float, timeout: float) -> socket.socket:
    family, address = _parse_endpoint(endpoint)
    last: Optional[BaseException] = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("could not connect to %s within %g s: %s" % (endpoint, timeout, last or "timed out"))
        sock = None
        try:
            if family == socket.AF_UNIX:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(remaining)
                sock.connect(address)
            else:
                sock = socket.create_connection(address, timeout=remaining)  # type: ignore[arg-type]
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(None)  # blocking for good: other threads sendall() on it concurrently
            return sock
        except (ConnectionRefusedError, FileNotFoundError, socket.timeout) as exc:
            # The controller may not be listening yet; libzmq would retry too.
            last = exc
            if sock is not None:
                sock.close()
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise TransportError("cannot connect to %s: %s" % (endpoint, exc)) from None


def _report_dropped(sizes: List[int], limit: int) -> None:
    for size in sizes:  # each one took its peer > limit bytes of traffic: no flood of lines is possible
        sys.stderr.write("pyleash-agent: dropped a message of %d bytes or more, over the %d byte limit\n" % (size, limit))
    del sizes[:]


class ZmtpTransport:
    """ZMTP 3.1 DEALER over a stream socket; see pyleash.transport for the interface."""

    name = "builtin"

    def __init__(self, endpoint: str, routing_id: Optional[bytes] = None, connect_timeout: float = 10.0,
                 max_frame: int = MAX_FRAME) -> None:
        if routing_id is not None and not 0 < len(routing_id) < 256:
            raise ValueError("routing_id must be 1..255 bytes")
        self.endpoint = endpoint
        self.peer_properties: Dict[str, bytes] = {}
        self._closed = False
        self._error: Optional[str] = None  # sticky: once broken, recv() keeps raising this
        self._send_lock = threading.Lock()  # held by the thread writing (see _sendall)
        self._outgoing: Deque[Tuple[Union[bytes, bytearray], ...]] = deque()
        self._decoder = Decoder(self._on_command, max_frame)
        self._messages = self._decoder.messages
        deadline = time.monotonic() + connect_timeout
        self._sock = _connect(endpoint, deadline, connect_timeout)
        self._fd = self._sock.fileno()
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(self._fd, select.POLLIN)
        try:
            self._handshake(routing_id, deadline, connect_timeout)
        except TransportError as exc:
            self.close()
            raise TransportError("ZMTP handshake with %s failed: %s" % (endpoint, exc)) from None
        except BaseException:
            self.close()
            raise

    # -- handshake -------------------------------------------------------

    def _handshake(self, routing_id: Optional[bytes], deadline: float, timeout: float) -> None:
        # Whole greeting first: libzmq holds back most of its own until it has seen ours.
        self._sendall(GREETING)
        greeting = bytearray()
        while len(greeting) < GREETING_SIZE:
            greeting += self._read_before(deadline, timeout, "greeting")
            check_greeting(greeting)
        props = {"Socket-Type": b"DEALER"}
        if routing_id is not None:
            props["Identity"] = bytes(routing_id)
        self._sendall(encode_command(b"READY", encode_properties(props)))
        self._decoder.feed(bytes(greeting[GREETING_SIZE:]))
        while not self._decoder.ready:
            if not self._receive(deadline):
                self._handshake_timeout(timeout, "READY")

    def _read_before(self, deadline: float, timeout: float, what: str) -> bytes:
        if not self._wait(deadline - time.monotonic()):
            self._handshake_timeout(timeout, what)
        return self._recv_raw()

    def _handshake_timeout(self, timeout: float, what: str) -> None:
        raise TransportError("timed out after %g s waiting for the peer's %s" % (timeout, what))

    def _on_command(self, name: bytes, data: bytes) -> None:
        if name == b"ERROR":
            reason = data[1:1 + data[0]] if data else b""
            raise TransportError("peer sent ERROR: %s" % reason.decode("utf-8", "replace"))
        if not self._decoder.ready:
            if name != b"READY":
                raise TransportError("expected READY from the peer, got %r" % name)
            self.peer_properties = props = decode_properties(data)
            lowered = {k.lower(): v for k, v in props.items()}
            peer_type = lowered.get("socket-type")
            if peer_type is None:
                raise TransportError("peer READY has no Socket-Type property")
            if peer_type not in COMPATIBLE_PEERS:
                raise TransportError("peer socket type %r cannot talk to a DEALER (need ROUTER or DEALER)"
                                     % peer_type.decode("ascii", "replace"))
            self._decoder.ready = True
        elif name == b"PING":
            if len(data) < 2:
                raise TransportError("malformed PING command: %d bytes" % len(data))
            self._sendall(encode_command(b"PONG", data[2:]))  # echo the context, drop the TTL
        elif name == b"READY":
            raise TransportError("peer sent a second READY")
        # Anything else (PONG, SUBSCRIBE, CANCEL, future commands) is ignored on purpose.

    # -- I/O ---------------------------------------------------------------

    def _sendall(self, *pieces: Union[bytes, bytearray]) -> None:
        """Write one message's pieces, or leave them to the thread writing now.

        A thread that writes gives up the GIL in the system call and must wait for it again before it can let go
        of the socket: with many threads busy that wait is long, and a lock held across it would make every other
        sender wait its own turn on the GIL too (100 stop reports: one at a time, seconds). So a sender queues its
        message and writes only if no one else is writing; the writer drains the queue, what was queued meanwhile
        in one write. Large messages (BIG_FRAME) wait for their own write: back-pressure on bulk data.

        The writer may be a task's thread (progress(), a stream's items), where a stop's exception can land: what
        it took from the queue for others and had not written goes back, and a helper thread writes the queue.
        """
        if self._error is not None or self._closed:
            raise TransportError(self._error or "transport is closed")
        queue = self._outgoing
        if not queue and len(pieces) == 1 and len(pieces[0]) < BIG_FRAME and self._send_lock.acquire(False):
            # The usual case, no one else writing: straight out, no queue; what others queued meanwhile follows it.
            self._holding_lock(self._write, pieces[0])
            wait = False
        else:
            queue.append(pieces)  # first queue, then try the lock: a writer that lets go after our failed try sees it
            wait = sum(map(len, pieces)) >= BIG_FRAME
        while queue:
            if not self._send_lock.acquire(wait):
                return  # the writer sends ours: it drains the queue, and looks again after letting go
            self._holding_lock(self._write_queued)
            wait = False

    def _holding_lock(self, write: Callable[..., None], *args: Any) -> None:
        """write(*args), then let go of the send lock this thread holds. An exception (a stop landing in this thread)
        may leave others' messages queued behind it, their senders gone: a helper thread writes them."""
        try:
            write(*args)
        except BaseException:
            self._send_lock.release()
            if self._outgoing and self._error is None:
                start_thread(self._write_for_others)
            raise
        self._send_lock.release()

    def _write_for_others(self) -> None:
        """On a helper thread: write what a writer interrupted by an exception left queued."""
        try:
            self.flush()
        except TransportError:
            pass  # the connection broke: recv() reports it

    def _write_queued(self) -> None:
        """Under the send lock: write everything queued, small pieces joined into one write. An exception other than
        a socket error (a stop landing in this thread) puts back the messages taken and not yet written."""
        queue, sock = self._outgoing, self._sock
        taken: List[Tuple[Union[bytes, bytearray], ...]] = []  # off the queue, not one byte of them written yet
        partial = False  # a message is written in part (a large frame's pieces go in several writes)
        try:
            while queue:
                small: List[Union[bytes, bytearray]] = []
                while queue and len(small) < MAX_JOINED:
                    message = queue.popleft()
                    taken.append(message)
                    for i, piece in enumerate(message):
                        if len(piece) < BIG_FRAME:
                            small.append(piece)
                            continue
                        head, small = b"".join(small), []
                        taken, partial = [], True  # from here it cannot go back without desynchronising the stream
                        if head:
                            sock.sendall(head)
                        sock.sendall(piece)
                        partial = i < len(message) - 1
                if small:
                    data = b"".join(small) if len(small) > 1 else small[0]
                    taken = []
                    sock.sendall(data)
                    partial = False
        except OSError as exc:
            self._write_failed(exc)
        except BaseException:
            if partial:  # the peer would read the next message as the rest of this one
                queue.clear()
                self._fail("send interrupted inside a message")
            else:
                queue.extendleft(reversed(taken))  # in their order, ahead of what queued since
            raise

    def _write(self, data: Union[bytes, bytearray]) -> None:
        """Under the send lock: write one message's bytes."""
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self._write_failed(exc)

    def _write_failed(self, exc: OSError) -> NoReturn:
        # A partial write has desynchronised the stream: nothing more may be sent.
        self._outgoing.clear()
        self._fail("send failed: %s" % exc)
        raise TransportError(self._error) from None

    def _receive(self, deadline: Optional[float]) -> bool:
        """Read once from the socket into the decoder; False when the deadline passes first.

        It waits in poll() even with no deadline, never in a blocking recv(): a thread asleep in recv() on a Unix
        socket is also woken each time the peer reads what we sent (the kernel's write-space wake-up reaches
        readers too), so every call's reply cost a second wake-up and context switch. poll() waits for input only.
        """
        if not self._wait(None if deadline is None else deadline - time.monotonic()):
            return False
        dec = self._decoder
        if dec.big is None:
            dec.feed(self._recv_raw())
            return True
        slot = dec.big.slot()
        try:
            if slot is None:
                piece = self._sock.recv(min(dec.want, BIG_READ))
            else:
                got = self._sock.recv_into(slot, min(dec.want, BIG_READ))  # straight into the frame's bytes
        except OSError as exc:
            self._raise_recv_error(exc)
        finally:
            if slot is not None:
                slot.release()
        if slot is None:
            if not piece:
                self._raise_recv_error(None)
            dec.big_add(piece)
        else:
            if not got:
                self._raise_recv_error(None)
            dec.big_filled(got)
        return True

    def _recv_raw(self) -> bytes:
        try:
            data = self._sock.recv(READ_CHUNK)
        except OSError as exc:
            self._raise_recv_error(exc)
        if not data:
            self._raise_recv_error(None)
        return data

    def _raise_recv_error(self, exc: Optional[OSError]) -> NoReturn:
        if self._closed:
            raise TransportError("transport is closed") from None
        if exc is None:
            raise TransportError("peer closed the connection")
        raise TransportError("connection error: %s" % exc) from None

    def _wait(self, remaining: Optional[float]) -> bool:
        """Until the socket is readable (or broken), at most `remaining` seconds (None: no limit)."""
        # poll/select instead of socket timeouts: a timeout would make sendall() in other threads non-blocking.
        if self._closed:
            raise TransportError("transport is closed")
        if self._poll is not None:
            return bool(self._poll.poll(None if remaining is None else max(0, math.ceil(remaining * 1000))))
        return bool(select.select([self._fd], [], [], None if remaining is None else max(0.0, remaining))[0])

    def _fail(self, reason: str) -> None:
        if self._error is None:
            self._error = reason
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- public interface ------------------------------------------------

    def send(self, frames: Frames) -> None:
        """Send one multipart message; safe to call from any number of threads at once."""
        if len(frames) == 1:  # most replies: one short JSON frame
            frame = frames[0]
            n = len(frame)
            if n < 256:
                self._sendall(_SHORT_LAST[n] + frame)
                return
        if sum(map(len, frames)) < BIG_FRAME:
            self._sendall(encode_message(frames))
        else:
            self._sendall(*encode_pieces(frames))

    def send_many(self, messages: Sequence[Frames]) -> None:
        """Send several messages, small ones in one write: a thread that must wait for the GIL after
        each write (other threads busy) would otherwise wait once per message."""
        if len(messages) == 1:  # e.g. a call's reply that its task record sent
            self.send(messages[0])
            return
        if sum(len(frame) for frames in messages for frame in frames) >= BIG_FRAME:
            for frames in messages:
                self.send(frames)
            return
        self._sendall(b"".join(encode_message(frames) for frames in messages))

    def flush(self) -> None:
        """Return once every message queued so far is written (before the agent exits)."""
        while self._outgoing:
            with self._send_lock:  # a sender that queued while we held it returned: look again after letting go
                self._write_queued()

    def recv(self, timeout: Optional[float] = None) -> Optional[List[bytes]]:
        """Next whole message, or None after timeout seconds; one receiving thread only."""
        messages = self._messages
        if messages:
            return messages.popleft()
        if self._error is not None:
            raise TransportError(self._error)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not messages:
                if not self._receive(deadline):
                    return None
                if self._decoder.dropped:
                    _report_dropped(self._decoder.dropped, self._decoder.max_frame)
        except TransportError as exc:
            self._fail(str(exc))
            if not messages:
                raise
        return messages.popleft()

    def close(self) -> None:
        """Close the connection; wakes a thread blocked in recv(). Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes recv() and sendall() in other threads
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> "ZmtpTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
