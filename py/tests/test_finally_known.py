"""finallyRan says only what is known: a stop's exception that left a `try` without running its `finally` (CPython
3.13.0, a `while <condition>:` opening the try) is never reported as having run it."""
from __future__ import annotations

import threading
import unittest
from typing import Callable, List, Optional, Tuple

from pyleash.deliveries import TaskStopped
from pyleash.stop.async_exc import async_raise
from pyleash.stop.finally_known import finally_ran, skips_finally


def _stop_in_thread(shape: Callable[[threading.Event, List[bool]], None]) -> Tuple[bool, Optional[BaseException]]:
    """Run `shape` in a thread, stop it with an asynchronous TaskStopped; (its finally ran, the exception)."""
    ran: List[bool] = []
    spinning = threading.Event()
    caught: List[BaseException] = []

    def runner() -> None:
        try:
            shape(spinning, ran)
        except TaskStopped as exc:
            caught.append(exc)

    thread = threading.Thread(target=runner)
    thread.start()
    assert spinning.wait(10)
    async_raise(thread.ident, TaskStopped)  # type: ignore[arg-type]
    thread.join(10)
    assert not thread.is_alive()
    return bool(ran), caught[0] if caught else None


def _condition_loop(spinning: threading.Event, ran: List[bool]) -> None:
    n = 0
    try:
        spinning.set()
        while n >= 0:
            n += 1
    finally:
        ran.append(True)


def _true_loop(spinning: threading.Event, ran: List[bool]) -> None:
    n = 0
    try:
        spinning.set()
        while True:
            n += 1
    finally:
        ran.append(True)


class FinallyKnownTest(unittest.TestCase):
    def test_a_finally_the_stop_skipped_is_never_reported_as_run(self) -> None:
        for _ in range(3):
            ran, exc = _stop_in_thread(_condition_loop)
            assert exc is not None
            if not ran:
                self.assertIsNone(finally_ran(exc))
                self.assertTrue(skips_finally())
            else:
                self.assertTrue(finally_ran(exc))

    def test_a_finally_that_ran_is_reported_as_run(self) -> None:
        ran, exc = _stop_in_thread(_true_loop)
        assert exc is not None
        self.assertTrue(ran)
        self.assertTrue(finally_ran(exc))

    def test_an_exception_raised_in_a_function_without_a_try_unwound_it(self) -> None:
        def plain() -> None:
            raise TaskStopped()

        try:
            plain()
        except TaskStopped as exc:
            self.assertTrue(finally_ran(exc))


if __name__ == "__main__":
    unittest.main()
