"""The interpreter's switch interval, set in one place: stops' fast switching, and long turns on the GIL.

sys.setswitchinterval is one value for the whole process: how long a busy thread keeps the GIL while another waits.
Short (the agent's 0.2 ms, fast_switching) bounds how long a stopper waits for the GIL. But a thread with CPU work
to do then loses the GIL every 0.2 ms, and with N busy threads each loss costs it a round of N turns: beside 100
spinning tasks, a round took ~90 ms here, and the control loop's 100 stop beginnings (~25 µs of CPU each) took 8 s.
A long turn raises the interval while one thread does such work without blocking (the control loop beginning
the stops of one message, the stop walker's pass over its stops), so it does it in one turn, and lowers it again
before the thread blocks: a thread that waits for the GIL under a long interval waits N long turns. Its sends
wait for the turn's end (kept(): the caller sends them then, in one write); a lock another thread holds is not
waited for inside one (in_long_turn(): the caller tries again later).

A crowd of busy threads raises it too (crowd()). Every thread waiting for the GIL wakes once per interval to ask
for it, so N of them wake N / interval times a second: 100 spinning tasks at 0.2 ms made 500,000 wake-ups a second,
and beside 3 CPU hogs on 2 cores a ping then took 3.1 s and 100 serial task starts 82 s; at 2.5 ms, 68 ms and 29 s,
and the 100 tasks' stops all landed in 2.1 s instead of none within their 3 s deadline. Past CROWD_MIN busy threads
the interval is at least PER_BUSY_S per busy thread, which keeps the wake-ups near what CROWD_MIN threads make at
0.2 ms (up to CROWD_MAX_S, Python's own default: many of them may be asleep, not waiting); below, the configured
interval is left alone.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

FAST_SWITCH_S = 0.0002  # switch interval while a stop is under way (CPython's default is 0.005): see fast_switching
LONG_TURN_S = 0.002  # the interval of a long turn: ~80 stop beginnings (~25 µs each, uncontended) fit in one
LONG_TURN_MIN = 4  # stops a message (or a walker's pass) needs for a long turn: it costs about one round to begin
CROWD_MIN = 16  # busy threads (thread tasks running) the configured interval serves as it is
PER_BUSY_S = 0.000025  # past CROWD_MIN, the interval is at least this per busy thread (100 threads: 2.5 ms)
CROWD_MAX_S = 0.005  # ... but a crowd raises it no further than Python's own default (200 busy threads and more)

Flush = Callable[[List[Any]], None]

_lock = threading.Lock()
_fast: List[float] = []  # the intervals fast_switching users asked for
_long = 0  # threads in a long turn
_crowd = 0  # busy threads (crowd())
_base: Optional[float] = None  # the interval with no user, read when the first one comes


class _Turn(threading.local):
    kept: Optional[List[Tuple[Flush, Any]]] = None  # this thread's sends during its long turn


_turn = _Turn()


def _apply() -> None:
    """Under _lock: the interval the users ask for, or the one found before them."""
    global _base
    if _base is None:
        _base = sys.getswitchinterval()
    if _long:
        interval = max(LONG_TURN_S, _base)
    elif _fast:
        interval = min(min(_fast), _base)
    else:
        interval = _base
    if _crowd > CROWD_MIN:
        interval = max(interval, min(_crowd * PER_BUSY_S, CROWD_MAX_S))
    elif not (_long or _fast):  # no user left: the next one reads the interval afresh
        _base = None
    if sys.getswitchinterval() != interval:
        sys.setswitchinterval(interval)


def crowd(delta: int) -> None:
    """A busy thread begins (+1: a thread task starts) or ends (-1); see the module docstring."""
    global _crowd
    with _lock:
        was = _crowd > CROWD_MIN
        _crowd += delta
        if was or _crowd > CROWD_MIN:
            _apply()


def busy() -> int:
    return _crowd


@contextlib.contextmanager
def fast_switching(interval: Optional[float] = FAST_SWITCH_S) -> Iterator[None]:
    """Lower the switch interval to `interval` (at most) for the duration, then restore it; nesting- and thread-safe.

    With CPU-bound threads running, both the target (to take the pending exception) and the stopper (to see the
    death) wait for the GIL; the holder only drops it after a full switch interval. None leaves it alone."""
    if interval is None:
        yield
        return
    with _lock:
        _fast.append(interval)
        _apply()
    try:
        yield
    finally:
        with _lock:
            _fast.remove(interval)
            _apply()


@contextlib.contextmanager
def long_turn(enter: bool = True) -> Iterator[None]:
    """This thread keeps the GIL for up to LONG_TURN_S at a time for the duration; its sends (kept()) leave at the
    end, after the interval is back, each flushed in order in one call per run of the same flush. Nested: the
    outer one rules. `enter` False: nothing changes (a caller with too little work for a long turn)."""
    global _long
    if not enter or _turn.kept is not None:
        yield
        return
    kept: List[Tuple[Flush, Any]] = []
    _turn.kept = kept
    with _lock:
        _long += 1
        _apply()
    try:
        yield
    finally:
        with _lock:
            _long -= 1
            _apply()
        _turn.kept = None
        _flush(kept)


def in_long_turn() -> bool:
    return _turn.kept is not None


def kept(flush: Flush, messages: List[Any]) -> bool:
    """In a long turn: keep `messages` for flush(list) at its end, and True; else False (send them now)."""
    held = _turn.kept
    if held is None:
        return False
    held.extend((flush, message) for message in messages)
    return True


def _flush(kept: List[Tuple[Flush, Any]]) -> None:
    i = 0
    while i < len(kept):
        flush = kept[i][0]
        j = i
        while j < len(kept) and kept[j][0] == flush:  # bound methods: equal, not the same object
            j += 1
        flush([message for _, message in kept[i:j]])
        i = j
