"""async_raise and the ladder's `async-exc` step on a real thread task, and the TaskStopped delivery registry."""
from __future__ import annotations

import sys
import threading
import time
import unittest
from typing import Any, Dict

from pyleash import deliveries
from pyleash.deliveries import TaskStopped
from pyleash.stop.async_exc import async_raise, revoke
from pyleash.switching import fast_switching
from pyleash.stop.ladder import StopRun
from pyleash.tasks.registry import KINDS
from pyleash.threads import start_thread, track_threading
from tests.stop_helpers import GRACE_S, JOIN_S, TaskWorker, Worker, retry_three_times, spin


class _Mine(Exception):
    """Raised only by these tests."""


class TaskStoppedTest(unittest.TestCase):
    def test_is_not_an_exception(self) -> None:
        self.assertTrue(issubclass(TaskStopped, BaseException))
        self.assertFalse(issubclass(TaskStopped, Exception))

    def test_instances_are_counted_per_thread(self) -> None:
        seen = {}

        def make() -> None:
            ident = threading.get_ident()
            event = deliveries.delivery_event(ident)
            base = deliveries.deliveries(ident)  # a reused ident may carry an earlier thread's count
            TaskStopped()
            TaskStopped("again")
            seen.update(ident=ident, count=deliveries.deliveries(ident) - base, set=event.is_set())

        t = threading.Thread(target=make)
        t.start()
        t.join(JOIN_S)
        self.assertEqual(seen["count"], 2)
        self.assertTrue(seen["set"])
        self.assertIsNotNone(deliveries.last_delivery(seen["ident"]))
        deliveries.forget(seen["ident"])
        self.assertEqual(deliveries.deliveries(seen["ident"]), 0)


class AsyncRaiseTest(unittest.TestCase):
    def setUp(self) -> None:
        self.worker = Worker(spin).start()

    def tearDown(self) -> None:
        self.worker.finish()

    def test_rejects_an_instance(self) -> None:
        with self.assertRaises(TypeError):
            async_raise(self.worker.thread.ident, TaskStopped())  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            async_raise(self.worker.thread.ident, int)

    def test_rejects_an_unknown_id(self) -> None:
        for bad in (1, 0, -5):  # 1 is no pthread_t; 0 and negatives never reach C
            with self.assertRaises(ValueError):
                async_raise(bad, TaskStopped)

    def test_never_lands_in_a_thread_the_target_has_just_started(self) -> None:
        # CPython 3.8-3.11 give a new thread's state its creator's id until it runs: armed then, the exception
        # would land in the child's first line (seen in 19 of 20 tries on 3.9 before async_raise looked for that).
        lost: list = []
        landed = {"target": 0, "child": 0}

        def child() -> None:
            try:
                time.sleep(0.01)
            except _Mine:
                landed["child"] += 1

        hook, sys.unraisablehook = sys.unraisablehook, lambda u: lost.append(u.exc_type)
        try:
            for _ in range(20):
                me = threading.get_ident()
                try:
                    start_thread(child)
                    give_up = time.monotonic() + JOIN_S
                    while not async_raise(me, _Mine) and time.monotonic() < give_up:
                        time.sleep(0.0005)  # its child is not running yet: ask again
                    while time.monotonic() < give_up + JOIN_S:
                        pass  # where it lands
                except _Mine:
                    landed["target"] += 1
            time.sleep(0.05)  # the last children end
        finally:
            sys.unraisablehook = hook
        self.assertEqual((landed, lost), ({"target": 20, "child": 0}, []))

    def test_never_lands_in_a_thread_its_target_starts_with_threading_in_an_agent(self) -> None:
        # The agent's process routes threading.Thread.start() through start_thread (track_threading): before, an
        # exception armed while the child had not run yet ended the child at its first line, and start() waited
        # for it for good.
        saved = getattr(threading, "_start_new_thread", None)
        lost: list = []
        landed = {"target": 0}
        quit_ = threading.Event()

        def starts_threads() -> None:
            while not quit_.is_set():
                try:
                    while not quit_.is_set():
                        threading.Thread(target=lambda: None, daemon=True).start()
                except _Mine:
                    landed["target"] += 1

        hook, sys.unraisablehook = sys.unraisablehook, lambda u: lost.append(u.exc_type)
        track_threading()
        try:
            target = threading.Thread(target=starts_threads, daemon=True)
            target.start()
            give_up = time.monotonic() + 10 * JOIN_S
            for n in range(1, 31):
                while not async_raise(target.ident, _Mine) and time.monotonic() < give_up:  # type: ignore[arg-type]
                    time.sleep(0.0005)
                while landed["target"] < n and not lost and time.monotonic() < give_up:
                    time.sleep(0.001)
            quit_.set()
            target.join(JOIN_S)
            self.assertEqual((landed, lost, target.is_alive()), ({"target": 30}, [], False))
        finally:
            quit_.set()
            threading._start_new_thread = saved  # type: ignore[attr-defined]
            sys.unraisablehook = hook

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


class AsyncExcStepTest(unittest.TestCase):
    """The path of a stop request with strategy `async-exc`."""

    def test_kills_a_pure_python_loop(self) -> None:
        worker = TaskWorker(spin).start()
        try:
            report = worker.stop("async-exc", deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.delivered, 1)
        self.assertEqual(report["swallowed"], 0)
        self.assertEqual(report["steps"], [{"strategy": "async-exc", "atMs": 0.0}])
        self.assertGreater(report["latencyMs"], 0)
        self.assertIs(report["finallyRan"], True)
        self.assertEqual(worker.outcome, "stopped")

    def test_a_walker_first_ticking_past_the_deadline_still_sends_the_exception(self) -> None:
        # The pyleash-stops walker, starved of the GIL by the task's own threads, may tick a run only after its
        # deadline: the report says blocked at it, and the exception goes all the same, so the task ends.
        worker = TaskWorker(spin).start()
        try:
            run = StopRun(worker.task, "auto", GRACE_S, 0.001, "late", worker.inbox)  # the flag first, then async-exc
            self.assertTrue(run.begin())
            at = run.tick(run.end + 0.01)
            for _ in range(500):  # ticked on, as the walker does, while the task ends (then its end answers)
                if at is None:
                    break
                time.sleep(0.01)
                at = run.tick(time.perf_counter())
            self.assertIsNone(at)
            worker.thread.join(JOIN_S)
            ended = not worker.thread.is_alive()
        finally:
            worker.finish()
        # blocked at the deadline, or stopped when the exception landed before that report could leave
        self.assertIn(worker.inbox.wait_for(lambda m: m.get("id") == "late")["result"]["outcome"], ("blocked", "stopped"))
        self.assertTrue(ended, "the task spun on after its stop was reported blocked")
        self.assertEqual(worker.outcome, "stopped")

    def test_a_task_ending_as_the_deadline_passes_is_never_reported_blocked_before_its_end(self) -> None:
        # The task's thread has set `ended` and is sending its end when the walker ticks past the deadline: a
        # blocked report then would reach the controller after the end it contradicts (seen in the torture run).
        worker = TaskWorker(spin)
        gate = threading.Event()
        inbox = worker.inbox

        def gated(*messages: Dict[str, Any]) -> None:
            if any(m.get("type") == "task-ended" for m in messages):
                gate.wait(JOIN_S)  # the end is on its way out, not yet reported
            inbox(*messages)

        KINDS["thread"].start(worker.task, gated)
        worker.thread = worker.task.thread  # type: ignore[assignment]
        worker._wait_started()
        run = StopRun(worker.task, "async-exc", GRACE_S, 0.001, "late", inbox)
        worker.quit = True
        self.assertTrue(worker.task.ended.wait(JOIN_S))
        try:
            self.assertIsNotNone(run.tick(run.end + 0.01))  # ended, not yet reported: no answer from the walker
            self.assertEqual([m for m in inbox.messages if m.get("id") == "late"], [])
        finally:
            gate.set()
        worker.thread.join(JOIN_S)
        self.assertTrue(worker.task.reported.wait(JOIN_S))
        self.assertIsNone(run.tick(run.end + 0.02))
        self.assertEqual(inbox.wait_for(lambda m: m.get("id") == "late")["result"]["outcome"], "stopped")

    def test_a_swallowed_delivery_is_re_raised_inside_the_handler(self) -> None:
        worker = TaskWorker(retry_three_times).start()
        try:
            report = worker.stop("async-exc", deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.outcome, "stopped")  # it escaped the retry loop (pyleash.stop.rearm)
        self.assertIn(len(worker.swallowed), (1, 2))  # the second one fires in the handler, before or after append
        self.assertGreaterEqual(report["swallowed"], 1)
        self.assertEqual(report["swallowed"], worker.delivered - 1)
        self.assertTrue(all(isinstance(e, TaskStopped) for e in worker.swallowed))

    def _sleeper(self, seconds: float) -> TaskWorker:
        def body(w: Worker) -> None:
            w.started.set()
            time.sleep(seconds)  # a real C sleep: no eval-loop check until it returns

        return TaskWorker(body).start()

    def test_sleep_is_blocked_then_fires_on_return(self) -> None:
        worker = self._sleeper(2.0)
        report = worker.stop("async-exc", deadline_s=0.5)
        self.assertEqual(report["outcome"], "blocked", report)
        self.assertTrue(report["blockedIn"]["code"].startswith("time.sleep(seconds)"), report)
        self.assertEqual(report["stack"][-1], report["blockedIn"])
        delivered = deliveries.deliveries(worker.task.ident) - worker.base_deliveries  # type: ignore[arg-type]
        self.assertEqual(delivered, 0)  # armed, not delivered: pending
        worker.finish()  # the armed exception fires when the sleep returns
        self.assertEqual(worker.outcome, "stopped")

    def test_pending_can_be_revoked(self) -> None:
        worker = Worker(lambda w: (w.started.set(), time.sleep(1.5))).start()
        async_raise(worker.thread.ident, TaskStopped)  # type: ignore[arg-type]
        self.assertTrue(revoke(worker.thread.ident))  # type: ignore[arg-type]
        worker.finish()
        self.assertEqual(worker.outcome, "returned")

    def test_a_finished_task_is_answered_finished_first(self) -> None:
        worker = TaskWorker(lambda w: w.started.set()).start()
        worker.finish()
        worker.task.ended.wait(JOIN_S)
        report = worker.stop("async-exc", deadline_s=1.0)
        self.assertEqual((report["outcome"], report["steps"], report["latencyMs"]), ("finished-first", [], None))
        self.assertEqual(worker.delivered, 0)


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
