"""The task requests: start, stop, stack and threads (requests arrive checked against the contract)."""
from __future__ import annotations

import importlib
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

from pyleash import protocol, targets
from pyleash.threads import start_soon
from pyleash.stop.stacks import thread_stack
from pyleash.tasks.kind import Kind
from pyleash.tasks.registry import KINDS
from pyleash.tasks.task import CallState, Task, finish, withhold

ENDED_KEPT = 1024  # ended tasks remembered, for a stop or stack that crosses the end on the wire

Send = Callable[[Dict[str, Any]], None]


class TaskService:
    """Owns the task table; it is written on the control thread and read by stop threads."""

    def __init__(self, send: Send, send_many: Callable[[List[Dict[str, Any]]], None]) -> None:
        self._send = send
        self._send_many = send_many
        self.tasks: Dict[str, Task] = {}
        self._ended: Deque[str] = deque()  # ids of ended tasks, oldest first (appended by any thread)

    def emit(self, *events: Dict[str, Any]) -> None:
        for event in events:
            if event.get("type") == "task-ended":
                self._ended.append(event["task"])
        self._send_many(list(events))

    def start(self, request: Dict[str, Any]) -> None:
        task_id, kind = request["task"], KINDS[request["kind"]]
        if task_id in self.tasks:
            raise protocol.ProtocolError("start needs a new 'task' id, %r is taken" % (task_id,))
        target = request["target"]
        try:
            targets.check(target)  # malformed or outside allowedModules: refused before anything starts
        except targets.TargetForbidden as exc:
            self._send(protocol.error(request["id"], protocol.FORBIDDEN, exc, with_traceback=False))
            return
        except targets.TargetError as exc:
            self._send(protocol.error(request["id"], protocol.TARGET, exc, with_traceback=False))
            return
        name = request.get("name") or target
        task: Task = Task(task_id, kind, target, request["args"], request["kwargs"], name, request["trace"])
        task.emit = self.emit
        self._add(task)
        # Reply before the task runs: a task that grabs the GIL for good (C code) would otherwise hold the reply.
        self._send(protocol.ok(request["id"], task.describe()))
        try:
            kind.start(task, self.emit)
        except Exception as exc:  # noqa: BLE001 - e.g. no more threads: the task fails, the agent goes on
            finish(task, self.emit, "failed", error=exc)

    def call(self, request: Dict[str, Any], kind: Kind, prepare: Optional[Callable[[Task], None]] = None) -> None:
        """A call recorded as a task while it runs (it named a task id, or it runs on the main lane), so that a
        stop or stack request can reach it; its end is the call's reply, and it sends no task events.
        `prepare(task)` completes the record before it runs (a stream's state: its credit and batch)."""
        task_id = request.get("task") or "~call-%d" % request["id"]  # the controller never stops an unnamed call
        if task_id in self.tasks:
            raise protocol.ProtocolError("a call's 'task' id must be new, %r is taken" % (task_id,))
        target = request["target"]
        task: Task = Task(task_id, kind, target, request["args"], request["kwargs"], target, False, CallState(request["id"]))
        if prepare is not None:
            prepare(task)
        self._add(task)

        def emit(*messages: Dict[str, Any]) -> None:
            self._ended.append(task_id)
            self._send_many(list(messages))

        task.emit = emit
        kind.start(task, emit)

    def abandoned(self) -> List[Dict[str, Any]]:
        """Calls and tasks a stop gave up on that still run: [{task, target, ident, frames}]."""
        return [{"task": t.id, "target": t.target, "ident": t.ident, "frames": t.kind.stack(t)}
                for t in list(self.tasks.values()) if t.abandoned and not t.ended.is_set()]

    def _add(self, task: Task) -> None:
        if not self.tasks:
            # The stop machinery, loaded with the first task rather than by the first stop: an idle agent need not
            # carry it, and an import under GIL contention (reading files gives the GIL up) takes seconds.
            for module in ("pyleash.stop.batch", "pyleash.stop.ladder"):
                importlib.import_module(module)
        while len(self._ended) > ENDED_KEPT:  # the controller answers for tasks it knows have ended
            self.tasks.pop(self._ended.popleft(), None)
        self.tasks[task.id] = task

    def stop(self, request: Dict[str, Any]) -> None:
        task = self._task(request)
        from pyleash.stop.batch import batchable, hand_over  # loaded with the first task (_add)
        from pyleash.stop.ladder import StopRun

        run = StopRun(task, request["strategy"], request["graceMs"] / 1000.0, request["deadlineMs"] / 1000.0,
                      request["id"], self._send)
        if task.kind.withholds and task.emit is not None and withhold(task):  # queued: it now never begins
            run.withheld()
            finish(task, task.emit, "stopped", how="before-start")
            return
        if not run.begin():  # the first delivery is made here
            return
        if batchable(run):  # the rest: stops that arrive together go on in one walker's passes
            hand_over(run)
        else:  # or on a thread of its own
            start_soon(threading.Thread(target=run.carry_on, name="pyleash-stop-%s" % task.id, daemon=True), run.fail)

    def stack(self, request: Dict[str, Any]) -> None:
        task = self._task(request)
        if not task.kind.stack_waits:
            self._send(protocol.ok(request["id"], task.kind.stack(task)))
            return

        def dump() -> None:  # a child dumps it: waiting for that must not hold the control loop
            self._send(protocol.ok(request["id"], task.kind.stack(task)))

        start_soon(threading.Thread(target=dump, name="pyleash-stack-%s" % task.id, daemon=True))

    def threads(self, request: Dict[str, Any]) -> None:
        running = [t for t in list(self.tasks.values()) if not t.ended.is_set() and t.kind.runs_in_agent]
        by_ident = {t.ident: t.id for t in running}
        abandoned = {t.ident for t in running if t.abandoned}
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
                "abandoned": thread.ident in abandoned,
                "frames": thread_stack(thread.ident, limit=5) if thread.ident else [],
            })
        self._send(protocol.ok(request["id"], listing))

    def _task(self, request: Dict[str, Any]) -> Task:
        task = self.tasks.get(request["task"])
        if task is None:
            raise protocol.ProtocolError("no task %r in this agent" % (request["task"],))
        return task
