"""Binary data as frames of its message: encoding, decoding, the count at the JSON frame's end, and dispatch."""
import array
import json
import threading
import unittest

from pyleash import protocol
from pyleash.control import Agent


class _Recorder:
    """A transport that keeps each message's frames as sent."""

    name = "recorder"

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def send(self, frames):
        with self.lock:
            self.messages.append(list(frames))
            self.arrived.notify_all()

    def send_many(self, messages):
        for frames in messages:
            self.send(frames)

    def wait(self, n):
        """The first n replies, each (message, its binary frames), whatever messages carried them."""
        with self.lock:
            self.arrived.wait_for(lambda: len(self._replies()) >= n, timeout=10)
            return self._replies()

    def _replies(self):
        out = []
        for frames in self.messages:
            i = 0
            while i < len(frames):
                count = protocol.binary_count(frames[i])
                out.append((json.loads(frames[i]), [bytes(f) for f in frames[i + 1:i + 1 + count]]))
                i += 1 + count
        return out


def request(message, *binary):
    """A request's frames as the controller writes them: binaryFrames last, no spaces."""
    text = json.dumps(message, separators=(",", ":"))
    if binary:
        text = text[:-1] + ',"binaryFrames":%d}' % len(binary)
    return [text.encode()] + list(binary)


class EncodeTest(unittest.TestCase):
    def test_bytes_like_values_leave_as_frames_named_by_tags(self):
        view = memoryview(b"--abcd--")[2:6]
        frames = protocol.encode_frames(protocol.ok(1, {"a": [b"x", bytearray(b"yz")], "v": view, "e": b""}))
        self.assertEqual(json.loads(frames[0]), {"id": 1, "status": "ok", "binaryFrames": 4, "result": {
            "a": [{"__pyleash__": "bytes", "value": "0"}, {"__pyleash__": "bytes", "value": "1"}],
            "v": {"__pyleash__": "bytes", "value": "2"}, "e": {"__pyleash__": "bytes", "value": "3"}}})
        self.assertTrue(frames[0].endswith(b',"binaryFrames":4}'))
        self.assertEqual([bytes(f) for f in frames[1:]], [b"x", b"yz", b"abcd", b""])

    def test_frames_are_not_copied(self):
        big = bytes(1 << 20)
        self.assertIs(protocol.encode_frames(protocol.ok(1, big))[1], big)

    def test_a_memoryview_of_other_items_crosses_as_its_bytes_and_a_strided_one_as_a_copy(self):
        ints = array.array("i", [1, 2])
        self.assertEqual(bytes(protocol.encode_frames(protocol.ok(1, memoryview(ints)))[1]), ints.tobytes())
        self.assertEqual(bytes(protocol.encode_frames(protocol.ok(1, memoryview(b"abcdef")[::2]))[1]), b"ace")

    def test_big_ints_and_lone_surrogates_still_cross_beside_bytes(self):
        frames = protocol.encode_frames(protocol.ok(1, [2 ** 70, "\ud800", b"q"]))
        self.assertEqual(json.loads(frames[0])["result"][:2], [{"__pyleash__": "int", "value": str(2 ** 70)}, "\ud800"])
        self.assertEqual(frames[1:], [b"q"])

    def test_a_reserved_key_beside_bytes_is_still_refused(self):
        with self.assertRaises(protocol.NotSerializable) as ctx:
            protocol.encode_frames(protocol.ok(1, [b"x", {"__pyleash__": "bytes", "value": "0"}]))
        self.assertEqual(ctx.exception.path, "result[1].__pyleash__")

    def test_the_offender_beside_bytes_is_named(self):
        with self.assertRaises(protocol.NotSerializable) as ctx:
            protocol.encode_frames(protocol.ok(1, [b"x", {1, 2}]))
        self.assertEqual((ctx.exception.python_type, ctx.exception.path), ("set", "result[1]"))

    def test_encode_refuses_bytes_where_no_frames_can_go(self):
        with self.assertRaises(protocol.NotSerializable) as ctx:
            protocol.encode({"status": "finished", "result": [1, b"x"]})
        self.assertEqual((ctx.exception.python_type, ctx.exception.path), ("bytes", "result[1]"))


class DecodeTest(unittest.TestCase):
    def test_binary_count_reads_the_last_bytes_only(self):
        self.assertEqual(protocol.binary_count(b'{"id":1,"binaryFrames":12}'), 12)
        self.assertEqual(protocol.binary_count(b'{"id":1,"x":{"binaryFrames":3}}'), 0)  # not top level
        self.assertEqual(protocol.binary_count(b'{"id":1,"x":"\\",\\"binaryFrames\\":3}"}'), 0)  # inside a string
        self.assertEqual(protocol.binary_count(b'{"id":2}'), 0)
        self.assertEqual(protocol.binary_count(b""), 0)

    def test_tags_revive_as_the_frames_themselves(self):
        payload = b"\x00\xff" * 1000
        frames = request({"id": 3, "type": "call", "target": "m:f", "args": [{"__pyleash__": "bytes", "value": "0"}]}, payload)
        message = protocol.decode(frames[0], frames[1:])
        self.assertIs(message["args"][0], payload)
        self.assertNotIn("binaryFrames", message)

    def test_a_tag_past_the_frames_or_a_wrong_count_is_a_protocol_error_with_the_id(self):
        bad_index = request({"id": 4, "type": "call", "args": [{"__pyleash__": "bytes", "value": "1"}]}, b"a")
        with self.assertRaises(protocol.ProtocolError) as ctx:
            protocol.decode(bad_index[0], bad_index[1:])
        self.assertEqual(ctx.exception.request_id, 4)
        frames = request({"id": 5, "type": "call", "args": []}, b"a", b"b")
        with self.assertRaises(protocol.ProtocolError) as ctx:
            protocol.decode(frames[0], frames[1:2])
        self.assertEqual(ctx.exception.request_id, 5)


class DispatchTest(unittest.TestCase):
    def setUp(self):
        self.transport = _Recorder()
        self.agent = Agent(self.transport)

    def tearDown(self):
        self.agent.pool.close()

    def test_requests_with_binary_frames_share_a_message_and_each_gets_its_own(self):
        first = request({"id": 1, "type": "call", "target": "builtins:len", "args": [{"__pyleash__": "bytes", "value": "0"}]}, b"abc")
        plain = request({"id": 2, "type": "call", "target": "math:floor", "args": [2.5]})
        second = request({"id": 3, "type": "call", "target": "builtins:bytes", "args": [{"__pyleash__": "bytes", "value": "1"}]},
                         b"unused", b"xy")
        self.agent._dispatch(first + plain + second)
        replies = {message["id"]: (message, binary) for message, binary in self.transport.wait(3)}
        self.assertEqual(replies[1][0]["result"], 3)
        self.assertEqual(replies[2][0]["result"], 2)
        self.assertEqual(replies[3][0]["result"], {"__pyleash__": "bytes", "value": "0"})
        self.assertEqual(replies[3][1], [b"xy"])

    def test_a_message_over_the_limit_with_its_binary_frames_is_refused(self):
        agent = Agent(self.transport, max_message_bytes=1000)
        try:
            agent._dispatch(request({"id": 7, "type": "call", "target": "builtins:len",
                                     "args": [{"__pyleash__": "bytes", "value": "0"}]}, bytes(2000)))
            message = self.transport.wait(1)[0][0]
            self.assertEqual((message["id"], message["error"]["kind"]), (7, "protocol"))
            self.assertIn("over the 1000 byte limit", message["error"]["message"])
        finally:
            agent.pool.close()


if __name__ == "__main__":
    unittest.main()
