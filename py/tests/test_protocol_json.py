"""The agent's JSON on the call path: the C encoder kept per thread, the C scanner called directly."""
import threading
import unittest

from pyleash import protocol


class EncoderTests(unittest.TestCase):
    def test_a_failed_encoding_leaves_no_circular_marker_behind(self):
        # The kept encoder marks each container while it encodes it; a failure midway must not leave `message`
        # marked, or its next encoding would be refused as circular.
        message = {"id": 1, "result": {"items": [1, 2], "bad": {1, 2}}}
        with self.assertRaises(protocol.NotSerializable) as caught:
            protocol.encode_frames(message)
        self.assertEqual(caught.exception.python_type, "set")
        del message["result"]["bad"]
        self.assertEqual(protocol.encode_frames(message), [b'{"id":1,"result":{"items":[1,2]}}'])

    def test_threads_encoding_one_shared_value_at_once_all_succeed(self):
        shared = {"rows": [[i, str(i)] for i in range(200)]}
        expected = protocol.encode_frames({"id": 1, "result": shared})
        failures = []

        def encode_many():
            for _ in range(300):
                if protocol.encode_frames({"id": 1, "result": shared}) != expected:
                    failures.append("differs")

        threads = [threading.Thread(target=encode_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(failures, [])

    def test_nan_and_infinity_are_refused_as_before(self):
        for value in (float("nan"), float("inf")):
            with self.assertRaises(protocol.NotSerializable):
                protocol.encode_frames({"id": 1, "result": value})


class DecoderTests(unittest.TestCase):
    def test_whitespace_around_the_object_is_accepted(self):
        self.assertEqual(protocol.decode(b' {"id":1,"type":"ping"}\n'), {"id": 1, "type": "ping"})

    def test_trailing_data_and_empty_frames_are_protocol_errors_with_the_id_when_readable(self):
        with self.assertRaises(protocol.ProtocolError) as caught:
            protocol.decode(b'{"id":7,"type":"ping"} x')
        self.assertEqual(caught.exception.request_id, 7)
        for frame in (b"", b"   ", b"[1]"):
            with self.assertRaises(protocol.ProtocolError):
                protocol.decode(frame)


if __name__ == "__main__":
    unittest.main()
