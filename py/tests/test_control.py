"""The control loop's dispatch: malformed input is answered or dropped, and the agent keeps serving."""
import json
import threading
import unittest

from pyleash.control import Agent


class _Recorder:
    """A transport that keeps what the agent sends."""

    name = "recorder"

    def __init__(self):
        self.sent = []
        self.arrived = threading.Event()

    def send(self, frames):
        self.sent.append(json.loads(frames[0]))
        self.arrived.set()


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

    def test_a_message_of_several_frames_is_dropped(self):
        self.dispatch(b'{"type": "ping", "id": 1}', b"extra")
        self.assertEqual(self.transport.sent, [])

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


if __name__ == "__main__":
    unittest.main()
