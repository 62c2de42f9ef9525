"""The control loop's dispatch: malformed input is answered or dropped, and the agent keeps serving."""
import json
import sys
import threading
import time
import unittest

from pyleash import agent, contract, protocol
from pyleash.control import Agent
from pyleash.stop.steps import IN_THREAD_STEPS
from pyleash.tasks.registry import KINDS


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

    def recv(self, timeout):
        """Nothing more to read: for the thread that takes over the reading when a call outlasts its budget."""
        threading.Event().wait()


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

    def test_every_request_type_of_the_contract_has_a_handler(self):
        self.assertEqual(set(self.agent.handlers), set(contract.REQUESTS))

    def test_a_request_that_breaks_the_contract_is_answered_naming_the_field(self):
        cases = [
            (b'{"type": "stop", "id": 8, "task": "t1", "graceMs": -5}', "graceMs"),
            (b'{"type": "start", "id": 9, "task": "t1", "target": "math:floor", "kind": "fibre"}', "kind"),
            (b'{"type": "start", "id": 10, "target": "math:floor"}', "task"),
            (b'{"type": "call", "id": 11}', "target"),
            (b'{"type": "stack", "id": 12, "task": 5}', "task"),
        ]
        self.dispatch(*(frame for frame, _ in cases))
        for reply, (_, field) in zip(self.transport.sent, cases):
            self.assertEqual(reply["error"]["kind"], "protocol", reply)
            self.assertIn(repr(field), reply["error"]["message"])
        self.assertEqual([r["id"] for r in self.transport.sent], [8, 9, 10, 11, 12])

    def test_the_error_kinds_are_the_contract_s(self):
        kinds = {protocol.EXCEPTION, protocol.TARGET, protocol.FORBIDDEN, protocol.RESULT, protocol.PROTOCOL}
        self.assertEqual(kinds, set(contract.ERROR_KINDS))

    def test_a_request_without_a_usable_id_is_answered_with_a_null_id(self):
        self.dispatch(b'{"type": "ping", "id": "seven"}', b'{"type": "ping"}', b'{"type": "ping", "id": true}')
        self.assertEqual([(r["id"], r["error"]["kind"]) for r in self.transport.sent], [(None, "protocol")] * 3)
        self.assertIn("'id'", self.transport.sent[0]["error"]["message"])

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



class NoInputStopsTheLoopTest(unittest.TestCase):
    """Each input below once made the agent deaf for good (issue 9): every one is now answered, and then a ping."""

    def setUp(self):
        self.transport = _Recorder()
        self.agent = Agent(self.transport, max_message_bytes=64 * 1024)

    def answers(self, frame):
        """The replies to `frame` followed by a ping, and the ping's reply."""
        self.transport.sent.clear()
        self.agent._dispatch([frame, b'{"id": 999, "type": "ping"}'])
        replies = list(self.transport.sent)  # calls run after the message's other requests: the ping's may come first
        self.assertEqual([r["status"] for r in replies if r["id"] == 999], ["ok"], "the agent still serves")
        return [r for r in replies if r["id"] != 999]

    def assert_refused(self, frame, request_id):
        replies = self.answers(frame)
        self.assertEqual([(r["id"], r["status"], r["error"]["kind"]) for r in replies], [(request_id, "error", "protocol")])
        return replies[0]["error"]["message"]

    def test_an_argument_nested_beyond_the_decoder_is_answered(self):
        deep = b"[" * 20000 + b"]" * 20000
        self.assertIn("nested", self.assert_refused(b'{"id": 1, "type": "call", "target": "builtins:len", "args": [' + deep + b"]}", 1))

    def test_a_message_nested_ten_thousand_deep_is_answered(self):
        self.assert_refused(b'{"id": 2, "type": "call", "args": ' + b"[" * 10000 + b"]" * 10000 + b"}", 2)

    def test_a_call_without_an_id_is_answered_with_a_null_id(self):
        self.assert_refused(b'{"type": "call", "target": "math:floor", "args": [1.5]}', None)

    def test_a_nan_id_is_answered_with_a_null_id(self):
        self.assert_refused(b'{"type": "ping", "id": NaN}', None)

    def test_a_task_given_as_a_list_or_an_object_is_answered(self):
        for task in (b"[1, 2]", b'{"a": 1}'):
            for kind in (b"stack", b"stop"):
                self.assertIn("'task'", self.assert_refused(b'{"id": 3, "type": "' + kind + b'", "task": ' + task + b"}", 3))

    def test_a_5000_digit_integer_is_answered(self):
        replies = self.answers(b'{"id": 4, "type": "call", "target": "builtins:len", "args": [' + b"7" * 5000 + b"]}")
        if hasattr(sys, "get_int_max_str_digits"):  # 3.11+ and the security releases before it refuse it
            self.assertEqual([(r["id"], r["error"]["kind"]) for r in replies], [(4, "protocol")])
        else:  # an older decoder reads it: the call runs on the dispatching thread, and len() refuses an int
            self.assertEqual([(r["id"], r["error"]["kind"]) for r in replies], [(4, "exception")])

    def test_a_message_over_the_size_limit_is_answered_unread(self):
        big = b'{"id": 5, "type": "call", "target": "builtins:len", "args": ["' + b"x" * 70000 + b'"]}'
        self.assertIn("over the 65536 byte limit", self.assert_refused(big, 5))

    def test_a_handler_that_fails_is_answered_and_the_loop_goes_on(self):
        def broken(request):
            raise RuntimeError("a defect in a handler")
        self.agent.handlers["ping"] = broken
        self.agent.handlers["threads"] = self.agent._ping
        self.transport.sent.clear()
        self.agent._dispatch([b'{"id": 6, "type": "ping"}', b'{"id": 7, "type": "threads"}'])
        self.assertEqual([(r["id"], r["status"]) for r in self.transport.sent], [(6, "error"), (7, "ok")])
        self.assertIn("a defect in a handler", self.transport.sent[0]["error"]["message"])

    def test_a_flood_of_undecodable_frames_writes_a_bounded_log(self):
        from pyleash import control
        import io
        saved, sys.stderr = sys.stderr, io.StringIO()
        control._log_window[:] = [time.monotonic(), 0, 0]
        try:
            self.agent._dispatch([b"\xff not json"] * 1000)
            lines = sys.stderr.getvalue().count("\n")
        finally:
            sys.stderr = saved
        self.assertLessEqual(lines, control._LOG_BURST)


class ValuesTest(unittest.TestCase):
    """Values cross exactly or are refused naming where they sit (docs/values.md)."""

    def test_integers_beyond_2_to_the_53_are_tagged_and_others_are_not(self):
        frame = protocol.encode(protocol.ok(1, [2 ** 70, -(2 ** 53), 2 ** 53 - 1, {"a": (2 ** 64,)}, "12345678901234567890"]))
        self.assertEqual(json.loads(frame)["result"], [
            {"__pyleash__": "int", "value": str(2 ** 70)}, {"__pyleash__": "int", "value": str(-(2 ** 53))},
            2 ** 53 - 1, {"a": [{"__pyleash__": "int", "value": str(2 ** 64)}]}, "12345678901234567890"])

    def test_tagged_arguments_arrive_as_the_values_they_stand_for(self):
        message = protocol.decode(b'{"id": 1, "type": "call", "args": [{"__pyleash__": "int", "value": "-1180591620717411303424"},'
                                  b' {"__pyleash__": "float", "value": "-0"}]}')
        big, zero = message["args"]
        self.assertEqual(big, -(2 ** 70))
        self.assertEqual((zero, str(zero)), (0.0, "-0.0"))

    def test_a_lone_surrogate_crosses_escaped(self):
        frame = protocol.encode(protocol.ok(1, ["\ud800", "é"]))
        self.assertEqual(json.loads(frame)["result"], ["\ud800", "é"])

    def test_a_result_that_cannot_cross_names_its_type_and_path(self):
        for value, python_type, path in (({"a": [1, {2}]}, "set", "result.a[1]"), ([0, float("nan")], "float (nan)", "result[1]"),
                                         ({"k": {"__pyleash__": 1}}, "dict", "result.k.__pyleash__")):
            with self.assertRaises(protocol.NotSerializable) as ctx:
                protocol.encode(protocol.ok(1, value))
            self.assertEqual((ctx.exception.python_type, ctx.exception.path), (python_type, path))


class HelloTest(unittest.TestCase):
    def test_the_hello_lists_the_strategies_this_interpreter_supports(self):
        hello = agent._hello("token", "builtin")
        self.assertEqual(hello["protocol"], contract.PROTOCOL_VERSION)
        strategies = hello["strategies"]
        self.assertEqual(strategies, [s for s in contract.STRATEGIES if s in strategies])  # the contract's order
        self.assertEqual("monitor" in strategies, sys.version_info >= (3, 12))
        self.assertEqual("signal" in strategies, sys.platform != "win32")
        self.assertLessEqual({"auto", "flag", "async-exc", "trace", "terminate", "cancel"}, set(strategies))


class KindsTest(unittest.TestCase):
    def test_there_is_one_kind_per_name_of_the_contract(self):
        self.assertEqual(sorted(KINDS), sorted(contract.KINDS))
        for name, kind in KINDS.items():
            self.assertEqual(kind.name, name)
            self.assertEqual(kind.ladder, contract.LADDERS[name])

    def test_every_strategy_a_kind_supports_has_a_step(self):
        for kind in KINDS.values():
            for strategy in kind.strategies:
                self.assertTrue(kind.step(strategy) or strategy in IN_THREAD_STEPS, (kind.name, strategy))


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
