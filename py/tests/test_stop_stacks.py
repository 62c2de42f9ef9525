"""thread_stack / blocked_in, and the faulthandler dump and its parser."""
from __future__ import annotations

import signal
import tempfile
import threading
import time
import unittest

from pyleash.stop import stacks
from tests.stop_helpers import Worker


def nap_here(w: Worker) -> None:
    w.started.set()
    while not w.quit:
        time.sleep(0.02)  # the line the tests look for


SAMPLE_38 = """Thread 0x00007ff4ca1576c0 (most recent call first):
  File "fh.py", line 4 in deep
  File "/usr/lib/python3.8/threading.py", line 870 in run
  ...

Current thread 0x00007ff4caa62b80 (most recent call first):
  File "fh.py", line ??? in <module>
"""
SAMPLE_313_ONE = """Stack (most recent call first):
  File "/tmp/x.py", line 3 in f
  File "/tmp/x.py", line 1 in <module>
"""


class ThreadStackTest(unittest.TestCase):
    def setUp(self) -> None:
        self.worker = Worker(nap_here).start()

    def tearDown(self) -> None:
        self.worker.finish()

    def test_innermost_frame_is_where_it_waits(self) -> None:
        frames = stacks.thread_stack(self.worker.thread.ident)  # type: ignore[arg-type]
        self.assertEqual(frames[-1]["function"], "nap_here")
        self.assertEqual(frames[-1]["code"], "time.sleep(0.02)  # the line the tests look for")
        self.assertTrue(frames[-1]["file"].endswith("test_stop_stacks.py"))
        self.assertIn("_bootstrap", [f["function"] for f in frames])
        self.assertEqual(stacks.blocked_in(self.worker.thread.ident), frames[-1])  # type: ignore[arg-type]
        self.assertEqual(len(stacks.thread_stack(self.worker.thread.ident, limit=2)), 2)  # type: ignore[arg-type]

    def test_unknown_thread(self) -> None:
        self.assertEqual(stacks.thread_stack(1), [])
        self.assertIsNone(stacks.blocked_in(1))

    @unittest.skipIf(stacks.DUMP_SIGNAL is None, "no SIGUSR1")
    def test_faulthandler_dump_from_the_signal_handler(self) -> None:
        with tempfile.TemporaryFile("w+") as out:
            stacks.register_dump(out)
            try:
                signal.pthread_kill(threading.get_ident(), stacks.DUMP_SIGNAL)  # dumped before this returns
            finally:
                self.assertTrue(stacks.unregister_dump())
            out.seek(0)
            threads = stacks.parse_faulthandler_dump(out.read())
        by_id = {t["thread_id"]: t for t in threads}
        worker = by_id[self.worker.thread.ident]
        self.assertFalse(worker["current"])
        self.assertEqual(worker["frames"][-1]["function"], "nap_here")
        self.assertIsInstance(worker["frames"][-1]["line"], int)
        self.assertTrue(by_id[threading.get_ident()]["current"])


class ParseTest(unittest.TestCase):
    def test_parses_all_threads(self) -> None:
        threads = stacks.parse_faulthandler_dump(SAMPLE_38)
        self.assertEqual([t["thread_id"] for t in threads], [0x00007FF4CA1576C0, 0x00007FF4CAA62B80])
        self.assertEqual([t["current"] for t in threads], [False, True])
        self.assertEqual(threads[0]["frames"][-1], {"file": "fh.py", "line": 4, "function": "deep"})
        self.assertEqual(threads[0]["frames"][0]["function"], "run")
        self.assertTrue(threads[0]["truncated"])
        self.assertEqual(threads[1]["frames"], [{"file": "fh.py", "line": None, "function": "<module>"}])

    def test_parses_a_single_stack(self) -> None:
        (one,) = stacks.parse_faulthandler_dump(SAMPLE_313_ONE)
        self.assertIsNone(one["thread_id"])
        self.assertEqual([f["function"] for f in one["frames"]], ["<module>", "f"])

    def test_ignores_noise(self) -> None:
        self.assertEqual(stacks.parse_faulthandler_dump("hello\n  File nowhere\n"), [])


if __name__ == "__main__":
    unittest.main()
