"""TraceKill: article 003's settrace kill and its limits, through the ladder's `trace` step on a real thread task."""
from __future__ import annotations

import sys
import threading
import unittest

from pyleash.stop.trace import TraceKill
from tests.stop_helpers import JOIN_S, TaskWorker, retry_three_times, spin


def _callee_trace() -> object:
    return sys._getframe().f_trace


class TraceKillTest(unittest.TestCase):
    def test_stops_a_busy_loop(self) -> None:
        worker = TaskWorker(spin, trace=True).start()
        try:
            report = worker.stop("trace", deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.delivered, 1)
        self.assertEqual(report["swallowed"], 0)
        self.assertEqual(worker.outcome, "stopped")
        self.assertTrue(worker.task.tracer.spent)  # type: ignore[union-attr]

    def test_a_swallowed_kill_is_followed_by_the_line_hook(self) -> None:
        worker = TaskWorker(retry_three_times, trace=True).start()
        try:
            report = worker.stop("trace", deadline_s=JOIN_S)
        finally:
            worker.finish()
        # CPython dropped the trace that raised; the asynchronous delivery after it carried the hook, which
        # raised again at the first line after the swallowing handler.
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertGreaterEqual(report["swallowed"], 1, report)
        self.assertEqual(worker.outcome, "stopped")
        self.assertTrue(worker.task.tracer.spent)  # type: ignore[union-attr]

    def test_lines_cost_no_python_call_until_the_kill(self) -> None:
        seen = []

        def body() -> None:
            kill = TraceKill()
            kill.install()
            try:
                seen.append(sys._getframe().f_trace)
                seen.append(_callee_trace())
            finally:
                kill.uninstall()

        t = threading.Thread(target=body)
        t.start()
        t.join(JOIN_S)
        self.assertEqual(seen, [None, None])  # no local trace handed out before kill()

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

    def test_a_task_started_without_trace_gets_its_hook_at_the_stop(self) -> None:
        worker = TaskWorker(retry_three_times).start()  # no trace: true; nothing traced until the stop
        try:
            report = worker.stop("trace", deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.outcome, "stopped")  # not one-shot: the swallowed kill was renewed in the handler
        self.assertGreaterEqual(report["swallowed"], 1)
        self.assertIsNone(worker.task.tracer)

if __name__ == "__main__":
    unittest.main()
