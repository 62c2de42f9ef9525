"""Agent boot: read the controller's config, connect, say hello, then serve.

Threads and what they own:
- main thread: the main lane (tasks that must run where signals are delivered); idle otherwise.
- pyleash-control: the transport's receive side and request dispatch; runs plain calls itself (pyleash.inline).
- pyleash-control-watch: takes over the reading when an inline call outlasts its budget.
- pyleash-lifeline: waits for the controller's pipe to close, then exits the process.
- pyleash-call-N: run calls (LIFO pool, grows on a 2 ms backlog); they send replies (send is thread-safe).
- pyleash-call-watch: adds call threads while a backlog waits.
- pyleash-task-<id>, pyleash-stops, pyleash-stop-<id>, pyleash-asyncio: tasks, stops and the event loop (docs/protocol.md).
"""
from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Dict, List

from pyleash import contract, lifeline, targets
from pyleash.control import Agent
from pyleash.stop import monitor, signal_main, stacks
from pyleash.tasks.registry import MAIN
from pyleash.threads import track_threading
from pyleash.transport import TransportError, open_transport

CONFIG_FD = contract.FDS["config"]  # the controller's pipe: one JSON line of config, then held open as the lifeline
DUMP_FD = contract.FDS["threadDump"]  # faulthandler writes every thread's stack here on SIGUSR1, GIL held or not
EXIT_CONFIG = contract.EXIT_CODES["badConfig"]  # started by something other than the controller
EXIT_CONNECT = contract.EXIT_CODES["cannotConnect"]  # could not reach the controller's socket


def main() -> None:
    config = _read_config(CONFIG_FD)
    lifeline.watch(CONFIG_FD, config.get("parentPid"))
    if config.get("switchIntervalMs"):
        # Busy task threads keep the GIL this long while the control loop waits: it bounds stop latency.
        sys.setswitchinterval(config["switchIntervalMs"] / 1000.0)
    _register_dumps()
    MAIN.install()  # signal handlers can only be set from the main thread
    allowed = config.get("allowedModules")
    if allowed is not None:
        targets.allow_only(tuple(str(m) for m in allowed))
    max_bytes = int(config.get("maxMessageBytes") or contract.CONTRACT["limits"]["maxMessageBytes"])
    try:
        transport = open_transport(config["endpoint"], config.get("transport", "auto"), max_message_bytes=max_bytes)
    except TransportError as exc:
        sys.stderr.write("pyleash-agent: cannot connect to %s: %s\n" % (config["endpoint"], exc))
        sys.exit(EXIT_CONNECT)
    _serve(Agent(transport, max_bytes), _hello(config["token"], transport.name))


def serve_on(transport: Any, token: str, hello_extra: Dict[str, Any], lost_exit: int) -> None:
    """A remote agent (pyleash.serve): serve on an open transport; exit with `lost_exit` when the controller is lost."""
    _register_dumps()
    MAIN.install()
    agent = Agent(transport, int(contract.CONTRACT["limits"]["maxMessageBytes"]))
    agent.lost_exit = lost_exit
    hello = _hello(token, transport.name)
    hello.update(hello_extra)
    _serve(agent, hello)


def _serve(agent: Agent, hello: Dict[str, Any]) -> None:
    track_threading()  # a stop never lands in a thread its task has just started (pyleash.threads)
    agent.send(hello)
    control = threading.Thread(target=agent.serve, name="pyleash-control", daemon=True)
    control.start()
    MAIN.lane.run()


def _register_dumps() -> None:
    try:
        os.set_inheritable(DUMP_FD, False)
        stacks.register_dump(DUMP_FD)  # the contract's threadDump signal, SIGUSR1
    except (OSError, ValueError, RuntimeError) as exc:
        sys.stderr.write("pyleash-agent: no thread dumps for frozen-agent reports (%s)\n" % exc)


def _hello(token: str, transport_name: str) -> Dict[str, Any]:
    return {
        "type": "hello",
        "protocol": contract.PROTOCOL_VERSION,
        "token": token,
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name.replace("cpython", "CPython"),
        "executable": sys.executable,
        "transport": transport_name,
        "strategies": strategies(),
    }


def strategies() -> List[str]:
    """The contract's strategies that this interpreter can carry out, in the contract's order."""
    missing = set()
    if not monitor.available()[0]:
        missing.add("monitor")  # below CPython 3.12
    if not signal_main.available()[0]:
        missing.add("signal")  # no POSIX signals
    return [name for name in contract.STRATEGIES if name not in missing]


def _read_config(fd: int) -> Dict[str, Any]:
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        config = json.loads(data)
        if not isinstance(config, dict) or "endpoint" not in config or "token" not in config:
            raise ValueError("config lacks endpoint or token")
    except (OSError, ValueError) as exc:
        sys.stderr.write(
            "pyleash-agent: no config on fd %d (%s); the agent is started by the pyleash controller\n" % (fd, exc)
        )
        sys.exit(EXIT_CONFIG)
    os.set_inheritable(fd, False)  # children of tasks must not hold the lifeline
    return config
