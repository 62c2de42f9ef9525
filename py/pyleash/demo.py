"""Work to try the stop strategies on: `pyleash run pyleash.demo:spin --stop-after 300`."""
import time

from pyleash.blockers import regex_freeze


def spin(seconds=None):
    """A pure-Python loop that never checks a flag; with `seconds`, returns the loop count after that long."""
    n = 0
    end = None if seconds is None else time.monotonic() + seconds
    while end is None or time.monotonic() < end:
        n += 1
    return n


def sleep(seconds=100):
    """Sits inside a C call: in-thread strategies wait for it to return."""
    time.sleep(seconds)
    return seconds


def cooperative(stop_event, interval=0.01):
    """Checks its stop_event every `interval` seconds and returns how many times it looked."""
    checks = 0
    while not stop_event.wait(interval):
        checks += 1
    return checks


def freeze_gil():
    """Catastrophic regex backtracking: C code that holds the GIL and freezes every thread of the agent."""
    return regex_freeze()


def count(n=None):
    """A generator of 0, 1, 2... (endless without `n`): `worker.stream("pyleash.demo:count", [5])`."""
    i = 0
    while n is None or i < n:
        yield i
        i += 1


def steps(n=10, seconds=0.05):
    """Works through n steps of `seconds` each, reporting progress: `pyleash run pyleash.demo:steps`."""
    from pyleash.progress_events import progress

    for i in range(1, n + 1):
        time.sleep(seconds)
        progress(i, n, "step %d of %d" % (i, n))
    return n
