"""Holding a stop back while a task's thread writes a message for the controller.

A task's thread sends messages of its own (progress(), a stream's items). An asynchronous stop landing between the
moment the message leaves its batch or queue and the moment its bytes are written would lose it: nothing could tell
written from not. Around such a send the thread raises its task's shield, as for the import of its target
(pyleash.tasks.task.resolve_shielded): a stop asked meanwhile is held, and raised as TaskStopped once the send is
done. An exception armed before the shield went up fires before the send begins, almost always: one armed in a
running thread lands at its next check, well before its write.
"""
from __future__ import annotations

import threading
from typing import Any, Optional

from pyleash import current
from pyleash.deliveries import TaskStopped


class HoldStops:
    """`with HoldStops(): send(message)` on any thread; it holds stops only on the thread of a task that allows it
    (Task.holds_stops: pythonia's host thread is never held back)."""

    __slots__ = ("_task", "_outer")

    def __init__(self) -> None:
        self._task: Optional[Any] = None
        self._outer = False

    def __enter__(self) -> None:
        task = current.current_task()
        if task is None or not getattr(task, "holds_stops", False) or task.ident != threading.get_ident():
            return
        with task.inject_lock:
            self._outer = task.shielded  # already held back (it imports its target): that shield decides
            task.shielded = True
        self._task = task

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        task = self._task
        if task is None or self._outer:
            return
        with task.inject_lock:
            task.shielded = False
            held, task.held = task.held, False
        if held and not (isinstance(exc_type, type) and issubclass(exc_type, TaskStopped)):
            raise TaskStopped()
