"""Attach: a pyleash agent in threads of a Python process it did not start (pythonia's), to stop and inspect its work.

attach() runs on the host's main thread (only it may set a signal handler): it installs the stop signal's
handler and faulthandler's dump, connects to the controller (the built-in ZMTP client, which sees the
controller go), says hello and starts pyleash-control. It reuses the agent's control loop, stop engine and
stacks; what differs is what it stops. The host's threads are not pyleash tasks, so it adopts them per request:
task "main" is the call pythonia's main thread runs now, task "thread-<ident>" any other thread.

Threads and what they own:
- the host's main thread: the host's loop; attach() and detach() run there; the stop handler raises there.
- pyleash-control: the transport's receive side and the requests; on the controller's loss it detaches.
- pyleash-stop-<id>: one per stop, as in the agent.
It never exits the process: the process is the host's. detach() (or losing the controller) ends the threads and
gives back the signal handlers, faulthandler's signal and threading.excepthook; the modules stay imported. The
shutdown reply leaves from pyleash-control itself, before that thread can end: the controller's detach() call on
the main thread is what returns once the threads are gone (it joins them).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, cast

from pyleash import contract, deliveries, protocol
from pyleash.agent import _hello
from pyleash.attach_pythonia import PythoniaLoop
from pyleash.control import Agent
from pyleash.deliveries import TaskStopped
from pyleash.stop import stacks
from pyleash.stop.ladder import StopRun, unavailable
from pyleash.stop.redeliver import GRACE_S
from pyleash.switching import fast_switching
from pyleash.stop.report import StopReport
from pyleash.stop.signal_current import CurrentWorkSignalStop
from pyleash.stop.signal_main import available as signal_available
from pyleash.stop.steps import KindStep
from pyleash.stop.stoppable import Run
from pyleash.tasks.kind import Kind
from pyleash.threads import start_soon
from pyleash.transport import TransportError, open_transport

MAIN_TASK = "main"  # the stop and stack requests' name for the call the host's main thread runs now
THREAD_PREFIX = "thread-"  # "thread-<ident>": any other thread of the host
CONNECT_TIMEOUT_S = 2.0  # the controller has bound its socket before asking: a longer wait would hold the host's main thread
JOIN_TIMEOUT_S = 2.0  # detach() on another thread waits this long for pyleash's threads to end (the leash's closeGraceMs)


class CallStopped(TaskStopped, Exception):
    """Raised in the host's main thread to stop the call it runs.

    A TaskStopped (so pyleash counts its deliveries) that is also an Exception: pythonia's dispatch catches
    `Exception` and reports it as the call's error, then reads the next call. A bare BaseException would end
    pythonia's loop, and with it the process.
    """


class HostState:
    """What attach's kinds keep of an adopted thread (Adopted.state), beside the core record the stop engine reads."""

    def __init__(self, first_delivery: int) -> None:
        self.first_delivery = first_delivery  # TaskStopped made in the thread before the stop (ForeignThreadKind.gone)
        self.raised_before = 0  # the main call: signal handler raises before the stop (CurrentWorkSignalStop.raised)
        self.deferred_before = 0  # ... and its deferrals (CurrentWorkSignalStop.deferred)
        self.primed = False  # the main call: the control thread has sent the first signal


class Adopted:
    """A host thread as the stop engine sees a task (pyleash.stop.stoppable.Stoppable): made per request. Its core
    record is a task's (pyleash.tasks.task.Task); what its kind keeps of it is `state`."""

    def __init__(self, task_id: str, kind: Kind, ident: int, thread: Optional[threading.Thread] = None,
                 target: Optional[FrameType] = None) -> None:
        self.id = task_id
        self.kind = kind
        self.ident: Optional[int] = ident
        self.thread = thread
        self.target = target  # the main call: pythonia's dispatch frame for it (held only during the stop)
        self.stop_event = threading.Event()  # nothing in the host looks at it: no `flag` step is offered
        self.ended = threading.Event()
        self.reported = threading.Event()
        self.status: Optional[str] = None
        self.unwinding = False
        self.inject_lock = threading.Lock()  # the stop engine holds it to inject (a host thread never closes injections)
        self.shielded = self.held = False  # a host thread is never held back (see pyleash.tasks.task.resolve_shielded)
        self.unwound: Optional[bool] = None
        self.ended_at: Optional[float] = None
        self.delivered = 0
        self.stop_asked_at: Optional[float] = None
        self.stop_runs: List[Run] = []
        self.abandoned = False  # a stop gave up on it (the ladder sets it)
        self.tracer = None
        self.state = HostState(deliveries.deliveries(ident))

    def mark_ended(self, by_us: bool) -> None:
        if not self.ended.is_set():
            self.unwound = True if by_us else None
            self.status = "stopped" if by_us else "finished"
            self.ended_at = time.perf_counter()
            self.ended.set()
            self.reported.set()


class CurrentCallKind(Kind["Adopted"]):
    """The call pythonia's main thread runs: stopped by the signal only, gone once its dispatch frame has left."""

    name = "main"
    own_thread = False
    answers_on_end = False  # nothing of ours runs when the host's call ends: the stop thread sees it go

    def __init__(self, loop: PythoniaLoop, signal_stop: Optional[CurrentWorkSignalStop]) -> None:
        super().__init__()
        self.ladder = ("signal",)  # a host call has no stop_event to look at: the gentle step would only wait
        self.loop = loop
        self.signal = signal_stop

    def gone(self, task: Adopted) -> bool:
        if task.ended.is_set():
            return True
        frame = sys._current_frames().get(task.ident)  # type: ignore[arg-type]
        try:
            while frame is not None:
                if frame is task.target:
                    return False
                frame = frame.f_back
        finally:
            frame = None
        task.mark_ended(self.signal is not None and self.signal.raised > task.state.raised_before)
        return True

    def wait_gone(self, task: Adopted, until: float) -> bool:
        while not self.gone(task):
            if time.perf_counter() >= until:
                return False
            time.sleep(0.001)
        return True

    def stack(self, task: Adopted) -> List[Dict[str, Any]]:
        return stacks.thread_stack(task.ident) if task.ident is not None else []

    def unavailable(self, strategy: str) -> Optional[str]:
        if strategy != "signal":
            return ("an attached agent stops pythonia's main thread by signal only: its handler raises where "
                    "pythonia reports the error, while %s could land in pythonia's own reply writing, which "
                    "exits its process" % ("a flag has no reader there" if strategy == "flag" else "'%s'" % strategy))
        return None if self.signal is not None else signal_available()[1]

    def step(self, strategy: str) -> Optional[KindStep]:
        return KindStep("signal", _signal_call) if strategy == "signal" else None


def _signal_call(run: Run, until: float) -> None:
    """The signal step for a host call: signal (unless the control thread already did), again while the handler
    defers, and again after each CallStopped the call swallowed."""
    task, kind = cast(Adopted, run.task), cast(CurrentCallKind, run.kind)  # a kind's own step acts on its own tasks
    stop = kind.signal
    assert stop is not None  # unavailable() refused the strategy otherwise
    raised = task.state.raised_before
    if not task.state.primed:
        stop.request_stop(task.target)
    try:
        with fast_switching():  # a spinning main thread hands the GIL on sooner; restored when the stop ends
            while not kind.gone(task):
                nap = 0.001
                while stop.raised == raised and stop.pending and not kind.gone(task):
                    now = time.perf_counter()
                    if now >= until:
                        return
                    time.sleep(min(nap, until - now))
                    nap = min(nap * 2, 0.02)
                    stop.resignal()  # it deferred (pythonia's own code), or a C call took the EINTR and went on
                if stop.raised == raised:  # dropped: the call ended before the handler ran
                    kind.wait_gone(task, until)
                    return
                if kind.wait_gone(task, min(until, time.perf_counter() + GRACE_S)) or time.perf_counter() >= until:
                    return
                run.report.swallowed += 1  # it caught CallStopped and carried on: another one
                raised = stop.raised
                stop.request_stop(task.target)
    finally:
        stop.cancel()


class ForeignThreadKind(Kind["Adopted"]):
    """A thread the host's code started: stopped by an asynchronous exception (or sys.monitoring on 3.12+)."""

    name = "thread"
    answers_on_end = False

    def __init__(self) -> None:
        super().__init__()
        self.ladder = ("async-exc",)  # no stop_event of ours in its code: the gentle step would only wait

    def gone(self, task: Adopted) -> bool:
        thread = task.thread
        alive = thread.is_alive() if thread is not None else task.ident in sys._current_frames()
        if not alive:
            task.mark_ended(deliveries.deliveries(task.ident) > task.state.first_delivery)  # type: ignore[arg-type]
        return not alive

    def wait_gone(self, task: Adopted, until: float) -> bool:
        while not self.gone(task):
            remaining = until - time.perf_counter()
            if remaining <= 0:
                return False
            if task.thread is not None:
                task.thread.join(min(remaining, 0.05))
            else:
                time.sleep(min(remaining, 0.005))
        return True

    def unavailable(self, strategy: str) -> Optional[str]:
        if strategy == "flag":
            return "a thread pyleash did not start has no stop_event to look at"
        if strategy == "trace":
            return "strategy 'trace' needs the trace installed when the thread starts, and pyleash did not start it"
        return None


class Attachment:
    """One attach: the signal stop, the dump file, the transport and the control loop; detach() undoes it."""

    def __init__(self, config: Dict[str, Any], loop: Optional[PythoniaLoop] = None) -> None:
        self.loop = loop or PythoniaLoop(sys._getframe())
        self.signal = CurrentWorkSignalStop(self.loop.verdict, CallStopped) if signal_available()[0] else None
        self.main = CurrentCallKind(self.loop, self.signal)
        self.threads = ForeignThreadKind()
        self.detached = threading.Event()
        self._lock = threading.Lock()
        self._dump_fd: Optional[int] = None
        self._excepthook = threading.excepthook
        self._config = config
        self.agent: Optional[AttachedAgent] = None
        self._threads: List[threading.Thread] = []  # pyleash's threads of this attach: detach() joins them

    def start(self) -> None:
        """On the main thread."""
        config = self._config
        if self.signal is not None:
            self.signal.install()
        try:
            self._register_dump(config.get("dumpPath"))
            threading.excepthook = self._quiet_stops
            max_bytes = int(config.get("maxMessageBytes") or contract.CONTRACT["limits"]["maxMessageBytes"])
            # The built-in client, even where pyzmq imports: it sees the controller's socket close and detaches,
            # where a pyzmq DEALER would reconnect for ever.
            transport = open_transport(config["endpoint"], "builtin", connect_timeout=CONNECT_TIMEOUT_S,
                                       max_message_bytes=max_bytes)
            self.agent = AttachedAgent(transport, max_bytes, self)
            self.agent.send(_hello(config["token"], transport.name))
        except BaseException:
            self.detach()
            raise
        self.start_thread(threading.Thread(target=self.agent.serve, name="pyleash-control", daemon=True), None)

    def start_thread(self, thread: threading.Thread, on_error: Optional[Callable[[BaseException], None]]) -> None:
        """Start one of pyleash's threads (at once, or soon: pyleash.threads) and remember it for detach()."""
        with self._lock:
            self._threads.append(thread)
        if on_error is None:
            thread.start()
            return

        def failed(exc: BaseException) -> None:
            with self._lock:
                self._threads.remove(thread)
            on_error(exc)

        start_soon(thread, failed)

    def _register_dump(self, path: Optional[str]) -> None:
        if not path or stacks.DUMP_SIGNAL is None:
            return
        self._dump_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.set_inheritable(self._dump_fd, False)
        stacks.register_dump(self._dump_fd)

    def _quiet_stops(self, args: Any) -> None:
        """threading.excepthook while attached: a host thread we stopped ends without a traceback on stderr."""
        if isinstance(args.exc_value, TaskStopped):
            return
        self._excepthook(args)

    def detach(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """From any thread, once: end the control loop and give back what attach took. The signal handler can be
        given back only on the main thread; elsewhere it stays installed, inert, until detach() runs there.
        From a thread not pyleash's own it then waits (at most `timeout` s) for pyleash's threads to end: True once
        they are gone, False if one outlived the wait (a stop still running to its deadline)."""
        with self._lock:
            first = not self.detached.is_set()
            self.detached.set()
        if first:
            if self.signal is not None:
                self.signal.cancel()
            if self.agent is not None:
                self.agent.transport.close()
            if self._dump_fd is not None:
                stacks.unregister_dump()
                os.close(self._dump_fd)
                self._dump_fd = None
            if threading.excepthook == self._quiet_stops:
                threading.excepthook = self._excepthook
        if self.signal is not None and threading.current_thread() is threading.main_thread():
            self.signal.uninstall()
        return self._join(timeout)

    def _join(self, timeout: float) -> bool:
        with self._lock:
            if threading.current_thread() in self._threads:
                return False  # pyleash-control or a stop thread cannot wait for itself: the host's detach() call does
        until = time.monotonic() + timeout
        while True:
            with self._lock:  # a thread not started yet (ident None) is waited for; one that could not start is gone
                self._threads = [t for t in self._threads if t.ident is None or t.is_alive()]
                waiting = self._threads[0] if self._threads else None
            if waiting is None:
                return True
            remaining = until - time.monotonic()
            if remaining <= 0:
                return False
            if waiting.ident is None:
                time.sleep(min(remaining, 0.005))  # start_soon has not started it yet
            else:
                waiting.join(remaining)


class AttachedAgent(Agent):
    """The agent's control loop, serving what an attached agent offers: ping, stop, stack, threads, shutdown."""

    def __init__(self, transport: Any, max_message_bytes: int, attachment: Attachment) -> None:
        super().__init__(transport, max_message_bytes)
        self.attachment = attachment
        self.handlers = {
            "ping": self._ping,
            "shutdown": self._detach_request,
            "stop": self._stop,
            "stack": self._stack,
            "threads": self._threads,
        }

    def serve(self) -> None:
        """As Agent.serve, but the controller's loss detaches instead of exiting: the process is the host's."""
        while not self.attachment.detached.is_set():
            try:
                frames = self.transport.recv(None)
            except TransportError as exc:
                if not self.attachment.detached.is_set():
                    sys.stderr.write("pyleash-agent: connection lost, detaching: %s\n" % exc)
                break
            if frames is not None:
                self._dispatch(frames)
        self.attachment.detach()

    def _detach_request(self, request: Dict[str, Any]) -> None:
        self.send(protocol.ok(request["id"], None))
        self.attachment.detach()

    def _adopt(self, task_id: str) -> Adopted:
        att = self.attachment
        if task_id == MAIN_TASK:
            main = threading.main_thread()
            frame = sys._current_frames().get(main.ident)  # type: ignore[arg-type]
            task = Adopted(task_id, att.main, main.ident, main, att.loop.call_frame(frame))  # type: ignore[arg-type]
            frame = None
            if att.signal is not None:
                task.state.raised_before, task.state.deferred_before = att.signal.raised, att.signal.deferred
            return task
        ident = _thread_ident(task_id)
        thread = next((t for t in threading.enumerate() if t.ident == ident), None)
        if ident is None or (thread is None and ident not in sys._current_frames()):
            raise protocol.ProtocolError("no task %r in this process (a task is 'main' or 'thread-<ident>')" % task_id)
        if ident == threading.main_thread().ident or (thread is not None and thread.name.startswith("pyleash-")):
            raise protocol.ProtocolError("thread %d is %s: stop the main thread's call with task 'main'"
                                         % (ident, "the main thread" if ident == threading.main_thread().ident else "pyleash's own"))
        return Adopted(task_id, att.threads, ident, thread)

    def _stop(self, request: Dict[str, Any]) -> None:
        task = self._adopt(request["task"])
        if task.id == MAIN_TASK and task.target is None and not unavailable(task, request["strategy"]):
            report = StopReport(request["strategy"], time.perf_counter())
            self.send(protocol.ok(request["id"], report.result(
                "finished-first", None, None, "pythonia's main thread is not running a call")))
            return
        send = self.send

        def answer(message: Dict[str, Any]) -> None:
            task.target = None  # the frame: dropped as soon as the stop is over
            result = message.get("result")
            if isinstance(result, dict) and result.get("outcome") == "stopped" and task.unwound is None:
                result["outcome"] = "finished-first"
                result["finallyRan"] = None
                result["reason"] = "it ended before a stop reached it"
            signal_stop = self.attachment.signal
            if (isinstance(result, dict) and result.get("outcome") == "blocked" and task.id == MAIN_TASK
                    and signal_stop is not None and signal_stop.deferred > task.state.deferred_before):
                result["reason"] = ("%s; the signal landed only where pythonia cannot take an exception (its own code: "
                                    "waiting for JavaScript, or writing a reply)" % result.get("reason", "blocked"))
            send(message)

        run = StopRun(task, request["strategy"], request["graceMs"] / 1000.0, request["deadlineMs"] / 1000.0,
                      request["id"], answer)
        if run.begin():
            if task.id == MAIN_TASK and run.plan[0] == "signal" and self.attachment.signal is not None:
                task.state.primed = self.attachment.signal.request_stop(task.target)  # at once: no thread start first
            self.attachment.start_thread(
                threading.Thread(target=run.carry_on, name="pyleash-stop-%s" % task.id, daemon=True), run.fail)
        else:
            task.target = None

    def _stack(self, request: Dict[str, Any]) -> None:
        task_id = request["task"]
        ident = threading.main_thread().ident if task_id == MAIN_TASK else _thread_ident(task_id)
        if ident is None:
            raise protocol.ProtocolError("no task %r in this process (a task is 'main' or 'thread-<ident>')" % task_id)
        self.send(protocol.ok(request["id"], stacks.thread_stack(ident, limit=50)))

    def _threads(self, request: Dict[str, Any]) -> None:
        main = threading.main_thread()
        listing = []
        for thread in threading.enumerate():
            listing.append({
                "name": thread.name,
                "ident": thread.ident,
                "nativeId": getattr(thread, "native_id", None),
                "daemon": thread.daemon,
                "alive": thread.is_alive(),
                "task": MAIN_TASK if thread is main else None,
                "agent": thread.name.startswith("pyleash-") and thread is not main,
                "frames": stacks.thread_stack(thread.ident, limit=5) if thread.ident else [],
            })
        self.send(protocol.ok(request["id"], listing))


def _thread_ident(task_id: str) -> Optional[int]:
    if not task_id.startswith(THREAD_PREFIX):
        return None
    try:
        return int(task_id[len(THREAD_PREFIX):])
    except ValueError:
        return None


_current: Optional[Attachment] = None


def attach(config_json: str) -> str:
    """On the host's main thread: attach to the controller in `config_json` ({endpoint, token, dumpPath,
    maxMessageBytes, notAfter (epoch ms)}); returns {"pid", "mainIdent"} as JSON. A previous attachment is detached first."""
    global _current
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("attach() must run on the main thread (signal handlers can only be set there)")
    config = json.loads(config_json)
    if not isinstance(config, dict) or "endpoint" not in config or "token" not in config:
        raise ValueError("attach() needs a config with endpoint and token")
    if config.get("notAfter") is not None and time.time() * 1000 > config["notAfter"]:
        raise TimeoutError("the controller stopped waiting for this attach (the main thread reached it too late)")
    if _current is not None:
        _current.detach()
        _current = None
    attachment = Attachment(config)
    attachment.start()
    _current = attachment
    return json.dumps({"pid": os.getpid(), "mainIdent": threading.main_thread().ident})


def detach(timeout: float = JOIN_TIMEOUT_S) -> bool:
    """Undo attach() (again after a detach that ran on pyleash-control, to give back the signal handler, which only
    the main thread can do), and return once pyleash's threads have ended (at most `timeout` s). False if nothing
    was attached."""
    global _current
    attachment, _current = _current, None
    if attachment is None:
        return False
    attachment.detach(timeout)
    return True


def attached() -> bool:
    return _current is not None and not _current.detached.is_set()
