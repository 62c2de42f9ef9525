"""A stop's steps as objects: each strategy says whether it can act, what it does at once, and what it does after.

The ladder (pyleash.stop.ladder) asks a step instead of testing its name: begin() on the control thread when it is
the first step (the flag set, the first asynchronous exception primed), carry_on() on the stop thread until the
task is gone or the step's end, unavailable() before anything. The in-thread steps are here; a kind brings its own
others (signal, terminate, cancel) as KindStep.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

from pyleash.stop import rearm
from pyleash.stop.async_exc import async_raise
from pyleash.stop.redeliver import prime
from pyleash.deliveries import TaskStopped
from pyleash.stop.stoppable import Run, Stoppable
from pyleash.switching import in_long_turn


class Step:
    """The defaults fit a step that can always act and does nothing until the ladder reaches it."""

    name = ""

    def unavailable(self, task: Stoppable) -> Optional[str]:
        """Why this step cannot act on `task` here, or None."""
        return None

    def begin(self, run: Run) -> None:
        """On the control thread, as the stop's first step: what it delivers at once."""

    def carry_on(self, run: Run, until: float) -> None:
        """On the stop thread: act on run.task until it is gone or time.perf_counter() reaches `until`."""
        raise NotImplementedError


class KindStep(Step):
    """A kind's own step (signal, terminate, cancel): `act(run, until)`; the kind says when it cannot act
    (StopKind.unavailable)."""

    def __init__(self, name: str, act: Callable[[Run, float], None]) -> None:
        self.name = name
        self._act = act

    def carry_on(self, run: Run, until: float) -> None:
        self._act(run, until)


class FlagStep(Step):
    name = "flag"

    def begin(self, run: Run) -> None:
        run.task.stop_event.set()

    def carry_on(self, run: Run, until: float) -> None:
        run.task.stop_event.set()
        run.kind.wait_gone(run.task, until)


class AsyncExcStep(Step):
    name = "async-exc"

    def begin(self, run: Run) -> None:
        task = run.task
        if task.ident is not None:
            run.primed = prime(task.ident, lambda: guarded(task, lambda: inject_async(task)))

    def carry_on(self, run: Run, until: float) -> None:
        run.deliver(until, lambda: inject_async(run.task))


class TraceStep(AsyncExcStep):
    """trace: true, article 003's kill at the next line; started without it, the asynchronous deliveries' hook."""

    name = "trace"

    def begin(self, run: Run) -> None:
        if run.task.tracer is None:
            super().begin(run)

    def carry_on(self, run: Run, until: float) -> None:
        task = run.task
        tracer = task.tracer
        if tracer is None:  # started without trace: the first asynchronous delivery installs the line hook
            super().carry_on(run, until)
            return
        # CPython drops a trace function that raised, so once that kill was swallowed the stop goes on with
        # asynchronous deliveries, and the hook they install.
        run.deliver(until, lambda: _done(tracer.kill) if not tracer.spent else inject_async(task))


class MonitorStep(Step):
    name = "monitor"

    def unavailable(self, task: Stoppable) -> Optional[str]:
        from pyleash.stop import monitor  # sys.monitoring is looked at only when a stop asks for it

        ok, why = monitor.available()
        return None if ok else why

    def carry_on(self, run: Run, until: float) -> None:
        from pyleash.stop.monitor import MonitorKill

        kill = MonitorKill()
        kill.arm(run.task.ident)  # type: ignore[arg-type]  # zero cost until now: events are switched on only for the stop
        try:
            run.deliver(until, lambda: _done(kill.fire))
        finally:
            kill.disarm()


def guarded(task: Stoppable, inject: Callable[[], bool]) -> bool:
    """inject(), unless the task's thread has closed injections (pyleash.tasks.task.close_injections: after that
    its thread may be running other work, which a late exception would hit); while the task imports its target
    (shielded), the injection is held, and the task raises TaskStopped itself once the import is done. In a long
    turn on the GIL (pyleash.switching) a lock the task's thread holds is not waited for: False, tried again later."""
    lock = task.inject_lock
    if not lock.acquire(not in_long_turn()):  # its thread holds it (ending, or importing): not now, a tick retries
        return False
    try:
        if task.unwinding:
            return False
        if task.shielded:
            task.held = True
            return True
        return inject()
    finally:
        lock.release()


def inject_async(task: Stoppable) -> bool:
    """Arm TaskStopped in the task's thread, with the line hook its delivery installs there (pyleash.stop.rearm):
    a handler that swallows it gets it again at the next line it runs. Under the task's inject lock (guarded),
    so a thread that has closed injections is never armed again."""
    rearm.arm(task.ident)  # type: ignore[arg-type]  # costs the thread nothing until the exception is made there
    try:
        return async_raise(task.ident, TaskStopped)  # type: ignore[arg-type]  # False: not now, its new thread is not running yet
    except ValueError:  # the thread state is gone: the task is leaving
        return False


def _done(act: Callable[[], None]) -> bool:
    """act(), as an injection that was made."""
    act()
    return True


# The steps that act inside a thread of the agent; a kind brings its own others (StopKind.step).
IN_THREAD_STEPS: Dict[str, Step] = {step.name: step for step in (FlagStep(), AsyncExcStep(), TraceStep(), MonitorStep())}
