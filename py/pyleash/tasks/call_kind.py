"""Calls on the call pool that a stop can reach: recorded as tasks of the `thread` kind's ladder on a borrowed thread."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from pyleash.deliveries import TaskStopped
import pyleash.stop.rearm as rearm
from pyleash.tasks.task import Emit, Task, call_target, close_injections, finish, run
from pyleash.tasks.thread_kind import ThreadKind

if TYPE_CHECKING:
    from pyleash.pool import CallPool


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
            run(task, emit, lambda: body(task))
        except TaskStopped as exc:  # landed between run's handlers: the reply must still leave
            rearm.disarm()
            close_injections(task)
            if not task.ended.is_set():
                finish(task, emit, "stopped", error=exc)
