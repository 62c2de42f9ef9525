"""The control loop's dispatch: malformed input is answered or dropped, and the agent keeps serving."""
import json
import threading
import time
import unittest

from pyleash.control import Agent


class _Recorder:
    """A transport that keeps what the agent sends."""

    name = "recorder"

    def __init__(self):
        self.sent = []
        self.writes = []  # messages per send_many call
        self.arrived = threading.Event()

    def send(self, frames):
        self.sent.extend(json.loads(frame) for frame in frames)
        self.arrived.set()

    def send_many(self, messages):
        self.writes.append(len(messages))
        for frames in messages:
            self.send(frames)


class DispatchTest(unittest.TestCase):
    def setUp(self):
        self.transport = _Recorder()
        self.agent = Agent(self.transport)

    def dispatch(self, *frames):
        self.agent._dispatch(list(frames))

    def test_a_frame_that_is_not_json_is_dropped_without_a_reply(self):
        self.dispatch(b"\xff\xfe not json")
        self.dispatch(b"[1, 2, 3]")
        self.dispatch(b'{"no": "type"}')
        self.assertEqual(self.transport.sent, [])

    def test_each_frame_of_a_message_is_a_request_of_its_own(self):
        self.dispatch(b'{"type": "ping", "id": 1}', b"not json", b'{"type": "teleport", "id": 2}')
        self.assertEqual([(m["id"], m["status"]) for m in self.transport.sent], [(1, "ok"), (2, "error")])

    def test_an_unknown_type_is_answered_with_a_protocol_error(self):
        self.dispatch(b'{"type": "teleport", "id": 7}')
        reply = self.transport.sent[0]
        self.assertEqual(reply["id"], 7)
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["error"]["kind"], "protocol")

    def test_a_call_with_bad_arguments_is_answered_with_a_protocol_error(self):
        self.dispatch(b'{"type": "call", "id": 3, "target": "math:floor", "args": {"a": 1}}')
        self.assertEqual(self.transport.sent[0]["error"]["kind"], "protocol")

    def test_the_agent_keeps_serving_after_malformed_input(self):
        self.dispatch(b"garbage")
        self.dispatch(b'{"type": "call", "id": 4, "target": "math:floor", "args": [2.5]}')
        self.assertTrue(self.transport.arrived.wait(10))
        self.assertEqual(self.transport.sent[0], {"id": 4, "status": "ok", "result": 2})

    def test_a_result_json_cannot_carry_names_its_type(self):
        self.dispatch(b'{"type": "call", "id": 5, "target": "builtins:set", "args": [[1]]}')
        self.assertTrue(self.transport.arrived.wait(10))
        self.assertEqual(self.transport.sent[0]["error"]["kind"], "result")
        self.assertEqual(self.transport.sent[0]["error"]["pythonType"], "set")



class StopAnswerTest(unittest.TestCase):
    """The stop of a running task is answered by the task's own thread, with its end, in one write."""

    def setUp(self):
        self.transport = _Recorder()
        self.agent = Agent(self.transport)

    def wait_for(self, predicate):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(predicate(m) for m in list(self.transport.sent)):
                return
            time.sleep(0.005)
        self.fail("no such message in %r" % (self.transport.sent,))

    def test_the_stop_report_leaves_with_the_end_event(self):
        self.agent._dispatch([b'{"type": "start", "id": 1, "task": "t1", "target": "pyleash.demo:spin"}'])
        self.wait_for(lambda m: m.get("type") == "task-started")
        self.agent._dispatch([b'{"type": "stop", "id": 2, "task": "t1", "strategy": "async-exc"}'])
        self.wait_for(lambda m: m.get("id") == 2)
        ended = [i for i, m in enumerate(self.transport.sent) if m.get("type") == "task-ended"]
        answer = [i for i, m in enumerate(self.transport.sent) if m.get("id") == 2]
        self.assertEqual(answer, [ended[0] + 1])  # right after the end event...
        self.assertEqual(self.transport.writes[-1], 2)  # ...in the same write
        report = self.transport.sent[answer[0]]["result"]
        self.assertEqual((report["outcome"], report["finallyRan"], report["swallowed"]), ("stopped", True, 0))

    def test_a_stop_of_an_ended_task_is_answered_at_once(self):
        self.agent._dispatch([b'{"type": "start", "id": 1, "task": "t1", "target": "math:floor", "args": [1.5]}'])
        self.wait_for(lambda m: m.get("type") == "task-ended")
        self.agent._dispatch([b'{"type": "stop", "id": 2, "task": "t1"}'])
        self.wait_for(lambda m: m.get("id") == 2)
        self.assertEqual(self.transport.sent[-1]["result"]["outcome"], "finished-first")


if __name__ == "__main__":
    unittest.main()
