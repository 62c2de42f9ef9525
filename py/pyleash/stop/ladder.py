"""Stopping a task: one strategy, or the `auto` escalation ladder, until the task is gone or the deadline."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional

from pyleash import contract, deliveries, protocol
from pyleash.stop.redeliver import GRACE_S, run_stop
from pyleash.stop.report import StopReport
from pyleash.stop.steps import IN_THREAD_STEPS, guarded, inject_async
from pyleash.stop.stoppable import StopStep, Stoppable

_PLAN_STEPS: Dict[Any, List[StopStep]] = {}  # (kind, plan) -> its steps: a kind's steps never change
WATCH_S = 0.02  # how often the batch walker looks at an armed delivery (taken? swallowed, GRACE_S after?)
ENDING_S = 5.0  # a stop thread that found the task ended at its deadline waits this long more for it to be gone


class StopRun:
    """One stop request, reported once.

    begin() runs on the control thread and makes the first delivery at once; the rest (re-deliveries,
    escalation, the deadline) is tick() on the pyleash-stops walker for the flag/async-exc ladders
    (pyleash.stop.batch), carry_on() on a pyleash-stop-<id> thread for the others. The report leaves
    through `send` from whichever sees the end first: that thread, or the task's own thread as it
    finishes (answer_on_end). Under GIL contention every thread that has to wake adds a wait for the GIL,
    so the usual path is: control thread -> target thread, which unwinds and reports.

    The task's kind supplies the plan (its ladder), when the task is gone, its stack, and the steps only it
    can take (signal, terminate, cancel); the in-thread steps (flag, async-exc, trace, monitor) are in
    pyleash.stop.steps. Each step is an object the run asks (begin, carry_on), never a name it tests.
    """

    def __init__(self, task: Stoppable, strategy: str, grace_s: float, deadline_s: float, request_id: Any,
                 send: Callable[[Dict[str, Any]], None]) -> None:
        """`send` takes the answer to request `request_id`: the report, or the error that prevented it."""
        self.task = task
        self.kind = task.kind
        self.strategy = strategy
        self.grace_s = grace_s
        self.t0 = time.perf_counter()
        self.end = self.t0 + deadline_s
        self.deadline_s = deadline_s
        self.report = StopReport(strategy, self.t0)
        self.plan = self.kind.ladder if strategy == "auto" else (strategy,)
        self._steps: Optional[List[StopStep]] = None
        self.primed: Optional[int] = None  # run_stop's first injection, made by begin()
        self.first_delivery = 0
        self._request_id = request_id
        self._send = send
        self._sent = False
        self._lock = threading.Lock()
        # The batch walker's place in the plan (tick): the step under way, when it ends, the armed delivery's base.
        self._at = 0
        self._step_end = self.end if len(self.plan) == 1 else min(self.end, self.t0 + grace_s)
        self._armed: Optional[int] = None

    @property
    def steps(self) -> List[StopStep]:
        """The plan's steps, once its strategy is known to apply (begin() checks that first)."""
        if self._steps is None:
            key = (self.kind, tuple(self.plan))
            steps = _PLAN_STEPS.get(key)
            if steps is None:
                steps = _PLAN_STEPS[key] = [step_for(self.kind, name) for name in self.plan]
            self._steps = steps
        return self._steps

    def begin(self) -> bool:
        """On the control thread. False if the answer is already sent (ended task, strategy unavailable)."""
        try:
            return self._begin()
        except Exception as exc:  # noqa: BLE001 - e.g. SystemError from async_raise: answered, the control loop goes on
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
            self.first_delivery = deliveries.deliveries(task.ident)
        task.stop_runs.append(self)
        self.report.step(self.plan[0], self.t0)
        self.steps[0].begin(self)
        return True

    def withheld(self) -> None:
        """The task had not begun, and now never will: the step asked for counts as taken, and the report leaves
        with the task's end (answer_on_end), as when a delivery ends it."""
        task = self.task
        if task.stop_asked_at is None:
            task.stop_asked_at = self.t0
        self.report.step(self.plan[0], self.t0)
        task.stop_runs.append(self)

    def carry_on(self) -> None:
        """On the stop thread: the strategy or the ladder, until the task is gone or the deadline."""
        task, kind = self.task, self.kind
        try:
            for i, step in enumerate(self.steps):
                now = time.perf_counter()
                if kind.gone(task) or now >= self.end:
                    break
                if i:
                    self.report.step(step.name, now)
                step_end = self.end if i == len(self.steps) - 1 else min(self.end, now + self.grace_s)
                step.carry_on(self, step_end)
            if kind.wait_gone(task, self.end):
                self._conclude("stopped", time.perf_counter() - self.t0, task.unwound)
                return
            self.report.blocked([] if kind.stack_waits or task.ident is None else kind.stack(task))
            if not self._give_up():  # it has ended meanwhile: stopped, unless its end answered already
                kind.wait_gone(task, time.perf_counter() + ENDING_S)
                self._conclude("stopped", (task.ended_at or time.perf_counter()) - self.t0, task.unwound)
        except BaseException as exc:  # noqa: BLE001 - the controller must get an answer
            self._conclude_with(exc)

    def tick(self, now: float) -> Optional[float]:
        """One step of the ladder for the batch walker (pyleash.stop.batch), without waiting: None once concluded,
        else when it next needs a tick (its step's end, or soon while an exception is armed)."""
        task, kind = self.task, self.kind
        try:
            if kind.gone(task):
                deliveries.forget(task.ident)  # type: ignore[arg-type]  # the ident may be reused by a new thread
                self._conclude("stopped", (task.ended_at or now) - self.t0, task.unwound)
                return None
            if self._sent:  # answered as the task ended (answer_on_end), or failed: watched until gone, or given up
                return None if now >= self.end else min(self.end, now + WATCH_S)
            if now >= self.end and task.ended.is_set():  # ending as the deadline passed: its end answers
                if now < self.end + ENDING_S:
                    return now + WATCH_S
                self._conclude("stopped", (task.ended_at or now) - self.t0, task.unwound)
                return None
            if now >= self.end:
                if self._armed is None and self.primed is None and "async-exc" in self.plan:
                    # The walker, starved of the GIL by the task's own threads, first ticks past the deadline: the
                    # report says blocked at it, and the exception still goes, so the task ends at its next turn.
                    self._tick_async(now)
                self.report.blocked([] if kind.stack_waits else kind.stack(task))
                # Ended meanwhile: its end answers (answer_on_end), or the next tick, once it is gone.
                return None if self._give_up() else now + WATCH_S
            if self._at + 1 < len(self.plan) and now >= self._step_end:
                self._at += 1
                self.report.step(self.plan[self._at], now)
                self._step_end = self.end if self._at == len(self.plan) - 1 else min(self.end, now + self.grace_s)
            if self.plan[self._at] == "async-exc":
                self._tick_async(now)
                return min(self.end, now + WATCH_S)
            return self._step_end  # the flag: nothing to do before its step ends
        except BaseException as exc:  # noqa: BLE001 - the controller must get an answer
            self._conclude_with(exc)
            return None

    def first_tick(self) -> float:
        """When the walker first needs to tick this run, begun just now."""
        return self.t0 + WATCH_S if self.plan[0] == "async-exc" else self._step_end

    def _tick_async(self, now: float) -> None:
        """Arm TaskStopped when none waits; again once a delivery was swallowed (alive GRACE_S after it)."""
        task = self.task
        ident: int = task.ident  # type: ignore[assignment]  # batchable: the task has a thread
        if self.primed is not None:
            self._armed, self.primed = self.primed, None
        if self._armed is not None:
            if deliveries.deliveries(ident) == self._armed:
                return  # not delivered yet: the thread has not had its turn on the GIL, or sits in a C call
            if now - (deliveries.last_delivery(ident) or now) < GRACE_S:
                return  # delivered: let it unwind
            self.report.swallowed += 1
        base = deliveries.deliveries(ident)
        self._armed = base if guarded(task, lambda: inject_async(task)) else None

    def deliver(self, until: float, inject: Callable[[], bool]) -> None:
        """Deliver TaskStopped by `inject`, again after each one swallowed, until the task is gone or `until`."""
        task, kind = self.task, self.kind
        primed, self.primed = self.primed, None

        result = run_stop(task.ident, lambda: guarded(task, inject), lambda: not kind.gone(task),  # type: ignore[arg-type]
                          lambda t: kind.wait_gone(task, time.perf_counter() + t),
                          max(0.0, until - time.perf_counter()), primed=primed)
        self.report.swallowed += result["swallowed"]

    def answer_on_end(self) -> Optional[Dict[str, Any]]:
        """On the thread that ends the task, as it does: the answer for it to send, unless already sent."""
        task = self.task
        if not self.kind.answers_on_end:
            return None
        if not self._claim():
            return None
        self.report.swallowed = max(0, task.delivered - self.first_delivery - 1)
        return self._answer("stopped", (task.ended_at or time.perf_counter()) - self.t0, task.unwound)

    def _give_up(self) -> bool:
        """Answer blocked, the deadline passed; False (nothing sent) if the task has ended or the answer is sent.

        Decided and sent under the lock that answer_on_end claims under, after the task's thread has set `ended`:
        so a task ending just now either answers itself, or its end event follows this report ("blocked at the
        deadline, stopped later"), never precedes it."""
        task = self.task
        with self._lock:
            if self._sent or task.ended.is_set():
                return False
            self._sent = True
            task.abandoned = True  # listed by ping (health().abandoned) while it runs on, whatever its kind
            self._send(self._answer("blocked", None, None, "still running %d ms after the stop was asked" % (self.deadline_s * 1000)))
        self.kind.gave_up(task)
        return True

    def _conclude(self, outcome: str, latency: Optional[float], finally_ran: Optional[bool], reason: Optional[str] = None) -> None:
        if self._claim():
            self._send(self._answer(outcome, latency, finally_ran, reason))

    def fail(self, exc: BaseException) -> None:
        """The stop could not go on (its thread did not start): answer with the error, if not answered yet."""
        self._conclude_with(exc)

    def _conclude_with(self, exc: BaseException) -> None:
        if self._claim():
            self._send(protocol.error(self._request_id, protocol.EXCEPTION, exc))

    def _claim(self) -> bool:
        """True once: for whoever answers the request."""
        with self._lock:
            claimed, self._sent = not self._sent, True
        return claimed

    def _answer(self, outcome: str, latency: Optional[float], finally_ran: Optional[bool], reason: Optional[str] = None) -> Dict[str, Any]:
        return protocol.ok(self._request_id, self.report.result(outcome, latency, finally_ran, reason))


def step_for(kind: Any, strategy: str) -> StopStep:
    """The kind's own step for `strategy`, else the in-thread one."""
    return kind.step(strategy) or IN_THREAD_STEPS[strategy]


def unavailable(task: Stoppable, strategy: str) -> Optional[str]:
    """Why this strategy cannot act on this task, or None."""
    if strategy == "auto":
        return None
    kind = task.kind
    if strategy not in kind.strategies:
        fits = [name for name, names in contract.SUPPORTED.items() if strategy in names]
        return "strategy %r does not apply to a %r task (it needs kind %s)" % (strategy, kind.name, " or ".join(repr(k) for k in fits))
    return step_for(kind, strategy).unavailable(task) or kind.unavailable(strategy)
