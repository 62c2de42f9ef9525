"""Agent boot: read the controller's config, connect, say hello, then serve.

Threads and what they own:
- main thread: the main lane (tasks that must run where signals are delivered); idle otherwise.
- pyleash-control: the transport's receive side and request dispatch.
- pyleash-lifeline: waits for the controller's pipe to close, then exits the process.
- pyleash-call-N: run calls (LIFO pool, grows on a 2 ms backlog); they send replies (send is thread-safe).
- pyleash-call-watch: adds call threads while a backlog waits.
- pyleash-task-<id>, pyleash-stop-<id>, pyleash-asyncio: tasks, stops and the event loop (docs/protocol.md).
"""
from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading
from typing import Any, Dict

from pyleash import lifeline, protocol
from pyleash.control import Agent
from pyleash.tasks import main_kind
from pyleash.transport import TransportError, open_transport

CONFIG_FD = 3  # the controller's pipe: one JSON line of config, then held open as the lifeline
DUMP_FD = 4  # faulthandler writes every thread's stack here on DUMP_SIGNAL, even while C code holds the GIL
DUMP_SIGNAL = signal.SIGUSR1  # ts/worker/agent-process.ts DUMP_SIGNAL
EXIT_CONFIG = 64  # bad or missing config: started by something other than the controller
EXIT_CONNECT = 69  # could not reach the controller's socket


def main() -> None:
    config = _read_config(CONFIG_FD)
    lifeline.watch(CONFIG_FD, config.get("parentPid"))
    if config.get("switchIntervalMs"):
        # Busy task threads keep the GIL this long while the control loop waits: it bounds stop latency.
        sys.setswitchinterval(config["switchIntervalMs"] / 1000.0)
    _register_dumps()
    main_kind.install()  # signal handlers can only be set from the main thread
    try:
        transport = open_transport(config["endpoint"], config.get("transport", "auto"))
    except TransportError as exc:
        sys.stderr.write("pyleash-agent: cannot connect to %s: %s\n" % (config["endpoint"], exc))
        sys.exit(EXIT_CONNECT)
    agent = Agent(transport)
    agent.send(_hello(config["token"], transport.name))
    control = threading.Thread(target=agent.serve, name="pyleash-control", daemon=True)
    control.start()
    agent.main_lane.run()


def _register_dumps() -> None:
    try:
        os.set_inheritable(DUMP_FD, False)
        faulthandler.register(DUMP_SIGNAL, file=DUMP_FD, all_threads=True, chain=False)
    except (OSError, ValueError, RuntimeError) as exc:
        sys.stderr.write("pyleash-agent: no thread dumps for frozen-agent reports (%s)\n" % exc)


def _hello(token: str, transport_name: str) -> Dict[str, Any]:
    return {
        "type": "hello",
        "protocol": protocol.PROTOCOL_VERSION,
        "token": token,
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name.replace("cpython", "CPython"),
        "executable": sys.executable,
        "transport": transport_name,
    }


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
