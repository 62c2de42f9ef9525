"""Stop a thread from its own sys.settrace hook: the "thread_with_trace" kill."""
from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any, Callable, Optional

from pyleash.deliveries import TaskStopped


class TraceKill:
    """install() in the target thread at task start, kill() from any thread, uninstall() in its finally
    (the ladder's `trace` step kills through pyleash.stop.redeliver; once a kill was swallowed it goes on with
    asynchronous deliveries, which carry pyleash.stop.rearm's hook).

    Article 003's thread_with_trace, at less cost: the article's global trace hands every new frame a local
    trace, so every line calls into Python until the kill. Here the global trace hands out none until kill(),
    which attaches the local trace to the task's live frames itself (from the stopper thread, through
    sys._current_frames()); until then a line costs only CPython's own check for a local trace, and a call one
    Python call, as in the article. The local trace raises TaskStopped at the next 'line' event after kill().
    Limits, all measured:
    - nothing fires while the thread sits in a C call (time.sleep, a lock, a read): "pending";
    - one shot: CPython removes a trace function that raises, so a thread that swallows the first
      TaskStopped runs on untraced and later kill() calls do nothing (`spent` turns True);
    - 3.10 and 3.11 emit no 'line' event for a one-instruction loop (`while True: pass`);
    - frames already running when install() is called are not traced (the wrapper's).
    """

    def __init__(self, exc_type: type = TaskStopped) -> None:
        self.exc_type = exc_type
        self.ident: Optional[int] = None
        self.spent = False  # True once it raised: the trace is gone from that thread
        self._killed = False
        self._base: Optional[FrameType] = None  # the frame that called install(): the task's frames are below it
        self._global_m = self._global  # bound once: settrace and f_trace keep these very objects
        self._local_m = self._local

    def install(self) -> None:
        """Call in the target thread: the frames its caller starts from now on can be killed."""
        self.ident = threading.get_ident()
        self.spent = False
        self._base = sys._getframe(1)
        sys.settrace(self._global_m)

    def uninstall(self) -> None:
        """Call in the target thread first thing in its finally, so a late kill() cannot hit cleanup."""
        self._killed = False
        self._base = None
        sys.settrace(None)

    def kill(self) -> None:
        """From any thread: raise in the target at its next line (in a running frame or one it starts)."""
        self._killed = True
        base, ident = self._base, self.ident
        frame = sys._current_frames().get(ident) if ident is not None else None
        frames = []
        while frame is not None and frame is not base:
            if frame.f_code not in _OWN_CODES:
                frames.append(frame)
            frame = frame.f_back
        if frame is None or base is None:
            return  # the thread is not inside its task (not started, or done): nothing of it to mark
        for frame in frames:
            frame.f_trace = self._local_m

    def _global(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        # Only 'call' events reach a global trace. None: no local trace, so the new frame's lines cost no call.
        if self._killed and frame.f_code not in _OWN_CODES:
            return self._local_m
        return None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        if self._killed and event == "line":
            self._killed = False
            self.spent = True
            raise self.exc_type()
        return self._local_m


_OWN_CODES = frozenset(f.__code__ for f in (TraceKill.kill, TraceKill.uninstall, TraceKill._global, TraceKill._local))
