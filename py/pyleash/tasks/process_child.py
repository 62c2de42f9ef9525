"""The child side of a `process` task: runs the function, answers SIGTERM by unwinding, reports over a pipe."""
from __future__ import annotations

import json
import signal
import sys
from typing import Any

from pyleash import current, lifeline, protocol, targets
from pyleash.deliveries import TaskStopped
from pyleash.stop.stacks import register_dump
from pyleash.tasks.task import wants_stop_event


RUNNING = b'{"status":"running"}'


class _ChildTask:
    """What pyleash.current_task() returns in the child."""

    def __init__(self, task_id: str, stop_event: Any) -> None:
        self.id = task_id
        self.stop_event = stop_event


def main(task_id: str, target: str, args: list, kwargs: dict, conn: Any, stop_event: Any, dump: Any, agent_pid: int) -> None:
    lifeline.die_with_parent(agent_pid)  # the agent may be SIGKILLed; its children must not outlive it
    register_dump(dump.fileno())  # before RUNNING: the agent asks for stacks only once the task has started
    current.bind(_ChildTask(task_id, stop_event))
    try:  # a SIGTERM before the handler is in kills the child outright; after, it unwinds through here
        signal.signal(signal.SIGTERM, _raise_task_stopped)
        conn.send_bytes(RUNNING)  # the agent announces the task as started only now, with the handler in place
        fn = targets.resolve(target)
        if wants_stop_event(fn) and "stop_event" not in kwargs:
            kwargs = dict(kwargs, stop_event=stop_event)
        message = {"status": "finished", "result": fn(*args, **kwargs)}
    except TaskStopped:
        message = {"status": "stopped", "how": "SIGTERM"}
    except BaseException as exc:  # noqa: BLE001 - everything the task raises is reported
        message = {"status": "failed", "error": protocol.error(None, protocol.EXCEPTION, exc)["error"]}
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        frame = protocol.encode(message)
    except protocol.NotSerializable as exc:
        frame = protocol.encode({"status": "failed", "error": protocol.error(None, protocol.RESULT, exc, False)["error"]})
    conn.send_bytes(frame)
    conn.close()
    sys.stdout.flush()


def _raise_task_stopped(signum: int, frame: Any) -> None:
    raise TaskStopped("SIGTERM")


def decode(frame: bytes) -> Any:
    return json.loads(frame)
