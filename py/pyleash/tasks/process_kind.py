"""Tasks that run in a child process (multiprocessing, spawn), watched by a pyleash-task-<id> thread."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from typing import Any, Dict, List, Optional

from pyleash.tasks import process_child, process_flag
from pyleash.tasks.process_stack import DumpReader
from pyleash.tasks.task import Emit, Task, finish, started_event

# spawn, not fork: forking a process that runs threads can copy a lock held by another thread.
_context = multiprocessing.get_context("spawn")


def start(task: Task, emit: Emit) -> None:
    receiver, sender = _context.Pipe(duplex=False)
    child_flag, task.stop_event = process_flag.make(_context)
    dump_reader, dump_writer = _context.Pipe(duplex=False)
    task.dumps = DumpReader(dump_reader)
    process = _context.Process(
        target=process_child.main,
        args=(task.id, task.target, task.args, task.kwargs, sender, child_flag, dump_writer, os.getpid()),
        name="pyleash-task-%s" % task.id,
        daemon=True,
    )
    task.killer = process
    task.thread = threading.Thread(
        target=_watch, args=(task, emit, process, receiver, (sender, child_flag, dump_writer)), name=process.name, daemon=True
    )
    task.thread.start()


def _watch(task: Task, emit: Emit, process: Any, receiver: Any, child_ends: Any) -> None:
    task.ident = threading.get_ident()
    try:
        process.start()
    except BaseException as exc:  # noqa: B902 - a failed spawn is the task's failure
        for end in (receiver, task.stop_event, task.dumps) + child_ends:
            end.close()
        finish(task, emit, "failed", None, exc)
        return
    for end in child_ends:  # the child has its copies; so recv() sees EOF when the child dies without answering
        end.close()
    message: Optional[Dict[str, Any]] = None
    try:
        frame = receiver.recv_bytes()
        if frame == process_child.RUNNING:
            emit(started_event(task, pid=process.pid))
            task.started.set()
            frame = receiver.recv_bytes()
        message = process_child.decode(frame)  # the outcome, which may come first: stopped while announcing
    except (EOFError, OSError, ValueError):
        pass
    process.join()
    receiver.close()
    task.stop_event.close()
    task.dumps.close()
    _report(task, emit, process.exitcode, message)


def stack(task: Task) -> List[Dict[str, Any]]:
    """The child's stack, innermost last; [] before it has started or once it has ended."""
    if not task.started.is_set() or task.ended.is_set():
        return []
    return task.dumps.stack(task.killer.pid)


def _report(task: Task, emit: Emit, exitcode: Optional[int], message: Optional[Dict[str, Any]]) -> None:
    if message is None:  # died without a word: killed by a signal, or os._exit
        how = _signal_name(-exitcode) if exitcode is not None and exitcode < 0 else "exit status %s" % exitcode
        if task.stop_asked:
            finish(task, emit, "stopped", how=how, unwound=False)
        else:
            finish(task, emit, "failed", None, ChildProcessError("the task's process died: %s" % how))
        return
    status = message["status"]
    if status == "finished":
        finish(task, emit, "finished", message.get("result"), None)
    elif status == "stopped":
        finish(task, emit, "stopped", None, None, message.get("how"))
    else:
        finish(task, emit, "failed", None, _RemoteError(message["error"]))


class _RemoteError(Exception):
    """An exception raised in the child, carried back as its payload."""

    def __init__(self, payload: Dict[str, Any]) -> None:
        super().__init__(payload.get("message", ""))
        self.payload = payload


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number
