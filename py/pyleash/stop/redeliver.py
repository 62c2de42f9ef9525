"""Re-delivery: run_stop delivers TaskStopped by a strategy's inject() again after each swallowed one, until the end."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

from pyleash import deliveries
from pyleash.switching import FAST_SWITCH_S, fast_switching

GRACE_S = 0.1  # after a delivery the target may unwind this long before it counts as having swallowed it


def prime(ident: int, inject: Callable[[], bool]) -> Optional[int]:
    """Make run_stop's first injection now (on the thread that got the request, sparing a thread start
    under GIL contention); pass the result as run_stop(primed=...). None if inject() found nothing to arm."""
    deliveries.delivery_event(ident).clear()
    base = deliveries.deliveries(ident)
    return base if inject() else None


def run_stop(
    ident: int,
    inject: Callable[[], bool],
    alive: Callable[[], bool],
    wait_dead: Callable[[float], Any],
    deadline_s: float,
    grace_s: float = GRACE_S,
    switch_s: Optional[float] = FAST_SWITCH_S,
    primed: Optional[int] = None,
) -> Dict[str, Any]:
    """Deliver TaskStopped to thread `ident` via `inject` until `alive()` is False or the deadline passes.

    inject() arms one TaskStopped (False: nothing armed, the target is leaving or cannot take one yet: tried
    again after a nap); a delivery is seen
    through pyleash.deliveries; wait_dead(timeout) blocks until the target ends or the timeout. A target
    still alive `grace_s` after a delivery swallowed it and gets another one.

    Returns {"stopped", "delivered", "swallowed", "latency_s", "pending", "injections"}: latency_s runs from
    the call to the observed end (to the give-up time if not stopped); pending means the latest injection
    was never delivered (the target sits outside the interpreter, e.g. in time.sleep). stopped with
    delivered == 0 means the target ended without receiving anything (it finished on its own).
    `primed` is what prime() returned for a first injection made earlier: it is waited on, not repeated.
    """
    t0 = time.perf_counter()
    end = t0 + deadline_s
    event = deliveries.delivery_event(ident)
    first = deliveries.deliveries(ident) if primed is None else primed
    injections = 0 if primed is None else 1
    base = primed  # delivery count when the latest injection was armed; None: none waiting
    nap = 0.001
    with fast_switching(switch_s):
        while alive():
            now = time.perf_counter()
            if now >= end:
                break
            if base is None:
                event.clear()
                base = deliveries.deliveries(ident)
                if not inject():  # nothing armed: its thread is leaving, or has a new thread not yet running
                    base = None
                    wait_dead(min(nap, end - now))
                    nap = min(nap * 2, 0.05)
                    continue
                injections += 1
                nap = 0.001
                continue
            if deliveries.deliveries(ident) == base:
                # The event wakes us on delivery at once; only an end without delivery waits out the nap.
                event.wait(min(nap, end - now))
                nap = min(nap * 2, 0.05)
                continue
            since = now - (deliveries.last_delivery(ident) or now)
            if since < grace_s:
                wait_dead(min(grace_s - since, end - now))
                continue
            base = None  # delivered, yet alive after the grace: swallowed; arm another
        stopped = not alive()
        latency = time.perf_counter() - t0
    count = deliveries.deliveries(ident)
    delivered = count - first
    if stopped:
        deliveries.forget(ident)  # the ident may be reused by a new thread
    return {
        "stopped": stopped,
        "delivered": delivered,
        "swallowed": delivered - 1 if stopped and delivered else delivered,
        "latency_s": latency,
        "pending": not stopped and base is not None and count == base,
        "injections": injections,
    }
