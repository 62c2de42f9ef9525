"""async_raise / stop_thread, and the TaskStopped delivery registry."""
from __future__ import annotations

import sys
import threading
import time
import unittest

from pyleash import errors
from pyleash.errors import TaskStopped
from pyleash.stop import fast_switching
from pyleash.stop.async_exc import async_raise, stop_thread
from tests.stop_helpers import JOIN_S, Worker, retry_three_times, spin


class TaskStoppedTest(unittest.TestCase):
    def test_is_not_an_exception(self) -> None:
        self.assertTrue(issubclass(TaskStopped, BaseException))
        self.assertFalse(issubclass(TaskStopped, Exception))

    def test_instances_are_counted_per_thread(self) -> None:
        seen = {}

        def make() -> None:
            ident = threading.get_ident()
            event = errors.delivery_event(ident)
            TaskStopped()
            TaskStopped("again")
            seen.update(ident=ident, count=errors.deliveries(ident), set=event.is_set())

        t = threading.Thread(target=make)
        t.start()
        t.join(JOIN_S)
        self.assertEqual(seen["count"], 2)
        self.assertTrue(seen["set"])
        self.assertIsNotNone(errors.last_delivery(seen["ident"]))
        errors.forget(seen["ident"])
        self.assertEqual(errors.deliveries(seen["ident"]), 0)


class AsyncRaiseTest(unittest.TestCase):
    def setUp(self) -> None:
        self.worker = Worker(spin).start()

    def tearDown(self) -> None:
        self.worker.finish()

    def test_kills_a_pure_python_loop(self) -> None:
        result = stop_thread(self.worker.thread, deadline_s=JOIN_S)
        self.assertTrue(result["stopped"], result)
        self.assertEqual(result["delivered"], 1)
        self.assertEqual(result["swallowed"], 0)
        self.assertFalse(result["pending"])
        self.assertGreater(result["latency_s"], 0)
        self.assertEqual(self.worker.outcome, "stopped")

    def test_rejects_an_instance(self) -> None:
        with self.assertRaises(TypeError):
            async_raise(self.worker.thread.ident, TaskStopped())  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            async_raise(self.worker.thread.ident, int)

    def test_rejects_an_unknown_id(self) -> None:
        for bad in (1, 0, -5):  # 1 is no pthread_t; 0 and negatives never reach C
            with self.assertRaises(ValueError):
                async_raise(bad, TaskStopped)

    def test_raw_async_raise_of_any_class(self) -> None:
        got = []

        def body() -> None:
            try:
                while True:
                    time.sleep(0)
            except KeyError as exc:
                got.append(exc)

        t = threading.Thread(target=body)
        t.start()
        async_raise(t.ident, KeyError)  # type: ignore[arg-type]
        t.join(JOIN_S)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(got[0], KeyError)


class SwallowAndSleepTest(unittest.TestCase):
    def test_swallowed_deliveries_are_re_raised(self) -> None:
        worker = Worker(retry_three_times).start()
        try:
            result = stop_thread(worker.thread, deadline_s=JOIN_S, grace_s=0.05)
        finally:
            worker.finish()
        self.assertTrue(result["stopped"], result)
        self.assertGreaterEqual(result["swallowed"], 1)
        self.assertEqual(result["delivered"], len(worker.swallowed))
        self.assertEqual(result["swallowed"], result["delivered"] - 1)
        self.assertTrue(all(isinstance(e, TaskStopped) for e in worker.swallowed))

    def _sleeper(self, seconds: float) -> Worker:
        def body(w: Worker) -> None:
            w.started.set()
            time.sleep(seconds)  # a real C sleep: no eval-loop check until it returns

        return Worker(body).start()

    def test_sleep_is_pending_then_fires_on_return(self) -> None:
        worker = self._sleeper(2.0)
        result = stop_thread(worker.thread, deadline_s=0.5)
        self.assertFalse(result["stopped"], result)
        self.assertTrue(result["pending"])
        self.assertEqual(result["delivered"], 0)
        self.assertFalse(result["revoked"])
        worker.finish()  # the armed exception fires when the sleep returns
        self.assertEqual(worker.outcome, "stopped")

    def test_pending_can_be_revoked(self) -> None:
        worker = self._sleeper(1.5)
        result = stop_thread(worker.thread, deadline_s=0.3, revoke_pending=True)
        self.assertFalse(result["stopped"], result)
        self.assertTrue(result["revoked"])
        worker.finish()
        self.assertEqual(worker.outcome, "returned")

    def test_a_finished_thread_is_stopped_without_delivery(self) -> None:
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join(JOIN_S)
        result = stop_thread(t, deadline_s=1.0)
        self.assertTrue(result["stopped"])
        self.assertEqual((result["delivered"], result["injections"]), (0, 0))

    def test_stop_thread_needs_taskstopped(self) -> None:
        with self.assertRaises(TypeError):
            stop_thread(threading.current_thread(), 1.0, exc_type=SystemExit)


class FastSwitchingTest(unittest.TestCase):
    def test_nested_use_restores_the_interval(self) -> None:
        before = sys.getswitchinterval()
        with fast_switching(0.001):
            self.assertLessEqual(sys.getswitchinterval(), 0.0011)
            with fast_switching(0.002):
                self.assertLessEqual(sys.getswitchinterval(), 0.0011)
            self.assertLessEqual(sys.getswitchinterval(), 0.0011)
        self.assertEqual(sys.getswitchinterval(), before)


if __name__ == "__main__":
    unittest.main()
