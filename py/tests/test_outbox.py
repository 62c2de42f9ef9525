"""Call replies held while more calls wait, and let go in time: the agent's side of pipelining."""
import json
import threading
import time
import unittest

from pyleash.control import Agent

GATE = threading.Event()


def wait_gate():
    return GATE.wait(10)


class _Recorder:
    name = "recorder"

    def __init__(self):
        self.writes = []  # the frames of each message sent
        self.lock = threading.Lock()

    def send(self, frames):
        with self.lock:
            self.writes.append([json.loads(f) for f in frames])

    def send_many(self, messages):
        for frames in messages:
            self.send(frames)

    def recv(self, timeout):
        """Nothing more arrives: the thread that takes over the reading from a call past its budget idles here."""
        time.sleep(0.05)
        return None

    def replies(self):
        with self.lock:
            return [m for w in self.writes for m in w if "id" in m]


def call(i, target="math:floor", args=(7,)):
    return json.dumps({"type": "call", "id": i, "target": target, "args": list(args)}).encode()


class OutboxTest(unittest.TestCase):
    def setUp(self):
        GATE.clear()
        self.transport = _Recorder()
        self.agent = Agent(self.transport)

    def tearDown(self):
        GATE.set()
        self.agent.pool.close()

    def wait_replies(self, n):
        deadline = time.monotonic() + 10
        while len(self.transport.replies()) < n and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.transport.replies()

    def test_a_lone_call_is_answered_at_once_in_a_message_of_its_own(self):
        self.agent._dispatch([call(1)])
        self.assertEqual(self.wait_replies(1), [{"id": 1, "status": "ok", "result": 7}])
        self.assertEqual(len(self.transport.writes), 1)

    def test_a_burst_is_answered_in_fewer_messages_than_calls(self):
        self.agent._dispatch([call(i) for i in range(300)])
        replies = self.wait_replies(300)
        self.assertEqual(sorted(r["id"] for r in replies), list(range(300)))
        self.assertLess(len(self.transport.writes), 300)
        self.assertLessEqual(max(len(w) for w in self.transport.writes), 64)

    def test_a_blocked_call_does_not_hold_back_the_answers_before_it(self):
        # Dispatched as the control thread would: the calls run there until 3 outlasts its budget; then the
        # reading passes to another thread (which finds this recorder has nothing to read) and 4 and 5 go to the pool.
        self.transport.recv = lambda timeout: threading.Event().wait()
        frames = [call(1), call(2), call(3, "tests.test_outbox:wait_gate", ()), call(4), call(5)]
        threading.Thread(target=self.agent._dispatch, args=(frames,), daemon=True).start()
        replies = self.wait_replies(4)
        self.assertEqual(sorted(r["id"] for r in replies), [1, 2, 4, 5])
        GATE.set()
        self.assertEqual(len(self.wait_replies(5)), 5)

    def test_an_answer_held_on_a_stale_view_of_the_queue_still_leaves(self):
        # A thread decides to hold its answer because calls are queued; by the time it adds the answer
        # another thread may have taken them all, run them, and gone idle. Simulated: the queue always
        # looks busy, so every answer is held and only the pool's hooks let it go.
        self.agent.pool.queued = lambda: True
        self.agent._dispatch([call(1)])
        self.assertEqual(len(self.wait_replies(1)), 1)
        self.agent._dispatch([call(2), call(3, "time:sleep", (0.05,)), call(4)])
        self.assertEqual(len(self.wait_replies(4)), 4)

if __name__ == "__main__":
    unittest.main()
