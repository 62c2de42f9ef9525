"""Swallowing loops under `async-exc` and a lazy `trace`: the line hook armed by the first delivery (pyleash.stop.rearm)."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import unittest
from typing import Any, Dict, List, Optional

from pyleash import deliveries
from pyleash.deliveries import TaskStopped
from pyleash.stop import rearm
from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, Task, body, run
from tests.stop_helpers import JOIN_S, Inbox, TaskWorker, Worker, new_task, spin, stop, wait_running


def _work(n: int = 2000) -> int:
    """Long enough that a delivery almost always lands inside the caller's `try`, not on its loop's back-edge."""
    x = 0
    for i in range(n):
        x += i
    return x


def swallow_bare(w: Worker) -> None:
    w.started.set()
    while not w.quit:
        try:
            _work()
        except:  # noqa: E722 - the point of the fixture
            pass


def swallow_base_exception(w: Worker) -> None:
    w.started.set()
    while not w.quit:
        try:
            _work()
        except BaseException as exc:  # noqa: BLE001
            w.swallowed.append(exc)


def swallow_nested(w: Worker) -> None:
    """`except TaskStopped: pass` in an inner loop, itself inside another loop."""
    w.started.set()
    while not w.quit:
        for _ in range(100):
            try:
                _work()
            except TaskStopped:
                pass


def _swallowing_call() -> None:
    try:
        _work()
    except:  # noqa: E722
        pass


def swallow_in_callee(w: Worker) -> None:
    w.started.set()
    while not w.quit:
        _swallowing_call()


def swallow_with_finally(w: Worker) -> None:
    """A swallowing loop inside try/finally; the inner finally runs on every iteration too."""
    w.finally_ran = False  # type: ignore[attr-defined]
    w.inner_finally = 0  # type: ignore[attr-defined]
    w.started.set()
    try:
        while not w.quit:
            try:
                try:
                    _work()
                finally:
                    w.inner_finally += 1  # type: ignore[attr-defined]
            except:  # noqa: E722
                pass
    finally:
        w.finally_ran = True  # type: ignore[attr-defined]


def swallow_and_continue(w: Worker) -> None:
    w.started.set()
    while not w.quit:
        try:
            _work()
        except:  # noqa: E722
            w.swallowed.append(sys.exc_info()[1])  # type: ignore[arg-type]
            continue


def swallow_twice_in_one_frame(w: Worker) -> None:
    """Two swallowing loops, one inside the other, in one frame: the escape from the inner one is swallowed too."""
    w.started.set()
    while not w.quit:
        try:
            while not w.quit:
                try:
                    _work()
                except:  # noqa: E722
                    pass
        except BaseException:  # noqa: BLE001
            pass


def swallow_with_multiline_finally(w: Worker) -> None:
    """The cleanup after the escape has several lines, each of which must run."""
    w.cleanup = []  # type: ignore[attr-defined]
    w.started.set()
    try:
        while not w.quit:
            try:
                _work()
            except BaseException:  # noqa: BLE001
                pass
    finally:
        w.cleanup.append(1)  # type: ignore[attr-defined]
        w.cleanup.append(2)  # type: ignore[attr-defined]
        w.cleanup.append(3)  # type: ignore[attr-defined]


class SwallowingLoopTest(unittest.TestCase):
    """async-exc stops loops that swallow every delivery, with the count of swallowed deliveries kept."""

    def _stop(self, fixture: Any, strategy: str = "async-exc") -> Dict[str, Any]:
        worker = TaskWorker(fixture).start()
        try:
            report = worker.stop(strategy, deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertEqual(report["outcome"], "stopped", report)
        self.assertEqual(worker.outcome, "stopped")
        # Usually 1; 0 when the delivery happened to land outside the try (on the loop's own line): the count is
        # what happened, each delivery but the last.
        self.assertEqual(report["swallowed"], worker.delivered - 1, report)
        self.assertFalse(rearm.armed(worker.task.ident))  # type: ignore[arg-type]
        self.worker = worker
        return report

    def test_stops_a_loop_with_a_bare_except(self) -> None:
        self._stop(swallow_bare)

    def test_stops_a_loop_that_catches_base_exception(self) -> None:
        # A delivery lands on the loop's own back-edge, outside the `try`, about once in a few thousand: then nothing
        # was swallowed and the run says nothing about the handler. Bounded retries make that vanishingly rare.
        for _ in range(5):
            self._stop(swallow_base_exception)
            if self.worker.swallowed:
                break
        self.assertGreaterEqual(len(self.worker.swallowed), 1)
        self.assertTrue(all(isinstance(e, TaskStopped) for e in self.worker.swallowed))

    def test_stops_except_task_stopped_nested_in_another_loop(self) -> None:
        self._stop(swallow_nested)

    def test_stops_a_swallow_inside_a_called_function(self) -> None:
        self._stop(swallow_in_callee)

    def test_stops_a_handler_that_continues(self) -> None:
        self._stop(swallow_and_continue)

    def test_finally_blocks_run_once_it_escapes(self) -> None:
        report = self._stop(swallow_with_finally)
        self.assertIs(report["finallyRan"], True)
        self.assertIs(self.worker.finally_ran, True)  # type: ignore[attr-defined]

    def test_stops_two_swallowing_loops_in_one_frame(self) -> None:
        report = self._stop(swallow_twice_in_one_frame)
        self.assertGreaterEqual(report["swallowed"], 1, report)  # 2 unless a delivery landed on a loop's own line

    def test_every_line_of_the_cleanup_runs_after_the_escape(self) -> None:
        self._stop(swallow_with_multiline_finally)
        self.assertEqual(self.worker.cleanup, [1, 2, 3])  # type: ignore[attr-defined]

    def test_is_faster_than_the_redelivery_grace(self) -> None:
        report = self._stop(swallow_bare)
        self.assertLess(report["latencyMs"], JOIN_S * 1000)  # and in practice ~1 ms; see docs/performance

    def test_auto_stops_a_swallowing_loop(self) -> None:
        report = self._stop(swallow_bare, "auto")
        self.assertEqual([s["strategy"] for s in report["steps"]], ["flag", "async-exc"])

    def test_lazy_trace_stops_a_task_started_without_trace(self) -> None:
        report = self._stop(swallow_bare, "trace")
        self.assertEqual(report["steps"][0]["strategy"], "trace")

    def test_lazy_trace_stops_a_plain_loop(self) -> None:
        worker = TaskWorker(spin).start()
        try:
            report = worker.stop("trace", deadline_s=JOIN_S)
        finally:
            worker.finish()
        self.assertEqual((report["outcome"], report["swallowed"]), ("stopped", 0), report)
        self.assertEqual(worker.outcome, "stopped")


# A child interpreter runs `while True: try: n += 1 except: pass` as a task and stops it with async-exc.
_CALLS_NOTHING = r"""
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from tests.stop_helpers import JOIN_S, TaskWorker

def loop(w):
    w.started.set()
    n = 0
    while True:
        try:
            n += 1
        except:
            pass

print("running", flush=True)
worker = TaskWorker(loop).start()
report = worker.stop("async-exc", deadline_s=JOIN_S)
print(report["outcome"], flush=True)
"""


class CallsNothingLoopTest(unittest.TestCase):
    """`while True: try: n += 1 except: pass`. CPython 3.8-3.10 skip the check for pending exceptions (and for
    a GIL request) when the next instruction sets up a try; 3.10 checks only at the loop's back-edge, which
    lands there, so on 3.10 that loop never lets another thread run: the whole interpreter freezes."""

    def test_only_3_10_freezes_on_it(self) -> None:
        child = subprocess.Popen([sys.executable, "-c", _CALLS_NOTHING, os.path.dirname(os.path.dirname(__file__))],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            out, _ = child.communicate(timeout=JOIN_S)
        except subprocess.TimeoutExpired:
            child.kill()  # frozen: not even the child's stopper thread gets the GIL again
            out, _ = child.communicate()
            frozen = True
        else:
            frozen = False
        if sys.version_info[:2] == (3, 10):
            self.assertTrue(frozen, out)
        else:
            self.assertFalse(frozen)
            self.assertEqual(out.split(), ["running", "stopped"])


class NoCostBeforeTheStopTest(unittest.TestCase):
    def test_a_never_stopped_task_runs_without_trace(self) -> None:
        seen: List[Any] = []

        def body(w: Worker) -> None:
            seen.append(sys.gettrace())
            w.started.set()

        worker = TaskWorker(body).start()
        worker.finish()
        self.assertEqual(seen, [None])
        self.assertFalse(rearm.armed(worker.task.ident))  # type: ignore[arg-type]

    def test_a_swallow_without_a_stop_is_untouched(self) -> None:
        def body(w: Worker) -> None:
            for _ in range(3):
                try:
                    raise TaskStopped()  # made by the task itself, not by a stop: no hook
                except TaskStopped:
                    w.swallowed.append(sys.gettrace())  # type: ignore[arg-type]
            w.started.set()

        worker = TaskWorker(body).start()
        worker.finish()
        deliveries.forget(worker.task.ident)  # type: ignore[arg-type]  (no stop forgot them: idents are reused)
        self.assertEqual(worker.outcome, "returned")
        self.assertEqual(worker.swallowed, [None, None, None])


class _Lane(Kind):
    """A lane of tasks on one long-lived thread, like the main lane or a pool thread."""

    name = "main"
    own_thread = False

    def __init__(self) -> None:
        super().__init__()
        self.jobs: "queue.Queue[Optional[Task]]" = queue.Queue()
        self.after: "queue.Queue[Any]" = queue.Queue()  # the lane thread's trace state after each task
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def start(self, task: Task, emit: Emit) -> None:
        task.thread = self.thread
        self.jobs.put(task)
        self._emit = emit

    def _loop(self) -> None:
        while True:
            task = self.jobs.get()
            if task is None:
                return
            run(task, self._emit, body)
            mon = getattr(sys, "monitoring", None)
            tools = [t for t in range(6) if mon.get_tool(t) is not None] if mon else []
            self.after.put((sys.gettrace(), tools, sys._getframe().f_trace))


def lane_swallow(stop_flag: List[bool]) -> None:
    while not stop_flag:
        try:
            _work()
        except:  # noqa: E722
            pass


def lane_plain() -> str:
    return "traced" if sys.gettrace() is not None else "clean"


class LaneComesBackCleanTest(unittest.TestCase):
    def test_the_next_task_on_the_thread_sees_no_trace(self) -> None:
        lane = _Lane()
        inbox = Inbox()
        flag: List[bool] = []
        try:
            task = new_task(lane, "tests.test_stop_swallow:lane_swallow", [flag])
            lane.start(task, inbox)
            self.assertTrue(wait_running(task))
            report = stop(task, inbox, "async-exc", JOIN_S)
            self.assertEqual(report["outcome"], "stopped", report)
            after = new_task(lane, "tests.test_stop_swallow:lane_plain")
            lane.start(after, inbox)
            ended = inbox.wait_for(lambda m: m.get("type") == "task-ended" and m.get("task") == after.id)
            self.assertEqual((ended["status"], ended["result"]), ("finished", "clean"))
            for _ in range(2):
                self.assertEqual(lane.after.get(timeout=JOIN_S), (None, [], None))
        finally:
            flag.append(True)
            lane.jobs.put(None)
            lane.thread.join(JOIN_S)


if __name__ == "__main__":
    unittest.main()
