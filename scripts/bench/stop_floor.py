"""The floor under pyleash's async-exc stop: the same stop done in one process, with no pyleash at all.

`python stop_floor.py BUSY SAMPLES SWITCH_MS` prints a JSON list of latencies in ms; `python stop_floor.py mass N
ROUNDS SWITCH_MS` the floor under stopping N spinning tasks at once (see mass()). BUSY threads run a
pure-Python loop throughout (pyleash.demo:spin's loop, inlined), at the agent's switch interval. Per sample a
target thread runs the same loop; the main thread, woken from a sleep at a set moment (as the agent's control
thread is woken by a stop request), raises an exception in the target with PyThreadState_SetAsyncExc and
joins it. Latency: from that moment to the join returning with the GIL held again, as pyleash's stop sees the
thread dead. Everything pyleash adds (the controller, the socket, the request, the report) is missing here.
"""
import ctypes
import json
import sys
import threading
import time


class Stop(Exception):
    pass


def spin():
    n = 0
    end = None
    while end is None or time.monotonic() < end:
        n += 1


def quietly(fn):
    def run():
        try:
            fn()
        except Stop:
            pass
    return run


def main(busy, samples, switch_ms):
    sys.setswitchinterval(switch_ms / 1000.0)
    for _ in range(busy):
        threading.Thread(target=spin, daemon=True).start()  # daemons: the process exit ends them
    raise_in = ctypes.pythonapi.PyThreadState_SetAsyncExc
    raise_in.argtypes = (ctypes.c_ulong, ctypes.py_object)
    out = []
    for _ in range(samples):
        target = threading.Thread(target=quietly(spin), daemon=True)
        target.start()
        time.sleep(0.001)  # as the bench waits 1 ms after a task's start
        asked = time.perf_counter() + 0.001
        time.sleep(0.001)  # the stop "arrives" at `asked`; the wake-up and the wait for the GIL count
        raise_in(target.ident, Stop)
        target.join(10)
        out.append((time.perf_counter() - asked) * 1000.0)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def mass(n, rounds, switch_ms):
    """Per round: N threads run the spin loop; one thread raises an exception in each of them, one after another,
    then joins them all. Prints a JSON list of ms from the first raise to the last join, one per round."""
    sys.setswitchinterval(switch_ms / 1000.0)
    raise_in = ctypes.pythonapi.PyThreadState_SetAsyncExc
    raise_in.argtypes = (ctypes.c_ulong, ctypes.py_object)
    out = []
    for _ in range(rounds):
        targets = [threading.Thread(target=quietly(spin), daemon=True) for _ in range(n)]
        for target in targets:
            target.start()
        time.sleep(0.05)
        t0 = time.perf_counter()
        for target in targets:
            raise_in(target.ident, Stop)
        for target in targets:
            target.join(60)
        out.append((time.perf_counter() - t0) * 1000.0)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "mass":
        mass(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
