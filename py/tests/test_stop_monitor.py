"""MonitorKill: the sys.monitoring (3.12+) stop through the ladder's `monitor` step, and its unavailability below."""
from __future__ import annotations

import sys
import unittest

from pyleash.stop import monitor
from pyleash.stop.monitor import MonitorKill
from tests.stop_helpers import JOIN_S, TaskWorker, retry_three_times, spin, spin_one_line

HAVE = sys.version_info >= (3, 12)


class UnavailableTest(unittest.TestCase):
    @unittest.skipIf(HAVE, "sys.monitoring exists here")
    def test_reports_why(self) -> None:
        ok, why = monitor.available()
        self.assertFalse(ok)
        self.assertIn("3.12", why)
        self.assertIn(sys.version.split()[0], why)
        with self.assertRaises(RuntimeError):
            MonitorKill().arm(1)

    @unittest.skipIf(HAVE, "sys.monitoring exists here")
    def test_a_stop_says_why(self) -> None:
        worker = TaskWorker(spin).start()
        try:
            report = worker.stop("monitor", deadline_s=1.0)
        finally:
            worker.finish()
        self.assertEqual(report["outcome"], "unavailable", report)
        self.assertIn("3.12", report["reason"])


@unittest.skipUnless(HAVE, "sys.monitoring needs 3.12+")
class MonitorKillTest(unittest.TestCase):
    def _stop(self, body):  # type: ignore[no-untyped-def]
        worker = TaskWorker(body).start()
        try:
            report = worker.stop("monitor", deadline_s=JOIN_S)
        finally:
            worker.finish()
        return report, worker

    def _assert_tools_free(self) -> None:
        self.assertTrue(all(sys.monitoring.get_tool(i) is None for i in range(6)))

    def test_available(self) -> None:
        self.assertEqual(monitor.available(), (True, ""))

    def test_stops_a_busy_loop_and_frees_the_tool(self) -> None:
        report, worker = self._stop(spin)
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.delivered, 1)
        self.assertEqual(worker.outcome, "stopped")
        self._assert_tools_free()

    def test_stops_a_one_line_loop(self) -> None:
        report, worker = self._stop(spin_one_line)  # JUMP then INSTRUCTION: no LINE event here
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.outcome, "stopped")

    def test_re_fires_after_a_swallow(self) -> None:
        report, worker = self._stop(retry_three_times)
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertGreaterEqual(report["swallowed"], 1)
        self.assertEqual(len(worker.swallowed), 3)
        self._assert_tools_free()

    def test_takes_another_id_when_one_is_used(self) -> None:
        sys.monitoring.use_tool_id(4, "someone-else")
        try:
            kill = MonitorKill()
            self.assertEqual(kill.arm(12345), 3)
            kill.disarm()
            kill.disarm()  # idempotent
            self.assertEqual(sys.monitoring.get_tool(4), "someone-else")
            self.assertIsNone(sys.monitoring.get_tool(3))
        finally:
            sys.monitoring.free_tool_id(4)


if __name__ == "__main__":
    unittest.main()
