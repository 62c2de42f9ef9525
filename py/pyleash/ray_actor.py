"""The Ray actor that hosts one pyleash agent: it starts `python -m pyleash serve` as its child (docs/ray.md).

Why a child process and not the agent in the actor itself: Ray runs a sync actor's methods on the worker's main
thread inside its own task loop (and a threaded actor's on other threads), while the agent's main lane must own a
process main thread to receive the signal strategy's signals. In a process of its own the agent has all of it, and
the actor only holds its lifeline: the agent dies with the actor (pipe EOF and Linux's parent-death signal).

Threads: Ray's (the actor runs with max_concurrency > 1 so `wait` may block while `info` answers).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any, Dict, List, Optional

from pyleash import contract

EXIT_LOST = contract.EXIT_CODES["controllerLost"]


class AgentHost:
    """One actor, one agent. A crashed agent crashes the actor, so that Ray restarts both (max_restarts)."""

    def __init__(self, tag: str, endpoint: str, server_key: str, secret_key: str, heartbeat_ms: int,
                 python_path: List[str], env: Dict[str, str]) -> None:
        import pyleash

        package_root = os.path.dirname(os.path.dirname(os.path.abspath(pyleash.__file__)))  # where py_modules put it
        child_env = dict(os.environ)
        child_env.update(env)
        child_env["PYTHONPATH"] = os.pathsep.join([package_root] + python_path + [child_env.get("PYTHONPATH", "")])
        child_env["PYLEASH_SECRET_KEY"] = secret_key  # the environment, never argv (docs/distributed.md)
        child_env["PYLEASH_AGENT_TAG"] = tag  # in its hello: the controller knows which actor hosts it
        child_env["PYTHONUNBUFFERED"] = "1"
        read_end, self._lifeline = os.pipe()
        self._child: Optional["subprocess.Popen[bytes]"] = subprocess.Popen(
            [sys.executable, "-m", "pyleash", "serve", "--connect", endpoint, "--server-key", server_key,
             "--heartbeat-ms", str(heartbeat_ms), "--no-supervise", "--lifeline-fd", str(read_end)],
            env=child_env, pass_fds=(read_end,), stdin=subprocess.DEVNULL)
        os.close(read_end)

    def info(self) -> Dict[str, Any]:
        """The agent's pid and host (as its hello gives them) and the actor's own pid."""
        assert self._child is not None
        return {"pid": self._child.pid, "host": socket.gethostname(), "actorPid": os.getpid()}

    def wait(self) -> int:
        """Block until the agent exits. 0 (asked to exit) or a lost controller: return its status. Else: crash."""
        assert self._child is not None
        code = self._child.wait()
        if code in (0, EXIT_LOST):
            return code
        sys.stderr.write("pyleash-ray: the agent %d exited with %d: ending the actor so Ray restarts it\n"
                         % (self._child.pid, code))
        sys.stderr.flush()
        os._exit(1)
