"""The call pool: calls overlap when they block, a hot thread is reused, idle threads retire."""
import threading
import time
import unittest

from pyleash.pool import CallPool


class CallPoolTest(unittest.TestCase):
    def setUp(self):
        self.pool = CallPool(max_threads=8, retire_after_s=0.3)

    def tearDown(self):
        self.pool.close()

    def run_all(self, fns, timeout=20):
        done = threading.Semaphore(0)
        results = [None] * len(fns)

        def job(i, fn):
            try:
                results[i] = fn()
            finally:
                done.release()

        for i, fn in enumerate(fns):
            self.pool.submit(job, i, fn)
        for _ in fns:
            self.assertTrue(done.acquire(timeout=timeout), "a call never finished")
        return results

    def test_calls_never_run_on_the_submitting_thread(self):
        caller = threading.get_ident()
        self.assertNotIn(caller, self.run_all([threading.get_ident] * 5))

    def test_blocking_calls_overlap(self):
        started = time.perf_counter()
        self.run_all([lambda: time.sleep(0.5)] * 4)
        self.assertLess(time.perf_counter() - started, 4 * 0.5)  # serial would take 2 s

    def test_a_call_waiting_on_a_later_call_does_not_deadlock(self):
        later = threading.Event()
        results = self.run_all([lambda: later.wait(10), later.set])
        self.assertEqual(results[0], True)

    def test_serial_calls_reuse_the_same_hot_thread(self):
        idents = set()
        for _ in range(20):
            idents.update(self.run_all([threading.get_ident]))
        self.assertEqual(len(idents), 1)

    def test_idle_threads_retire(self):
        self.run_all([lambda: time.sleep(0.2)] * 4)
        self.assertGreater(self.pool.threads, 1)
        deadline = time.monotonic() + 10
        while self.pool.threads > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.pool.threads, 0)

    def test_a_call_that_raises_does_not_kill_its_thread(self):
        def boom():
            raise RuntimeError("expected")

        self.pool.submit(boom)
        self.assertEqual(self.run_all([lambda: 42]), [42])


if __name__ == "__main__":
    unittest.main()
