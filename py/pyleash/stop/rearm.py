"""Stops that cannot be swallowed: a line hook, armed in the stopped thread by its first delivery, re-arms the stop inside the handler that swallowed it.

Nothing runs before a stop: arm(ident) only registers a callback with pyleash.deliveries, and the thread
installs the hook itself when it makes its first TaskStopped (the exception's construction runs in the
stopped thread). The hook is sys.settrace for new frames plus f_trace on the live frames of the task (up
to the boundary code, the task wrapper's call), so it works the same way on 3.8-3.13. It never raises:
raising from a trace function makes CPython drop the trace, so it re-arms the asynchronous exception on
its own thread instead, which fires at the next eval-loop check.

One thread's states (only that thread reads or writes them):
- calm: a TaskStopped is in flight (being raised or handled): except and finally bodies run untouched;
  the last line run while handling it is remembered.
- A line with no TaskStopped in flight means the last one was swallowed: that last handling line is
  marked, a new TaskStopped is armed at once (hunt), and when it is delivered (strike) the hook re-arms
  it on each marked line, i.e. inside the swallowing handler, from where it escapes the handler's try.
  If a strike still missed (the exception fired after the handler ended), every line the thread ran while
  handling it is marked too.
- The delivery made by a strike turns the state back to calm, so the `finally` blocks and handlers the
  escaping exception meets on its way out run in full (unless they too swallow it).
release() (the task wrapper calls it once the task's function is left) removes the hook and withdraws a
pending re-arm, so the thread comes back without a trace.
"""
from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from pyleash import deliveries
from pyleash.deliveries import TaskStopped
from pyleash.stop.async_exc import async_raise, revoke

Line = Tuple[CodeType, int]

CALM, HUNT, STRIKE = "calm", "hunt", "strike"
_OWN_FILES = (deliveries.__file__, __file__)  # frames of the delivery path itself are never traced
_hooks: Dict[int, "Rearm"] = {}  # ident -> the hook armed for that thread (dict ops are atomic under the GIL)
BOUNDARIES: Set[CodeType] = set()  # code of the frames that call a task's function (pyleash.tasks.task adds its own)


def arm(ident: int) -> None:
    """From the stopper: have thread `ident` install the hook at its next delivery (idempotent).

    Only the frames below the innermost frame running a BOUNDARIES code (the task's function and what it
    called) are traced; the wrapper around them is not.
    """
    hook = _hooks.get(ident)
    if hook is not None and not hook.removed and deliveries.hook_of(ident) == hook.on_delivery:
        return
    hook = Rearm(ident)
    _hooks[ident] = hook
    deliveries.set_hook(ident, hook.on_delivery)


def armed(ident: int) -> bool:
    return ident in _hooks


def release() -> None:
    """In the thread itself: remove its hook, if any, and withdraw a re-arm not yet delivered. Cheap if none."""
    ident = threading.get_ident()
    hook = _hooks.pop(ident, None)
    if hook is None:
        return
    deliveries.set_hook(ident, None)
    hook.remove()


def drop(ident: int) -> None:
    """From another thread, once thread `ident` is gone: forget an armed hook it never installed."""
    hook = _hooks.pop(ident, None)
    if hook is not None:
        deliveries.set_hook(ident, None)


class Rearm:
    """The hook of one stopped thread; see the module docstring."""

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.installed = False
        self.removed = False
        self.state = CALM
        self.marks: Set[Line] = set()  # lines of handlers that swallowed a TaskStopped
        self.handling: List[Line] = []  # lines run while the TaskStopped now in flight was handled
        self.rearms = 0  # re-arms made by the hook (diagnostics)
        # The next line is a handler's first: on 3.11+ its line event comes before sys.exc_info() is set.
        self.fresh = False

    def on_delivery(self) -> None:
        """In the stopped thread, from TaskStopped.__init__."""
        if self.removed:
            return
        self.handling = []
        self.fresh = True
        if not self.installed or sys.gettrace() != self._call:
            # The first delivery, or CPython dropped the trace because a re-armed one fired inside it.
            self.state = CALM
            self._install()  # calm: this one may well end the task by itself
            return
        if self.state == HUNT:
            self.state = STRIKE
        elif self.state == STRIKE:
            self.state = CALM  # it escaped the handler: let it unwind, finally blocks and all

    def _install(self) -> None:
        frames: List[FrameType] = []
        frame: Optional[FrameType] = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename in _OWN_FILES:
            frame = frame.f_back
        while frame is not None and frame.f_code not in BOUNDARIES:
            frames.append(frame)
            frame = frame.f_back
        if frame is None:
            # No task frame below us: on 3.8-3.11 an exception is made when it reaches a handler, here the
            # wrapper's, so the task's function is already left. Nothing to hook.
            return
        self.installed = True
        sys.settrace(self._call)
        for frame in frames:
            frame.f_trace = self._line

    def remove(self) -> None:
        """In the stopped thread: no trace, no pending re-arm. Another trace installed since is left alone."""
        self.removed = True
        if self.installed and sys.gettrace() == self._call:
            sys.settrace(None)
        frame: Optional[FrameType] = sys._getframe(1)
        while frame is not None:
            if frame.f_trace == self._line:
                frame.f_trace = None
            frame = frame.f_back
        if self.state != CALM:
            revoke(self.ident)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        # 'call' events only. Trace what the task's traced frames call, not the wrapper's own calls.
        caller = frame.f_back
        return self._line if caller is not None and caller.f_trace == self._line else None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        if event != "line" or self.removed:
            if event == "exception" and isinstance(arg[1], TaskStopped):
                self.fresh = True  # it reached this frame: the next line here is a handler's
            return self._line
        here = (frame.f_code, frame.f_lineno)
        fresh, self.fresh = self.fresh, False
        if fresh or _in_flight():
            self.handling.append(here)
            if self.state == STRIKE and here in self.marks:
                self._rearm()
            return self._line
        if self.state != HUNT and self.handling:  # the TaskStopped was handled, and the thread goes on
            last = self.handling[-1]
            if last in self.marks:  # a strike missed the handler: aim at all of it
                self.marks.update(self.handling)
            else:
                self.marks.add(last)
            self.handling = []
            self.state = HUNT
            self._rearm()
        return self._line

    def _rearm(self) -> None:
        self.rearms += 1
        try:
            async_raise(self.ident, TaskStopped)
        except ValueError:  # no thread state (cannot happen on the thread itself, but never raise here)
            pass


def _in_flight() -> bool:
    """A TaskStopped is being handled here (or is the context of the exception being handled)."""
    exc = sys.exc_info()[1]
    depth = 0
    while exc is not None and depth < 8:
        if isinstance(exc, TaskStopped):
            return True
        exc = exc.__context__
        depth += 1
    return False
