"""Tasks that run on a new thread of their own, pyleash-task-<id>."""
from __future__ import annotations

import threading

from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, Task, body, finish, run
from pyleash.threads import start_soon


class ThreadKind(Kind["Task"]):
    name = "thread"
    withholds = True

    def start(self, task: Task, emit: Emit) -> None:
        name = "pyleash-task-%s" % task.id
        task.thread = threading.Thread(target=run, args=(task, emit, body), name=name, daemon=True)
        start_soon(task.thread, lambda exc: finish(task, emit, "failed", error=exc))
