"""What a running task can ask about itself: `pyleash.current_task()` and `pyleash.should_stop()`."""
from __future__ import annotations

import contextvars
from typing import Any, Optional

# A ContextVar rather than a thread-local: asyncio tasks share a thread but each copies its own context.
_task: "contextvars.ContextVar[Optional[Any]]" = contextvars.ContextVar("pyleash_task", default=None)


def current_task() -> Optional[Any]:
    """The task running here (it has `id`, `name` and `stop_event`), or None outside a task."""
    return _task.get()


def should_stop() -> bool:
    """True once a stop was asked for the task running here."""
    task = _task.get()
    return task is not None and task.stop_event.is_set()


bind = _task.set  # bind(task) -> the token for unbind(); the ContextVar's own method: a stoppable call makes one per call


def unbind(token: "contextvars.Token[Optional[Any]]") -> None:
    try:
        _task.reset(token)
    except ValueError:  # reset from another context: just clear it
        _task.set(None)
