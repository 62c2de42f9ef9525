"""Stop a thread by raising an exception in it with PyThreadState_SetAsyncExc (ctypes).

The ladder's `async-exc` step arms TaskStopped with async_raise and re-arms it after each swallowed one
(pyleash.stop.redeliver). A thread in a C call (time.sleep, a blocking read) takes the exception only when
the call returns; until then it stays armed, and revoke() can withdraw it. If the thread finishes on its own
just as the exception is armed, the exception may still fire in threading's bootstrap code after the task
returned (stderr then shows "Exception in thread" or "Exception ignored"). A loop that catches everything
and retries forever cannot be stopped this way: each new exception lands in its try body again. An
exception delivered to a `while <condition>:` loop that is the first statement of a try body can leave that
try without its except and finally running (seen on 3.13.0; docs/stop-strategies.md's generated table says
on which interpreters).

CPython 3.8-3.11 give a thread state the id of the thread that creates it until the new thread begins to run
(3.12 gives none), and PyThreadState_SetAsyncExc arms the newest state with a matching id. So for a moment after
a thread starts another, an exception meant for it would land in its child, at the child's first line, and the
stop would be lost. async_raise() therefore arms nothing while the target has a thread started by
pyleash.threads.start_thread that does not run yet: it returns False, and the stopper tries again a moment later
(the child needs only the OS to run it, not the GIL). In the agent's process threading.Thread.start() goes through
it too; a thread started with _thread directly, or by C code, is not seen (pythonia's process is not changed so).
"""
from __future__ import annotations

import ctypes
import threading
import time

from pyleash.threads import starting

# Private prototypes: setting argtypes on ctypes.pythonapi's shared attribute would change it for
# everyone. The id is unsigned long since 3.7. Undo needs a real NULL, which py_object cannot pass
# (None would become Py_None), hence the c_void_p variant.
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def async_raise(ident: int, exc_type: type) -> bool:
    """Arm `exc_type` to be raised in thread `ident` at its next eval-loop check; False, arming nothing, while a
    thread that `ident` has just started does not run yet (see the module docstring): try again a moment later.

    Raises TypeError for anything but an exception class, ValueError("invalid thread id") when no
    thread state has that id, SystemError (after undoing) if several matched.
    """
    if not isinstance(exc_type, type) or not issubclass(exc_type, BaseException):
        raise TypeError("only exception classes can be raised asynchronously, not %r" % (exc_type,))
    if not isinstance(ident, int) or ident <= 0:
        raise ValueError("invalid thread id")
    if starting(ident):
        return False
    res = _set_async_exc(ident, exc_type)
    if res == 0:
        raise ValueError("invalid thread id")
    if res > 1:
        _clear_async_exc(ident, None)
        raise SystemError("PyThreadState_SetAsyncExc matched %d thread states" % res)
    if starting(ident):  # it started one between the look and the arming: the child may hold it
        _clear_async_exc(ident, None)  # the newest state with the id, the one just armed
        return False
    return True


def revoke(ident: int) -> bool:
    """Withdraw an exception armed in thread `ident` that has not been raised yet; True if the thread was found.

    Withdrawing still signals "an asynchronous exception is pending" to the whole interpreter (CPython sets
    that flag for a NULL exception too, and only a thread that takes a real one clears it). A stale flag sends
    every thread's periodic check to its slow path, and on 3.11 it makes any function call under a trace
    function loop forever at its entry (RESUME re-checks the flag after each trace dispatch). So when the
    thread withdraws its own, it takes a private exception at once, which clears the flag.
    """
    own = ident == threading.get_ident()
    if own:
        _wait_for_children()
    found = _clear_async_exc(ident, None) == 1
    if found and own:
        _clear_signal()
    return found


class _Flush(BaseException):
    """Raised in a thread by itself only to clear the interpreter's pending flag (see revoke)."""


def _tick() -> None:
    pass


def _clear_signal() -> None:
    try:
        if _set_async_exc(threading.get_ident(), _Flush) != 1:  # it may fire as this call returns
            return
        for _ in range(1000):  # a call per turn: each function entry checks for pending exceptions
            _tick()
    except _Flush:
        return
    _clear_async_exc(threading.get_ident(), None)  # not taken in 1 000 calls: withdraw it rather than leave it armed


_CHILDREN_WAIT_S = 2.0  # a child the OS has not run in this long: withdraw anyway


def _wait_for_children() -> None:
    """In a thread about to withdraw its own exception: until the threads it started run (else it would withdraw
    one of theirs), the GIL let go meanwhile."""
    me = threading.get_ident()
    give_up = time.monotonic() + _CHILDREN_WAIT_S
    while starting(me) and time.monotonic() < give_up:
        time.sleep(0.0001)
