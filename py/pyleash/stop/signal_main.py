"""Stop work on the main thread with a dedicated signal whose Python handler raises TaskStopped."""
from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Any, Iterator, Optional, Tuple

from pyleash.contract import SIGNALS
from pyleash.deliveries import TaskStopped

# SIGUSR2: no terminal sends it (SIGINT/SIGQUIT/SIGTSTP come from the tty, so Ctrl-C stays unrelated),
# CPython does not use it, and SIGUSR1 is left for faulthandler dumps (pyleash.stop.stacks), the
# convention of its docs. Its default action terminates, hence request_stop() refuses unless installed.
DEFAULT_SIGNAL: Optional[int] = getattr(signal, SIGNALS["mainLaneStop"], None)


def available() -> Tuple[bool, str]:
    """(True, "") where a signal can be aimed at the main thread (POSIX), else (False, why)."""
    if DEFAULT_SIGNAL is None or not hasattr(signal, "pthread_kill"):
        return False, "needs POSIX signals (%s and signal.pthread_kill)" % SIGNALS["mainLaneStop"]
    return True, ""


class MainSignalStop:
    """install() once on the main thread; wrap each main-thread task in running(); request_stop() from anywhere
    (the main kind's `signal` step re-delivers it through pyleash.stop.redeliver until the task has ended).

    The handler raises only while a task runs and a stop was requested, once per request, so a stray
    signal between tasks does nothing. A blocking syscall interrupted by the signal is retried by
    CPython (PEP 475) unless the handler raises, which it does, so time.sleep, Lock.acquire,
    queue.Queue.get, socket.recv and subprocess waits all end with TaskStopped.

    Children: subprocess.run() kills and reaps its child when anything interrupts it. A task that
    waits on a Popen itself must kill it in its own finally (or `with Popen(...)`, whose exit waits
    but does not kill), otherwise the child outlives the stop.

    A stop requested as the task returns can still raise in the caller's code between the task's end
    and running()'s exit: treat TaskStopped from the whole `with self.running(): ...` as the outcome.
    """

    def __init__(self, signum: Optional[int] = DEFAULT_SIGNAL) -> None:
        if signum is None:
            raise RuntimeError(available()[1])
        self.signum = signum
        self.raised = 0  # TaskStopped raised by the handler so far
        self._running = False
        self._requested = False
        self._idle = threading.Event()
        self._idle.set()
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        """On the main thread (signal.signal requires it): take over the signal."""
        self._previous = signal.signal(self.signum, self._handler)
        self._installed = True

    def uninstall(self) -> None:
        """On the main thread: give the signal back to its previous handler."""
        if self._installed:
            signal.signal(self.signum, self._previous if self._previous is not None else signal.SIG_DFL)
            self._installed = False

    def begin(self) -> None:
        """On the main thread, right before the task runs."""
        self._requested = False
        self._idle.clear()
        self._running = True

    def end(self) -> None:
        """On the main thread, first thing after the task ends (also after TaskStopped)."""
        self._running = False
        self._requested = False
        self._idle.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.end()

    def request_stop(self) -> bool:
        """From any thread: ask the running task to stop; False when no task runs or not installed."""
        if not (self._installed and self._running):
            return False
        self._requested = True
        main = threading.main_thread().ident
        # pthread_kill, not os.kill: the kernel may hand a process-directed signal to any thread, and
        # then the main thread's blocking call gets no EINTR and the Python handler waits for it.
        signal.pthread_kill(main, self.signum)  # type: ignore[arg-type]
        return True

    def _handler(self, signum: int, frame: Optional[FrameType]) -> None:
        if self._running and self._requested:
            self._requested = False
            self.raised += 1
            raise TaskStopped()
