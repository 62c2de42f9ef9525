"""The batch walker arms the TaskStopped of every stop due in one pass together (pyleash.stop.steps.inject_async_many)."""
import threading
import time
import unittest

from pyleash.stop.steps import inject_async_many


class _Target:
    """What inject_async_many reads of a task: its thread, its inject lock, and whether it closed injections."""

    def __init__(self, ident):
        self.ident = ident
        self.inject_lock = threading.Lock()
        self.unwinding = False
        self.shielded = False
        self.held = False


def _spin(deadline):
    while time.monotonic() < deadline:
        pass


def _spin_until_stopped(started, caught):
    from pyleash.deliveries import TaskStopped

    started.release()
    try:  # the loop in a call of its own: 3.13.0 can leave a try whose first statement is the loop (async_exc.py)
        _spin(time.monotonic() + 30)  # bounded: a failed test must not leave it spinning
    except TaskStopped:
        caught.append(threading.get_ident())
    finally:
        from pyleash.stop.rearm import disarm

        disarm()


class InjectManyTest(unittest.TestCase):
    def test_every_target_is_armed_and_one_that_closed_injections_is_left_alone(self):
        started = threading.Semaphore(0)
        caught = []
        threads = [threading.Thread(target=_spin_until_stopped, args=(started, caught), daemon=True) for _ in range(20)]
        for thread in threads:
            thread.start()
        for _ in threads:
            self.assertTrue(started.acquire(timeout=30))
        targets = [_Target(thread.ident) for thread in threads]
        targets[3].unwinding = True  # its thread closed injections: never armed, it runs on
        gone = _Target(threads[0].ident + 1_000_003)  # no thread state has this id
        made = inject_async_many(targets + [gone])
        self.assertEqual(made, [True] * 3 + [False] + [True] * 16 + [False])
        for i, thread in enumerate(threads):
            if i != 3:
                thread.join(30)
                self.assertFalse(thread.is_alive())
        self.assertEqual(sorted(caught), sorted(t.ident for i, t in enumerate(threads) if i != 3))
        targets[3].unwinding = False  # reopened (here: as a plain thread): it is armed like the others
        self.assertEqual(inject_async_many([targets[3]]), [True])
        threads[3].join(30)
        self.assertFalse(threads[3].is_alive())

    def test_every_inject_lock_is_released_after_the_pass(self):
        target = _Target(threading.get_ident())
        target.unwinding = True
        inject_async_many([target])
        self.assertTrue(target.inject_lock.acquire(blocking=False))


if __name__ == "__main__":
    unittest.main()
