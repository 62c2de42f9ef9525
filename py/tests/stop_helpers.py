"""Shared fixtures for the stop tests: workers that report how they ended and always clean up."""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable, List, Optional

from pyleash.errors import TaskStopped

JOIN_S = 10.0  # generous: the machine is shared and noisy


class Worker:
    """A daemon thread running body(self); its loops poll self.quit so tearDown can always end them."""

    def __init__(self, body: Callable[["Worker"], Any], setup: Optional[Callable[[], Any]] = None) -> None:
        self.body = body
        self.setup = setup  # runs in the thread before the body (e.g. TraceKill.install)
        self.quit = False
        self.started = threading.Event()  # the body sets it once it is where the test wants it
        self.outcome: Optional[str] = None
        self.swallowed: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            if self.setup is not None:
                self.setup()
            self.body(self)
            self.outcome = "returned"
        except TaskStopped:
            self.outcome = "stopped"

    def start(self) -> "Worker":
        self.thread.start()
        if not self.started.wait(JOIN_S):
            raise AssertionError("worker never reached its blocking point")
        return self

    def finish(self) -> None:
        self.quit = True
        self.thread.join(JOIN_S)
        if self.thread.is_alive():
            raise AssertionError("worker thread left behind")


def spin(w: Worker) -> None:
    """A pure-Python loop over several lines."""
    w.started.set()
    x = 0
    while not w.quit:
        x += 1
        x -= 1


def spin_one_line(w: Worker) -> None:
    """A loop on one line: no LINE event per iteration on 3.12+, no trace 'line' event on 3.10/3.11."""
    w.started.set()
    while not w.quit: pass  # noqa: E701


def retry_three_times(w: Worker) -> None:
    """Swallows TaskStopped with a bare except and starts over, three times, then returns."""
    for _ in range(3):
        try:
            spin(w)
        except:  # noqa: E722 - the point of the fixture
            w.swallowed.append(sys.exc_info()[1])  # type: ignore[arg-type]
