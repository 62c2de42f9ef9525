"""One task's record and the wrapper that runs its function and reports how it ended."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar, cast

from pyleash import current, deliveries, protocol, targets
from pyleash.deliveries import TaskStopped
from pyleash.tasks.awaiting import settle
from pyleash.tasks.latch import Latch
import pyleash.stop.rearm as rearm

if TYPE_CHECKING:
    from typing import Protocol

    from pyleash.stop.stoppable import Flag, Run, StopKind
    from pyleash.stop.trace import TraceKill
    from pyleash.progress_events import Limiter

    class TaskKind(StopKind, Protocol):
        """What the record's readers ask of its kind (pyleash.tasks.kind.Kind), so the record never imports the
        kinds, which import it."""

        runs_in_agent: bool
        withholds: bool

        def new_state(self) -> Any: ...

Emit = Callable[..., None]  # emit(message, ...): send these messages, in order


class State:
    """A kind's own state of one task (Task.state): made by the kind (Kind.new_state), read by the kind only.

    This base is the state of a kind that keeps none (thread, main). The others subclass it: a child process
    (pyleash.tasks.process_kind.ProcessState), a coroutine (asyncio_kind.AsyncioState), a call (CallState) and a
    stream (pyleash.tasks.stream_batch.StreamState, a call's state with its credit and batch).
    """

    __slots__ = ()
    reply_to: Optional[int] = None  # a call's request id (CallState); None: its end is a task-ended event


NO_STATE = State()  # shared: it holds nothing


class CallState(State):
    """A call recorded as a task (on the call pool or the main lane): its end is that call's reply, and it sends no
    task events."""

    __slots__ = ("reply_to",)

    def __init__(self, reply_to: int) -> None:
        self.reply_to = reply_to


S = TypeVar("S", bound=State)


class Task(Generic[S]):
    """The core record of a task, shared by its own thread (writes the outcome) and stoppers (read it, set
    stop_event): what every kind has. What only one kind keeps (a child process, a coroutine's future, a call's
    request id, a stream's credit) is in `state`, made and read by that kind.

    `ended` is set after the outcome fields are written, so a reader that sees it set sees them.
    It is what pyleash.stop.stoppable.Stoppable describes to the stop engine.
    """

    holds_stops = True  # its thread holds a stop back while it sends a message (pyleash.held_stops)
    # Fields that begin as None, False or 0 start here, on the class, and are written on the record only when they
    # change: a stoppable call makes one record per call, and its 30-odd stores were a good part of that cost.
    _stop_event: Optional[Flag] = None  # made on first use (see stop_event)
    thread: Optional[threading.Thread] = None  # the thread that runs the function (loop thread for asyncio)
    ident: Optional[int] = None
    stop_asked_at: Optional[float] = None  # time.perf_counter() of the first stop request
    unwinding = False  # the wrapper has caught the outcome: stoppers must not inject any more
    shielded = False  # importing its target: an exception landing in importlib's locks would wedge imports
    held = False  # a stop asked to inject while shielded: the task raises TaskStopped itself after the import
    withheld = False  # a stop came before it began (queued on the main lane or the call pool): it never runs
    emit: Optional[Emit] = None  # how its end is told, for a stop that ends it before it began
    abandoned = False  # a stop gave up on it (blocked): its call thread no longer counts in the pool
    on_pool = False  # a call: it runs on a pool thread (not inline on the control thread)
    status: Optional[str] = None  # finished | failed | stopped
    how: Optional[str] = None  # what ended a stopped task: "TaskStopped", "returned", "cancelled", ...
    unwound: Optional[bool] = None  # its stack unwound normally (finally blocks ran)
    tracer: Optional[TraceKill] = None  # started with trace: the `trace` strategy's kill
    ended_at: Optional[float] = None
    delivered = 0  # TaskStopped instances its thread had made when it ended (see pyleash.deliveries)
    progress: Optional[Limiter] = None  # pyleash.progress's rate limit, made at the first update

    def __init__(self, task_id: str, kind: TaskKind, target: str, args: list, kwargs: dict, name: str, trace: bool,
                 state: Optional[S] = None) -> None:
        self.id = task_id
        self.state: S = cast(S, kind.new_state()) if state is None else state  # the kind's own (see State)
        self.kind = kind
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.ended = Latch()
        self.reported = Latch()  # set once the end event has been handed to the transport
        self.inject_lock = threading.Lock()  # held by a stopper to inject, and by close_injections() to end that
        if trace:  # made now, so a stop that follows the started event finds it; installed in the task's thread
            from pyleash.stop.trace import TraceKill

            self.tracer = TraceKill()
        self.stop_runs: List[Run] = []  # stops under way; asked for answers when it ends

    @property
    def stop_event(self) -> Flag:
        """The Event a function that declares `stop_event` gets, and the flag strategy sets: a threading.Event made
        on first use (most calls never need one; a process task's is a pipe end, process_flag.AgentFlag)."""
        event = self._stop_event
        if event is None:
            with _MAKING:  # the task's thread and a stopper may ask at once: both must get the same one
                event = self._stop_event
                if event is None:
                    event = self._stop_event = threading.Event()
        return event

    @stop_event.setter
    def stop_event(self, flag: Flag) -> None:
        self._stop_event = flag

    @property
    def stop_asked(self) -> bool:
        return self.stop_asked_at is not None

    @property
    def trace(self) -> bool:
        return self.tracer is not None

    def describe(self) -> Dict[str, Any]:
        return {"task": self.id, "kind": self.kind.name, "name": self.name, "ident": self.ident}


_MAKING = threading.Lock()  # guards the first making of a task's stop_event


def call_target(task: Task) -> Any:
    """Call the task's function, handing it the stop Event when it declares a `stop_event` parameter."""
    fn, wants = resolve_shielded(task)
    kwargs = task.kwargs
    if wants and "stop_event" not in kwargs:  # its Event is made only for a function that takes it
        kwargs = dict(kwargs, stop_event=task.stop_event)
    return settle(fn(*task.args, **kwargs))  # an async def is awaited


def resolve_shielded(task: Task) -> Tuple[Callable[..., Any], bool]:
    """Import and find the task's target with stops held back (run() raised the shield): an exception landing inside
    importlib's module locks leaves the module locked, and every later import of it by any thread waits forever.
    A stop asked meanwhile lands here, as soon as the import is done. Returns it and whether it takes a stop_event."""
    try:
        fn = targets.resolve(task.target)
        wants = wants_stop_event(fn)  # may import inspect: shielded too
    finally:
        with task.inject_lock:
            task.shielded = False
            held, task.held = task.held, False
    if held:
        raise TaskStopped()
    return fn, wants


def with_stop_event(fn: Callable[..., Any], kwargs: dict, event: Any) -> dict:
    """`kwargs`, plus stop_event=event when `fn` declares that parameter and the caller did not pass it."""
    if "stop_event" in kwargs:
        return kwargs
    try:
        wants = _wants[fn]  # wants_stop_event's own look, without its call: this runs on every plain call
    except (KeyError, TypeError):
        wants = wants_stop_event(fn)
    return dict(kwargs, stop_event=event) if wants else kwargs


rearm.add_boundary(call_target)  # a stop's line hook guards what call_target calls, nothing above


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


_WANTS_KEPT = 4096
_wants: Dict[Any, bool] = {}  # fn -> declares stop_event; calls ask on every run, so the answer is kept


def wants_stop_event(fn: Callable[..., Any]) -> bool:
    try:
        return _wants[fn]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable: ask each time
        return _signature_wants(fn)
    wants = _signature_wants(fn)
    if len(_wants) < _WANTS_KEPT:
        _wants[fn] = wants
    return wants


def _signature_wants(fn: Callable[..., Any]) -> bool:
    try:
        import inspect  # on first use: it costs the idle agent ~1 MB of RSS

        return "stop_event" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run(task: Task, emit: Emit, body: Callable[[Task], Any]) -> None:
    """Run `body(task)` as the task on the current thread: announce the start (a task, not a call), report the end,
    never raise, and leave the thread with no stop pending (call threads and the main thread run more work)."""
    with task.inject_lock:
        if task.withheld:  # a stop came while it waited for its thread: it never runs
            return
        task.ident = threading.get_ident()
        task.shielded = True  # until its target is imported (resolve_shielded)
    token = current.bind(task)
    result: Any = None
    error: Optional[BaseException] = None
    outcome = "failed"
    try:
        try:
            if task.state.reply_to is None:
                emit(started_event(task))
            try:
                result = body(task)
            finally:
                if task.stop_asked_at is not None:  # only its own stop arms this thread, and asks first
                    rearm.disarm()  # a stop's line hook ends with the task's function, before any bookkeeping of ours
            outcome = "finished"
        except TaskStopped as exc:
            outcome, error = "stopped", exc
        except BaseException as exc:  # noqa: BLE001 - everything the task raises is reported
            error = exc
        close_injections(task)
    except TaskStopped as exc:  # a second delivery landed in the bookkeeping above
        close_injections(task)
        if error is None and outcome != "finished":
            outcome, error = "stopped", exc
    finally:
        if task.stop_asked_at is not None:  # set before any arming, which close_injections ended
            rearm.disarm()  # again: a stop may have armed it between the first disarm and close_injections
        current.unbind(token)
    finish(task, emit, outcome, result, error)


def withhold(task: Task) -> bool:
    """For a stop, on the control thread: True if the task's function had not begun, and now never will (run() then
    returns at once); the caller reports its end."""
    with task.inject_lock:
        if task.ident is not None or task.ended.is_set():
            return False
        task.withheld = True
    return True


def close_injections(task: Task) -> None:
    """On the task's thread once its outcome is caught: no stopper injects after this returns, and an
    exception armed but not yet raised is withdrawn, so the thread's next work starts clean."""
    while True:
        try:
            with task.inject_lock:
                task.unwinding = True
                task.shielded = task.held = False
                if task.stop_asked_at is not None and task.ident is not None:
                    from pyleash.stop.async_exc import revoke  # only after a stop: plain tasks never load ctypes

                    revoke(task.ident)
            return
        except TaskStopped:  # raised before the lock was taken: take it again
            continue


def _ended_event(task: Task, outcome: str, result: Any, error: Optional[BaseException]) -> Dict[str, Any]:
    event: Dict[str, Any] = {"type": "task-ended", "task": task.id, "status": task.status}
    if task.status == "stopped":
        event["how"] = task.how
        if outcome == "finished":
            event["result"] = result
    elif task.status == "finished":
        event["result"] = result
    else:
        payload = getattr(error, "payload", None)  # an exception carried back from a child process
        if payload is None:
            payload = protocol.error(None, protocol.EXCEPTION, error or RuntimeError("the task failed"))["error"]
        event["error"] = payload
    try:
        protocol.encode_frames(event)
    except protocol.NotSerializable as exc:  # the controller must hear of the end, so say why instead
        task.status = "failed"
        event = {"type": "task-ended", "task": task.id, "status": "failed"}
        event["error"] = protocol.error(None, protocol.RESULT, exc, with_traceback=False)["error"]
    return event


def _call_reply(task: Task, result: Any, error: Optional[BaseException]) -> Dict[str, Any]:
    """A call's reply (the agent's encoder turns a result that cannot cross into a typed error)."""
    reply_to = task.state.reply_to
    if error is None:
        return protocol.ok(reply_to, result)
    return failure_reply(reply_to, error)


def failure_reply(request_id: Optional[int], error: BaseException) -> Dict[str, Any]:
    """The error reply for a call that raised: a target that could not be resolved, or the function's exception."""
    if isinstance(error, targets.TargetForbidden):
        return protocol.error(request_id, protocol.FORBIDDEN, error, with_traceback=False)
    if isinstance(error, targets.TargetError):
        return protocol.error(request_id, protocol.TARGET, error, with_traceback=False)
    if isinstance(error, protocol.NotSerializable):  # a stream's item that cannot cross
        return protocol.error(request_id, protocol.RESULT, error, with_traceback=False)
    return protocol.error(request_id, protocol.EXCEPTION, error)


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
    unwound: Optional[bool] = True,
) -> None:
    """Record the outcome (finished | failed | stopped), set `ended`, then tell the controller: a task-ended event,
    or for a call its reply.

    A task that ends after a stop was asked counts as stopped, however it ended, unless it failed.
    """
    stop_asked = task.stop_asked_at is not None
    if outcome == "stopped" or (stop_asked and outcome == "finished"):
        task.status = "stopped"
        task.how = how or ("returned" if outcome == "finished" else type(error).__name__ if error else "stopped")
        if unwound and error is not None and error.__traceback__ is not None:
            from pyleash.stop.finally_known import finally_ran  # only after a stop's exception

            unwound = finally_ran(error)  # None where CPython may have left a `try` without its `finally`
        task.unwound = unwound
    else:
        task.status = outcome
    event = _call_reply(task, result, error) if task.state.reply_to is not None else _ended_event(task, outcome, result, error)
    task.args = task.kwargs = None  # type: ignore[assignment]  # the caller's data: not kept past the end
    if stop_asked and task.ident is not None:  # read by a stop's report only (its swallowed count)
        task.delivered = deliveries.deliveries(task.ident)
    task.ended_at = time.perf_counter()
    task.ended.set()  # before the news leaves: a stop that follows it must see the task ended
    # A stop under way is answered from here, in the same write: waking its stop thread, or writing
    # twice, would each mean one more wait for the GIL while other threads are busy.
    messages = [event]
    if task.progress is not None:  # the last progress update held back leaves before the end
        held = task.progress.take_held()
        if held is not None:
            messages.insert(0, held)
    for stop in task.stop_runs:
        answer = stop.answer_on_end()
        if answer is not None:
            messages.append(answer)
    try:
        emit(*messages)
    finally:
        task.reported.set()  # a stop concludes "stopped" only after this: the controller hears the end first
