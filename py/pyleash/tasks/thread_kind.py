"""Tasks that run on a new thread of their own, pyleash-task-<id>."""
from __future__ import annotations

import threading

from pyleash import switching
from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, Task, body, finish, run
from pyleash.threads import start_soon


class ThreadKind(Kind["Task"]):
    name = "thread"
    withholds = True

    def start(self, task: Task, emit: Emit) -> None:
        name = "pyleash-task-%s" % task.id
        task.thread = threading.Thread(target=_run_busy, args=(task, emit), name=name, daemon=True)
        switching.crowd(1)  # a busy thread, until its task ends (pyleash.switching: a crowd raises the interval)
        start_soon(task.thread, lambda exc: _not_started(task, emit, exc))


def _run_busy(task: Task, emit: Emit) -> None:
    try:
        run(task, emit, body)
    finally:
        switching.crowd(-1)


def _not_started(task: Task, emit: Emit, exc: BaseException) -> None:
    switching.crowd(-1)
    finish(task, emit, "failed", error=exc)
