"""The control loop: receives requests on the pyleash-control thread and dispatches them."""
from __future__ import annotations

import os
import sys
import threading
import time
from types import CoroutineType
from typing import Any, Callable, Dict, List, Optional

from pyleash import contract, progress_events, protocol, switching, targets
from pyleash.inline import InlineCalls
from pyleash.outbox import Outbox
from pyleash.pool import CallPool
from pyleash.streams import StreamService
from pyleash.tasks.call_kind import InlineCallKind
from pyleash.tasks.kind import Kind
from pyleash.tasks.registry import KINDS
from pyleash.tasks.service import TaskService
from pyleash.tasks.awaiting import settle
from pyleash.tasks.task import failure_reply, with_stop_event
from pyleash.transport import Transport, TransportError

Handler = Callable[[Dict[str, Any]], None]


class Agent:
    """Owns the transport, the pool and the tasks; request handlers run on the control thread unless they hand off.

    A handler gets its request checked against the contract (pyleash/contract.json), defaults filled in.
    """

    def __init__(self, transport: Transport, max_message_bytes: int = contract.CONTRACT["limits"]["maxMessageBytes"]) -> None:
        self.transport = transport
        self.max_message_bytes = max_message_bytes
        self.lost_exit = 0  # exit status when the controller is lost: 0 for a spawned agent, controllerLost remote
        self.outbox = Outbox(transport)
        self.pool = CallPool(on_drain=self.outbox.flush)
        self.inline = InlineCalls(self._serve_as, self.pool, self.outbox.flush)
        self._calls: List[Any] = []  # plain calls of the message being dispatched (control thread only; never rebound)
        self.tasks = TaskService(self.send, self.send_many)
        self._call_kinds: Dict[str, Kind] = {  # by lane; stoppable calls on the thread lane run where plain calls run
            "thread": InlineCallKind(self.pool, self._calls.append, self.outbox.flush), "main": KINDS["main"]}
        self.streams = StreamService(self.tasks, self.pool, self.transport.send, self.send,
                                     max_message_bytes)
        progress_events.install(self.send)
        self.handlers: Dict[str, Handler] = {  # one per request type of the contract
            "call": self._call,
            "ping": self._ping,
            "shutdown": self._shutdown,
            "start": self.tasks.start,
            "stop": self.tasks.stop,
            "stack": self.tasks.stack,
            "threads": self.tasks.threads,
            "stream": self.streams.stream,
            "credit": self.streams.credit,
        }

    def send(self, message: Dict[str, Any]) -> None:
        """Encode and send; a reply JSON cannot carry becomes a typed error naming the Python type. In a long turn
        on the GIL (pyleash.switching) it leaves at the turn's end."""
        if switching.kept(self.send_many, [message]):
            return
        self.transport.send(self._encode(message))

    def send_many(self, messages: List[Dict[str, Any]]) -> None:
        """send() each, in order, in as few writes as the transport allows."""
        if switching.kept(self.send_many, messages):
            return
        if len(messages) == 1:  # most often a call's reply, sent by its task record
            self.transport.send(self._encode(messages[0]))
            return
        self.transport.send_many([self._encode(message) for message in messages])

    def serve(self) -> None:
        """Runs on pyleash-control until the controller disconnects or asks to shut down."""
        self._serve_as(self.inline.reader)

    def _serve_as(self, reader: object) -> None:
        """The control loop, on whichever thread holds the turn `reader`; returns when a call run here outlasted its
        budget and another thread took over the reading (pyleash.inline)."""
        self.inline.reading()
        while True:
            try:
                frames = self.transport.recv(None)
            except TransportError as exc:
                _log("connection lost: %s" % exc)
                os._exit(self.lost_exit)
            if frames is None:
                continue
            if not self._dispatch(frames, reader):
                return
            frames = None  # while the next recv() waits, the last request's frames (binary ones can be large) go

    def _dispatch(self, frames: Any, reader: Optional[object] = None) -> bool:
        """Each JSON frame is one request, followed by the binary frames it carries (the controller sends several
        requests per message when they queue up); the plain calls among them then run here, one after another.
        False when the reading passed to another thread."""
        i, n = 0, len(frames)
        if n >= switching.LONG_TURN_MIN and _is_stop(frames[0]):  # the controller's stops queued together: one look per message
            i = self._handle_stops(frames)
        while i < n:
            count = protocol.binary_count(frames[i])
            self._handle(frames[i], frames[i + 1:i + 1 + count])
            i += 1 + count
        if not self._calls:
            return True
        calls = self._calls[:]
        del self._calls[:]
        return self.inline.run(calls, self.inline.reader if reader is None else reader)

    def _handle_stops(self, frames: Any) -> int:
        """The stop requests the message begins with, in one long turn on the GIL when there are LONG_TURN_MIN or
        more (pyleash.switching: beside N busy threads, each loss of the GIL while beginning them costs a round of N
        turns); the index of the first frame after them."""
        j, n = 0, len(frames)
        while j < n and _is_stop(frames[j]) and not protocol.binary_count(frames[j]):
            j += 1
        with switching.long_turn(j >= switching.LONG_TURN_MIN):
            for k in range(j):
                self._handle(frames[k], [])
        return j

    def _handle(self, frame: bytes, binary: List[bytes]) -> None:
        """One request, under a catch-all: no input may stop the control loop. A request that cannot be served is
        answered with a protocol error whenever its id can be read, else dropped and logged (rate-limited)."""
        request_id: Optional[int] = None
        decoded = False
        try:
            size = len(frame) + sum(map(len, binary)) if binary else len(frame)
            if size > self.max_message_bytes:
                raise protocol.ProtocolError("a message of %d bytes is over the %d byte limit" % (size, self.max_message_bytes),
                                             protocol.salvage_id(frame))
            request = protocol.decode(frame, binary)
            decoded = True
            request_id = request.get("id")
            if request_id.__class__ is not int:  # bool is not an id
                request_id = _integer(request_id)
            handler = self.handlers.get(request["type"])
            if handler is None:
                raise protocol.ProtocolError("unknown message type %r" % _clip(request["type"]))
            contract.check_request(request)
            handler(request)
        except (protocol.ProtocolError, contract.ContractError) as exc:
            request_id = request_id if request_id is not None else getattr(exc, "request_id", None)
            self._refuse(request_id, decoded, exc, "malformed request")
        except Exception as exc:  # noqa: BLE001 - a defect of ours, not the caller's: answer and carry on
            self._refuse(request_id, decoded, exc, "request failed in the agent")

    def _encode(self, message: Dict[str, Any]) -> List[Any]:
        """The message's frames (JSON, then binary); one that cannot cross (or is over the size limit, binary
        frames included) becomes a typed error reply."""
        if message.get("status") == "ok" and len(message) == 3:  # a reply made by protocol.ok: most often one frame
            frame = protocol.ok_frame(message.get("id"), message.get("result"))
            if frame is not None and len(frame) <= self.max_message_bytes:
                return [frame]
        try:
            frames = protocol.encode_frames(message)
        except protocol.NotSerializable as exc:
            return [protocol.encode(protocol.error(message.get("id"), protocol.RESULT, exc, with_traceback=False))]
        except Exception as exc:  # noqa: BLE001 - a defect of ours: the caller still gets an answer
            return [protocol.encode(protocol.error(message.get("id"), protocol.EXCEPTION, exc, with_traceback=False))]
        size = len(frames[0]) if len(frames) == 1 else sum(map(len, frames))
        if size <= self.max_message_bytes:
            return frames
        too_big = protocol.NotSerializable(
            protocol.type_name(message.get("result")),
            "it encodes to %d bytes, over the %d byte limit (maxMessageBytes)" % (size, self.max_message_bytes))
        if message.get("type") == "task-ended":  # the controller must still hear of the end
            error = protocol.error(None, protocol.RESULT, too_big, with_traceback=False)["error"]
            return [protocol.encode({"type": "task-ended", "task": message.get("task"), "status": "failed", "error": error})]
        return [protocol.encode(protocol.error(message.get("id"), protocol.RESULT, too_big, with_traceback=False))]

    def _refuse(self, request_id: Optional[int], decoded: bool, exc: Exception, what: str) -> None:
        """Answer with the request's id, or with a null id when it decoded without a usable one; a frame that
        did not decode and does not start with an id cannot be answered: it is logged and dropped."""
        if request_id is None and not decoded:
            _log("dropped a %s with no readable id: %s" % (what, exc))
            return
        try:
            self.send(protocol.error(request_id, protocol.PROTOCOL, exc, with_traceback=False))
        except Exception as failure:  # noqa: BLE001 - e.g. the transport is closing; the loop goes on
            _log("could not answer request %s: %s" % (request_id, failure))

    def _call(self, request: Dict[str, Any]) -> None:
        if request["lane"] != "thread" or "task" in request:  # stoppable, or on the main lane: recorded as a task
            self.tasks.call(request, self._call_kinds[request["lane"]])
            return
        self._calls.append((self._run_call, (request["id"], request["target"], request["args"], request["kwargs"])))

    def _run_call(self, request_id: int, target: str, args: list, kwargs: dict, hold: Optional[bool] = None) -> None:
        """A call no stop can reach (it named no task id): nothing recorded, its reply may wait for a batch (`hold`,
        given inline; on a pool thread: while the pool has calls queued)."""
        try:
            fn = targets.resolve(target)
            result = fn(*args, **with_stop_event(fn, kwargs, _NEVER_SET))
            if result.__class__ is CoroutineType:  # settle()'s own test, without its call for every other result
                result = settle(result)
        except BaseException as exc:  # noqa: BLE001 - an import that raised, and everything the call raises, go back
            frames = self._encode(failure_reply(request_id, exc))
        else:
            frame = protocol.ok_frame(request_id, result)  # the usual reply, without its dict (else _encode explains)
            if frame is not None and len(frame) <= self.max_message_bytes:
                frames = [frame]
            else:
                frames = self._encode(protocol.ok(request_id, result))
        self.outbox.add(frames, hold=self.pool.queued() if hold is None else hold)

    def _ping(self, request: Dict[str, Any]) -> None:
        self.send(protocol.ok(request["id"], {"pid": os.getpid(), "threads": threading.active_count(),
                                              "abandoned": self.tasks.abandoned()}))

    def _shutdown(self, request: Dict[str, Any]) -> None:
        self.send(protocol.ok(request["id"], None))
        try:
            self.transport.flush()  # the reply may have been queued behind a thread writing
        except TransportError:
            pass
        _flush_and_exit(0)


def _is_stop(frame: Any) -> bool:
    """A stop request, by its first bytes (the controller writes the id, then the type): no decoding."""
    return frame.find(b'"type":"stop"', 0, 40) >= 0


_NEVER_SET = threading.Event()  # the stop_event of a call no stop can reach


def _flush_and_exit(status: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _integer(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _clip(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


_LOG_BURST = 20  # lines per window: a flood of bad frames must not fill a disk with stderr
_LOG_WINDOW_S = 60.0
_log_window = [0.0, 0, 0]  # window start, lines written in it, lines suppressed in it (control thread only)


def _log(text: str) -> None:
    now = time.monotonic()
    start, written, suppressed = _log_window
    if now - start >= _LOG_WINDOW_S:
        if suppressed:
            sys.stderr.write("pyleash-agent: %d more such lines suppressed\n" % suppressed)
        start, written, suppressed = now, 0, 0
    if written < _LOG_BURST:
        sys.stderr.write("pyleash-agent: %s\n" % text[:500])
        sys.stderr.flush()
        written += 1
    else:
        suppressed += 1
    _log_window[:] = [start, written, suppressed]
