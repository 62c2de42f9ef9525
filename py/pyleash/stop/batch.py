"""Many stops in one pass: one pyleash-stops thread walks every pending in-thread ladder (flag, async-exc).

A ladder per stop, each on a thread of its own, makes 100 stops of spinning tasks 100 more threads racing the
spinners (and one another) for the GIL. The walker instead takes each turn it gets on the GIL to step every
pending stop: escalate the ones whose grace is over, deliver again to the ones that swallowed, conclude the ones
past their deadline. It sleeps until the next of those is due: under contention every wake-up is one more thread
waiting for the GIL, and each wait for it costs about one turn of every busy thread. The task's own thread still
answers as it ends (StopRun.answer_on_end).
Owned by the walker thread: each Pass; shared under _lock: the list of stops handed over.
"""
from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List

from pyleash.switching import fast_switching, long_turn, LONG_TURN_MIN
from pyleash.threads import start_soon

if TYPE_CHECKING:
    from pyleash.stop.ladder import StopRun

BATCHED_STEPS = ("flag", "async-exc")  # the steps a pass can take without waiting

_lock = threading.Lock()
_pending: List["StopRun"] = []  # handed over, not yet taken by the walker
_walking = False
_next_pass = math.inf  # when the walker, asleep, next looks at its stops (under _lock)
_wake = threading.Event()
_batchable: Dict[Any, bool] = {}  # (kind, plan) -> whether the walker carries it


def batchable(run: "StopRun") -> bool:
    """Whether the walker can carry this stop: its every step is an in-thread one it takes without waiting."""
    if run.task.ident is None:
        return False
    key = (run.kind, tuple(run.plan))
    fits = _batchable.get(key)
    if fits is None:
        fits = _batchable[key] = all(s in BATCHED_STEPS and run.kind.step(s) is None for s in run.plan)
    return fits


def hand_over(run: "StopRun") -> None:
    """From the control thread, after run.begin(): the walker carries the stop on (started if idle). The walker is
    woken only when the stop needs it before its next pass: 100 stops in one message wake it once, if at all (a
    thread that wakes competes for the GIL with the control thread, which has 99 more stops to begin)."""
    global _walking
    with _lock:
        _pending.append(run)
        start = not _walking
        wake = not start and run.first_tick() < _next_pass
        _walking = True
    if wake:
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
    with fast_switching():
        _walk_on()


def _walk_on() -> None:
    global _walking, _next_pass
    runs: List["StopRun"] = []
    while True:
        _wake.clear()
        with _lock:
            runs.extend(_pending)
            del _pending[:]
            if not runs:
                _walking = False
                _next_pass = math.inf
                return
        now = time.perf_counter()
        kept: List["StopRun"] = []
        next_pass = math.inf
        with long_turn(len(runs) >= LONG_TURN_MIN):  # the pass in one turn on the GIL (pyleash.switching)
            for run in runs:
                at = run.tick(now)
                if at is not None:
                    kept.append(run)
                    next_pass = min(next_pass, at)
        runs = kept
        with _lock:
            if _pending or not runs:
                continue  # take the new ones (or leave) at once
            _next_pass = next_pass
        _wake.wait(max(0.0, next_pass - time.perf_counter()))
