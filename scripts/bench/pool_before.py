"""The call pool as it was before the LIFO rewrite (commit 83e590f), kept so the bench can compare both in one run.

Unchanged but for close(): a None job makes a thread exit, so a swapped-out pool does not linger.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Tuple

Job = Tuple[Callable[..., Any], Tuple[Any, ...]]


class CallPool:
    """Threads named pyleash-call-N; daemons, so a stuck call never holds the agent's exit."""

    def __init__(self, max_threads: int = 64) -> None:
        self._jobs: "queue.SimpleQueue[Job]" = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _idle and _threads
        self._idle = 0
        self._threads = 0
        self._max = max_threads

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            grow = self._idle <= 0 and self._threads < self._max
            if grow:
                self._threads += 1
            else:
                self._idle -= 1  # claim an idle thread now, so two quick submits do not count it twice
        if grow:
            name = "pyleash-call-%d" % self._threads
            threading.Thread(target=self._run, args=((fn, args),), name=name, daemon=True).start()
        else:
            self._jobs.put((fn, args))

    def close(self) -> None:
        with self._lock:
            n = self._threads
        for _ in range(n):
            self._jobs.put(None)  # type: ignore[arg-type]

    def _run(self, job: Job) -> None:
        while True:
            if job is None:
                with self._lock:
                    self._threads -= 1
                return
            fn, args = job
            try:
                fn(*args)
            except BaseException:  # noqa: B902 - a job reports its own errors; the thread must survive
                pass
            job = None  # type: ignore[assignment]  (drop references before idling)
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
