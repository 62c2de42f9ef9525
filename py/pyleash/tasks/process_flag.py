"""A process task's stop_event: a pipe, so that no named semaphore outlives an agent that is killed.

multiprocessing.Event is five POSIX semaphores registered with the resource tracker; an agent killed while
one exists makes the tracker warn at exit about "leaked semaphore objects". A pipe is closed by the kernel.
The agent keeps the write end and sets the flag by writing one byte; the child polls the read end.
"""
from __future__ import annotations

import threading
from typing import Any, Optional, Tuple


def make(context: Any) -> Tuple["ChildFlag", "AgentFlag"]:
    """(the child's end, to pass to it as a Process argument; the agent's end)."""
    reader, writer = context.Pipe(duplex=False)
    return ChildFlag(reader), AgentFlag(writer)


class AgentFlag:
    """The agent's end: set() asks the child to stop; like threading.Event.set, it is idempotent."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._set = False
        self._lock = threading.Lock()

    def set(self) -> None:
        with self._lock:
            if self._set:
                return
            self._set = True
            try:
                self._writer.send_bytes(b"1")
            except OSError:  # the child is gone: there is nobody left to tell
                pass

    def is_set(self) -> bool:
        return self._set

    def close(self) -> None:
        with self._lock:
            self._set = True
            self._writer.close()


class ChildFlag:
    """The child's end, with threading.Event's reading side: is_set() and wait(timeout)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._set = False

    def is_set(self) -> bool:
        return self._set or self.wait(0)

    def wait(self, timeout: Optional[float] = None) -> bool:
        if not self._set:
            try:
                self._set = self._reader.poll(timeout)
            except (EOFError, OSError):  # the agent closed its end: it is gone or done with the task
                self._set = True
        return self._set

    def set(self) -> None:
        """The task may flag itself; the agent does not hear of it."""
        self._set = True

    def close(self) -> None:
        """The agent closes its copy once the child has its own."""
        self._reader.close()
