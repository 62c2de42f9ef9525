"""Tasks that run on a new thread of their own, pyleash-task-<id>."""
from __future__ import annotations

import threading

from pyleash.tasks.task import Emit, Task, body, run


def start(task: Task, emit: Emit) -> None:
    name = "pyleash-task-%s" % task.id
    task.thread = threading.Thread(target=run, args=(task, emit, lambda: body(task)), name=name, daemon=True)
    task.thread.start()
