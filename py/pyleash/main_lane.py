"""The main lane: work that must run on the main thread, where CPython delivers signals."""
from __future__ import annotations

import queue
from typing import Any, Callable, Tuple

Job = Tuple[Callable[..., Any], Tuple[Any, ...]]


class MainLane:
    """Runs jobs one at a time on the thread that calls run(); jobs queue behind each other."""

    def __init__(self) -> None:
        self._jobs: "queue.Queue[Job]" = queue.Queue()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._jobs.put((fn, args))

    def run(self) -> None:
        while True:
            self.run_one()

    def run_one(self) -> None:
        """Wait for the next job and run it."""
        try:
            fn, args = self._jobs.get()
            fn(*args)
        except BaseException:  # noqa: BLE001 - jobs report their own errors; a late stop signal lands here
            pass
