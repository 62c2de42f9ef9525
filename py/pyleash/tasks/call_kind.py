"""Calls that a stop can reach: recorded as tasks of the `thread` kind's ladder on a borrowed thread (a pool thread,
or the control thread itself, where plain calls run: pyleash.inline)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from pyleash.deliveries import TaskStopped
import pyleash.stop.rearm as rearm
from pyleash.tasks.task import Emit, Task, call_target, close_injections, finish, run
from pyleash.tasks.thread_kind import ThreadKind

if TYPE_CHECKING:
    from pyleash.pool import CallPool

    Queue = Callable[[Tuple[Callable[..., None], Tuple[Any, ...]]], None]


class PoolCallKind(ThreadKind):
    """The thread kind's strategies and ladder; but the pool thread outlives the call, so the call is gone once its
    reply has left, and a call a stop gave up on takes its thread out of the pool (CallPool.abandon)."""

    own_thread = False

    def __init__(self, pool: CallPool) -> None:
        super().__init__()
        self.pool = pool

    def start(self, task: Task, emit: Emit) -> None:
        self.pool.submit(self._run, task, emit)

    def gave_up(self, task: Task) -> None:
        task.abandoned = True
        if task.ident is not None:
            self.pool.abandon(task.ident)

    @staticmethod
    def _run(task: Task, emit: Emit, body: Callable[[Task], Any] = call_target) -> None:
        task.thread = threading.current_thread()
        try:
            run(task, emit, body)
        except TaskStopped as exc:  # landed between run's handlers: the reply must still leave
            rearm.disarm()
            close_injections(task)
            if not task.ended.is_set():
                finish(task, emit, "stopped", error=exc)


class InlineCallKind(PoolCallKind):
    """A stoppable call on the thread lane runs where a plain call runs: queued with the plain calls of its message
    and run on the control thread (pyleash.inline), with no hand-off to a pool thread and back. Its record is made
    on arrival, so a stop finds it: before it begins, the stop withholds it; while it runs, the watcher has handed
    the reading to another thread within the inline budget, and that thread reads the stop and drives the ladder
    into the call's thread like any other. Calls of its message not begun at a hand-over go to the pool, so it may
    still run on a pool thread: then a stop that gives up takes that thread out of the pool, as PoolCallKind does."""

    def __init__(self, pool: CallPool, queue: Queue, flush: Callable[[], None]) -> None:
        super().__init__(pool)
        self._queue = queue  # appends a job fn(*args, hold) to the plain calls of the message being dispatched
        self._flush = flush  # sends the plain replies held back for calls that came after them

    def start(self, task: Task, emit: Emit) -> None:
        self._queue((self._run_job, (task, emit)))

    def gave_up(self, task: Task) -> None:
        task.abandoned = True
        if task.ident is not None and task.on_pool:
            self.pool.abandon(task.ident)

    def _run_job(self, task: Task, emit: Emit, hold: Optional[bool] = None) -> None:
        """`hold` is given inline (more calls of the message wait; None on a pool thread, which calls fn(*args))."""
        task.on_pool = hold is None
        self._run(task, emit)
        if hold is False:  # the last of its message: plain replies held for it leave now
            self._flush()
