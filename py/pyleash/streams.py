"""Streams: a call whose iterator's items flow to the controller in batches, as far as the controller's credit allows.

A stream is a call recorded as a task of the `thread` kind (its id, e.g. "s1", comes with the request) on a thread
of the call pool. That thread runs the whole stream: it takes one credit, calls next(), adds the item to the
batch, and again; so the stop ladder finds the stream where the generator runs. `flag` (the ladder's first step)
wakes it between items and it closes the generator (GeneratorExit at its yield, its `finally` runs); a generator
stuck between items, or one that goes on after GeneratorExit, gets the ladder's async-exc in its own frame.
An async iterator is stepped on the agent's asyncio loop, the pool thread waiting for each step in short slices,
so that an asynchronous stop lands in the wait: it cancels the step (CancelledError at the generator's await).

Threads: the stream's pool thread produces; the control thread grants credit; pyleash-stream-flush sends a batch
that has waited FLUSH_AFTER_S, so an item is never held back behind a slow next one. StreamState.lock guards
the credit and the batch between them.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from pyleash import protocol
from pyleash.deliveries import TaskStopped
from pyleash.stop import rearm
from pyleash.tasks.call_kind import PoolCallKind
from pyleash.tasks.kind import own_frames
from pyleash.tasks.task import Emit, Task, call_target
from pyleash.stop.stacks import thread_stack

FLUSH_AFTER_S = 0.001  # the longest an item waits for others to share its message
BATCH_BYTES = 256 * 1024  # a batch this large leaves at once
WAIT_SLICE_S = 0.05  # waits (for credit, for an async step) are cut in slices, so an asynchronous stop lands
CANCEL_WAIT_S = 1.0  # how long a stopped async step is given to run its handlers after its cancel

SendFrame = Callable[[bytes], None]
SendFrames = Callable[[List[Any]], None]  # one message: a JSON frame and the binary frames it references


class StreamState:
    """One stream's credit and pending batch (see the module docstring for who touches what)."""

    def __init__(self, task_id: str, credit: int, send_frame: SendFrame, send_frames: SendFrames, max_bytes: int,
                 flusher: "Flusher") -> None:
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
            with self.lock:
                self._flush_locked()
                self.count += 1
                self._send_frames(frames)
            return
        if len(frame) > self._max_bytes:
            raise protocol.NotSerializable(protocol.type_name(item), "it encodes to %d bytes, over the %d byte limit "
                                           "(maxMessageBytes)" % (len(frame), self._max_bytes), "stream[%d]" % self.count)
        with self.lock:
            if self.batch and self.batch_bytes + len(frame) > min(BATCH_BYTES, self._max_bytes):
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


class _Done(Exception):
    """The iterator is exhausted."""


def _in_generator(fn: Callable[..., Any], *args: Any) -> Any:
    """Runs the iterator's code (next, close): a stop's line hook guards what runs below this frame, nothing above."""
    return fn(*args)


rearm.add_boundary(_in_generator)


class _SyncSteps:
    def __init__(self, source: Any) -> None:
        self._it = iter(source)

    def next(self) -> Any:
        try:
            return _in_generator(next, self._it)
        except StopIteration:
            raise _Done() from None

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            _in_generator(close)


class _AsyncSteps:
    """Steps an async iterator on the agent's asyncio loop, from the pool thread."""

    def __init__(self, source: Any) -> None:
        from pyleash.tasks.registry import KINDS  # asyncio is imported only when a stream needs the loop

        self._loop = KINDS["asyncio"].loop()  # type: ignore[attr-defined]
        self._it = source.__aiter__()

    def next(self) -> Any:
        it = self._it

        async def step() -> Any:
            try:
                return await it.__anext__()
            except StopAsyncIteration:
                raise _Done() from None

        return self._run(step)

    def close(self) -> None:
        aclose = getattr(self._it, "aclose", None)
        if aclose is not None:
            self._run(aclose)

    def _run(self, make: Callable[[], Any]) -> Any:
        import asyncio

        settled = threading.Lock()  # released by the step as it ends; waited on in slices (see WAIT_SLICE_S)
        settled.acquire()
        outcome: List[Any] = []

        async def guarded() -> None:
            try:
                outcome.append((True, await make()))
            except BaseException as exc:  # noqa: BLE001 - handed to the pool thread, which raises it
                outcome.append((False, exc))
            finally:
                settled.release()

        future = asyncio.run_coroutine_threadsafe(guarded(), self._loop)
        try:
            while not settled.acquire(timeout=WAIT_SLICE_S):
                pass
        except TaskStopped:
            future.cancel()  # the step's Task is cancelled on the loop: CancelledError at the generator's await
            settled.acquire(timeout=CANCEL_WAIT_S)  # its finally runs before the stop counts the stream as ended
            raise
        ok, value = outcome[0]
        if ok:
            return value
        raise value


def _steps(source: Any) -> Any:
    if hasattr(source, "__anext__") or (hasattr(source, "__aiter__") and not hasattr(source, "__iter__")):
        return _AsyncSteps(source)
    return _SyncSteps(source)


def drive(task: Task) -> int:
    """The stream's body, on its pool thread: produce while credit allows; the number of items it produced."""
    state = task.stream
    assert state is not None
    stop = task.stop_event
    try:
        steps = _steps(call_target(task))
        while True:
            if not state.take_credit(stop):  # type: ignore[arg-type]
                steps.close()  # the consumer left, or a stop's flag: GeneratorExit at the generator's yield
                return state.count
            try:
                item = steps.next()
            except _Done:
                return state.count
            state.add(item)
    finally:
        state.flush()  # what was produced before an end, an exception or a stop leaves before the reply


class PoolStreamKind(PoolCallKind):
    """A stream on the call pool: the `thread` kind's strategies and ladder, like a stoppable call."""

    def start(self, task: Task, emit: Emit) -> None:
        self.pool.submit(self._run, task, emit, drive)

    def stack(self, task: Task) -> List[Dict[str, Any]]:
        """From the iterator's code inward (the driver left out); the generator's own frame while it runs."""
        if task.ident is None:
            return []
        frames = thread_stack(task.ident)
        for i in range(len(frames) - 1, -1, -1):
            if frames[i]["function"] == "_in_generator" and frames[i]["file"].endswith("streams.py"):
                return frames[i + 1:]
        return own_frames(frames)


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
            task.stream = flag.state = StreamState(task.id, request["credit"], lambda frame: self._send_frames([frame]),
                                                  self._send_frames, self._max_bytes, self._flusher)
            task.stop_event = flag

        self._tasks.call(request, self._kind, prepare)

    def credit(self, request: Dict[str, Any]) -> None:
        if request["n"] < 1:
            raise protocol.ProtocolError("'n' must be a positive integer, got %r" % (request["n"],))
        task = self._tasks.tasks.get(request["task"])
        if task is not None and task.stream is None:
            raise protocol.ProtocolError("task %r is not a stream" % (request["task"],))
        if task is not None:  # an ended stream may be forgotten already: credit for it is moot
            task.stream.grant(request["n"])
        self._send(protocol.ok(request["id"], None))
