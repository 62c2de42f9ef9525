"""Tasks that run as coroutines on the agent's event-loop thread, pyleash-asyncio (started on first use)."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Optional, cast

from pyleash import current, targets
from pyleash.deliveries import TaskStopped
from pyleash.stop.steps import KindStep
from pyleash.tasks.kind import Kind
from pyleash.tasks.task import Emit, State, Task, finish, started_event, wants_stop_event

if TYPE_CHECKING:
    import asyncio

    from pyleash.stop.stoppable import Run, StopStep


class AsyncioState(State):
    """An asyncio task's own state: the coroutine's asyncio Task, which the `cancel` step cancels."""

    def __init__(self) -> None:
        self.future: Optional[asyncio.Future[Any]] = None  # set on the loop thread as the coroutine starts


class AsyncioKind(Kind["Task[AsyncioState]"]):
    """asyncio pulls in ssl (+8 MB, +20 ms): it is imported when the first asyncio task starts."""

    name = "asyncio"
    own_thread = False  # the loop thread outlives its tasks
    answers_on_end = False  # the loop thread ends the task; the cancel step counts the cancels it swallowed

    def __init__(self) -> None:
        super().__init__()
        self._loop: Optional[asyncio.AbstractEventLoop] = None  # owned by pyleash-asyncio once started
        self._loop_lock = threading.Lock()  # guards the loop's creation
        self._loop_thread: Optional[threading.Thread] = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The agent's event loop, started on first use."""
        with self._loop_lock:
            if self._loop is None:
                import asyncio

                self._loop = asyncio.new_event_loop()
                ready = threading.Event()
                self._loop_thread = threading.Thread(
                    target=_run_loop, args=(self._loop, ready), name="pyleash-asyncio", daemon=True
                )
                self._loop_thread.start()
                ready.wait()
            return self._loop

    def new_state(self) -> AsyncioState:
        return AsyncioState()

    def start(self, task: Task[AsyncioState], emit: Emit) -> None:
        import asyncio

        event_loop = self.loop()
        task.thread = self._loop_thread
        asyncio.run_coroutine_threadsafe(_run(task, emit), event_loop)

    def step(self, strategy: str) -> Optional[StopStep]:
        return KindStep("cancel", self._cancel) if strategy == "cancel" else None

    def _cancel(self, run: Run, until: float) -> None:
        """Task.cancel() on the loop thread, again every grace_s while the coroutine swallows CancelledError."""
        task = cast("Task[AsyncioState]", run.task)  # a kind's own step acts on the kind's own tasks
        cancels = 0
        while not self.gone(task) and time.perf_counter() < until:
            future = task.state.future
            if future is not None:
                self.loop().call_soon_threadsafe(future.cancel)
                cancels += 1
            self.wait_gone(task, min(until, time.perf_counter() + run.grace_s))
        if cancels > 1 and self.gone(task):
            run.report.swallowed += cancels - 1  # the coroutine caught CancelledError and carried on


def _run_loop(event_loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    import asyncio

    asyncio.set_event_loop(event_loop)
    event_loop.call_soon(ready.set)
    event_loop.run_forever()


async def _run(task: Task[AsyncioState], emit: Emit) -> None:
    import asyncio

    task.ident = threading.get_ident()
    result: Any = None
    error: Optional[BaseException] = None
    outcome, how = "failed", None
    try:
        fn = targets.resolve(task.target)
        kwargs = dict(task.kwargs)
        if wants_stop_event(fn):
            kwargs.setdefault("stop_event", task.stop_event)
        coroutine = fn(*task.args, **kwargs)
        if not asyncio.iscoroutine(coroutine):
            raise TypeError("%s is not a coroutine function (kind 'asyncio' needs `async def`)" % task.target)
        token = current.bind(task)
        try:
            future = task.state.future = asyncio.ensure_future(coroutine)  # copies the context: the coroutine sees its task
        finally:
            current.unbind(token)
        emit(started_event(task))
        result = await future
        outcome = "finished"
    except asyncio.CancelledError:
        outcome, how, error = "stopped", "cancelled", TaskStopped("cancelled")
    except TaskStopped as exc:
        outcome, error = "stopped", exc
    except BaseException as exc:  # noqa: BLE001 - everything the task raises is reported
        error = exc
    task.unwinding = True
    finish(task, emit, outcome, result, error, how)
