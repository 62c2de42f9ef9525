"""The stack of a process task, from faulthandler in the child: it answers even while the child is in a C call.

The child registers faulthandler for the contract's threadDump signal (SIGUSR1) on the write end of a pipe
(see process_child); the agent signals it and reads the dump from the read end. faulthandler writes from its
C signal handler, without the GIL and with SA_RESTART, so the task does not notice. The dump has no end
marker: it is complete once the pipe has been quiet for QUIET_S after the first bytes.
"""
from __future__ import annotations

import linecache
import os
import select
import threading
import time
from typing import Any, Dict, List

from pyleash.stop.stacks import DUMP_SIGNAL, parse_faulthandler_dump

QUIET_S = 0.02
ANSWER_S = 1.0  # a child that writes nothing in this time is gone or not yet listening
LIMIT = 20  # innermost frames kept, as for thread tasks


class DumpReader:
    """The agent's end of a child's faulthandler pipe; one dump at a time."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._lock = threading.Lock()

    def stack(self, pid: int) -> List[Dict[str, Any]]:
        """The task's frames, innermost last; [] when the child does not answer (or has ended)."""
        with self._lock:
            if self._reader.closed:
                return []
            fd = self._reader.fileno()
            _read_available(fd, 0.0)  # leftovers of a dump that came too late for its reader
            if DUMP_SIGNAL is None:  # no POSIX signals: no dumps
                return []
            try:
                os.kill(pid, DUMP_SIGNAL)
            except OSError:
                return []
            text = _read_dump(fd).decode("utf-8", "replace")
        return _task_frames(parse_faulthandler_dump(text))

    def close(self) -> None:
        with self._lock:
            self._reader.close()


def _read_dump(fd: int) -> bytes:
    chunks: List[bytes] = []
    deadline = time.monotonic() + ANSWER_S
    while True:
        wait = QUIET_S if chunks else deadline - time.monotonic()
        if wait <= 0:
            break
        data = _read_available(fd, wait)
        if data is None:  # EOF: the child has gone
            break
        if not data and chunks:
            break
        chunks.append(data)
    return b"".join(chunks)


def _read_available(fd: int, wait: float) -> Any:
    """What the pipe holds after waiting up to `wait` s for something: b"" if nothing, None at EOF."""
    data = b""
    while select.select([fd], [], [], wait)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data or None
        data += chunk
        wait = 0.0
    return data


def _task_frames(threads: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The frames of the thread that runs the task (its stack passes through process_child.main)."""
    for thread in threads:
        frames = thread["frames"]
        if any(f["function"] == "main" and f["file"].endswith("process_child.py") for f in frames):
            kept = frames[-LIMIT:]
            for frame in kept:
                line = frame["line"]
                frame["code"] = linecache.getline(frame["file"], line).strip() if line else ""
            return kept
    return []
