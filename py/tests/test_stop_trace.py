"""TraceKill: article 003's settrace kill, and its limits."""
from __future__ import annotations

import sys
import threading
import unittest

from pyleash.stop.trace import TraceKill
from tests.stop_helpers import JOIN_S, Worker, retry_three_times, spin


class TraceKillTest(unittest.TestCase):
    def test_stops_a_busy_loop(self) -> None:
        kill = TraceKill()
        worker = Worker(spin, setup=kill.install).start()
        try:
            result = kill.stop(worker.thread, deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertTrue(result["stopped"], result)
        self.assertEqual(result["delivered"], 1)
        self.assertEqual(worker.outcome, "stopped")
        self.assertTrue(kill.spent)

    def test_one_shot_a_swallowed_kill_is_final(self) -> None:
        kill = TraceKill()
        worker = Worker(retry_three_times, setup=kill.install).start()
        try:
            result = kill.stop(worker.thread, deadline_s=1.0, grace_s=0.05)
            self.assertFalse(result["stopped"], result)  # CPython dropped the trace after it raised
            self.assertEqual((result["delivered"], result["swallowed"]), (1, 1))
            self.assertTrue(kill.spent)
        finally:
            worker.finish()
        self.assertEqual(worker.outcome, "returned")

    def test_uninstall_after_kill_does_not_raise(self) -> None:
        done = []

        def body() -> None:
            kill = TraceKill()
            kill.install()
            kill.kill()
            kill.uninstall()  # this frame started before install(): it is not traced
            done.append(sys.gettrace())

        t = threading.Thread(target=body)
        t.start()
        t.join(JOIN_S)
        self.assertEqual(done, [None])

    def test_stop_needs_install_in_that_thread(self) -> None:
        with self.assertRaises(ValueError):
            TraceKill().stop(threading.current_thread(), 1.0)


if __name__ == "__main__":
    unittest.main()
