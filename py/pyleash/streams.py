"""Streams: the `stream` and `credit` requests. The stream kind and its driver are pyleash.tasks.stream_kind, the
credit and the batching pyleash.tasks.stream_batch (docs/protocol.md, Streams)."""
from __future__ import annotations

from typing import Any, Callable, Dict

from pyleash import protocol
from pyleash.tasks.stream_batch import Flusher, SendFrames, StreamFlag, StreamState
from pyleash.tasks.stream_kind import PoolStreamKind
from pyleash.tasks.task import Task


class StreamService:
    """The `stream` and `credit` requests (on the control thread); a stream's task lives in the TaskService."""

    def __init__(self, tasks: Any, pool: Any, send_frames: SendFrames, send: Callable[[Dict[str, Any]], None],
                 max_message_bytes: int) -> None:
        self._tasks = tasks
        self._send_frames = send_frames
        self._send = send
        self._max_bytes = max_message_bytes
        self._kind = PoolStreamKind(pool)
        self._flusher = Flusher()

    def stream(self, request: Dict[str, Any]) -> None:
        if request["credit"] < 1:
            raise protocol.ProtocolError("a stream's 'credit' must be a positive integer, got %r" % (request["credit"],))

        def prepare(task: Task) -> None:
            flag = StreamFlag()
            task.state = flag.state = StreamState(request["id"], task.id, request["credit"],
                                                 lambda frame: self._send_frames([frame]), self._send_frames,
                                                 self._max_bytes, self._flusher)
            task.stop_event = flag

        self._tasks.call(request, self._kind, prepare)

    def credit(self, request: Dict[str, Any]) -> None:
        if request["n"] < 1:
            raise protocol.ProtocolError("'n' must be a positive integer, got %r" % (request["n"],))
        task = self._tasks.tasks.get(request["task"])
        if task is not None and not isinstance(task.state, StreamState):
            raise protocol.ProtocolError("task %r is not a stream" % (request["task"],))
        if task is not None:  # an ended stream may be forgotten already: credit for it is moot
            task.state.grant(request["n"])
        self._send(protocol.ok(request["id"], None))
