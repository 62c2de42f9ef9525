"""Tasks that run on the agent's main thread, one at a time, where signal handlers run."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Optional

from pyleash.main_lane import MainLane
import pyleash.stop.rearm as rearm
from pyleash.stop.signal_main import MainSignalStop, available
from pyleash.stop.steps import KindStep
from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, Task, body, run

if TYPE_CHECKING:
    from pyleash.stop.stoppable import Run, StopStep


class MainKind(Kind["Task"]):
    """Owns the main lane (run by the agent's main thread) and the `signal` strategy's handler."""

    name = "main"
    own_thread = False  # the main thread outlives its tasks
    withholds = True  # a task queued behind another can be stopped before it begins

    def __init__(self) -> None:
        super().__init__()
        self.lane = MainLane()
        self.signal: Optional[MainSignalStop] = MainSignalStop() if available()[0] else None

    def install(self) -> None:
        """On the main thread, at boot: only the main thread may set a signal handler."""
        if self.signal is not None:
            self.signal.install()

    def start(self, task: Task, emit: Emit) -> None:
        task.thread = threading.main_thread()
        self.lane.submit(self._run, task, emit)

    def unavailable(self, strategy: str) -> Optional[str]:
        return available()[1] if strategy == "signal" and self.signal is None else None

    def step(self, strategy: str) -> Optional[StopStep]:
        return KindStep("signal", self._signal) if strategy == "signal" else None

    def _run(self, task: Task, emit: Emit) -> None:
        if self.signal is None:
            run(task, emit, body)
            return
        # The handler is armed before the started event leaves, so a stop that follows it always lands.
        with self.signal.running():
            run(task, emit, body)

    def _signal(self, stop: Run, until: float) -> None:
        signal = self.signal
        assert signal is not None  # unavailable() refused the strategy otherwise
        ident = stop.task.ident

        def inject() -> bool:
            # The line hook of pyleash.stop.rearm, as async-exc has: a handler that swallows the signal's
            # TaskStopped gets it again at its next line. Without it, a loop whose try holds a call is out of
            # reach on 3.10, where the handler runs at the call's entry, inside the try, every time.
            if ident is not None:
                rearm.arm(ident)
            return signal.request_stop()

        stop.deliver(until, inject)
