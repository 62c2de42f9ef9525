"""A stream's batching: its credit, the items waiting to leave together, and the thread that sends a batch late.

Threads: the stream's pool thread produces (add, take_credit); the control thread grants credit; pyleash-stream-flush
sends a batch that has waited FLUSH_AFTER_S, so an item is never held back behind a slow next one. StreamState.lock
guards the credit and the batch between them. The stream kind and its driver are pyleash.tasks.stream_kind; the
requests, pyleash.streams.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, List, Optional

from pyleash import protocol
from pyleash.held_stops import HoldStops
from pyleash.tasks.task import CallState

FLUSH_AFTER_S = 0.001  # the longest an item waits for others to share its message
BATCH_BYTES = 256 * 1024  # a batch this large leaves at once
WAIT_SLICE_S = 0.05  # waits (for credit, for an async step) are cut in slices, so an asynchronous stop lands

SendFrame = Callable[[bytes], None]
SendFrames = Callable[[List[Any]], None]  # one message: a JSON frame and the binary frames it references


class StreamState(CallState):
    """One stream's credit and pending batch (see the module docstring for who touches what): the state of its
    task (Task.state), a call's (its request id) with these."""

    def __init__(self, reply_to: int, task_id: str, credit: int, send_frame: SendFrame, send_frames: SendFrames,
                 max_bytes: int, flusher: "Flusher") -> None:
        super().__init__(reply_to)
        self.lock = threading.Lock()
        self.credit = credit  # items the producer may still make before the controller grants more
        self.batch: List[bytes] = []  # encoded items not sent yet
        self.batch_bytes = 0
        self.count = 0  # items produced
        self.wake = threading.Lock()  # held while the producer waits for credit; released by a grant or a stop
        self.wake.acquire()
        self._prefix = ('{"type":"stream-items","task":%s,"items":[' % json.dumps(task_id)).encode()
        self._task = task_id
        self._send_frame = send_frame
        self._send_frames = send_frames
        self._max_bytes = max_bytes - len(self._prefix) - 2
        self._flusher = flusher

    def grant(self, n: int) -> None:
        """On the control thread: the controller consumed n items."""
        with self.lock:
            self.credit += n
            self._nudge_locked()

    def nudge(self) -> None:
        """Wake a producer waiting for credit (a stop was asked)."""
        with self.lock:
            self._nudge_locked()

    def _nudge_locked(self) -> None:
        if self.wake.locked():  # only nudgers release it, under self.lock: never released twice
            self.wake.release()

    def take_credit(self, stop: threading.Event) -> bool:
        """On the producer: one credit, waiting for it as long as it takes; False once a stop was asked."""
        while True:
            if stop.is_set():
                return False
            with self.lock:
                if self.credit > 0:
                    self.credit -= 1
                    return True
                with HoldStops():  # a stop landing in the write would lose the batch
                    self._flush_locked()  # the controller grants credit for the items it has seen
            self.wake.acquire(timeout=WAIT_SLICE_S)  # a plain lock: an asynchronous stop lands right after it

    def add(self, item: Any) -> None:
        """On the producer: encode the item (now, so a value that cannot cross is named with its index) and batch it.
        An item that holds bytes leaves alone, as a message with its binary frames, after the batch before it."""
        try:
            frame = protocol.encode(item)  # any JSON value encodes
        except protocol.NotSerializable as exc:
            frames = self._with_binary(item)
            if frames is None:
                raise protocol.NotSerializable(exc.python_type, str(exc), "stream[%d]%s" % (self.count, _suffix(exc.path))) from None
            with HoldStops(), self.lock:
                self._flush_locked()
                self.count += 1
                self._send_frames(frames)
            return
        if len(frame) > self._max_bytes:
            raise protocol.NotSerializable(protocol.type_name(item), "it encodes to %d bytes, over the %d byte limit "
                                           "(maxMessageBytes)" % (len(frame), self._max_bytes), "stream[%d]" % self.count)
        with self.lock:
            if self.batch and self.batch_bytes + len(frame) > min(BATCH_BYTES, self._max_bytes):
                with HoldStops():
                    self._flush_locked()
            first = not self.batch
            self.batch.append(frame)
            self.batch_bytes += len(frame) + 1
            self.count += 1
        if first:
            self._flusher.want(self)

    def _with_binary(self, item: Any) -> Optional[List[Any]]:
        """The item as a stream-items message of its own with binary frames, or None when bytes are not what kept it
        from crossing (then the caller names the offender)."""
        try:
            frames = protocol.encode_frames({"type": "stream-items", "task": self._task, "items": [item]})
        except protocol.NotSerializable:
            return None
        if len(frames) == 1:
            return None
        size = sum(len(f) if isinstance(f, bytes) else memoryview(f).nbytes for f in frames)
        if size > self._max_bytes:
            raise protocol.NotSerializable(protocol.type_name(item), "it encodes to %d bytes, over the %d byte limit "
                                           "(maxMessageBytes)" % (size, self._max_bytes), "stream[%d]" % self.count)
        return frames

    def flush(self) -> None:
        with self.lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        """Send the batch; under the lock, so batches (and the stream's end after the last) leave in order."""
        if not self.batch:
            return
        frame = self._prefix + b",".join(self.batch) + b"]}"
        self.batch = []
        self.batch_bytes = 0
        self._send_frame(frame)


def _suffix(path: Optional[str]) -> str:
    if not path:
        return ""
    return path if path.startswith("[") else "." + path


class Flusher:
    """pyleash-stream-flush, started with the first stream: sends each batch FLUSH_AFTER_S after its first item."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: List[StreamState] = []
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def want(self, state: StreamState) -> None:
        with self._lock:
            self._waiting.append(state)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pyleash-stream-flush", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_AFTER_S)
            with self._lock:
                waiting, self._waiting = self._waiting, []
                self._wake.clear()
            for state in waiting:
                try:
                    state.flush()
                except Exception:  # noqa: BLE001 - e.g. the transport is closing: the stream's own end reports it
                    pass


class StreamFlag(threading.Event):
    """A stream's stop_event: setting it (the ladder's flag) also wakes the producer waiting for credit."""

    def __init__(self) -> None:
        super().__init__()
        self.state: Optional[StreamState] = None

    def set(self) -> None:
        super().set()
        if self.state is not None:
            self.state.nudge()
