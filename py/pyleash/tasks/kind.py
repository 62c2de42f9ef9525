"""A task kind: how its tasks start, when they are gone, where they are, and how the ladder stops them.

One subclass per kind (thread_kind, main_kind, process_kind, asyncio_kind), one instance each in
pyleash.tasks.registry. The stop engine (pyleash.stop) sees a kind only through its StopKind Protocol.
"""
from __future__ import annotations

import os
import time
import threading
from typing import TYPE_CHECKING, Generic, List, Optional, Protocol, Tuple, TypeVar

from pyleash import contract
from pyleash.stop.stacks import thread_stack
from pyleash.tasks.task import NO_STATE

if TYPE_CHECKING:
    from pyleash.stop.stoppable import Frame, Milestone, StopStep
    from pyleash.tasks.task import Emit, State


class Running(Protocol):
    """What the defaults below read of a task: pyleash.tasks.task.Task, or a thread attach.py adopts."""

    ident: Optional[int]

    @property
    def reported(self) -> Milestone: ...

    @property
    def thread(self) -> Optional[threading.Thread]: ...


T = TypeVar("T", bound=Running)


class Kind(Generic[T]):
    """The defaults fit a task that runs in a thread of the agent; subclasses implement start().

    Generic in the record its tasks are (T): a kind of pyleash's own tasks is a Kind[Task], the kinds of an
    attached agent take the threads they adopt; the stop engine sees any of them through StopKind.
    """

    name = ""
    own_thread = True  # the task has a thread of its own, which must be seen dead before the task is gone
    runs_in_agent = True  # the function runs in an agent thread (task.ident), not in a child process
    answers_on_end = True  # the thread that ends a task answers a stop under way (StopRun.answer_on_end)
    stack_waits = False  # stack() waits for another process: ask it off the control loop
    withholds = False  # runs its tasks through pyleash.tasks.task.run, so a stop can keep one from beginning

    def __init__(self) -> None:
        self.ladder: Tuple[str, ...] = contract.LADDERS[self.name]
        self.strategies: Tuple[str, ...] = contract.SUPPORTED[self.name]

    def new_state(self) -> State:
        """A new task's own state of this kind (Task.state): none by default; a kind that keeps some subclasses
        pyleash.tasks.task.State."""
        return NO_STATE

    def start(self, task: T, emit: Emit) -> None:
        """Start running the task; it emits task-started once its function begins, task-ended at the end."""
        raise NotImplementedError

    def gone(self, task: T) -> bool:
        """The task's end has been reported and, for a thread of its own, the thread is observed dead.

        Reported, not merely ended: a stop answered "stopped" must reach the controller after the end event.
        """
        if not task.reported.is_set():
            return False
        thread = task.thread
        return not (self.own_thread and thread is not None and thread.is_alive())

    def wait_gone(self, task: T, until: float) -> bool:
        """Wait until the task is gone or time.perf_counter() reaches `until`; whether it is gone."""
        remaining = until - time.perf_counter()
        if remaining > 0 and task.reported.wait(remaining) and self.own_thread and task.thread:
            task.thread.join(max(0.0, until - time.perf_counter()))
        return self.gone(task)

    def stack(self, task: T) -> List[Frame]:
        """The task's frames from its function inward, innermost last; [] when it is not running."""
        return own_frames(thread_stack(task.ident)) if task.ident is not None else []

    def unavailable(self, strategy: str) -> Optional[str]:
        """Why a strategy the contract gives this kind cannot act here, or None."""
        return None

    def step(self, strategy: str) -> Optional[StopStep]:
        """This kind's own step for `strategy` (a pyleash.stop.steps.KindStep); None for the in-thread steps."""
        return None

    def gave_up(self, task: T) -> None:
        """A stop ended `blocked`: the task runs on, and the kind may stop counting on what it holds."""


_WRAPPER = os.path.join("pyleash", "tasks", "task.py")


def own_frames(frames: List[Frame]) -> List[Frame]:
    """The frames below pyleash's task wrapper (call_target): what the task's own code is doing. A stack too deep
    to reach the wrapper is returned whole."""
    for i in range(len(frames) - 1, -1, -1):
        frame = frames[i]
        if frame["function"] == "call_target" and frame["file"].endswith(_WRAPPER):
            return frames[i + 1:]
    return frames
