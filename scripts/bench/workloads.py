"""Python work for the benchmark (scripts/bench is put on the worker's pythonPath): fixed-time loops."""
from __future__ import annotations

import time
from typing import Any


def count_for(seconds: float) -> int:
    """Pure-Python arithmetic for `seconds`; returns the iterations done (the clock is read every 1 000)."""
    n = 0
    end = time.perf_counter() + seconds
    while True:
        for _ in range(1000):
            n += 1
        if time.perf_counter() >= end:
            return n


def count_between(start: float, end: float) -> int:
    """count_for over a window of the agent's time.perf_counter(): sleeps until `start`, counts until `end`.
    Tasks started one after another then all count over the same interval, so their counts add up."""
    time.sleep(max(0.0, start - time.perf_counter()))
    n = 0
    while True:
        for _ in range(1000):
            n += 1
        if time.perf_counter() >= end:
            return n


def flag_loop(stop_event: Any) -> int:
    """A cooperative loop: checks its stop_event on every iteration, returns the iterations done."""
    n = 0
    while not stop_event.is_set():
        n += 1
    return n
