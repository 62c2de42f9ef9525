"""Shared fixtures for the stop tests: workers that report how they ended and always clean up, and the
agent's own stop path (a real task of a real kind, stopped by a StopRun) for tests to drive."""
from __future__ import annotations

import itertools
import sys
import time
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence

from pyleash import contract, deliveries
from pyleash.deliveries import TaskStopped
from pyleash.stop.ladder import StopRun
from pyleash.tasks.kind import Kind
from pyleash.tasks.registry import KINDS
from pyleash.tasks.task import Task

JOIN_S = 10.0  # generous: the machine is shared and noisy
GRACE_S = contract.STOP_DEFAULTS["graceMs"] / 1000.0

_ids = itertools.count(1)


class Worker:
    """A daemon thread running body(self); its loops poll self.quit so tearDown can always end them."""

    def __init__(self, body: Callable[["Worker"], Any], setup: Optional[Callable[[], Any]] = None) -> None:
        self.body = body
        self.setup = setup  # runs in the thread before the body
        self.quit = False
        self.started = threading.Event()  # the body sets it once it is where the test wants it
        self.outcome: Optional[str] = None
        self.swallowed: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            if self.setup is not None:
                self.setup()
            self.body(self)
            self.outcome = "returned"
        except TaskStopped:
            self.outcome = "stopped"

    def start(self) -> "Worker":
        self.thread.start()
        self._wait_started()
        return self

    def _wait_started(self) -> None:
        if not self.started.wait(JOIN_S):
            raise AssertionError("worker never reached its blocking point")

    def finish(self) -> None:
        self.quit = True
        self.thread.join(JOIN_S)
        if self.thread.is_alive():
            raise AssertionError("worker thread left behind")


class Inbox:
    """What a task and its stops send, as the agent's transport would get it: emit for the task, send for StopRun."""

    def __init__(self) -> None:
        self.messages: List[Dict[str, Any]] = []
        self._arrived = threading.Condition()

    def __call__(self, *messages: Dict[str, Any]) -> None:
        with self._arrived:
            self.messages.extend(messages)
            self._arrived.notify_all()

    def wait_for(self, predicate: Callable[[Dict[str, Any]], bool], timeout: float = JOIN_S) -> Dict[str, Any]:
        def first() -> Optional[Dict[str, Any]]:
            return next((m for m in self.messages if predicate(m)), None)

        with self._arrived:
            found = self._arrived.wait_for(first, timeout)
        if found is None:
            raise AssertionError("no such message in %r" % (self.messages,))
        return found


def new_task(kind: Kind, target: str, args: Sequence[Any] = (), trace: bool = False) -> Task:
    task_id = "t%d" % next(_ids)
    return Task(task_id, kind, target, list(args), {}, task_id, trace)


def wait_running(task: Task, timeout: float = JOIN_S) -> bool:
    """Until the task's function is under way on its thread (its record has the thread's ident), bounded."""
    end = time.monotonic() + timeout
    while task.ident is None:
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def stop(task: Task, inbox: Inbox, strategy: str, deadline_s: float, grace_s: float = GRACE_S) -> Dict[str, Any]:
    """Stop `task` as the agent's stop request does (StopRun.begin, then carry_on); the StopReport it answers."""
    request_id = next(_ids)
    run = StopRun(task, strategy, grace_s, deadline_s, request_id, inbox)
    if run.begin():
        run.carry_on()
    reply = inbox.wait_for(lambda m: m.get("id") == request_id, deadline_s + JOIN_S)
    if reply["status"] != "ok":
        raise AssertionError("the stop failed: %r" % (reply,))
    return reply["result"]


def run_worker(worker: Worker) -> None:
    """The target of a TaskWorker's task."""
    worker._run()


class TaskWorker(Worker):
    """A Worker run as a real thread task of the agent (pyleash.tasks.thread_kind), stopped through the ladder."""

    def __init__(self, body: Callable[[Worker], Any], trace: bool = False) -> None:
        super().__init__(body)
        self.inbox = Inbox()
        self.task = new_task(KINDS["thread"], "tests.stop_helpers:run_worker", [self], trace)
        self.base_deliveries = 0

    def start(self) -> "TaskWorker":
        KINDS["thread"].start(self.task, self.inbox)
        assert self.task.thread is not None
        self.thread = self.task.thread
        self._wait_started()
        self.base_deliveries = deliveries.deliveries(self.task.ident)  # type: ignore[arg-type]  (a reused ident's)
        return self

    @property
    def delivered(self) -> int:
        """TaskStopped instances its thread made while it ran the task (once the task has ended)."""
        return self.task.delivered - self.base_deliveries

    def stop(self, strategy: str, deadline_s: float, grace_s: float = GRACE_S) -> Dict[str, Any]:
        return stop(self.task, self.inbox, strategy, deadline_s, grace_s)


def spin(w: Worker) -> None:
    """A pure-Python loop over several lines."""
    w.started.set()
    x = 0
    while not w.quit:
        x += 1
        x -= 1


def spin_one_line(w: Worker) -> None:
    """A loop on one line: no LINE event per iteration on 3.12+, no trace 'line' event on 3.10/3.11."""
    w.started.set()
    while not w.quit: pass  # noqa: E701


def retry_three_times(w: Worker) -> None:
    """Swallows TaskStopped with a bare except and starts over, three times, then returns."""
    for _ in range(3):
        try:
            spin(w)
        except:  # noqa: E722 - the point of the fixture
            w.swallowed.append(sys.exc_info()[1])  # type: ignore[arg-type]
