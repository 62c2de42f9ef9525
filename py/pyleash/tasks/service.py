"""The task requests: start, stop, stack and threads (registered on the agent's control loop)."""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Deque, Dict

from pyleash import protocol
from pyleash.stop.stacks import thread_stack
from pyleash.tasks import main_kind, thread_kind
from pyleash.tasks.task import Task, finish

KINDS = ("thread", "main", "process", "asyncio")
ENDED_KEPT = 1024  # ended tasks remembered, for a stop or stack that crosses the end on the wire
STRATEGIES = ("auto", "flag", "async-exc", "trace", "monitor", "signal", "terminate", "cancel")


class TaskService:
    """Owns the task table; it is written on the control thread and read by stop threads."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.tasks: Dict[str, Task] = {}
        self._ended: Deque[str] = deque()  # ids of ended tasks, oldest first (appended by any thread)
        agent.handlers.update(start=self.start, stop=self.stop, stack=self.stack, threads=self.threads)

    def emit(self, *events: Dict[str, Any]) -> None:
        for event in events:
            if event.get("type") == "task-ended":
                self._ended.append(event["task"])
        self.agent.send_many(list(events))

    def start(self, request: Dict[str, Any]) -> None:
        task_id, kind, target = request.get("task"), request.get("kind", "thread"), request.get("target")
        if not isinstance(task_id, str) or task_id in self.tasks:
            raise protocol.ProtocolError("start needs a new string 'task' id, got %r" % (task_id,))
        if kind not in KINDS:
            raise protocol.ProtocolError("unknown task kind %r (expected one of %s)" % (kind, ", ".join(KINDS)))
        args, kwargs = request.get("args", []), request.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict) or not isinstance(target, str):
            raise protocol.ProtocolError("start needs a string 'target', 'args' as an array and 'kwargs' as an object")
        task = Task(task_id, kind, target, args, kwargs, str(request.get("name") or target), bool(request.get("trace")))
        while len(self._ended) > ENDED_KEPT:  # the controller answers for tasks it knows have ended
            self.tasks.pop(self._ended.popleft(), None)
        self.tasks[task_id] = task
        # Reply before the task runs: a task that grabs the GIL for good (C code) would otherwise hold the reply.
        self.agent.send(protocol.ok(request.get("id"), task.describe()))
        try:
            if kind == "thread":
                thread_kind.start(task, self.emit)
            elif kind == "main":
                main_kind.start(task, self.emit, self.agent.main_lane)
            elif kind == "process":
                from pyleash.tasks import process_kind  # multiprocessing: imported on first use

                process_kind.start(task, self.emit)
            else:
                from pyleash.tasks import asyncio_kind  # asyncio pulls in ssl: +8 MB, +20 ms at start

                asyncio_kind.start(task, self.emit)
        except Exception as exc:  # e.g. no more threads: the task fails, the agent goes on
            finish(task, self.emit, "failed", error=exc)

    def stop(self, request: Dict[str, Any]) -> None:
        task = self._task(request)
        strategy = request.get("strategy", "auto")
        if strategy not in STRATEGIES:
            raise protocol.ProtocolError("unknown strategy %r (expected one of %s)" % (strategy, ", ".join(STRATEGIES)))
        grace_s = _seconds(request, "graceMs", 250)
        deadline_s = _seconds(request, "deadlineMs", 3000)
        from pyleash.stop import ladder  # on first stop: the idle agent need not carry it

        run = ladder.StopRun(task, strategy, grace_s, deadline_s, request.get("id"), self.agent.send)
        if run.begin():  # the first delivery is made here; the rest runs on a thread of its own
            threading.Thread(target=run.carry_on, name="pyleash-stop-%s" % task.id, daemon=True).start()

    def stack(self, request: Dict[str, Any]) -> None:
        task = self._task(request)
        if task.kind == "process":  # the child dumps it: waiting for that must not hold the control loop
            from pyleash.tasks import process_kind

            def dump() -> None:
                self.agent.send(protocol.ok(request.get("id"), process_kind.stack(task)))

            threading.Thread(target=dump, name="pyleash-stack-%s" % task.id, daemon=True).start()
            return
        frames = thread_stack(task.ident) if task.ident is not None else []
        self.agent.send(protocol.ok(request.get("id"), frames))

    def threads(self, request: Dict[str, Any]) -> None:
        by_ident = {t.ident: t.id for t in self.tasks.values() if not t.ended.is_set() and t.kind != "process"}
        listing = []
        for thread in threading.enumerate():
            name = thread.name
            listing.append({
                "name": name,
                "ident": thread.ident,
                "nativeId": getattr(thread, "native_id", None),
                "daemon": thread.daemon,
                "alive": thread.is_alive(),
                "task": by_ident.get(thread.ident),
                "agent": thread is threading.main_thread() or (name.startswith("pyleash-") and not name.startswith("pyleash-task-")),
                "frames": thread_stack(thread.ident, limit=5) if thread.ident else [],
            })
        self.agent.send(protocol.ok(request.get("id"), listing))

    def _task(self, request: Dict[str, Any]) -> Task:
        task = self.tasks.get(request.get("task"))  # type: ignore[arg-type]
        if task is None:
            raise protocol.ProtocolError("no task %r in this agent" % (request.get("task"),))
        return task


def _seconds(request: Dict[str, Any], key: str, default_ms: float) -> float:
    value = request.get(key, default_ms)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise protocol.ProtocolError("%r must be a non-negative number of milliseconds, got %r" % (key, value))
    return value / 1000.0
