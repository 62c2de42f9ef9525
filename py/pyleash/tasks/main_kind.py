"""Tasks that run on the agent's main thread, one at a time, where signal handlers run."""
from __future__ import annotations

import threading

from pyleash.main_lane import MainLane
from pyleash.stop.signal_main import MainSignalStop, available
from pyleash.tasks.task import Emit, Task, body, run

# The `signal` strategy's handler; installed by the agent at boot (only the main thread may install it).
MAIN_SIGNAL = MainSignalStop() if available()[0] else None


def install() -> None:
    if MAIN_SIGNAL is not None:
        MAIN_SIGNAL.install()


def start(task: Task, emit: Emit, lane: MainLane) -> None:
    task.thread = threading.main_thread()
    lane.submit(_signalled_run, task, emit)


def _signalled_run(task: Task, emit: Emit) -> None:
    if MAIN_SIGNAL is None:
        run(task, emit, lambda: body(task))
        return
    # The handler is armed before the started event leaves, so a stop that follows it always lands.
    with MAIN_SIGNAL.running():
        run(task, emit, lambda: body(task))
