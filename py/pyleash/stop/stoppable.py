"""What the stop engine needs of a task and of its kind, and what a step needs of a stop: typing Protocols.

The engine never imports pyleash.tasks: a task hands itself to StopRun, and its kind brings the kind-specific
parts (when it is gone, its stack, its ladder, and the steps only it can take: signal, terminate, cancel).
This module imports nothing of the engine, so the ladder, the steps and the kinds all depend on it, never the
other way (no cycle, type-level ones included).
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple

if TYPE_CHECKING:
    from pyleash.stop.trace import TraceKill

Frame = Dict[str, Any]  # {"file", "line", "function", "code"}


class Flag(Protocol):
    """A task's stop_event as the agent sees it: threading.Event, or a process task's pipe end."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class Milestone(Protocol):
    """A one-way event of a task (threading.Event, or pyleash.tasks.latch.Latch): set once, then waited for."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: Optional[float] = None) -> bool: ...


class StopKind(Protocol):
    """The kind of a task (pyleash.tasks.kind.Kind): the ladder asks it instead of testing a kind name."""

    name: str
    ladder: Tuple[str, ...]  # the `auto` plan, from the contract
    strategies: Tuple[str, ...]  # every strategy that applies, from the contract
    answers_on_end: bool  # the thread that ends a task answers a stop under way (StopRun.answer_on_end)
    stack_waits: bool  # stack() waits for another process: not asked for in a blocked report

    def gone(self, task: Any) -> bool: ...

    def wait_gone(self, task: Any, until: float) -> bool: ...

    def stack(self, task: Any) -> List[Frame]: ...

    def unavailable(self, strategy: str) -> Optional[str]: ...

    def step(self, strategy: str) -> Optional["StopStep"]: ...

    def gave_up(self, task: Any) -> None: ...


class Stoppable(Protocol):
    """A task as the stop engine reads and writes it: only the core record every kind has (pyleash.tasks.task.Task,
    or a host thread attach.py adopts), never a kind's own state (Task.state), which only the kind's steps read."""

    # Read-only to the engine (properties, so a task may declare narrower types: Kind, threading.Event).
    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> StopKind: ...

    @property
    def stop_event(self) -> Flag: ...

    ident: Optional[int]  # the thread that runs it (the watcher thread for a process task)
    @property
    def ended(self) -> Milestone: ...  # set once the outcome fields below are written

    status: Optional[str]
    unwinding: bool  # its wrapper has caught the outcome: inject nothing more
    inject_lock: threading.Lock  # held while injecting, and while the task's thread sets `unwinding`
    shielded: bool  # importing its target: injections are held, not made
    held: bool  # an injection was held: the task raises TaskStopped itself when the shield drops
    unwound: Optional[bool]
    ended_at: Optional[float]
    delivered: int  # TaskStopped instances its thread had made when it ended (read only after a stop was asked)
    stop_asked_at: Optional[float]
    stop_runs: List["Run"]
    abandoned: bool  # a stop gave up on it (blocked): health().abandoned lists it while it runs on
    @property
    def tracer(self) -> Optional["TraceKill"]: ...  # set when started with trace: true


class StepLog(Protocol):
    """The part of a stop's report a step writes (pyleash.stop.report.StopReport)."""

    swallowed: int

    def step(self, strategy: str, at: float) -> None: ...


class Run(Protocol):
    """A stop under way as its steps see it (pyleash.stop.ladder.StopRun)."""

    @property
    def task(self) -> Stoppable: ...

    @property
    def kind(self) -> StopKind: ...

    @property
    def grace_s(self) -> float: ...

    @property
    def report(self) -> StepLog: ...

    primed: Optional[int]  # the first asynchronous injection, made by the first step's begin()

    def deliver(self, until: float, inject: Callable[[], bool]) -> None: ...

    def answer_on_end(self) -> Optional[Dict[str, Any]]: ...


class StopStep(Protocol):
    """One strategy as the ladder takes it (pyleash.stop.steps): asked, never tested by name."""

    name: str

    def unavailable(self, task: Stoppable) -> Optional[str]: ...

    def begin(self, run: Run) -> None: ...

    def carry_on(self, run: Run, until: float) -> None: ...
