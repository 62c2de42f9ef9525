"""What a running task can ask about itself: `pyleash.current_task()` and `pyleash.should_stop()`."""
from __future__ import annotations

import threading
from typing import Any, Optional

_local = threading.local()


def current_task() -> Optional[Any]:
    """The task running on this thread (with its `stop_event`), or None outside a task."""
    return getattr(_local, "task", None)


def should_stop() -> bool:
    """True once a stop was asked for the task running on this thread."""
    task = current_task()
    return task is not None and task.stop_event.is_set()


def bind(task: Optional[Any]) -> None:
    _local.task = task
