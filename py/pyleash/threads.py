"""Starting threads from the control loop without waiting for them, and knowing which threads have not run yet.

threading.Thread.start() returns only once the new thread has run, that is, once it has taken the GIL: behind
N busy threads that takes about N switch intervals (measured here at a 0.2 ms interval: 0.3 ms idle, 7 ms with
8 busy threads, 290 ms with 100), and a control loop that waited would serve nothing meanwhile. start_soon()
leaves that wait to a helper thread of its own, started with start_thread(), which does not wait.

start_thread() is _thread.start_new_thread that remembers, until the new thread runs its first line, that its
creator has a thread not running yet: CPython 3.8-3.11 give the new thread's state the creator's id until then,
so an asynchronous exception meant for the creator would land in the child (pyleash.stop.async_exc asks
starting() first). Every thread pyleash starts without waiting for it goes through here, and in the agent's
own process threading's too (track_threading).
"""
from __future__ import annotations

import _thread
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

OnError = Callable[[BaseException], None]

_SHARED_IDS = sys.version_info < (3, 12)  # a new thread's state carries its creator's id until it runs
_unborn: Dict[int, List[object]] = {}  # creator's ident -> a token per thread it started that has not run yet


def start_thread(fn: Callable[..., Any], args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None) -> int:
    """_thread.start_new_thread(fn, args, kwargs), tracked for starting(); RuntimeError when no thread can start."""
    if not _SHARED_IDS:
        return _thread.start_new_thread(fn, args, kwargs or {})
    children = _unborn.setdefault(_thread.get_ident(), [])
    token = object()
    children.append(token)  # list.append and .remove are atomic under the GIL: no lock a stop could leave held
    try:
        return _thread.start_new_thread(_first_line, (children, token, fn, args, kwargs or {}))
    except BaseException:
        children.remove(token)
        raise


def _first_line(children: List[object], token: object, fn: Callable[..., Any], args: Tuple[Any, ...],
                kwargs: Dict[str, Any]) -> None:
    children.remove(token)  # running Python: this thread's state has its own id now
    fn(*args, **kwargs)


def track_threading() -> None:
    """In the agent's own process: threading.Thread.start() goes through start_thread too, so that a stop meant
    for a task that starts threads (a ThreadPoolExecutor's, say) never lands in one of them."""
    if _SHARED_IDS and getattr(threading, "_start_new_thread", None) is _thread.start_new_thread:
        threading._start_new_thread = start_thread  # type: ignore[attr-defined]


def starting(ident: int) -> bool:
    """Thread `ident` has started a thread (start_thread) that has not run yet."""
    return bool(_unborn.get(ident))


def start_soon(thread: threading.Thread, on_error: Optional[OnError] = None) -> None:
    """Start `thread` without waiting for it to run; `on_error` gets what prevented the start (no more threads)."""

    def starter() -> None:
        try:
            thread.start()
        except BaseException as exc:  # noqa: BLE001 - reported, never lost in a helper thread
            if on_error is not None:
                on_error(exc)

    try:
        start_thread(starter)
    except RuntimeError as exc:  # can't start new thread
        if on_error is None:
            raise
        on_error(exc)
