"""Work that sits where in-thread stops cannot reach: C-call waits, and C code that holds the GIL.

Shipped with the agent so that the experiments (pyleash_experiments.x, in experiments/py) and the test fixtures start the same
functions; the controller waits for each one's innermost frame before stopping it.
"""
import queue
import re
import subprocess
import threading
import time


def sleep_long():
    time.sleep(100)


def lock_wait():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()


def queue_wait():
    queue.Queue().get()


def subprocess_wait():
    subprocess.run(["sleep", "100"])


def regex_freeze():
    """Catastrophic backtracking: the regex engine holds the GIL and does not return for ages."""
    return bool(re.match(r"(a+)+$", "a" * 64 + "b"))
