"""Where a thread is: its Python stack from sys._current_frames, or every stack via faulthandler."""
from __future__ import annotations

import faulthandler
import linecache
import re
import signal
import sys
from typing import Any, Dict, List, Optional

from pyleash.contract import SIGNALS

# SIGUSR1 as in the faulthandler docs; SIGUSR2 is taken by pyleash.stop.signal_main. None without POSIX signals.
DUMP_SIGNAL: Optional[int] = getattr(signal, SIGNALS["threadDump"], None)

_THREAD_RE = re.compile(r"^(Current thread|Thread) (0x[0-9a-fA-F]+)(?: \[.*\])? \(most recent call first\):\s*$")
_STACK_RE = re.compile(r"^Stack \(most recent call first\):\s*$")  # one thread, all_threads=False (3.12+)
_FRAME_RE = re.compile(r'^  File "(.*)", line (\d+|\?\?\?) in (.*?)\s*$')


def thread_stack(ident: int, limit: int = 20) -> List[Dict[str, Any]]:
    """The innermost `limit` Python frames of thread `ident`, innermost last; [] if no such thread.

    Needs the GIL: it waits while a C call in some thread holds it (use the faulthandler dump then).
    """
    frame = sys._current_frames().get(ident)
    frames: List[Dict[str, Any]] = []
    while frame is not None and len(frames) < limit:
        code = frame.f_code
        line = frame.f_lineno
        text = linecache.getline(code.co_filename, line).strip() if line else ""
        frames.append({"file": code.co_filename, "line": line, "function": code.co_name, "code": text})
        frame = frame.f_back
    frame = None  # drop the frame reference: frames keep their locals alive
    frames.reverse()
    return frames


def blocked_in(ident: int) -> Optional[Dict[str, Any]]:
    """The innermost Python frame of thread `ident` (where it sits or spins), or None."""
    frames = thread_stack(ident, limit=1)
    return frames[-1] if frames else None


def register_dump(file: Any, signum: Optional[int] = DUMP_SIGNAL) -> int:
    """Make `signum` dump every thread's stack to `file` (object with fileno(), or an fd) from C.

    The dump runs in the C signal handler, without the GIL, so it works while a C call holds the GIL
    or a thread is stuck. faulthandler keeps `file` and writes to its fd: keep it open until
    unregister_dump(). Trigger with signal.pthread_kill(threading.get_ident(), signum) for a dump
    that is complete when the call returns, or os.kill(pid, signum) from outside.
    """
    if signum is None:
        raise RuntimeError("no %s on this platform" % SIGNALS["threadDump"])
    faulthandler.register(signum, file=file, all_threads=True, chain=False)
    return signum


def unregister_dump(signum: Optional[int] = DUMP_SIGNAL) -> bool:
    """Undo register_dump; True if a dump handler was registered."""
    return signum is not None and bool(faulthandler.unregister(signum))  # type: ignore[func-returns-value]  # a bool (typeshed: None)


def parse_faulthandler_dump(text: str) -> List[Dict[str, Any]]:
    """Parse faulthandler output into [{"thread_id", "current", "frames": [{"file","line","function"}]}].

    faulthandler lists frames innermost first; they are returned innermost last, like thread_stack.
    Same format on 3.8-3.13, except: 3.9+ print scripts with absolute paths; 3.12+ title a
    single-thread dump "Stack (most recent call first):" (thread_id None); 3.13.0 no longer ends a stack
    cut at 100 frames with "  ..." ("truncated" is True only where the marker is printed). Unknown
    line numbers ("???") become None; other lines are ignored.
    """
    threads: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None
    for raw in text.splitlines():
        head = _THREAD_RE.match(raw)
        if head or _STACK_RE.match(raw):
            current = {
                "thread_id": int(head.group(2), 16) if head else None,
                "current": bool(head and head.group(1) == "Current thread"),
                "frames": [],
                "truncated": False,
            }
            threads.append(current)
            continue
        if current is None:
            continue
        frame = _FRAME_RE.match(raw)
        if frame:
            line = frame.group(2)
            current["frames"].append(
                {"file": frame.group(1), "line": int(line) if line.isdigit() else None, "function": frame.group(3)}
            )
        elif raw.rstrip() == "  ...":  # frames cut at 100; an unindented "..." cuts the thread list
            current["truncated"] = True
    for thread in threads:
        thread["frames"].reverse()
    return threads
