"""A one-shot event for a task's own milestones (started, ended, reported): set once, never cleared.

threading.Event builds a Condition around a Lock in Python on every construction; a task record made per stoppable
call needs three of them, which cost more than the rest of a short call's bookkeeping. A Latch is one C lock, held
from birth and released by set(): is_set() reads a bool, wait() acquires and at once releases the lock.
"""
from __future__ import annotations

import _thread
from typing import Optional


class Latch:
    __slots__ = ("_done", "_lock")

    def __init__(self) -> None:
        self._done = False
        self._lock = _thread.allocate_lock()
        self._lock.acquire()

    def is_set(self) -> bool:
        return self._done

    def set(self) -> None:
        if self._done:
            return
        self._done = True  # before the release: a waiter that wakes sees it set
        try:
            self._lock.release()
        except RuntimeError:  # two threads set it at once: the other one released it
            pass

    def wait(self, timeout: Optional[float] = None) -> bool:
        """As threading.Event.wait: True once set, False if `timeout` (seconds) passed first."""
        if self._done:
            return True
        if self._lock.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            try:
                self._lock.release()  # for the next waiter
            except RuntimeError:  # a second set() released it under us: it is free either way
                pass
            return True
        return self._done
