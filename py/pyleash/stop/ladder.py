"""Stopping a task: one strategy, or the `auto` escalation ladder, and the report of how it went."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional

from pyleash import errors, protocol
from pyleash.errors import TaskStopped
from pyleash.stop import prime, run_stop
from pyleash.stop.async_exc import async_raise
from pyleash.tasks.task import Task

# auto: the kind's gentle step, then its forceful one; each but the last gets grace_s.
LADDERS = {
    "thread": ("flag", "async-exc"),
    "main": ("flag", "signal"),
    "process": ("flag", "terminate"),
    "asyncio": ("flag", "cancel"),
}
SUPPORTED = {
    "thread": ("flag", "async-exc", "trace", "monitor"),
    "main": ("flag", "signal", "async-exc", "trace", "monitor"),
    "process": ("flag", "terminate"),
    "asyncio": ("flag", "cancel"),
}


class StopRun:
    """One stop request, reported once.

    begin() runs on the control thread and makes the first delivery at once; carry_on() runs on a
    pyleash-stop-<id> thread for the rest: re-deliveries, escalation, the deadline. The report leaves
    through `send` from whichever sees the end first: that thread, or the task's own thread as it
    finishes (answer_on_end). Under GIL contention every thread that has to wake adds a wait for the GIL,
    so the usual path is: control thread -> target thread, which unwinds and reports.
    """

    def __init__(self, task: Task, strategy: str, grace_s: float, deadline_s: float, request_id: Any,
                 send: Callable[[Dict[str, Any]], None]) -> None:
        """`send` takes the answer to request `request_id`: the report, or the error that prevented it."""
        self.task = task
        self.strategy = strategy
        self.grace_s = grace_s
        self.t0 = time.perf_counter()
        self.end = self.t0 + deadline_s
        self.deadline_s = deadline_s
        self.report: Dict[str, Any] = {"strategy": strategy, "steps": [], "swallowed": 0, "blockedIn": None}
        self.plan = LADDERS[task.kind] if strategy == "auto" else (strategy,)
        self.primed: Optional[int] = None  # run_stop's first injection, made by begin()
        self.first_delivery = 0
        self._request_id = request_id
        self._send = send
        self._sent = False
        self._lock = threading.Lock()

    def begin(self) -> bool:
        """On the control thread. False if the answer is already sent (ended task, strategy unavailable)."""
        try:
            return self._begin()
        except Exception as exc:  # e.g. SystemError from async_raise: answered, the control loop goes on
            self._conclude_with(exc)
            return False

    def _begin(self) -> bool:
        task = self.task
        if task.ended.is_set():
            self._conclude("finished-first", None, None, "the task had already ended (%s)" % task.status)
            return False
        reason = unavailable(task, self.strategy)
        if reason:
            self._conclude("unavailable", None, None, reason)
            return False
        if task.stop_asked_at is None:
            task.stop_asked_at = self.t0
        if task.ident is not None:
            self.first_delivery = errors.deliveries(task.ident)
        task.stop_runs.append(self)
        first = self.plan[0]
        self.report["steps"].append({"strategy": first, "atMs": 0.0})
        if first == "flag":
            task.stop_event.set()
        elif first == "async-exc" and task.ident is not None:
            self.primed = prime(task.ident, lambda: not task.unwinding and _inject_async(task))
        return True

    def carry_on(self) -> None:
        """On the stop thread: the strategy or the ladder, until the task is gone or the deadline."""
        task, report = self.task, self.report
        try:
            for i, step in enumerate(self.plan):
                now = time.perf_counter()
                if _gone(task) or now >= self.end:
                    break
                if i:
                    report["steps"].append({"strategy": step, "atMs": _ms(now - self.t0)})
                step_end = self.end if i == len(self.plan) - 1 else min(self.end, now + self.grace_s)
                STEPS[step](self, step_end)
            if _wait_gone(task, self.end):
                self._conclude("stopped", time.perf_counter() - self.t0, task.unwound)
                return
            report["stack"] = _stack(task)
            report["blockedIn"] = report["stack"][-1] if report["stack"] else None
            self._conclude("blocked", None, None, "still running %d ms after the stop was asked" % (self.deadline_s * 1000))
        except BaseException as exc:  # noqa: B902 - the controller must get an answer
            self._conclude_with(exc)

    def answer_on_end(self) -> Optional[Dict[str, Any]]:
        """On the thread that ends the task, as it does: the answer for it to send, unless already sent."""
        task = self.task
        if task.kind == "asyncio":  # the loop thread ends it; cancels it swallowed are counted by _cancel
            return None
        if not self._claim():
            return None
        self.report["swallowed"] = max(0, task.delivered - self.first_delivery - 1)
        return self._answer("stopped", (task.ended_at or time.perf_counter()) - self.t0, task.unwound)

    def _conclude(self, outcome: str, latency: Optional[float], finally_ran: Optional[bool], reason: Optional[str] = None) -> None:
        if self._claim():
            self._send(self._answer(outcome, latency, finally_ran, reason))

    def _conclude_with(self, exc: BaseException) -> None:
        if self._claim():
            self._send(protocol.error(self._request_id, protocol.EXCEPTION, exc))

    def _claim(self) -> bool:
        """True once: for whoever answers the request."""
        with self._lock:
            claimed, self._sent = not self._sent, True
        return claimed

    def _answer(self, outcome: str, latency: Optional[float], finally_ran: Optional[bool], reason: Optional[str] = None) -> Dict[str, Any]:
        report = dict(self.report, steps=list(self.report["steps"]), outcome=outcome, finallyRan=finally_ran)
        report["latencyMs"] = None if latency is None else _ms(latency)
        if reason:
            report["reason"] = reason
        return protocol.ok(self._request_id, report)


def unavailable(task: Task, strategy: str) -> Optional[str]:
    """Why this strategy cannot act on this task, or None."""
    if strategy == "auto":
        return None
    if strategy not in SUPPORTED[task.kind]:
        fits = [kind for kind, names in SUPPORTED.items() if strategy in names]
        return "strategy %r does not apply to a %r task (it needs kind %s)" % (strategy, task.kind, " or ".join(repr(k) for k in fits))
    if strategy == "trace" and not task.trace:
        return "strategy 'trace' needs the task started with trace: true (the trace must be installed when it starts)"
    if strategy == "monitor":
        from pyleash.stop import monitor

        ok, why = monitor.available()
        return None if ok else why
    return None


def _flag(run: StopRun, until: float) -> None:
    run.task.stop_event.set()
    _wait_gone(run.task, until)


def _deliver(run: StopRun, until: float, inject: Callable[[], bool]) -> None:
    """Deliver TaskStopped by `inject`, again after each one swallowed, until the task is gone or `until`."""
    task = run.task
    primed, run.primed = run.primed, None

    def guarded() -> bool:
        return not task.unwinding and inject()

    result = run_stop(task.ident, guarded, lambda: not _gone(task), lambda t: _wait_gone(task, time.perf_counter() + t),
                      max(0.0, until - time.perf_counter()), primed=primed)
    run.report["swallowed"] += result["swallowed"]


def _inject_async(task: Task) -> bool:
    try:
        async_raise(task.ident, TaskStopped)
    except ValueError:  # the thread state is gone: the task is leaving
        return False
    return True


def _async_exc(run: StopRun, until: float) -> None:
    _deliver(run, until, lambda: _inject_async(run.task))


def _trace(run: StopRun, until: float) -> None:
    killer = run.task.killer  # one shot: CPython drops a trace function that raised, so a swallowed kill is final
    _deliver(run, until, lambda: not killer.spent and (killer.kill() or True))


def _monitor(run: StopRun, until: float) -> None:
    from pyleash.stop.monitor import MonitorKill

    kill = MonitorKill()
    kill.arm(run.task.ident)  # zero cost until now: events are switched on only for the stop
    try:
        _deliver(run, until, lambda: kill.fire() or True)
    finally:
        kill.disarm()


def _signal(run: StopRun, until: float) -> None:
    from pyleash.tasks.main_kind import MAIN_SIGNAL

    _deliver(run, until, MAIN_SIGNAL.request_stop)


def _terminate(run: StopRun, until: float) -> None:
    task, process = run.task, run.task.killer
    t0 = time.perf_counter()
    process.terminate()  # SIGTERM: the child raises TaskStopped and unwinds
    if _wait_gone(task, min(until, t0 + run.grace_s)):
        return
    run.report["steps"].append({"strategy": "kill", "atMs": _ms(time.perf_counter() - run.t0)})
    process.kill()  # SIGKILL: nothing in the child runs any more
    _wait_gone(task, until + 5.0)  # a SIGKILLed process always goes; wait for the reaping


def _cancel(run: StopRun, until: float) -> None:
    from pyleash.tasks.asyncio_kind import loop

    task = run.task
    cancels = 0
    while not _gone(task) and time.perf_counter() < until:
        if task.killer is not None:
            loop().call_soon_threadsafe(task.killer.cancel)
            cancels += 1
        _wait_gone(task, min(until, time.perf_counter() + run.grace_s))
    if cancels > 1 and _gone(task):
        run.report["swallowed"] += cancels - 1  # the coroutine caught CancelledError and carried on


STEPS: Dict[str, Callable[[StopRun, float], None]] = {
    "flag": _flag,
    "async-exc": _async_exc,
    "trace": _trace,
    "monitor": _monitor,
    "signal": _signal,
    "terminate": _terminate,
    "cancel": _cancel,
}


def _gone(task: Task) -> bool:
    """The task has ended and, for a thread of its own, the thread is observed dead."""
    if not task.ended.is_set():
        return False
    thread = task.thread
    own_thread = task.kind in ("thread", "process") and thread is not None
    return not (own_thread and thread.is_alive())


def _wait_gone(task: Task, until: float) -> bool:
    remaining = until - time.perf_counter()
    if remaining > 0 and task.ended.wait(remaining) and task.kind in ("thread", "process") and task.thread:
        task.thread.join(max(0.0, until - time.perf_counter()))
    return _gone(task)


def _stack(task: Task) -> List[Dict[str, Any]]:
    from pyleash.stop.stacks import thread_stack

    if task.kind == "process" or task.ident is None:
        return []
    return thread_stack(task.ident)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
