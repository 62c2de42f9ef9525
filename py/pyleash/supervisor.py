"""The serve parent: runs the remote agent as its child, restarts it, and recycles it on the controller's word.

The supervisor keeps its own small link to the controller: a second DEALER to the same endpoint with the same
keys (so the controller's ZAP check admits or refuses it exactly as it does the agent). It says who it is
({"type": "supervisor", "id", "pid", "host", "child"}, again every heartbeat), reports each child's end
({"type": "exited", "id", "pid", "code", "signal"}) and obeys {"type": "recycle", "pid"}: it kills that child's
process group with SIGKILL, which works whatever the child is doing (C code holding the GIL included), and starts a
fresh one. The child's hello names the supervisor's id, which is how the controller pairs them (docs/distributed.md).

Threads: main thread: starts and waits for the child, owns `_child`; pyleash-supervisor-link: the link's receive
side (connects, reconnects, answers recycle); sends are locked.
"""
from __future__ import annotations

import binascii
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from pyleash import contract

EXIT_CONNECT = contract.EXIT_CODES["cannotConnect"]
EXIT_LOST = contract.EXIT_CODES["controllerLost"]
EXIT_INSECURE = contract.EXIT_CODES["insecureRefused"]
EXIT_CONFIG = contract.EXIT_CODES["badConfig"]
_SPEC = contract.CONTRACT["supervisor"]
MESSAGES = _SPEC["messages"]  # the link's message types
MAX_CRASHES = int(_SPEC["maxCrashes"])  # a child that crashes more often than this within CRASH_WINDOW_S is not started again
CRASH_WINDOW_S = float(_SPEC["crashWindowS"])
ENV_ID = _SPEC["idEnv"]  # the child's hello carries it as "supervisor"


class Link:
    """The supervisor's own channel to the controller; it never blocks the child's start, and retries quietly."""

    def __init__(self, endpoint: str, kind: str, curve: Optional[Tuple[bytes, bytes, bytes]], heartbeat_ms: int,
                 on_recycle: Any) -> None:
        self.id = binascii.hexlify(os.urandom(8)).decode()
        self._endpoint, self._kind, self._curve = endpoint, kind, curve
        self._interval = max(0.05, heartbeat_ms / 1000.0)
        self._heartbeat_ms = heartbeat_ms
        self._on_recycle = on_recycle
        self._lock = threading.Lock()
        self._transport: Any = None
        self.child: Optional[int] = None
        threading.Thread(target=self._run, name="pyleash-supervisor-link", daemon=True).start()

    def announce(self) -> None:
        self._send({"type": MESSAGES["hello"], "protocol": contract.PROTOCOL_VERSION, "id": self.id, "pid": os.getpid(),
                    "host": socket.gethostname(), "child": self.child})

    def exited(self, pid: int, returncode: int) -> None:
        sig = signal.Signals(-returncode).name if returncode < 0 else None
        self._send({"type": MESSAGES["exited"], "id": self.id, "pid": pid, "code": None if sig else returncode, "signal": sig})

    def _send(self, message: Dict[str, Any]) -> None:
        with self._lock:
            transport = self._transport
        if transport is None:
            return
        try:
            transport.send([json.dumps(message).encode()])
        except Exception:  # noqa: BLE001 - a broken link is reopened by _run; the child does not depend on it
            pass

    def _run(self) -> None:
        from pyleash.transport import TransportError, open_transport

        while True:
            try:
                transport = open_transport(self._endpoint, self._kind, curve=self._curve, heartbeat_ms=self._heartbeat_ms,
                                           connect_timeout=5.0)
            except TransportError:
                time.sleep(0.5)
                continue
            with self._lock:
                self._transport = transport
            self.announce()
            try:
                while True:
                    frames = transport.recv(self._interval)
                    if frames is None:
                        self.announce()  # keepalive: the controller forgets a supervisor it has not heard from
                        continue
                    try:
                        message = json.loads(frames[0])
                    except ValueError:
                        continue
                    if isinstance(message, dict) and message.get("type") == MESSAGES["recycle"] and isinstance(message.get("pid"), int):
                        self._on_recycle(message["pid"])
            except TransportError:
                pass
            with self._lock:
                self._transport = None
            transport.close()
            time.sleep(0.5)


def child_env(supervisor_id: str) -> Dict[str, str]:
    """Our environment, with the directory (or zipapp, pyleash.bundle) this pyleash came from first on PYTHONPATH."""
    env = dict(os.environ)
    home = os.path.dirname(os.path.dirname(os.path.abspath(contract.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([home] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env[ENV_ID] = supervisor_id
    return env


def supervise(child_argv: List[str], reconnect_for: float, endpoint: str, kind: str,
              curve: Optional[Tuple[bytes, bytes, bytes]], heartbeat_ms: int) -> int:
    """Run the agent as a child that dies with us. Start it again at once when the controller recycled it; after a
    crash (up to MAX_CRASHES per CRASH_WINDOW_S); and while reconnect_for seconds have not passed since the
    controller was last lost (a child that could not connect does not open a new window)."""
    state: Dict[str, Any] = {"child": None, "recycled": None}
    lock = threading.Lock()

    def recycle(pid: int) -> None:
        with lock:
            child = state["child"]
            if child is None or child.pid != pid or child.poll() is not None:
                return
            state["recycled"] = pid
        try:
            os.killpg(pid, signal.SIGKILL)  # the child leads its own group: its task processes go with it
        except OSError:
            pass

    link = Link(endpoint, kind, curve, heartbeat_ms, recycle)
    lost_at: Optional[float] = None
    crashes: List[float] = []
    _forward_signals(state)
    while True:
        remaining = 10.0 if lost_at is None else max(1.0, reconnect_for - (time.monotonic() - lost_at))
        read_end, write_end = os.pipe()
        with lock:
            child = subprocess.Popen([sys.executable, "-m", "pyleash", "serve"] + child_argv +
                                     ["--lifeline-fd", str(read_end), "--connect-timeout", str(remaining)],
                                     pass_fds=(read_end,), env=child_env(link.id), start_new_session=True)
            state["child"] = child
        os.close(read_end)
        link.child = child.pid
        link.announce()
        code = child.wait()
        os.close(write_end)
        link.exited(child.pid, code)
        with lock:
            recycled = state["recycled"] == child.pid
        if recycled:
            continue
        if code in (0, EXIT_INSECURE, EXIT_CONFIG):
            return code
        now = time.monotonic()
        if code not in (EXIT_LOST, EXIT_CONNECT):  # a crash: a signal, or an exit status that is not the contract's
            crashes = [at for at in crashes if now - at < CRASH_WINDOW_S] + [now]
            if len(crashes) > MAX_CRASHES:
                sys.stderr.write("pyleash-agent: the agent crashed %d times within %d s: giving up\n" % (len(crashes), CRASH_WINDOW_S))
                return 128 - code if code < 0 else code
            time.sleep(0.2)
            continue
        if code == EXIT_LOST or lost_at is None:
            lost_at = now
        if now - lost_at >= reconnect_for:
            return code
        time.sleep(min(0.5, reconnect_for))


def _forward_signals(state: Dict[str, Any]) -> None:
    def forward(signum: int, _frame: Any) -> None:
        child = state["child"]
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        sys.exit(EXIT_LOST)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
