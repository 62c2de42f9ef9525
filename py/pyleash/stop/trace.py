"""Stop a thread from its own sys.settrace hook: the "thread_with_trace" kill."""
from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any, Callable, Optional

from pyleash.deliveries import TaskStopped


class TraceKill:
    """install() in the target thread at task start, kill() from any thread, uninstall() in its finally
    (the ladder's `trace` step kills through pyleash.stop.redeliver, and never renews a spent kill).

    The local trace raises TaskStopped on the next 'line' event after kill(). Limits, all measured:
    - nothing fires while the thread sits in a C call (time.sleep, a lock, a read): "pending";
    - one shot: CPython removes a trace function that raises, so a thread that swallows the first
      TaskStopped runs on untraced and later kill() calls do nothing (`spent` turns True);
    - 3.10 and 3.11 emit no 'line' event for a one-instruction loop (`while True: pass`);
    - frames already running when install() is called are not traced;
    - every traced line costs a Python call, killed or not (several times slower in pure Python).
    """

    def __init__(self, exc_type: type = TaskStopped) -> None:
        self.exc_type = exc_type
        self.ident: Optional[int] = None
        self.spent = False  # True once it raised: the trace is gone from that thread
        self._killed = False

    def install(self) -> None:
        """Call in the target thread: traces every frame started from now on."""
        self.ident = threading.get_ident()
        self.spent = False
        sys.settrace(self._global)

    def uninstall(self) -> None:
        """Call in the target thread first thing in its finally, so a late kill() cannot hit cleanup."""
        self._killed = False
        sys.settrace(None)

    def kill(self) -> None:
        """From any thread: raise in the target at its next traced line."""
        self._killed = True

    def _global(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        if frame.f_code is _UNINSTALL_CODE:
            return None  # uninstall() must run even after kill()
        return self._local  # only 'call' events reach a global trace

    def _local(self, frame: FrameType, event: str, arg: Any) -> Optional[Callable[..., Any]]:
        if self._killed and event == "line":
            self._killed = False
            self.spent = True
            raise self.exc_type()
        return self._local


_UNINSTALL_CODE = TraceKill.uninstall.__code__
