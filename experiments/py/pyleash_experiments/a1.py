"""Article 001 (StoppableThread, `_async_raise` with ctypes, threads outside the interpreter): raw observations."""
import ctypes
import inspect
import threading
import time


class StoppableThread(threading.Thread):
    """Thread class with a stop() method. The thread itself has to check
    regularly for the stopped() condition."""

    def __init__(self):
        super(StoppableThread, self).__init__()
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()

    def stopped(self):
        return self._stop_event.is_set()


# The article's first _async_raise: rejects instances, passes the bare int id.
def _async_raise_v1(tid, exctype):
    '''Raises an exception in the threads with id tid'''
    if not inspect.isclass(exctype):
        raise TypeError("Only types can be raised (not instances)")
    res = ctypes.pythonapi.PyThreadState_SetAsyncExc(tid,
                                                  ctypes.py_object(exctype))
    if res == 0:
        raise ValueError("invalid thread id")
    elif res != 1:
        # "if it returns a number greater than one, you're in trouble,
        # and you should call it again with exc=NULL to revert the effect"
        ctypes.pythonapi.PyThreadState_SetAsyncExc(tid, 0)
        raise SystemError("PyThreadState_SetAsyncExc failed")


# The article's "simplified" _async_raise: c_long(tid), instances turned into their type.
def _async_raise(tid, exctype):
    """raises the exception, performs cleanup if needed"""
    tid = ctypes.c_long(tid)
    if not inspect.isclass(exctype):
        exctype = type(exctype)
    res = ctypes.pythonapi.PyThreadState_SetAsyncExc(tid, ctypes.py_object(exctype))
    if res == 0:
        raise ValueError("invalid thread id")
    elif res != 1:
        # """if it returns a number greater than one, you're in trouble,
        # and you should call it again with exc=NULL to revert the effect"""
        ctypes.pythonapi.PyThreadState_SetAsyncExc(tid, None)
        raise SystemError("PyThreadState_SetAsyncExc failed")


def stop_thread(thread):
    _async_raise(thread.ident, SystemExit)


class _Polling(StoppableThread):
    """The article's StoppableThread with the loop it describes: check, then sleep (or wait on the event)."""

    def __init__(self, interval, use_wait):
        super(_Polling, self).__init__()
        self.interval = interval
        self.use_wait = use_wait
        self.daemon = True
        self.looping = threading.Event()

    def run(self):
        while not self.stopped():
            self.looping.set()
            if self.use_wait:
                self._stop_event.wait(self.interval)
            else:
                time.sleep(self.interval)


def stoppable_thread(intervals=(0.05, 0.2, 0.5)):
    """Latency from stop() to join() returning, for several check intervals, with time.sleep and with Event.wait."""
    points = []
    for interval in intervals:
        point = {"intervalMs": round(interval * 1000, 1)}
        for key, use_wait in (("sleepLatencyMs", False), ("waitLatencyMs", True)):
            t = _Polling(interval, use_wait)
            t.start()
            t.looping.wait()
            time.sleep(interval * 0.3)  # stop part-way through an interval
            began = time.monotonic()
            t.stop()
            t.join(interval + 10)
            point[key] = round((time.monotonic() - began) * 1000, 1) if not t.is_alive() else None
        points.append(point)
    return {"points": points}


def _outcome(fn):
    try:
        fn()
        return "ok"
    except Exception as e:  # noqa: BLE001 - the outcome is what was raised
        return type(e).__name__


def async_raise_errors():
    """What each of the article's two _async_raise versions raises for an instance, a dead thread's id, a live one's."""
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    hit = []
    stop = threading.Event()

    def absorbing():
        while not stop.is_set():
            try:
                while not stop.is_set():
                    time.sleep(0.001)
            except SystemExit:
                hit.append(True)

    live = threading.Thread(target=absorbing, daemon=True)
    live.start()
    out = {"deadIdent": dead.ident, "identAbove32Bits": dead.ident > 0xFFFFFFFF}
    try:
        for name, fn in (("v1", _async_raise_v1), ("v2", _async_raise)):
            out[name] = {
                "instance": _outcome(lambda: fn(live.ident, SystemExit())),
                "deadThreadId": _outcome(lambda: fn(dead.ident, SystemExit)),
                "liveThreadId": _outcome(lambda: fn(live.ident, SystemExit)),
            }
            time.sleep(0.05)  # let a delivered SystemExit land before the next try
    finally:
        stop.set()
        live.join(5)
    out["liveThreadHit"] = len(hit)
    return out


def outside_interpreter(block_s=1.0):
    """The article's stop_thread against a thread in a C call (time.sleep) and one in a pure-Python loop."""
    out = {"blockS": block_s}
    for key, body in (("cCall", "sleep"), ("pythonLoop", "loop")):
        running = threading.Event()
        ended = []

        def work():
            running.set()
            try:
                if body == "sleep":
                    time.sleep(block_s)
                else:
                    deadline = time.monotonic() + block_s
                    while time.monotonic() < deadline:
                        pass
            except SystemExit:
                ended.append(time.monotonic())

        t = threading.Thread(target=work, daemon=True)
        t.start()
        running.wait()
        time.sleep(0.05)
        asked = time.monotonic()
        stop_thread(t)
        t.join(block_s + 10)
        gone = time.monotonic()
        out[key] = {
            "threadEnded": not t.is_alive(),
            # Timed from outside by join(): the exception may end the thread without reaching its handler.
            "latencyMs": round((gone - asked) * 1000, 1) if not t.is_alive() else None,
            "caughtInThread": bool(ended),
            "leftMs": round((block_s - 0.05) * 1000, 1),
        }
    return out
