"""Long turns on the GIL (pyleash.switching): the interval while one lasts, the sends it keeps, the locks it does not
wait for; and the control loop begins the stops of one message in one."""
import json
import sys
import threading
import unittest

from pyleash import switching
from pyleash.control import Agent
from pyleash.stop.steps import guarded
from pyleash.switching import (CROWD_MAX_S, CROWD_MIN, LONG_TURN_MIN, LONG_TURN_S, PER_BUSY_S, crowd, fast_switching,
                               in_long_turn, kept, long_turn)


class CrowdTest(unittest.TestCase):
    """Past CROWD_MIN busy threads the interval grows with them (each waiter wakes once per interval)."""

    def setUp(self):
        self.before = sys.getswitchinterval()
        sys.setswitchinterval(0.0002)  # the agent's default

    def tearDown(self):
        self.assertAlmostEqual(sys.getswitchinterval(), 0.0002, delta=0.000002)
        self.assertEqual(switching.busy(), 0)
        sys.setswitchinterval(self.before)

    def test_leaves_the_interval_alone_up_to_crowd_min_then_grows_it_per_thread_and_restores_it(self):
        crowd(CROWD_MIN)
        try:
            self.assertAlmostEqual(sys.getswitchinterval(), 0.0002, delta=0.000002)
            crowd(CROWD_MIN * 4)
            n = CROWD_MIN * 5
            self.assertAlmostEqual(sys.getswitchinterval(), n * PER_BUSY_S, delta=0.000002)
            crowd(1000)
            self.assertAlmostEqual(sys.getswitchinterval(), CROWD_MAX_S, delta=0.000002)  # no further than Python's own
            crowd(-1000 - CROWD_MIN * 4)
            self.assertAlmostEqual(sys.getswitchinterval(), 0.0002, delta=0.000002)
        finally:
            crowd(-switching.busy())

    def test_a_crowd_keeps_its_interval_under_a_stops_fast_switching_and_a_long_turn_longer(self):
        n = 100
        crowd(n)
        try:
            with fast_switching(0.0002):
                self.assertAlmostEqual(sys.getswitchinterval(), n * PER_BUSY_S, delta=0.000002)
            self.assertGreater(n * PER_BUSY_S, LONG_TURN_S)
            with long_turn():
                self.assertAlmostEqual(sys.getswitchinterval(), n * PER_BUSY_S, delta=0.000002)
        finally:
            crowd(-n)

    def test_thread_tasks_count_while_they_run(self):
        from tests.stop_helpers import Inbox, new_task
        from pyleash.tasks.registry import KINDS

        gate = threading.Event()
        inbox = Inbox()
        tasks = [new_task(KINDS["thread"], "tests.test_switching:wait_for", [gate]) for _ in range(3)]
        for task in tasks:
            KINDS["thread"].start(task, inbox)
        self.assertEqual(switching.busy(), 3)
        gate.set()
        for task in tasks:
            self.assertTrue(task.ended.wait(10))
            task.thread.join(10)
        self.assertEqual(switching.busy(), 0)


def wait_for(gate):
    gate.wait(10)


class LongTurnTest(unittest.TestCase):
    def setUp(self):
        self.before = sys.getswitchinterval()

    def tearDown(self):
        self.assertEqual(sys.getswitchinterval(), self.before)

    def test_raises_the_interval_for_its_duration_and_restores_it(self):
        with long_turn():
            self.assertTrue(in_long_turn())
            self.assertGreaterEqual(sys.getswitchinterval(), LONG_TURN_S)
        self.assertFalse(in_long_turn())

    def test_rules_over_fast_switching_inside_and_outside_it(self):
        with fast_switching(0.0002):
            with long_turn():
                self.assertGreaterEqual(sys.getswitchinterval(), LONG_TURN_S)
                with fast_switching(0.0001):
                    self.assertGreaterEqual(sys.getswitchinterval(), LONG_TURN_S)
            self.assertAlmostEqual(sys.getswitchinterval(), 0.0002, delta=0.00001)

    def test_not_entered_changes_nothing(self):
        with long_turn(False):
            self.assertFalse(in_long_turn())
            self.assertEqual(sys.getswitchinterval(), self.before)

    def test_keeps_this_threads_sends_for_its_end_in_order_one_call_per_flush(self):
        calls = []
        a, b = calls.append, (lambda messages: calls.append(("b", messages)))
        self.assertFalse(kept(a, [0]))  # outside a turn: send now
        other = []
        with long_turn():
            self.assertTrue(kept(a, [1]))
            self.assertTrue(kept(a, [2, 3]))
            self.assertTrue(kept(b, [4]))
            thread = threading.Thread(target=lambda: other.append(kept(a, [9])))
            thread.start()
            thread.join()
            self.assertEqual(calls, [])
        self.assertEqual(calls, [[1, 2, 3], ("b", [4])])
        self.assertEqual(other, [False])  # another thread's sends are its own

    def test_sends_what_it_kept_even_when_the_work_raised(self):
        calls = []
        with self.assertRaises(KeyError):
            with long_turn():
                kept(calls.append, ["answer"])
                raise KeyError("x")
        self.assertEqual(calls, [["answer"]])

    def test_a_stop_does_not_wait_for_a_task_lock_held_elsewhere_inside_a_long_turn(self):
        class Task:
            inject_lock = threading.Lock()
            unwinding = shielded = held = False

        task = Task()
        injected = []
        task.inject_lock.acquire()
        try:
            with long_turn():
                self.assertFalse(guarded(task, lambda: injected.append(1) or True))
        finally:
            task.inject_lock.release()
        self.assertEqual(injected, [])
        self.assertTrue(guarded(task, lambda: injected.append(1) or True))
        self.assertEqual(injected, [1])


class _Recorder:
    name = "recorder"

    def __init__(self):
        self.writes = []  # the messages of each write
        self.intervals = []  # the switch interval at each write

    def send(self, frames):
        self.send_many([frames])

    def send_many(self, messages):
        self.intervals.append(sys.getswitchinterval())
        self.writes.append([json.loads(f) for frames in messages for f in frames])


def stop_frame(i):
    return json.dumps({"id": i, "type": "stop", "task": "t%d" % i, "strategy": "auto", "graceMs": 250, "deadlineMs": 3000},
                      separators=(",", ":")).encode()


class ControlLoopTest(unittest.TestCase):
    def setUp(self):
        self.before = sys.getswitchinterval()
        sys.setswitchinterval(0.0002)  # the agent's default (WorkerOptions.switchIntervalMs)

    def tearDown(self):
        sys.setswitchinterval(self.before)

    def test_the_stops_of_one_message_are_begun_in_one_turn_and_answered_in_one_write_after_it(self):
        transport = _Recorder()
        agent = Agent(transport)
        seen = []
        real = switching._apply

        def watch():
            real()
            seen.append(sys.getswitchinterval())

        switching._apply = watch
        try:
            agent._dispatch([stop_frame(i) for i in range(1, LONG_TURN_MIN + 2)])
        finally:
            switching._apply = real
            agent.pool.close()
        self.assertEqual(len(transport.writes), 1, transport.writes)  # no such tasks: each refused, all in one write
        self.assertEqual([m["id"] for m in transport.writes[0]], list(range(1, LONG_TURN_MIN + 2)))
        self.assertTrue(all(m["status"] == "error" for m in transport.writes[0]))
        self.assertGreaterEqual(max(seen), LONG_TURN_S)  # the turn was long ...
        self.assertLess(transport.intervals[0], LONG_TURN_S)  # ... and over before the write

    def test_fewer_stops_than_a_long_turn_needs_are_answered_one_by_one(self):
        transport = _Recorder()
        agent = Agent(transport)
        try:
            agent._dispatch([stop_frame(i) for i in range(1, LONG_TURN_MIN)])
        finally:
            agent.pool.close()
        self.assertEqual(len(transport.writes), LONG_TURN_MIN - 1)


if __name__ == "__main__":
    unittest.main()
