"""Stops that cannot be swallowed: once a stop lands in a thread, that thread may run only code that handles it.

Nothing runs before a stop. arm(ident) (the stopper) only registers a hook; the thread installs it itself when
it makes its first TaskStopped (the exception's construction runs in the stopped thread). The hook is a line
trace: sys.settrace for frames started from then on, plus f_trace on the task's live frames, up to the task
wrapper (a BOUNDARIES code). At each line it asks one question: is a TaskStopped being handled here
(sys.exc_info(), or the context of the exception being handled)? If yes, the line runs: except and finally
bodies, `with` exits, and what they call, unwind normally. If no, a handler has swallowed the stop and the
thread went on; the trace raises TaskStopped at that line, the first one after the handler, which is outside
the try that swallowed it, so it escapes. It raises only in a frame that handled one (or called one that did):
code that CPython runs on its own while the exception travels (a weakref callback, a __del__) handled nothing.
A stopped thread therefore takes one delivery per swallowing handler, and never re-enters a loop that
swallowed one.

CPython drops a trace function that raises (sys.settrace(None) and the frame's f_trace). Before raising, the
trace puts a one-use object in the frame's f_trace; CPython frees it as it drops the trace, and its __del__
installs the hook again, so an outer handler that swallows the escaping exception is caught the same way.

disarm() (the task wrapper calls it in the thread once the task's function is left, and again at its very end)
removes the hook and withdraws an exception still pending, so a pool thread runs its next call clean.
What this cannot reach (C code, 3.10's loops that never check for pending exceptions) is in
docs/stop-strategies.md.
"""
from __future__ import annotations

import dis
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Dict, Optional, Set

from pyleash import deliveries
from pyleash.deliveries import TaskStopped

# Code of the frames that call a task's (or a call's) function: only frames below the innermost of these are
# traced. pyleash.tasks.task adds call_target; add_boundary() adds another runner.
BOUNDARIES: Set[CodeType] = set()
_OWN_FILES = (deliveries.__file__, __file__)  # the delivery path itself is never traced
_PUSH_EXC_INFO = dis.opmap.get("PUSH_EXC_INFO", -1)  # 3.11+: a handler's first line event comes before it runs
_hooks: Dict[int, "Hook"] = {}  # ident -> the hook armed for that thread (dict operations are atomic under the GIL)


def add_boundary(fn: Any) -> None:
    """Declare `fn` (a function or code object) as a runner whose callee is the stoppable work."""
    BOUNDARIES.add(getattr(fn, "__code__", fn))


def arm(ident: int) -> None:
    """From the stopper: thread `ident` installs the hook at its next TaskStopped (idempotent, costs it nothing
    until then). Call only while the target still runs its task (under the task's inject lock)."""
    if ident not in _hooks:
        _hooks[ident] = Hook(ident)


def armed(ident: int) -> bool:
    return ident in _hooks


def disarm() -> bool:
    """In a thread whose task or call has ended: no stop hook, no trace of ours, no pending asynchronous exception.

    Cheap when no stop ever armed the thread (one dict lookup). True if there was a hook to remove.
    """
    hook = _hooks.pop(threading.get_ident(), None)
    if hook is None:
        return False
    hook.remove()
    return True


def _on_delivery(ident: int) -> None:
    hook = _hooks.get(ident)
    if hook is not None:
        hook.delivered()


deliveries.on_delivery = _on_delivery


class Hook:
    """The line hook of one stopped thread; see the module docstring. Only that thread touches it after arm()."""

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.removed = False
        self.raised = 0  # TaskStopped raised by the hook: one per swallowing handler met
        self.handled_in: Set[FrameType] = set()  # frames seen handling a TaskStopped, and the frames that called them
        self.call = self._call  # bound once: the trace machinery compares them by identity
        self.line = self._line

    def delivered(self) -> None:
        """In the stopped thread, from TaskStopped.__init__: install unless installed."""
        if not self.removed and sys.gettrace() is not self.call:
            self.install(sys._getframe(1))

    def install(self, frame: Optional[FrameType]) -> None:
        while frame is not None and frame.f_code.co_filename in _OWN_FILES:
            frame = frame.f_back
        frames = []
        while frame is not None and frame.f_code not in BOUNDARIES:
            frames.append(frame)
            frame = frame.f_back
        if frame is None:
            # No task below us: on 3.8-3.11 the exception is made when it reaches a handler, here the wrapper's,
            # so the task's function is already left. Nothing to guard.
            return
        sys.settrace(self.call)
        for frame in frames:
            frame.f_trace = self.line

    def remove(self) -> None:
        """In the stopped thread: no trace of ours, no pending re-raise. Another trace installed since stays."""
        self.removed = True
        self.handled_in.clear()
        if sys.gettrace() is self.call:
            sys.settrace(None)
        frame: Optional[FrameType] = sys._getframe(1)
        while frame is not None:
            if frame.f_trace is self.line:
                frame.f_trace = None
            frame = frame.f_back
        from pyleash.stop.async_exc import revoke  # only a stopped thread gets here: plain threads never load ctypes

        revoke(self.ident)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        # 'call' events: trace what the task's traced frames call, not the wrapper's own calls.
        caller = frame.f_back
        return self.line if caller is not None and caller.f_trace is self.line else None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        if self.removed:
            frame.f_trace = None  # a frame that outlived the task (a suspended generator) stops calling us
            return None
        if event != "line":
            return self.line
        if _handling() or frame.f_code.co_code[frame.f_lasti] == _PUSH_EXC_INFO:
            self._handled_in(frame)
            return self.line
        if frame not in self.handled_in:
            # Code the interpreter runs on its own while the exception travels (a weakref callback or __del__ as
            # a frame is freed, with the exception put aside): it neither handled nor swallowed anything.
            return self.line
        # This frame (or one it called) handled a TaskStopped, and now runs on with none: swallowed. Raise here.
        self.handled_in.clear()
        self.raised += 1
        frame.f_trace = _Reinstall(self)  # freed by CPython as it drops the trace for this raise: puts it back
        raise TaskStopped()


    def _handled_in(self, frame: Optional[FrameType]) -> None:
        handled = self.handled_in
        while frame is not None and frame not in handled and frame.f_code not in BOUNDARIES:
            handled.add(frame)
            frame = frame.f_back


class _Reinstall:
    """One use: sits in a frame's f_trace while the hook raises; CPython frees it right after it dropped the
    thread's trace (trace_trampoline: settrace(None), then clear f_trace), and __del__ installs the hook again."""

    __slots__ = ("hook",)

    def __init__(self, hook: Hook) -> None:
        self.hook = hook

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        return self.hook.line(frame, event, arg)

    def __del__(self) -> None:
        hook = self.hook
        if not hook.removed and sys.gettrace() is None:
            hook.install(sys._getframe(1))


def _handling() -> bool:
    """A TaskStopped is being handled here: it is sys.exc_info(), or in the context of the one that is."""
    exc = sys.exc_info()[1]
    depth = 0
    while exc is not None and depth < 16:
        if isinstance(exc, TaskStopped):
            return True
        exc = exc.__context__
        depth += 1
    return False
