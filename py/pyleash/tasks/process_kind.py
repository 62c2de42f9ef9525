"""Tasks that run in a child process (multiprocessing, spawn), watched by a pyleash-task-<id> thread."""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

from pyleash.stop.steps import KindStep
from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, State, Task, finish, started_event
from pyleash.threads import start_soon

if TYPE_CHECKING:
    from multiprocessing.context import SpawnContext
    from multiprocessing.process import BaseProcess

    from pyleash.stop.stoppable import Frame, Run, StopStep
    from pyleash.tasks.process_flag import AgentFlag
    from pyleash.tasks.process_stack import DumpReader


class ProcessState(State):
    """A process task's own state, set by start(): the child, the agent's end of its stop flag (also the task's
    stop_event) and the reader of its stack dumps."""

    def __init__(self) -> None:
        self.process: Optional[BaseProcess] = None  # the `terminate` step's handle
        self.flag: Optional[AgentFlag] = None
        self.dumps: Optional[DumpReader] = None
        self.running = False  # the child said it runs the function (its stack can be asked for)


class ProcessKind(Kind["Task[ProcessState]"]):
    """The task's ident is its watcher thread's; its stack comes from faulthandler in the child."""

    name = "process"
    runs_in_agent = False
    stack_waits = True

    def __init__(self) -> None:
        super().__init__()
        self._context: Optional[SpawnContext] = None  # made on first use

    def new_state(self) -> ProcessState:
        return ProcessState()

    def start(self, task: Task[ProcessState], emit: Emit) -> None:
        from pyleash.tasks import process_child, process_flag  # with multiprocessing: imported on first use
        from pyleash.tasks.process_stack import DumpReader

        state = task.state
        context = self._spawn_context()
        receiver, sender = context.Pipe(duplex=False)
        child_flag, flag = process_flag.make(context)
        task.stop_event = state.flag = flag
        dump_reader, dump_writer = context.Pipe(duplex=False)
        dumps = state.dumps = DumpReader(dump_reader)
        process = context.Process(
            target=process_child.main,
            args=(task.id, task.target, task.args, task.kwargs, sender, child_flag, dump_writer, os.getpid()),
            name="pyleash-task-%s" % task.id,
            daemon=True,
        )
        state.process = process
        task.thread = threading.Thread(
            target=_watch, args=(task, emit, process, receiver, flag, dumps, (sender, child_flag, dump_writer)),
            name=process.name, daemon=True
        )
        start_soon(task.thread, lambda exc: finish(task, emit, "failed", error=exc))

    def stack(self, task: Task[ProcessState]) -> List[Frame]:
        """The child's stack, innermost last; [] before it has started or once it has ended."""
        state = task.state
        if not state.running or task.ended.is_set() or state.dumps is None or state.process is None:
            return []
        pid = state.process.pid
        return state.dumps.stack(pid) if pid is not None else []

    def step(self, strategy: str) -> Optional[StopStep]:
        return KindStep("terminate", _terminate) if strategy == "terminate" else None

    def _spawn_context(self) -> SpawnContext:
        if self._context is None:
            import multiprocessing

            # spawn, not fork: forking a process that runs threads can copy a lock held by another thread.
            self._context = multiprocessing.get_context("spawn")
        return self._context


def _terminate(run: Run, until: float) -> None:
    """SIGTERM (the child raises TaskStopped and unwinds), then SIGKILL if it is still there after grace_s."""
    task, kind = run.task, run.kind
    process = cast("Task[ProcessState]", task).state.process  # a kind's own step acts on the kind's own tasks
    assert process is not None  # set by start(), before a stop can reach the task
    t0 = time.perf_counter()
    process.terminate()
    if kind.wait_gone(task, min(until, t0 + run.grace_s)):
        return
    run.report.step("kill", time.perf_counter())
    process.kill()  # SIGKILL: nothing in the child runs any more
    kind.wait_gone(task, until + 5.0)  # a SIGKILLed process always goes; wait for the reaping


def _watch(task: Task[ProcessState], emit: Emit, process: BaseProcess, receiver: Any, flag: AgentFlag, dumps: DumpReader,
           child_ends: Any) -> None:
    from pyleash.tasks import process_child

    task.ident = threading.get_ident()
    try:
        process.start()
    except BaseException as exc:  # noqa: BLE001 - a failed spawn is the task's failure
        for end in (receiver, flag, dumps) + child_ends:
            end.close()
        finish(task, emit, "failed", None, exc)
        return
    for end in child_ends:  # the child has its copies; so recv() sees EOF when the child dies without answering
        end.close()
    message: Optional[Dict[str, Any]] = None
    try:
        frame = receiver.recv_bytes()
        if frame == process_child.RUNNING:
            emit(started_event(task, pid=process.pid))
            task.state.running = True
            frame = receiver.recv_bytes()
        message = process_child.decode(frame)  # the outcome, which may come first: stopped while announcing
    except (EOFError, OSError, ValueError):
        pass
    process.join()
    receiver.close()
    flag.close()
    dumps.close()
    _report(task, emit, process.exitcode, message)


def _report(task: Task[ProcessState], emit: Emit, exitcode: Optional[int], message: Optional[Dict[str, Any]]) -> None:
    if message is None:  # died without a word: killed by a signal, or os._exit
        how = _signal_name(-exitcode) if exitcode is not None and exitcode < 0 else "exit status %s" % exitcode
        if task.stop_asked:
            finish(task, emit, "stopped", how=how, unwound=False)
        else:
            finish(task, emit, "failed", None, ChildProcessError("the task's process died: %s" % how))
        return
    status = message["status"]
    if status == "finished":
        finish(task, emit, "finished", message.get("result"), None)
    elif status == "stopped":
        finish(task, emit, "stopped", None, None, message.get("how"))
    else:
        finish(task, emit, "failed", None, _RemoteError(message["error"]))


class _RemoteError(Exception):
    """An exception raised in the child, carried back as its payload."""

    def __init__(self, payload: Dict[str, Any]) -> None:
        super().__init__(payload.get("message", ""))
        self.payload = payload


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number
