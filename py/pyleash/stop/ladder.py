"""Stopping a task: one strategy, or the `auto` escalation ladder, and the report of how it went."""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List, Optional

from pyleash.errors import TaskStopped
from pyleash.stop import run_stop
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


def stop(task: Task, strategy: str, grace_s: float, deadline_s: float) -> Dict[str, Any]:
    """Runs on a pyleash-stop-<id> thread; returns the StopReport (see ts/task/report.ts)."""
    t0 = time.perf_counter()
    report: Dict[str, Any] = {"strategy": strategy, "steps": [], "swallowed": 0, "blockedIn": None}
    if task.ended.is_set():
        return _done(report, "finished-first", None, None, "the task had already ended (%s)" % task.status)
    reason = unavailable(task, strategy)
    if reason:
        return _done(report, "unavailable", None, None, reason)
    if task.stop_asked_at is None:
        task.stop_asked_at = t0
    end = t0 + deadline_s
    plan = LADDERS[task.kind] if strategy == "auto" else (strategy,)
    for i, step in enumerate(plan):
        now = time.perf_counter()
        if _gone(task) or now >= end:
            break
        report["steps"].append({"strategy": step, "atMs": _ms(now - t0)})
        step_end = end if i == len(plan) - 1 else min(end, now + grace_s)
        STEPS[step](task, step_end, grace_s, report)
    if _wait_gone(task, end):
        return _done(report, "stopped", _ms(time.perf_counter() - t0), task.unwound)
    report["stack"] = _stack(task)
    report["blockedIn"] = report["stack"][-1] if report["stack"] else None
    return _done(report, "blocked", None, None, "still running %d ms after the stop was asked" % (deadline_s * 1000))


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


def _flag(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    task.stop_event.set()
    _wait_gone(task, until)


def _deliver(task: Task, until: float, report: Dict[str, Any], inject: Callable[[], bool]) -> None:
    """Deliver TaskStopped by `inject`, again after each one swallowed, until the task is gone or `until`."""
    def guarded() -> bool:
        return not task.unwinding and inject()

    result = run_stop(task.ident, guarded, lambda: not _gone(task), lambda t: _wait_gone(task, time.perf_counter() + t),
                      max(0.0, until - time.perf_counter()))
    report["swallowed"] += result["swallowed"]


def _async_exc(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    def inject() -> bool:
        try:
            async_raise(task.ident, TaskStopped)
        except ValueError:  # the thread state is gone: the task is leaving
            return False
        return True

    _deliver(task, until, report, inject)


def _trace(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    killer = task.killer  # one shot: CPython drops a trace function that raised, so a swallowed kill is final
    _deliver(task, until, report, lambda: not killer.spent and (killer.kill() or True))


def _monitor(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    from pyleash.stop.monitor import MonitorKill

    kill = MonitorKill()
    kill.arm(task.ident)  # zero cost until now: events are switched on only for the stop
    try:
        _deliver(task, until, report, lambda: kill.fire() or True)
    finally:
        kill.disarm()


def _signal(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    from pyleash.tasks.main_kind import MAIN_SIGNAL

    _deliver(task, until, report, MAIN_SIGNAL.request_stop)


def _terminate(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    process = task.killer
    t0 = time.perf_counter()
    process.terminate()  # SIGTERM: the child raises TaskStopped and unwinds
    if _wait_gone(task, min(until, t0 + grace_s)):
        return
    report["steps"].append({"strategy": "kill", "atMs": _ms(time.perf_counter() - (task.stop_asked_at or t0))})
    process.kill()  # SIGKILL: nothing in the child runs any more
    _wait_gone(task, until + 5.0)  # a SIGKILLed process always goes; wait for the reaping


def _cancel(task: Task, until: float, grace_s: float, report: Dict[str, Any]) -> None:
    from pyleash.tasks.asyncio_kind import loop

    cancels = 0
    while not _gone(task) and time.perf_counter() < until:
        if task.killer is not None:
            loop().call_soon_threadsafe(task.killer.cancel)
            cancels += 1
        _wait_gone(task, min(until, time.perf_counter() + grace_s))
    if cancels > 1 and _gone(task):
        report["swallowed"] += cancels - 1  # the coroutine caught CancelledError and carried on


STEPS: Dict[str, Callable[[Task, float, float, Dict[str, Any]], None]] = {
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


def _done(report: Dict[str, Any], outcome: str, latency: Optional[float], finally_ran: Optional[bool], reason: Optional[str] = None) -> Dict[str, Any]:
    report["outcome"] = outcome
    report["latencyMs"] = latency
    report["finallyRan"] = finally_ran
    if reason:
        report["reason"] = reason
    return report


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
