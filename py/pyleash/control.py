"""The control loop: receives requests on the pyleash-control thread and dispatches them."""
from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable, Dict, List

from pyleash import contract, protocol, targets
from pyleash.outbox import Outbox
from pyleash.pool import CallPool
from pyleash.tasks.service import TaskService
from pyleash.transport import Transport, TransportError

Handler = Callable[[Dict[str, Any]], None]


class Agent:
    """Owns the transport, the pool and the tasks; request handlers run on the control thread unless they hand off.

    A handler gets its request checked against the contract (pyleash/contract.json), defaults filled in.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.outbox = Outbox(transport)
        self.pool = CallPool(on_drain=self.outbox.flush)
        self._calls: List[Any] = []  # calls of the message being dispatched, for the pool (control thread only)
        self.tasks = TaskService(self.send, self.send_many)
        self.handlers: Dict[str, Handler] = {  # one per request type of the contract
            "call": self._call,
            "ping": self._ping,
            "shutdown": self._shutdown,
            "start": self.tasks.start,
            "stop": self.tasks.stop,
            "stack": self.tasks.stack,
            "threads": self.tasks.threads,
        }

    def send(self, message: Dict[str, Any]) -> None:
        """Encode and send; a reply JSON cannot carry becomes a typed error naming the Python type."""
        self.transport.send([_encode(message)])

    def send_many(self, messages: List[Dict[str, Any]]) -> None:
        """send() each, in order, in as few writes as the transport allows."""
        self.transport.send_many([[_encode(message)] for message in messages])

    def serve(self) -> None:
        """Runs on pyleash-control until the controller disconnects or asks to shut down."""
        while True:
            try:
                frames = self.transport.recv(None)
            except TransportError as exc:
                _log("connection lost: %s" % exc)
                os._exit(0)
            if frames is None:
                continue
            self._dispatch(frames)

    def _dispatch(self, frames: Any) -> None:
        """Each frame is one request (the controller sends several per message when they queue up);
        the calls among them go to the pool together."""
        for frame in frames:
            self._handle(frame)
        if self._calls:
            calls, self._calls = self._calls, []
            self.pool.submit_many(calls)

    def _handle(self, frame: bytes) -> None:
        try:
            request = protocol.decode(frame)
        except protocol.ProtocolError as exc:
            _log("dropped a malformed message: %s" % exc)
            return
        handler = self.handlers.get(request["type"])
        try:
            if handler is None:
                raise protocol.ProtocolError("unknown message type %r" % request["type"])
            contract.check_request(request)
            handler(request)
        except (protocol.ProtocolError, contract.ContractError) as exc:
            request_id = request.get("id")
            usable = isinstance(request_id, int) and not isinstance(request_id, bool)
            self.send(protocol.error(request_id if usable else None, protocol.PROTOCOL, exc, with_traceback=False))

    def _call(self, request: Dict[str, Any]) -> None:
        self._calls.append((self._run_call, (request["id"], request["target"], request["args"], request["kwargs"])))

    def _run_call(self, request_id: int, target: str, args: list, kwargs: dict) -> None:
        try:
            fn = targets.resolve(target)
        except targets.TargetError as exc:
            reply = protocol.error(request_id, protocol.TARGET, exc, with_traceback=False)
        except BaseException as exc:  # an import that raised is the user's exception
            reply = protocol.error(request_id, protocol.EXCEPTION, exc)
        else:
            try:
                reply = protocol.ok(request_id, fn(*args, **kwargs))
            except BaseException as exc:  # noqa: B902 - everything the call raises goes back to the caller
                reply = protocol.error(request_id, protocol.EXCEPTION, exc)
        self.outbox.add(_encode(reply), hold=self.pool.queued())

    def _ping(self, request: Dict[str, Any]) -> None:
        self.send(protocol.ok(request["id"], {"pid": os.getpid(), "threads": threading.active_count()}))

    def _shutdown(self, request: Dict[str, Any]) -> None:
        self.send(protocol.ok(request["id"], None))
        _flush_and_exit(0)


def _encode(message: Dict[str, Any]) -> bytes:
    try:
        return protocol.encode(message)
    except protocol.NotSerializable as exc:
        return protocol.encode(protocol.error(message.get("id"), protocol.RESULT, exc, with_traceback=False))


def _flush_and_exit(status: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _log(text: str) -> None:
    sys.stderr.write("pyleash-agent: %s\n" % text)
    sys.stderr.flush()
