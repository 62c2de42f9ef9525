"""Parent watcher: the agent exits as soon as its controller dies, even under SIGKILL."""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Optional

_PR_SET_PDEATHSIG = 1
EXIT_PARENT_GONE = 0  # the controller is gone: nobody is left to read an error status


def watch(fd: int, parent_pid: Optional[int]) -> None:
    """Exit when `fd` (the read end of a pipe whose write end only the controller holds) reaches EOF."""
    die_with_parent(parent_pid)
    thread = threading.Thread(target=_wait_for_eof, args=(fd,), name="pyleash-lifeline", daemon=True)
    thread.start()


def _wait_for_eof(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os._exit(EXIT_PARENT_GONE)


def die_with_parent(parent_pid: Optional[int], signum: int = signal.SIGKILL) -> None:
    """Ask Linux to SIGKILL (or `signum`) this process when its parent dies: works even while C code holds the GIL.

    Linux only (prctl); elsewhere (macOS) this does nothing and the lifeline pipe alone ends the agent.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # here, not at the top: a Python built without ctypes still gets the pipe

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(EXIT_PARENT_GONE)
