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


def count_to(n: int) -> int:
    """A fixed amount of pure-Python work (n iterations): its time grows when calls share one GIL, unlike count_for."""
    i = 0
    while i < n:
        i += 1
    return i


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


def _work() -> int:
    x = 0
    for i in range(1000):
        x += i
    return x


def swallow_loop() -> None:
    """A loop that swallows everything, TaskStopped included: `while True: try: work() except: pass`."""
    while True:
        try:
            _work()
        except:  # noqa: E722 - the point of the workload
            pass


def article_trace_count_for(seconds: float) -> int:
    """count_for under article 003's thread_with_trace, verbatim in effect: a global trace that hands every new
    frame a local trace, which checks a `killed` flag on every line (never set here). Run as a plain thread task."""
    import sys

    class ArticleTrace:
        killed = False

        def globaltrace(self, frame: Any, event: str, arg: Any) -> Any:
            if event == "call":
                return self.localtrace
            return None

        def localtrace(self, frame: Any, event: str, arg: Any) -> Any:
            if self.killed:
                if event == "line":
                    raise SystemExit()
            return self.localtrace

    sys.settrace(ArticleTrace().globaltrace)  # as the article's __run does, before calling the function
    try:
        return _traced(count_for, seconds)
    finally:
        sys.settrace(None)


def _traced(fn: Any, *args: Any) -> Any:
    return fn(*args)  # a new frame: the article traces frames started after settrace


def echo(value: Any) -> Any:
    """The argument, returned as it came: a round trip of its bytes (the bytesRoundTrip section)."""
    return value


def echo_base64(text: str) -> str:
    """The same bytes as base64 text inside the JSON: decoded to bytes, encoded back, as a JSON-only bridge must."""
    import base64

    return base64.b64encode(base64.b64decode(text)).decode("ascii")


def pythonia_bytes(value: Any) -> list:
    """pythonia's way: a Buffer reaches Python as its toJSON form, {"type": "Buffer", "data": [ints]}, and bytes
    cannot come back as bytes (a bytes result is a proxy that JSON cannot serialise), so they return as a list of ints."""
    return list(bytes(value["data"]))


def started_then_sleep(seconds: float) -> None:
    """One progress update (the caller's "it has started"), then time.sleep(seconds): the ray section's blocked call."""
    import pyleash

    pyleash.progress(0, 1, "started")
    time.sleep(seconds)
