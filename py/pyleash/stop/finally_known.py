"""Whether a stopped task's `finally` blocks are known to have run (the report's finallyRan).

A stop's exception that propagated out of the task's function unwound its frames, and each `finally` on the way
ran, except where CPython leaves a `try` without running its `finally`: 3.13.0 raises an asynchronous exception at
a loop's back-edge (JUMP_BACKWARD) before the jump, at an offset just past the try's entry in the exception table,
so the handler is never found (a `while <condition>:` that opens a `try`). There finallyRan is null: unknown.

Whether this interpreter does that is not assumed from its version: the first stop whose exception was raised at
such an offset runs a probe (that shape, in a thread, stopped by an asynchronous exception) and keeps the answer.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, List, Optional, Tuple

PROBE_TIMEOUT_S = 2.0  # the probe's thread must start, spin and take the exception; unknown past this
_skips: Optional[bool] = None  # the probe's answer, once it has one
_lock = threading.Lock()


def finally_ran(exc: BaseException) -> Optional[bool]:
    """True when the exception's unwinding is known to have run every `finally` it passed; None when unknown."""
    innermost = _innermost(exc)
    if innermost is None or sys.version_info < (3, 11):  # before 3.11 a handler is a block pushed at run time
        return True
    code, offset = innermost
    entries = _entries(code)
    if entries is None:
        return None if skips_finally() is not False else True
    if not entries or any(start <= offset < end for start, end in entries):
        return True  # no `try` in that function, or the raise was inside one: its handler ran
    return None if skips_finally() is not False else True


def skips_finally() -> Optional[bool]:
    """Does this interpreter leave a `try` without its `finally` when an asynchronous exception lands on the
    back-edge of a `while <condition>:` that opens it? Probed once; None if the probe could not tell."""
    global _skips
    with _lock:
        if _skips is None:
            _skips = _probe()
        return _skips


class _Probe(BaseException):
    """Raised only in the probe's own thread."""


def _probe() -> Optional[bool]:
    from pyleash.stop.async_exc import async_raise

    ran: List[bool] = []
    spinning = threading.Event()

    def shape() -> None:
        n = 0
        try:
            spinning.set()
            while n >= 0:
                n += 1
        finally:
            ran.append(True)

    def runner() -> None:
        try:
            shape()
        except _Probe:
            pass

    thread = threading.Thread(target=runner, name="pyleash-finally-probe", daemon=True)
    thread.start()
    spinning.wait(PROBE_TIMEOUT_S)
    give_up = time.monotonic() + PROBE_TIMEOUT_S
    # It lands wherever the thread is, and ends it either way; False only while a thread it started does not run.
    while not async_raise(thread.ident, _Probe) and time.monotonic() < give_up:  # type: ignore[arg-type]
        time.sleep(0.001)
    thread.join(PROBE_TIMEOUT_S)
    if thread.is_alive() or not spinning.is_set():
        return None
    return not ran


def _innermost(exc: BaseException) -> Optional[Tuple[Any, int]]:
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code, tb.tb_lasti


def _entries(code: Any) -> Optional[List[Tuple[int, int]]]:
    """The code's exception table as (start, end) offsets; None if this interpreter's cannot be read."""
    try:
        import dis

        return [(e.start, e.end) for e in dis._parse_exception_table(code)]  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a private helper of dis: gone or changed means unknown, never an error
        return None
