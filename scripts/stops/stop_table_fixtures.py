"""The loops docs/stop-strategies.md's per-interpreter table is made of (scripts/stops/doc.mjs runs them as tasks)."""

from typing import List

finally_runs: List[int] = []


def _one() -> int:
    return 1


def calls_nothing() -> None:
    """A try body with no call and no jump: on 3.10 the back-edge lands on SETUP_FINALLY, which skips the check."""
    n = 0
    while True:
        try:
            n += 1
        except:  # noqa: E722 - the point: a bare except swallows the stop
            pass


def around_a_call() -> None:
    """A bare except around a call: a delivery usually lands inside the try."""
    n = 0
    while True:
        try:
            n += _one()
        except:  # noqa: E722 - the point
            pass


def nested() -> None:
    """`except BaseException` in an inner loop, inside an outer loop that swallows the escape too."""
    n = 0
    while True:
        try:
            while True:
                try:
                    n += _one()
                except BaseException:  # noqa: BLE001 - the point
                    pass
        except BaseException:  # noqa: BLE001
            pass


def loop_first_in_try() -> None:
    """A `while` loop as the first statement of a try: does its finally run when the stop lands on the back-edge?"""
    n = 0
    try:
        while True:
            n += 1
    finally:
        finally_runs.append(n)


def cond_loop_first_in_try() -> None:
    """The same with a condition on the loop (`while n >= 0:`), which puts a test at the loop's head."""
    n = 0
    try:
        while n >= 0:
            n += 1
    finally:
        finally_runs.append(n)


def finally_count() -> int:
    return len(finally_runs)
