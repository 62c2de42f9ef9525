"""pyleash.progress() and its rate limit: a task or call tells the controller how far it has got, at most one event per INTERVAL_S.

The rule (docs/protocol.md, `progress`): an update is sent at once when INTERVAL_S has passed since the task's last
one, or when it is final (done >= total); otherwise it is held, replacing any held before it, and leaves with
the next update that is sent, or just before the task's end. So the controller sees the updates in order, at
most about 1 / INTERVAL_S a second per task, and always the last one. Outside a task or a call the controller
can hear of (a call made without options, a process task's child, code not run by pyleash) it does nothing.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Dict, Optional

from pyleash import current
from pyleash.held_stops import HoldStops

INTERVAL_S = 0.05  # 20 updates a second per task: a smooth bar, and no flood of tiny messages

Send = Callable[[Dict[str, Any]], None]
_send: Optional[Send] = None  # the agent's send, installed at its start (pyleash.control.Agent)


def install(send: Optional[Send]) -> None:
    """Where progress events go; None makes progress() a no-op."""
    global _send
    _send = send


class Limiter:
    """One task's progress: when it last sent one, and the update held back since. The task's function may call
    progress() from several threads, and its end takes what is held from another: the lock serialises them."""

    __slots__ = ("lock", "last", "held")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = -math.inf  # time.monotonic() of the last update sent
        self.held: Optional[Dict[str, Any]] = None

    def offer(self, event: Dict[str, Any], final: bool, now: float) -> Optional[Dict[str, Any]]:
        """The event to send now, or None when it is held back."""
        with self.lock:
            if final or now - self.last >= INTERVAL_S:
                self.last = now
                self.held = None
                return event
            self.held = event
            return None

    def take_held(self) -> Optional[Dict[str, Any]]:
        with self.lock:
            held, self.held = self.held, None
        return held


def progress(done: float, total: Optional[float] = None, message: Optional[str] = None) -> None:
    """Report progress of the task or call running here: `done` of `total` (both numbers, total optional), with an
    optional message. Rate-limited (see the module's docstring); a no-op outside a task or call."""
    _check_number("done", done)
    if total is not None:
        _check_number("total", total)
    if message is not None and not isinstance(message, str):
        raise TypeError("progress(): message must be a str or None, got %s" % type(message).__name__)
    task = current.current_task()
    send = _send
    # A task id starting with "~" was made up by the agent for a call the controller did not name: no one listens.
    if task is None or send is None or not hasattr(task, "progress") or task.id.startswith("~"):
        return
    event: Dict[str, Any] = {"type": "progress", "task": task.id, "done": done}
    if total is not None:
        event["total"] = total
    if message is not None:
        event["message"] = message
    limiter = task.progress
    if limiter is None:
        limiter = task.progress = Limiter()  # a race here loses at most one held update
    out = limiter.offer(event, total is not None and done >= total, time.monotonic())
    if out is not None:
        with HoldStops():  # a stop landing in the write would lose the event
            send(out)


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise TypeError("progress(): %s must be a finite int or float, got %r" % (name, value))
