"""What the agent keeps of ended tasks: a bounded number of records, without the caller's data; and the
process tasks' stop flag, a pipe that leaves nothing behind for multiprocessing's resource tracker; and the
record's shape: a core every kind has, each kind's own state apart (Task.state)."""
import json
import multiprocessing
import threading
import time
import unittest
from unittest import mock

from pyleash.control import Agent
from pyleash.tasks import process_flag, service


class _Recorder:
    name = "recorder"

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def send(self, frames):
        with self.lock:
            self.sent.extend(json.loads(f) for f in frames)

    def send_many(self, messages):
        for frames in messages:
            self.send(frames)

    def ended(self):
        with self.lock:
            return [m["task"] for m in self.sent if m.get("type") == "task-ended"]


class EndedRecordsTest(unittest.TestCase):
    def test_only_the_latest_ended_tasks_are_kept_and_without_their_arguments(self):
        transport = _Recorder()
        agent = Agent(transport)
        with mock.patch.object(service, "ENDED_KEPT", 3):
            for i in range(8):
                request = {"type": "start", "id": i, "task": "t%d" % i, "target": "math:floor", "args": [1.5]}
                agent._dispatch([json.dumps(request).encode()])
                deadline = time.monotonic() + 10
                while "t%d" % i not in transport.ended() and time.monotonic() < deadline:
                    time.sleep(0.002)
        tasks = agent.tasks.tasks
        self.assertLessEqual(len(tasks), 4)  # 3 ended ones, and the newest
        self.assertIn("t7", tasks)
        self.assertNotIn("t0", tasks)
        self.assertIsNone(tasks["t7"].args)


class ProcessFlagTest(unittest.TestCase):
    def setUp(self):
        self.child, self.agent = process_flag.make(multiprocessing.get_context("spawn"))

    def tearDown(self):
        self.agent.close()
        self.child.close()

    def test_set_by_the_agent_is_seen_by_the_child_and_stays_set(self):
        self.assertFalse(self.child.is_set())
        self.assertFalse(self.child.wait(0.01))
        self.agent.set()
        self.agent.set()  # idempotent, like threading.Event
        self.assertTrue(self.child.wait(1))
        self.assertTrue(self.child.is_set())

    def test_a_wait_wakes_when_the_agent_sets_it(self):
        threading.Timer(0.05, self.agent.set).start()
        self.assertTrue(self.child.wait(10))

    def test_an_agent_end_that_goes_away_counts_as_set(self):
        self.agent.close()
        self.assertTrue(self.child.wait(1))


if __name__ == "__main__":
    unittest.main()


class CoreRecordTest(unittest.TestCase):
    """A task's record is what every kind has; what one kind keeps is its own state (Task.state), and the stop
    engine's Stoppable asks only the core."""

    @staticmethod
    def _stoppable_members():
        from pyleash.stop.stoppable import Stoppable

        properties = [name for name, value in vars(Stoppable).items() if isinstance(value, property)]
        return set(Stoppable.__annotations__) | set(properties)

    def _records(self):
        from pyleash.tasks.registry import KINDS
        from pyleash.tasks.task import CallState, Task

        records = {name: Task("t-" + name, kind, "calls:add", [1], {}, "t-" + name, False) for name, kind in KINDS.items()}
        records["call"] = Task("c", KINDS["thread"], "calls:add", [1], {}, "c", False, CallState(7))
        return records

    def test_each_kind_keeps_its_own_state_apart_from_the_core_record(self):
        from pyleash.tasks.asyncio_kind import AsyncioState
        from pyleash.tasks.process_kind import ProcessState
        from pyleash.tasks.task import NO_STATE

        records = self._records()
        self.assertIsInstance(records["process"].state, ProcessState)
        self.assertIsInstance(records["asyncio"].state, AsyncioState)
        self.assertIs(records["thread"].state, NO_STATE)
        self.assertIs(records["main"].state, NO_STATE)
        self.assertEqual((records["call"].state.reply_to, records["thread"].state.reply_to), (7, None))
        core = set(vars(records["thread"]))
        for name, task in records.items():
            self.assertEqual(set(vars(task)), core, name)  # the same core record whatever the kind
        for own in ("process", "dumps", "future", "stream", "reply_to", "flag"):
            self.assertNotIn(own, core)

    def test_the_stop_engine_asks_only_the_core_record(self):
        from pyleash.attach import Adopted, ForeignThreadKind

        members = self._stoppable_members()
        self.assertNotIn("state", members)
        adopted = Adopted("thread-1", ForeignThreadKind(), threading.get_ident())
        for name, task in dict(self._records(), adopted=adopted).items():
            missing = sorted(m for m in members if not hasattr(task, m))
            self.assertEqual(missing, [], name)
