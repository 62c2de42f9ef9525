"""The Ray driver: `python -m pyleash.ray_driver`, started by a controller's `launcher: { kind: "ray" }` (docs/ray.md).

It reads one JSON line of config on fd 3 (then held open as its lifeline, as for a local agent), connects to Ray
(`ray.init(address)`, or a small single-node Ray of its own), creates the actors (pyleash.ray_actor), and tells the
controller on fd 4, one JSON line each, what Ray tells it: an actor died (with its agent's pid, so that the calls in
flight there reject at once instead of after the heartbeat timeout), an actor is gone for good. When the lifeline
closes (the controller exited or died) it kills its actors and shuts Ray down; a watchdog ends it if that hangs.

Threads: main (ray.wait over the actors' `wait` and `info` calls; owns `refs` and `agents`), pyleash-lifeline.
Secrets (the agents' CURVE secret key) come on fd 3 and go to the actors as constructor arguments: never argv,
never printed, never logged.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

CONFIG_FD = 3
EVENTS_FD = 4
SHUTDOWN_GRACE_S = 15.0
NAMESPACE = "pyleash"
RETRY_S = 0.25
stopping = threading.Event()


def main() -> None:
    with os.fdopen(CONFIG_FD, "rb", buffering=0, closefd=False) as pipe:
        line = b""
        while not line.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                sys.exit(0)  # the controller went away before sending the config
            line += chunk
    config = json.loads(line)
    global _events
    _events = os.fdopen(EVENTS_FD, "w", buffering=1, closefd=False)
    from pyleash import lifeline

    # SIGTERM, not SIGKILL, when the controller dies: the driver still kills its actors and shuts Ray down.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: _stop())
    lifeline.die_with_parent(config.get("parentPid"), signal.SIGTERM)
    threading.Thread(target=_watch_lifeline, name="pyleash-lifeline", daemon=True).start()
    try:
        ray: Any = importlib.import_module("ray")  # not `import ray`: the agent's own checks run without Ray installed
    except ImportError as exc:
        _fail("ray is not importable by %s: %s (pip install ray)" % (sys.executable, exc))
    local = not config.get("address")
    try:
        _init(ray, config)
        names = ["%s-%d" % (config["name"], index) for index in range(int(config["workers"]))]
        actors = _create(ray, config, names)
    except Exception as exc:  # noqa: BLE001 - whatever Ray raises, the controller gets its text
        _emit({"event": "failed", "message": "%s: %s" % (type(exc).__name__, exc)})
        _shutdown(ray, [], local, 1)
    _emit({"event": "ready", "ray": ray.__version__, "address": ray.get_runtime_context().gcs_address,
           "actors": len(actors)})
    try:
        _watch(ray, actors, names, int(config["maxRestarts"]))
    except BaseException as exc:  # noqa: BLE001 - said before _shutdown's os._exit swallows it
        _emit({"event": "failed", "message": "the Ray driver failed: %s: %s" % (type(exc).__name__, exc)})
        import traceback

        traceback.print_exc()
    finally:
        _shutdown(ray, actors, local)


def _init(ray: Any, config: Dict[str, Any]) -> None:
    # The job's runtime_env: Ray uploads a local directory in py_modules only at this level; every actor inherits it.
    runtime_env = dict(config.get("runtimeEnv") or {})
    runtime_env["py_modules"] = list(runtime_env.get("py_modules") or []) + [config["package"]]
    common = {"logging_level": "warning", "log_to_driver": bool(config.get("logToDriver")), "runtime_env": runtime_env,
              "namespace": NAMESPACE}
    if config.get("address"):
        ray.init(address=config["address"], **common)
        return
    local = config["local"]
    ray.init(num_cpus=local["numCpus"], include_dashboard=False, object_store_memory=local["objectStoreBytes"],
             _node_ip_address="127.0.0.1", **common)


def _create(ray: Any, config: Dict[str, Any], names: List[str]) -> List[Any]:
    from pyleash.ray_actor import AgentHost

    options: Dict[str, Any] = {
        "num_cpus": config["numCpus"],
        "max_restarts": config["maxRestarts"],
        "max_concurrency": 4,  # `wait` blocks for the agent's life; `info` must still answer
    }
    if config.get("numGpus"):
        options["num_gpus"] = config["numGpus"]
    if config.get("resources"):
        options["resources"] = config["resources"]
    host = ray.remote(AgentHost)
    args = (config["endpoint"], config["serverKey"], config["secretKey"], config["heartbeatMs"],
            config.get("pythonPath") or [], config.get("env") or {})
    # Named (pyleash-<pool id>-<index>, namespace "pyleash") so that operators and tests can find them; still owned
    # by this driver (not detached): they go when it goes. The agent's hello carries the name as its tag.
    return [host.options(name=name, **options).remote(name, *args) for name in names]


def _watch(ray: Any, actors: List[Any], names: List[str], max_restarts: int) -> None:
    """Until the lifeline closes: learn each actor's agent (`info`), then hold a `wait` on it; when that fails the
    actor died: report it once, with its agent's pid, and ask `info` again (Ray answers once it has restarted it).
    Calls to an actor Ray is restarting fail fast (ActorUnavailableError): `info` is asked again after RETRY_S."""
    refs: Dict[Any, Tuple[str, int]] = {}
    agents: Dict[int, Dict[str, Any]] = {}
    deaths = [0] * len(actors)
    retry_at: Dict[int, float] = {index: 0.0 for index in range(len(actors))}
    while not stopping.is_set() and (refs or retry_at):
        now = time.monotonic()
        for index, at in list(retry_at.items()):
            if at <= now:
                del retry_at[index]
                refs[actors[index].info.remote()] = ("info", index)
        if not refs:
            time.sleep(RETRY_S)
            continue
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=RETRY_S)
        for ref in ready:
            kind, index = refs.pop(ref)
            try:
                value = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                if os.environ.get("PYLEASH_RAY_DEBUG"):
                    sys.stderr.write("pyleash-ray: %s of actor %d failed: %s\n" % (kind, index, type(exc).__name__))
                agent = agents.pop(index, None)
                if agent is not None:  # the agent it held is gone; the next `info` is its successor's
                    deaths[index] += 1
                    _emit({"event": "died", "actor": index, "tag": names[index], "pid": agent["pid"], "host": agent["host"],
                           "restarting": deaths[index] <= max_restarts, "reason": _first_line(exc)})
                elif kind == "info":
                    # Restarting, or its new agent (joined, not yet known here) died too: the controller pings it to tell.
                    _emit({"event": "unavailable", "actor": index, "tag": names[index], "reason": _first_line(exc)})
                if isinstance(exc, ray.exceptions.ActorDiedError) and deaths[index] > max_restarts:
                    _emit({"event": "gone", "actor": index, "reason": _first_line(exc)})
                else:
                    retry_at[index] = time.monotonic() + (0.0 if agent is not None else RETRY_S)
                continue
            except ray.exceptions.RayError as exc:
                _emit({"event": "error", "actor": index, "message": _first_line(exc)})
                retry_at[index] = time.monotonic() + RETRY_S
                continue
            if kind == "info":
                agents[index] = value
                _emit({"event": "agent", "actor": index, "pid": value["pid"], "host": value["host"],
                       "actorPid": value["actorPid"]})
                refs[actors[index].wait.remote()] = ("wait", index)
            else:
                agents.pop(index, None)
                _emit({"event": "exited", "actor": index, "status": value})


def _shutdown(ray: Any, actors: List[Any], local: bool, status: int = 0) -> None:
    """Kill our actors, disconnect (a local Ray: stop it), then end; never returns."""
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it may be dead already; shutting down regardless
            pass
    try:
        ray.shutdown()
    except Exception:  # noqa: BLE001 - ending regardless
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    if local and os.getpgid(0) == os.getpid():  # the controller made us a group leader
        # What a local Ray's shutdown left in our process group (its agents outlive a raylet that died): gone with us.
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(status)


def _watch_lifeline() -> None:
    while True:
        try:
            if not os.read(CONFIG_FD, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    _stop()


def _stop() -> None:
    """The main thread kills the actors and shuts Ray down; a watchdog bounds it."""
    if stopping.is_set():
        return
    stopping.set()
    watchdog = threading.Timer(SHUTDOWN_GRACE_S, os._exit, (0,))
    watchdog.daemon = True
    watchdog.start()


_events: Optional[Any] = None  # fd 4, opened by main()
_events_lock = threading.Lock()


def _emit(event: Dict[str, Any]) -> None:
    if _events is None:
        return
    with _events_lock:
        try:
            if os.environ.get("PYLEASH_RAY_DEBUG"):
                sys.stderr.write("pyleash-ray: %s\n" % json.dumps(event))
            _events.write(json.dumps(event) + "\n")
        except (OSError, ValueError):
            pass  # the controller is gone: the lifeline ends us


def _fail(message: str) -> None:
    _emit({"event": "failed", "message": message})
    sys.stderr.write("pyleash-ray: %s\n" % message)
    sys.stderr.flush()
    os._exit(1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


if __name__ == "__main__":
    main()
