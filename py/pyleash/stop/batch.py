"""Many stops in one pass: one pyleash-stops thread walks every pending in-thread ladder (flag, async-exc).

A ladder per stop, each on a thread of its own, makes 100 stops of spinning tasks 100 more threads racing the
spinners (and one another) for the GIL. The walker instead takes each turn it gets on the GIL to step every
pending stop: escalate the ones whose grace is over, deliver again to the ones that swallowed, conclude the ones
past their deadline. The task's own thread still answers as it ends (StopRun.answer_on_end).
Owned by the walker thread: each Pass; shared under _lock: the list of stops handed over.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, List

from pyleash.stop.redeliver import fast_switching
from pyleash.threads import start_soon

if TYPE_CHECKING:
    from pyleash.stop.ladder import StopRun

BATCHED_STEPS = ("flag", "async-exc")  # the steps a pass can take without waiting
NAP_S = 0.002  # between passes while stops are pending

_lock = threading.Lock()
_pending: List["StopRun"] = []  # handed over, not yet taken by the walker
_walking = False
_wake = threading.Event()


def batchable(run: "StopRun") -> bool:
    """Whether the walker can carry this stop: its every step is an in-thread one it takes without waiting."""
    return run.task.ident is not None and all(s in BATCHED_STEPS and run.kind.step(s) is None for s in run.plan)


def hand_over(run: "StopRun") -> None:
    """From the control thread, after run.begin(): the walker carries the stop on (started if idle)."""
    global _walking
    with _lock:
        _pending.append(run)
        start = not _walking
        _walking = True
    _wake.set()
    if start:
        start_soon(threading.Thread(target=_walk, name="pyleash-stops", daemon=True), _failed)


def _failed(exc: BaseException) -> None:
    """The walker could not start: every stop handed over gets the error as its answer."""
    global _walking
    with _lock:
        runs, _pending[:] = list(_pending), []
        _walking = False
    for run in runs:
        run.fail(exc)


def _walk() -> None:
    global _walking
    runs: List["StopRun"] = []
    with fast_switching():
        while True:
            _wake.clear()
            with _lock:
                runs.extend(_pending)
                del _pending[:]
                if not runs:
                    _walking = False
                    return
            now = time.perf_counter()
            runs = [run for run in runs if not run.tick(now)]
            if runs:
                _wake.wait(NAP_S)
