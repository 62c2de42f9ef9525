"""pyleash's own findings: task bodies the controller starts and stops, and one in-process observation."""
import ctypes
import threading
import time

# The C-call waits and the GIL freeze, started as tasks by x.ts (one copy, shared with the test fixtures).
from pyleash.blockers import lock_wait, queue_wait, regex_freeze, sleep_long, subprocess_wait  # noqa: F401

# Written by counting_spin's thread, read by read_counter on a call thread; an int store is atomic under the GIL.
_progress = {"n": 0}


def swallow_once():
    """A bare except swallows the first stop; the loop after it is outside any try."""
    n = 0
    try:
        while True:
            n += 1
    except:  # noqa: E722 - the point: a bare except swallows the stop
        pass
    while True:
        n += 1


def single_delivery_swallowed(wait_s=0.2):
    """One PyThreadState_SetAsyncExc into swallow_once's loop: is the thread still alive afterwards?"""
    swallowed = threading.Event()

    def body():
        try:
            n = 0
            while not swallowed.is_set():
                n += 1
        except:  # noqa: E722
            swallowed.set()
        while not done.is_set():
            pass

    done = threading.Event()
    t = threading.Thread(target=body, daemon=True)
    t.start()
    time.sleep(0.02)
    res = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(t.ident), ctypes.py_object(SystemExit))
    swallowed.wait(2)
    time.sleep(wait_s)
    alive = t.is_alive()
    done.set()
    t.join(2)
    return {"delivered": res, "swallowed": swallowed.is_set(), "aliveAfterMs": round(wait_s * 1000), "threadAlive": alive}


def counting_spin():
    """A pure-Python loop that publishes its count, so the controller can measure its speed while it runs."""
    _progress["n"] = 0
    n = 0
    while True:
        n += 1
        if not n & 0x3FF:
            _progress["n"] = n


def read_counter():
    return {"n": _progress["n"], "t": time.monotonic()}


def plain_rate(seconds=0.3):
    """Iterations per second of counting_spin's loop, run to a deadline on a call thread."""
    n = 0
    end = time.monotonic() + seconds
    while True:
        n += 1
        if not n & 0x3FF:
            _progress["n"] = n
            if time.monotonic() >= end:
                break
    return n / seconds


class _ArticleTrace:
    """Article 003's thread_with_trace trace functions, as written there (the kill flag `killed`)."""

    def __init__(self):
        self.killed = False

    def globaltrace(self, frame, event, arg):
        if event == "call":
            return self.localtrace
        return None

    def localtrace(self, frame, event, arg):
        if self.killed:
            if event == "line":
                raise SystemExit()
        return self.localtrace


_article = {"trace": None}


def article_counting_spin():
    """counting_spin under the article's own trace, installed as its thread_with_trace.__run does."""
    import sys

    trace = _article["trace"] = _ArticleTrace()
    sys.settrace(trace.globaltrace)
    try:
        counting_spin()
    finally:
        sys.settrace(None)


def article_kill():
    """The article's kill(): set the flag its local trace checks on every line."""
    trace = _article["trace"]
    if trace is not None:
        trace.killed = True


def swallow_calls_nothing():
    """`while True: try: n += 1 except: pass`: no call in the try. 3.10 never checks for a pending exception (or
    a GIL request) in it, so it freezes the agent as soon as it runs; elsewhere a stop leaves it."""
    n = 0
    while True:
        try:
            n += 1
        except:  # noqa: E722 - the point
            pass
