"""Stop whatever the main thread runs now (an attached agent's host loop) with the main lane's signal."""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Callable, Optional, Type

from pyleash.stop.signal_main import MainSignalStop

RAISE, DEFER, DROP = "raise", "defer", "drop"
Verdict = Callable[[Optional[FrameType], Any], str]  # verdict(frame the handler interrupted, target): RAISE|DEFER|DROP


class CurrentWorkSignalStop(MainSignalStop):
    """MainSignalStop's signal and handler, aimed at the host's work in progress instead of a main-lane task.

    request_stop(target) asks for `exception` in the main thread while `target` (the host's frame for the work, e.g.
    pythonia's dispatch of one call) is on its stack. The handler asks `verdict` where it landed: RAISE there;
    DROP the request when the target has left (the work ended first: the next one must not pay for it); DEFER at
    a spot the host would not survive (it writing its reply), leaving the request pending for the stopper to
    signal again. Only the main thread may install() it, as for MainSignalStop.
    """

    def __init__(self, verdict: Verdict, exception: Type[BaseException]) -> None:
        super().__init__()
        self._verdict = verdict
        self._exception = exception
        self._target: Any = None
        self.deferred = 0  # signals that landed where raising was unsafe

    @property
    def pending(self) -> bool:
        """A request the handler has neither raised nor dropped yet."""
        return self._requested

    def request_stop(self, target: Any = None) -> bool:
        """From any thread: ask for the exception while `target` runs; False if not installed."""
        if not self._installed:
            return False
        self._target = target
        self._requested = True
        signal.pthread_kill(threading.main_thread().ident, self.signum)  # type: ignore[arg-type]
        return True

    def resignal(self) -> None:
        """Signal again for the pending request (the handler deferred it, or a C call swallowed the EINTR)."""
        if self._installed and self._requested:
            signal.pthread_kill(threading.main_thread().ident, self.signum)  # type: ignore[arg-type]

    def cancel(self) -> None:
        """Withdraw the request: a signal still in flight then does nothing."""
        self._requested = False
        self._target = None

    def _handler(self, signum: int, frame: Optional[FrameType]) -> None:
        if not self._requested:
            return
        verdict = self._verdict(frame, self._target)
        if verdict == DROP:
            self.cancel()
        elif verdict == DEFER:
            self.deferred += 1
        else:
            self._requested = False
            self.raised += 1
            raise self._exception()
