"""Tasks that run as coroutines on the agent's event-loop thread, pyleash-asyncio."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Optional

from pyleash import current, targets
from pyleash.errors import TaskStopped
from pyleash.tasks.task import Emit, Task, finish, started_event, wants_stop_event

_loop: Optional[asyncio.AbstractEventLoop] = None
_loop_lock = threading.Lock()  # guards _loop's creation; the loop itself is owned by pyleash-asyncio
_loop_thread: Optional[threading.Thread] = None


def loop() -> asyncio.AbstractEventLoop:
    """The agent's event loop, started on first use."""
    global _loop, _loop_thread
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            ready = threading.Event()
            _loop_thread = threading.Thread(target=_run_loop, args=(_loop, ready), name="pyleash-asyncio", daemon=True)
            _loop_thread.start()
            ready.wait()
        return _loop


def _run_loop(event_loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(event_loop)
    event_loop.call_soon(ready.set)
    event_loop.run_forever()


def start(task: Task, emit: Emit) -> None:
    event_loop = loop()
    task.thread = _loop_thread
    asyncio.run_coroutine_threadsafe(_run(task, emit), event_loop)


async def _run(task: Task, emit: Emit) -> None:
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
            task.killer = asyncio.ensure_future(coroutine)  # copies the context: the coroutine sees its task
        finally:
            current.unbind(token)
        emit(started_event(task))
        task.started.set()
        result = await task.killer
        outcome = "finished"
    except asyncio.CancelledError:
        outcome, how, error = "stopped", "cancelled", TaskStopped("cancelled")
    except TaskStopped as exc:
        outcome, error = "stopped", exc
    except BaseException as exc:  # noqa: B902 - everything the task raises is reported
        error = exc
    task.unwinding = True
    finish(task, emit, outcome, result, error, how)

