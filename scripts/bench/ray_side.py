"""The Ray side of the bench's ray section: a single-node Ray head that answers JSON commands on stdin.

  {"op": "kill", "name": N}           ray.kill(actor N of namespace pyleash, no_restart=False); answers once it returned
  {"op": "cancel", "wait_s": S}       a sync actor method in time.sleep(100) gets ray.cancel; is it stopped within S s?
Its Ray processes share its fate: they go when it goes.
"""
import json
import sys
import time

import ray


@ray.remote
class Sleeper:
    """A plain sync actor: its methods run on the worker's main thread, in Ray's task loop."""

    def ready(self):
        return True

    def sleep(self, seconds):
        time.sleep(seconds)
        return "slept"


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


def main():
    ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             _node_ip_address="127.0.0.1", logging_level="warning", log_to_driver=False)
    print(json.dumps({"address": ray.get_runtime_context().gcs_address}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command["op"] == "kill":
                ray.kill(ray.get_actor(command["name"], namespace="pyleash"), no_restart=False)
                answer = {"killed": command["name"]}
            elif command["op"] == "cancel":
                answer = cancel(float(command["wait_s"]))
            elif command["op"] == "names":
                table = ray._private.state.actors()
                answer = {"names": sorted(a["Name"] for a in table.values()
                                          if a.get("ActorClassName") == "AgentHost" and a.get("State") != "DEAD")}
            else:
                answer = {"error": "unknown op %r" % command["op"]}
        except Exception as exc:  # noqa: BLE001 - the bench reports it
            answer = {"error": "%s: %s" % (type(exc).__name__, exc)}
        print(json.dumps(answer), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
