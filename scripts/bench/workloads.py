"""Python work for the benchmark (scripts/bench is put on the worker's pythonPath): fixed-time loops and pool swaps."""
from __future__ import annotations

import gc
import time
from typing import Any, Dict


def count_for(seconds: float) -> int:
    """Pure-Python arithmetic for `seconds`; returns the iterations done (the clock is read every 1 000)."""
    n = 0
    end = time.perf_counter() + seconds
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


def use_pool(which: str) -> Dict[str, Any]:
    """Give the agent a fresh call pool, `before` (the old one) or `after` (pyleash.pool); close the old one.

    The swap happens on a thread of the old pool; the control thread reads agent.pool on every call, so the
    next call goes to the new pool.
    """
    from pyleash.control import Agent

    if which == "before":
        from pool_before import CallPool
    elif which == "after":
        from pyleash.pool import CallPool
    else:
        raise ValueError("expected 'before' or 'after', got %r" % (which,))
    agents = [o for o in gc.get_objects() if isinstance(o, Agent)]
    if len(agents) != 1:
        raise RuntimeError("expected one pyleash Agent in this process, found %d" % len(agents))
    old, agents[0].pool = agents[0].pool, CallPool()
    old.close()
    return {"pool": which}


def pool_threads() -> int:
    """Threads of the agent's current call pool."""
    from pyleash.control import Agent

    agent = next(o for o in gc.get_objects() if isinstance(o, Agent))
    return agent.pool.threads
