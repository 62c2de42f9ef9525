"""Stop a thread by raising an exception in it with PyThreadState_SetAsyncExc (ctypes)."""
from __future__ import annotations

import ctypes
import threading
from typing import Any, Dict, Optional

from pyleash.errors import TaskStopped
from pyleash.stop import FAST_SWITCH_S, GRACE_S, run_stop

# Private prototypes: setting argtypes on ctypes.pythonapi's shared attribute would change it for
# everyone. The id is unsigned long since 3.7. Undo needs a real NULL, which py_object cannot pass
# (None would become Py_None), hence the c_void_p variant.
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def async_raise(ident: int, exc_type: type) -> None:
    """Arm `exc_type` to be raised in thread `ident` at its next eval-loop check.

    Raises TypeError for anything but an exception class, ValueError("invalid thread id") when no
    thread state has that id, SystemError (after undoing) if several matched.
    """
    if not isinstance(exc_type, type) or not issubclass(exc_type, BaseException):
        raise TypeError("only exception classes can be raised asynchronously, not %r" % (exc_type,))
    if not isinstance(ident, int) or ident <= 0:
        raise ValueError("invalid thread id")
    res = _set_async_exc(ident, exc_type)
    if res == 0:
        raise ValueError("invalid thread id")
    if res > 1:
        _clear_async_exc(ident, None)
        raise SystemError("PyThreadState_SetAsyncExc matched %d thread states" % res)


def stop_thread(
    thread: threading.Thread,
    deadline_s: float,
    exc_type: type = TaskStopped,
    grace_s: float = GRACE_S,
    switch_s: Optional[float] = FAST_SWITCH_S,
    revoke_pending: bool = False,
) -> Dict[str, Any]:
    """Raise `exc_type` in `thread`, again after each swallowed delivery, until it dies or the deadline.

    The result is pyleash.stop.run_stop's plus "revoked". A thread in a C call (time.sleep, a blocking
    read) takes the exception only when the call returns: "pending"; a pending exception stays armed
    after the deadline and fires when the call returns, unless `revoke_pending` withdraws it (then
    "revoked" is True; it may have been delivered in that instant).

    If the thread finishes on its own just as the exception is armed, the exception may still fire in
    threading's bootstrap code after the task returned (stderr then shows "Exception in thread" or
    "Exception ignored"); it is reported as stopped either way. A loop that catches everything and
    retries forever cannot be stopped this way: each new exception lands in its try body again.
    On 3.11 and 3.12 an exception delivered at the back-edge of a `while` loop that is the first
    statement of a try body is attributed to the instruction before the loop, outside the try: that
    try's except and finally do not run (3.8-3.10 and 3.13 are right).
    """
    if not (isinstance(exc_type, type) and issubclass(exc_type, TaskStopped)):
        raise TypeError("stop_thread counts deliveries of TaskStopped; use async_raise for %r" % (exc_type,))
    ident = thread.ident
    if ident is None:
        raise ValueError("thread %r was never started" % thread.name)

    def inject() -> bool:
        try:
            async_raise(ident, exc_type)
        except ValueError:  # its thread state is already gone
            return False
        return True

    result = run_stop(ident, inject, thread.is_alive, thread.join, deadline_s, grace_s, switch_s)
    result["revoked"] = False
    if revoke_pending and result["pending"] and thread.is_alive():
        result["revoked"] = _clear_async_exc(ident, None) == 1
    return result
