"""One task's record and the wrapper that runs its function and reports how it ended."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from pyleash import current, deliveries, protocol, targets
from pyleash.deliveries import TaskStopped
from pyleash.stop.rearm import BOUNDARIES as STOP_HOOK_BOUNDARIES, release as release_stop_hook

if TYPE_CHECKING:
    import asyncio
    from multiprocessing.process import BaseProcess

    from pyleash.stop.ladder import StopRun
    from pyleash.stop.stoppable import Flag
    from pyleash.stop.trace import TraceKill
    from pyleash.tasks.kind import Kind
    from pyleash.tasks.process_stack import DumpReader

Emit = Callable[..., None]  # emit(message, ...): send these messages, in order


class Task:
    """State shared by the task's own thread (writes the outcome) and stoppers (read it, set stop_event).

    `ended` is set after the outcome fields are written, so a reader that sees it set sees them.
    It is what pyleash.stop.stoppable.Stoppable describes to the stop engine.
    """

    def __init__(self, task_id: str, kind: Kind, target: str, args: list, kwargs: dict, name: str, trace: bool) -> None:
        self.id = task_id
        self.kind = kind
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.stop_event: Flag = threading.Event()  # a process task's is a pipe end (process_flag.AgentFlag)
        self.started = threading.Event()
        self.ended = threading.Event()
        self.reported = threading.Event()  # set once the end event has been handed to the transport
        self.thread: Optional[threading.Thread] = None  # the thread that runs the function (loop thread for asyncio)
        self.ident: Optional[int] = None
        self.stop_asked_at: Optional[float] = None  # time.perf_counter() of the first stop request
        self.unwinding = False  # the wrapper has caught the outcome: stoppers must not inject any more
        self.status: Optional[str] = None  # finished | failed | stopped
        self.how: Optional[str] = None  # what ended a stopped task: "TaskStopped", "returned", "cancelled", ...
        self.unwound: Optional[bool] = None  # its stack unwound normally (finally blocks ran)
        self.tracer: Optional[TraceKill] = None  # started with trace: the `trace` strategy's kill
        if trace:  # made now, so a stop that follows the started event finds it; installed in the task's thread
            from pyleash.stop.trace import TraceKill

            self.tracer = TraceKill()
        self.process: Optional[BaseProcess] = None  # process tasks: the child (the `terminate` step's handle)
        self.dumps: Optional[DumpReader] = None  # process tasks: the child's stack dumps
        self.future: Optional[asyncio.Future[Any]] = None  # asyncio tasks: the coroutine's Task (for `cancel`)
        self.ended_at: Optional[float] = None
        self.delivered = 0  # TaskStopped instances its thread had made when it ended (see pyleash.deliveries)
        self.stop_runs: List[StopRun] = []  # stops under way; asked for answers when it ends

    @property
    def stop_asked(self) -> bool:
        return self.stop_asked_at is not None

    @property
    def trace(self) -> bool:
        return self.tracer is not None

    def describe(self) -> Dict[str, Any]:
        return {"task": self.id, "kind": self.kind.name, "name": self.name, "ident": self.ident}


def call_target(task: Task) -> Any:
    """Call the task's function, handing it the stop Event when it declares a `stop_event` parameter."""
    fn = targets.resolve(task.target)
    kwargs = task.kwargs
    if wants_stop_event(fn) and "stop_event" not in kwargs:
        kwargs = dict(kwargs, stop_event=task.stop_event)
    return fn(*task.args, **kwargs)


STOP_HOOK_BOUNDARIES.add(call_target.__code__)  # a stop's line hook traces what call_target calls, nothing above


def body(task: Task) -> Any:
    """The task's function, under article 003's trace kill when the task was started with `trace`."""
    tracer = task.tracer
    if tracer is None:
        return call_target(task)
    tracer.install()  # a trace on every line, installed before the function starts
    try:
        return call_target(task)
    finally:
        tracer.uninstall()


def wants_stop_event(fn: Callable[..., Any]) -> bool:
    try:
        import inspect  # on first use: it costs the idle agent ~1 MB of RSS

        return "stop_event" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run(task: Task, emit: Emit, body: Callable[[], Any]) -> None:
    """Run `body` as the task on the current thread: announce the start, report the end, never raise."""
    task.ident = threading.get_ident()
    token = current.bind(task)
    result: Any = None
    error: Optional[BaseException] = None
    outcome = "failed"
    try:
        try:
            emit(started_event(task))
            task.started.set()
            try:
                result = body()
            finally:
                release_stop_hook()  # a stop's line hook ends with the task's function, before any cleanup of ours
            outcome = "finished"
        except TaskStopped as exc:
            outcome, error = "stopped", exc
        except BaseException as exc:  # noqa: B902 - everything the task raises is reported
            error = exc
        task.unwinding = True
    except TaskStopped as exc:  # a second delivery landed in the bookkeeping above
        task.unwinding = True
        if error is None and outcome != "finished":
            outcome, error = "stopped", exc
    finally:
        release_stop_hook()  # again, in case a late delivery landed before the first release() ran
        current.unbind(token)
    finish(task, emit, outcome, result, error)


def started_event(task: Task, **extra: Any) -> Dict[str, Any]:
    event = {"type": "task-started", "task": task.id, "ident": task.ident}
    event.update(extra)
    return event


def finish(
    task: Task,
    emit: Emit,
    outcome: str,
    result: Any = None,
    error: Optional[BaseException] = None,
    how: Optional[str] = None,
    unwound: bool = True,
) -> None:
    """Record the outcome (finished | failed | stopped), set `ended`, then tell the controller.

    A task that ends after a stop was asked counts as stopped, however it ended, unless it failed.
    """
    event: Dict[str, Any] = {"type": "task-ended", "task": task.id}
    if outcome == "stopped" or (task.stop_asked and outcome == "finished"):
        task.status = "stopped"
        task.how = how or ("returned" if outcome == "finished" else type(error).__name__ if error else "stopped")
        task.unwound = unwound
        event.update(status="stopped", how=task.how)
        if outcome == "finished":
            event["result"] = result
    elif outcome == "finished":
        task.status = "finished"
        event.update(status="finished", result=result)
    else:
        task.status = "failed"
        payload = getattr(error, "payload", None)  # an exception carried back from a child process
        if payload is None:
            payload = protocol.error(None, protocol.EXCEPTION, error or RuntimeError("the task failed"))["error"]
        event.update(status="failed", error=payload)
    try:
        protocol.encode(event)
    except protocol.NotSerializable as exc:  # the controller must hear of the end, so say why instead
        task.status = "failed"
        event = {"type": "task-ended", "task": task.id, "status": "failed"}
        event["error"] = protocol.error(None, protocol.RESULT, exc, with_traceback=False)["error"]
    task.args = task.kwargs = None  # type: ignore[assignment]  (the caller's data: not kept past the end)
    task.delivered = deliveries.deliveries(task.ident) if task.ident is not None else 0
    task.ended_at = time.perf_counter()
    task.ended.set()  # before the news leaves: a stop that follows it must see the task ended
    # A stop under way is answered from here, in the same write: waking its stop thread, or writing
    # twice, would each mean one more wait for the GIL while other threads are busy.
    answers = [answer for answer in (run.answer_on_end() for run in task.stop_runs) if answer is not None]
    try:
        emit(event, *answers)
    finally:
        task.reported.set()  # a stop concludes "stopped" only after this: the controller hears the end first
