"""pyleash.progress(): the rate limit (one update per INTERVAL_S per task, the final one always, the held one at
the end), and a no-op outside a task."""
import threading
import unittest

from pyleash import current, progress_events
from pyleash.progress_events import INTERVAL_S, Limiter, progress


class _Task:
    def __init__(self, task_id="c1"):
        self.id = task_id
        self.progress = None


class LimiterTest(unittest.TestCase):
    def test_sends_the_first_update_and_holds_those_within_the_interval(self):
        limiter = Limiter()
        self.assertEqual(limiter.offer({"done": 1}, False, 10.0), {"done": 1})
        self.assertIsNone(limiter.offer({"done": 2}, False, 10.0 + INTERVAL_S / 2))
        self.assertIsNone(limiter.offer({"done": 3}, False, 10.0 + INTERVAL_S * 0.9))
        self.assertEqual(limiter.take_held(), {"done": 3})  # only the newest is kept
        self.assertIsNone(limiter.take_held())

    def test_sends_again_once_the_interval_has_passed_and_drops_what_it_held(self):
        limiter = Limiter()
        limiter.offer({"done": 1}, False, 10.0)
        limiter.offer({"done": 2}, False, 10.01)
        self.assertEqual(limiter.offer({"done": 3}, False, 10.0 + INTERVAL_S), {"done": 3})
        self.assertIsNone(limiter.take_held())

    def test_always_sends_the_final_update(self):
        limiter = Limiter()
        limiter.offer({"done": 1}, False, 10.0)
        self.assertEqual(limiter.offer({"done": 9}, True, 10.001), {"done": 9})
        self.assertIsNone(limiter.take_held())

    def test_at_most_one_update_per_interval_over_a_burst(self):
        limiter = Limiter()
        sent = [i for i in range(10_000) if limiter.offer({"done": i}, False, i * 0.0001)]  # one second of updates
        self.assertLessEqual(len(sent), 1 / INTERVAL_S + 1)


class ProgressTest(unittest.TestCase):
    def setUp(self):
        self.sent = []
        progress_events.install(self.sent.append)
        self.addCleanup(progress_events.install, None)

    def _in_task(self, task, fn):
        token = current.bind(task)
        try:
            fn()
        finally:
            current.unbind(token)

    def test_is_a_no_op_outside_a_task(self):
        self.assertIsNone(progress(1, 2, "x"))
        self.assertEqual(self.sent, [])

    def test_is_a_no_op_for_a_call_the_controller_did_not_name(self):
        self._in_task(_Task("~call-3"), lambda: progress(1, 2))
        self.assertEqual(self.sent, [])

    def test_sends_an_event_naming_the_task_and_holds_the_rest_for_the_end(self):
        task = _Task("c7")

        def work():
            for i in range(1, 101):
                progress(i, None, "m")

        self._in_task(task, work)
        self.assertEqual(self.sent[0], {"type": "progress", "task": "c7", "done": 1, "message": "m"})
        self.assertLess(len(self.sent), 100)
        self.assertEqual(task.progress.take_held()["done"], 100)

    def test_refuses_arguments_that_are_not_numbers_or_text(self):
        for args in (("1",), (True,), (float("nan"),), (1, "2"), (1, None, 3)):
            with self.assertRaises(TypeError, msg=repr(args)):
                progress(*args)


if __name__ == "__main__":
    unittest.main()


class HeldStopTest(unittest.TestCase):
    """A stop asked while a task's thread writes its progress event is held, and raised once the event is out."""

    def test_a_stop_during_the_send_waits_for_its_end(self):
        from pyleash.deliveries import TaskStopped
        from pyleash.stop.steps import guarded
        from pyleash.tasks.thread_kind import ThreadKind
        from tests.stop_helpers import new_task

        task = new_task(ThreadKind(), "x:y")
        task.ident = threading.get_ident()
        seen = []

        def send(event):
            injected = []
            seen.append(guarded(task, lambda: injected.append(1) or True))  # a stop, in the middle of the write
            seen.append(injected)
            seen.append(event["done"])

        progress_events.install(send)
        self.addCleanup(progress_events.install, None)
        token = current.bind(task)
        try:
            with self.assertRaises(TaskStopped):
                progress(1, 2)
        finally:
            current.unbind(token)
        self.assertEqual(seen, [True, [], 1])  # held (not injected), and the event went out whole
        self.assertFalse(task.shielded or task.held)
