"""Plain calls run on the control thread; one that outlasts its budget hands the reading to another thread."""
import json
import queue
import threading
import time
import unittest

from pyleash.control import Agent

GATE = threading.Event()


def wait_gate():
    return GATE.wait(10)


def whoami():
    return threading.current_thread().name


class _Wire:
    """A transport fed by the test: recv() hands out what was put in, send() keeps the replies by id."""

    name = "wire"

    def __init__(self):
        self.incoming = queue.Queue()
        self.replies = {}
        self.cond = threading.Condition()

    def recv(self, timeout):
        return self.incoming.get()

    def send(self, frames):
        with self.cond:
            for frame in frames:
                message = json.loads(frame)
                if "id" in message:
                    self.replies[message["id"]] = message
            self.cond.notify_all()

    def send_many(self, messages):
        for frames in messages:
            self.send(frames)

    def reply(self, request_id, timeout=10.0):
        with self.cond:
            self.cond.wait_for(lambda: request_id in self.replies, timeout)
            return self.replies.get(request_id)


def call(i, target, args=(), **extra):
    return json.dumps(dict({"type": "call", "id": i, "target": target, "args": list(args)}, **extra)).encode()


class InlineTest(unittest.TestCase):
    def setUp(self):
        GATE.clear()
        self.wire = _Wire()
        self.agent = Agent(self.wire)
        threading.Thread(target=self.agent.serve, name="pyleash-control", daemon=True).start()

    def tearDown(self):
        GATE.set()
        self.agent.pool.close()

    def test_a_short_call_runs_on_the_control_thread(self):
        self.wire.incoming.put([call(1, "tests.test_inline:whoami")])
        self.assertEqual(self.wire.reply(1)["result"], "pyleash-control")

    def test_a_call_that_blocks_does_not_hold_up_a_ping_or_the_next_call(self):
        self.wire.incoming.put([call(1, "tests.test_inline:wait_gate")])
        self.wire.incoming.put([b'{"id": 2, "type": "ping"}'])
        self.wire.incoming.put([call(3, "math:floor", (2.5,))])
        self.assertEqual(self.wire.reply(2, 5)["status"], "ok")
        self.assertEqual(self.wire.reply(3, 5)["result"], 2)
        self.assertNotIn(1, self.wire.replies)
        GATE.set()
        self.assertEqual(self.wire.reply(1)["result"], True)

    def test_the_calls_queued_behind_a_blocking_one_in_its_message_go_to_the_pool(self):
        self.wire.incoming.put([call(1, "tests.test_inline:wait_gate"), call(2, "tests.test_inline:whoami")])
        self.assertTrue(self.wire.reply(2, 5)["result"].startswith("pyleash-call-"))
        GATE.set()
        self.assertEqual(self.wire.reply(1)["result"], True)

    def test_the_thread_left_in_a_long_call_is_named_for_it_and_exits_after_it(self):
        self.wire.incoming.put([call(1, "tests.test_inline:wait_gate")])
        self.wire.incoming.put([call(2, "tests.test_inline:whoami")])
        self.assertEqual(self.wire.reply(2, 5)["result"], "pyleash-control")  # the new reader
        names = [t.name for t in threading.enumerate()]
        self.assertIn("pyleash-inline-call", names)
        GATE.set()
        self.wire.reply(1)
        deadline = time.monotonic() + 5
        while "pyleash-inline-call" in [t.name for t in threading.enumerate()] and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertNotIn("pyleash-inline-call", [t.name for t in threading.enumerate()])

    def test_a_second_long_call_hands_the_reading_over_again(self):
        self.wire.incoming.put([call(1, "tests.test_inline:wait_gate")])
        self.wire.incoming.put([call(2, "tests.test_inline:wait_gate")])
        self.wire.incoming.put([b'{"id": 3, "type": "ping"}'])
        self.assertEqual(self.wire.reply(3, 5)["status"], "ok")
        GATE.set()
        self.assertEqual((self.wire.reply(1)["result"], self.wire.reply(2)["result"]), (True, True))

    def test_a_stoppable_call_runs_on_the_control_thread_like_a_plain_one(self):
        self.wire.incoming.put([call(1, "tests.test_inline:whoami", task="c1")])
        self.assertEqual(self.wire.reply(1)["result"], "pyleash-control")
        self.assertEqual(self.agent.tasks.tasks["c1"].status, "finished")

    def test_a_stoppable_call_that_runs_on_inline_is_stopped_by_the_thread_that_took_the_reading_over(self):
        self.wire.incoming.put([call(1, "pyleash.demo:spin", task="c1")])
        deadline = time.monotonic() + 5
        while "pyleash-inline-call" not in [t.name for t in threading.enumerate()] and time.monotonic() < deadline:
            time.sleep(0.005)
        self.wire.incoming.put([b'{"type": "stop", "id": 2, "task": "c1", "strategy": "async-exc", "deadlineMs": 5000}'])
        self.assertEqual(self.wire.reply(2)["result"]["outcome"], "stopped")
        self.assertEqual(self.wire.reply(1)["error"]["type"], "TaskStopped")
        self.wire.incoming.put([call(3, "tests.test_inline:whoami", task="c3")])
        self.assertEqual(self.wire.reply(3)["result"], "pyleash-control")  # the reading goes on, no stop left pending
        self.assertFalse(self.agent.pool._abandoned)  # the control thread was never the pool's

    def test_a_stop_in_the_same_message_as_its_call_keeps_the_call_from_beginning(self):
        self.wire.incoming.put([call(1, "pyleash.demo:spin", task="c1"),
                                b'{"type": "stop", "id": 2, "task": "c1", "strategy": "async-exc", "deadlineMs": 5000}',
                                call(3, "tests.test_inline:whoami")])
        self.assertEqual(self.wire.reply(2)["result"]["outcome"], "stopped")
        self.assertEqual(self.wire.reply(3)["result"], "pyleash-control")
        self.assertIn(1, self.wire.replies)  # answered, and it never began:
        self.assertEqual((self.agent.tasks.tasks["c1"].how, self.agent.tasks.tasks["c1"].ident), ("before-start", None))


if __name__ == "__main__":
    unittest.main()
