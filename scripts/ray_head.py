"""A single-node Ray head for the Ray tests (test/ray.test.ts) and the bench's ray section (scripts/bench/ray.mjs).

`python ray_head.py CPUS` starts Ray, prints {"address": ...}, then answers JSON commands on stdin, one line each:
  {"op": "actors"}                  -> {"alive": N, "names": [...], "api": "..."}: pyleash's actors (AgentHost) not DEAD
  {"op": "kill", "name": NAME}      -> ray.kill(actor NAME of namespace pyleash, no_restart=False): Ray restarts it
  {"op": "cancel", "wait_s": S}     -> a sync actor method in time.sleep(100) gets ray.cancel: is it stopped within S s?
A command that fails answers {"error": "Type: message"}. It is the head: its Ray processes share its fate (they go
when it goes); stdin's end shuts Ray down.
"""
import json
import sys
import time

import ray

NAMESPACE = "pyleash"


@ray.remote
class Sleeper:
    """A plain sync actor: its methods run on the worker's main thread, in Ray's task loop."""

    def ready(self):
        return True

    def sleep(self, seconds):
        time.sleep(seconds)
        return "slept"


def actors():
    """pyleash's actors that are not DEAD, by Ray's state API (ray.util.state, which needs ray[default]'s dashboard)
    or, without a dashboard, by the GCS's actor table that the state API reads too."""
    try:
        from ray.util.state import list_actors

        rows = [(a.name, a.state) for a in list_actors(filters=[("class_name", "=", "AgentHost")], limit=10000)]
        api = "ray.util.state.list_actors"
    except Exception:  # noqa: BLE001 - no dashboard here: the GCS table
        table = ray._private.state.actors()
        rows = [(a.get("Name"), a.get("State")) for a in table.values() if a.get("ActorClassName") == "AgentHost"]
        api = "ray._private.state.actors"
    live = sorted(name or "" for name, state in rows if state != "DEAD")
    return {"alive": len(live), "names": live, "api": api}


def cancel(wait_s):
    """ray.cancel on a running sync actor method; polls ray.get up to wait_s seconds (its time measured, not assumed)."""
    sleeper = Sleeper.remote()
    ray.get(sleeper.ready.remote())
    ref = sleeper.sleep.remote(100)
    time.sleep(1.0)  # the method is running by now (the actor had answered `ready`, its queue is empty)
    t0 = time.monotonic()
    ray.cancel(ref)
    outcome = "not stopped"
    while time.monotonic() - t0 < wait_s:
        try:
            ray.get(ref, timeout=0.1)
            outcome = "returned"  # it ran to its end: it was not stopped either
            break
        except ray.exceptions.GetTimeoutError:
            continue
        except ray.exceptions.TaskCancelledError:
            outcome = "cancelled"
            break
        except ray.exceptions.RayError as exc:
            outcome = "error: %s" % type(exc).__name__
            break
    waited = time.monotonic() - t0
    ray.kill(sleeper)
    return {"outcome": outcome, "waitedS": round(waited, 3), "ray": ray.__version__}


def answer(command):
    if command["op"] == "actors":
        return actors()
    if command["op"] == "kill":
        ray.kill(ray.get_actor(command["name"], namespace=NAMESPACE), no_restart=False)
        return {"killed": command["name"]}
    if command["op"] == "cancel":
        return cancel(float(command["wait_s"]))
    return {"error": "unknown op %r" % command["op"]}


def main():
    ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             _node_ip_address="127.0.0.1", logging_level="warning", log_to_driver=False)
    print(json.dumps({"address": ray.get_runtime_context().gcs_address}), flush=True)
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - the caller reads the message
            reply = {"error": "%s: %s" % (type(exc).__name__, exc)}
        print(json.dumps(reply), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
