"""Stop deliveries: TaskStopped, the exception that stops a task, and the per-thread record of each delivery."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional


class TaskStopped(BaseException):
    """Raised inside a task to stop it.

    A BaseException, like KeyboardInterrupt and SystemExit, so that `except Exception` in user code
    does not catch it; only a bare `except:` or `except BaseException` can swallow it.

    Every instance records itself against the thread that creates it. An exception class injected with
    PyThreadState_SetAsyncExc is instantiated in the target thread when it is raised there (3.12+) or
    when it is normalised on reaching a handler (3.8-3.11; threading's bootstrap always has one), so the
    stopper can tell "delivered" from "still pending" and count deliveries a thread swallowed.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        _delivered(threading.get_ident())


class _Record:
    __slots__ = ("count", "event", "last")

    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()  # set on every delivery; a stopper clears it before injecting
        self.last: Optional[float] = None  # time.perf_counter() of the latest delivery


# dict.get/setdefault/pop are atomic under the GIL. The delivery path takes no lock on purpose: an
# asynchronous exception landing between acquire and release would leave a lock held for good.
_records: Dict[int, _Record] = {}
_create_lock = threading.Lock()  # stopper side only: one record per ident even if two stoppers race
# Called in the thread at each delivery, with its ident, once counted: pyleash.stop.rearm installs its hook so.
on_delivery: Optional[Callable[[int], None]] = None


def _delivered(ident: int) -> None:
    rec = _records.get(ident)
    if rec is None:
        rec = _records.setdefault(ident, _Record())
    rec.count += 1  # only the thread itself increments its own record
    rec.last = time.perf_counter()
    rec.event.set()
    if on_delivery is not None:
        try:
            on_delivery(ident)
        except Exception:  # noqa: BLE001 - a failing hook must not turn the stop into another exception
            pass


def _record(ident: int) -> _Record:
    rec = _records.get(ident)
    if rec is None:
        with _create_lock:
            rec = _records.setdefault(ident, _Record())
    return rec


def deliveries(ident: int) -> int:
    """How many TaskStopped instances thread `ident` has created (0 if none or forgotten)."""
    rec = _records.get(ident)
    return rec.count if rec is not None else 0


def delivery_event(ident: int) -> threading.Event:
    """The Event set each time thread `ident` creates a TaskStopped (created on first use)."""
    return _record(ident).event


def last_delivery(ident: int) -> Optional[float]:
    """time.perf_counter() of the latest delivery to thread `ident`, or None."""
    rec = _records.get(ident)
    return rec.last if rec is not None else None


def forget(ident: int) -> None:
    """Drop the record of thread `ident`; do it when the thread ends, as idents are reused."""
    _records.pop(ident, None)
