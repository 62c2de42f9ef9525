"""The stream kind and its driver: a call whose iterator's items flow to the controller as credit allows.

A stream is a call recorded as a task of the `thread` kind (its id, e.g. "s1", comes with the request) on a thread
of the call pool. That thread runs the whole stream: it takes one credit, calls next(), adds the item to the
batch (pyleash.tasks.stream_batch), and again; so the stop ladder finds the stream where the generator runs.
`flag` (the ladder's first step) wakes it between items and it closes the generator (GeneratorExit at its yield,
its `finally` runs); a generator stuck between items, or one that goes on after GeneratorExit, gets the ladder's
async-exc in its own frame. An async iterator is stepped on the agent's asyncio loop, the pool thread waiting for
each step in short slices, so that an asynchronous stop lands in the wait: it cancels the step (CancelledError at
the generator's await).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List

from pyleash.deliveries import TaskStopped
import pyleash.stop.rearm as rearm
from pyleash.stop.stacks import thread_stack
from pyleash.tasks.call_kind import PoolCallKind
from pyleash.tasks.kind import own_frames
from pyleash.tasks.stream_batch import WAIT_SLICE_S, StreamState
from pyleash.tasks.task import Emit, Task, call_target

CANCEL_WAIT_S = 1.0  # how long a stopped async step is given to run its handlers after its cancel
_DRIVER = "stream_kind.py"  # the frames of this module's _in_generator end a stream's stack


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
    state = task.state
    assert isinstance(state, StreamState)  # made by the stream request (pyleash.streams), before the task runs
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
            if frames[i]["function"] == "_in_generator" and frames[i]["file"].endswith(_DRIVER):
                return frames[i + 1:]
        return own_frames(frames)
