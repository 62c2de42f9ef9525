"""Tasks that run on a new thread of their own, pyleash-task-<id>."""
from __future__ import annotations

import threading

from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, Task, body, run


class ThreadKind(Kind):
    name = "thread"

    def start(self, task: Task, emit: Emit) -> None:
        name = "pyleash-task-%s" % task.id
        task.thread = threading.Thread(target=run, args=(task, emit, lambda: body(task)), name=name, daemon=True)
        task.thread.start()
