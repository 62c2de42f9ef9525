"""Article 002 (why not to kill threads; kill on a thread id; signals; terminate_thread with isAlive): raw observations."""
import ctypes
import json
import signal
import threading
import queue
import warnings

from pyleash_experiments.sacrificial import Child, texts


# The article's terminate_thread, verbatim (indentation widened to four spaces).
def terminate_thread(thread):
    if not thread.isAlive():
        return

    exc = ctypes.py_object(SystemExit)
    res = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_long(thread.ident), exc)
    if res == 0:
        raise ValueError("nonexistent thread id")
    elif res > 1:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(thread.ident, None)
        raise SystemError("PyThreadState_SetAsyncExc failed")


def _kill(thread):
    """terminate_thread with the one call mended (`is_alive`), so the lock and queue experiments run everywhere."""
    res = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread.ident), ctypes.py_object(SystemExit))
    return res


def _busy(stop):
    while not stop.is_set():
        pass


def lock_not_released():
    """Kill a thread that holds a lock taken with bare acquire(), then one that holds it in `with lock:`."""
    out = {}
    for key in ("bareAcquire", "withLock"):
        lock = threading.Lock()
        holding = threading.Event()
        stop = threading.Event()

        def holder():
            if key == "bareAcquire":
                lock.acquire()
                holding.set()
                _busy(stop)
                lock.release()
            else:
                with lock:
                    holding.set()
                    _busy(stop)

        t = threading.Thread(target=holder, daemon=True)
        t.start()
        holding.wait()
        res = _kill(t)
        t.join(5)
        stop.set()
        got = lock.acquire(timeout=0.2)
        if got:
            lock.release()
        out[key] = {"killed": not t.is_alive(), "setAsyncExcResult": res, "lockFreeAfterKill": got}
    return out


def queue_item_lost(items=3):
    """A consumer takes an item from a queue.Queue and is killed while working on it."""
    q = queue.Queue()
    for i in range(items):
        q.put("item-%d" % i)
    working = threading.Event()
    stop = threading.Event()
    taken = []
    done = []

    def consumer():
        while True:
            item = q.get()
            taken.append(item)
            working.set()
            _busy(stop)  # the work the kill interrupts
            done.append(item)
            q.task_done()

    t = threading.Thread(target=consumer, daemon=True)
    t.start()
    working.wait()
    _kill(t)
    t.join(5)
    stop.set()
    left = []
    while not q.empty():
        left.append(q.get_nowait())
    return {
        "put": items,
        "taken": taken,
        "done": done,
        "leftInQueue": left,
        "unfinishedTasks": q.unfinished_tasks,
        "consumerDead": not t.is_alive(),
    }


KILL_TID = '''
import os, signal, threading, time
%(handler)s
def work():
    print("@@tid %%d" %% threading.get_native_id())
    while True:
        time.sleep(0.05)
threading.Thread(target=work, daemon=True).start()
while True:
    time.sleep(0.05)
'''

HANDLER = '''
def on_term(signum, frame):
    print("@@handled %s %d %s" % (threading.current_thread().name, signum, frame.f_code.co_name))
signal.signal(signal.SIGTERM, on_term)
'''


def _native_tid(child):
    child.wait_for(lambda lines: any(t.startswith("@@tid ") for _, _, t in lines), 10)
    for text in texts(child.result(False)):
        if text.startswith("@@tid "):
            return int(text.split()[1])
    return None


def kill_thread_id():
    """`kill <tid>` of a non-main thread (os.kill with its native id), without and with a SIGTERM handler."""
    out = {}
    for key, handler in (("noHandler", ""), ("withHandler", HANDLER)):
        with Child(KILL_TID % {"handler": handler}, prelude=False) as child:
            tid = _native_tid(child)
            if tid is None:
                out[key] = {"error": "the child never printed its thread id"}
                continue
            import os
            os.kill(tid, signal.SIGTERM)
            ended = child.wait(1.0)
            if key == "withHandler":
                child.wait_for(lambda lines: any("@@handled" in t for _, _, t in lines), 1.0)
            r = child.result(ended)
            handled = [t.split()[1:] for t in texts(r) if t.startswith("@@handled")]
            out[key] = {
                "targetTid": tid,
                "childPid": child.proc.pid,
                "processDied": ended,
                "signal": r["signal"],
                "handledBy": handled[0][0] if handled else None,
            }
    return out


ANY_THREAD = '''
import json, os, signal, threading, time
def handler(signum, frame):
    print("@@" + json.dumps({"thread": threading.current_thread().name, "signum": signum,
                             "frame": frame.f_code.co_name if frame else None}))
signal.signal(signal.SIGUSR1, handler)
def work():
    while True:
        time.sleep(0.01)
for name in ("A", "B"):
    threading.Thread(target=work, name=name, daemon=True).start()
time.sleep(0.05)
print("@@tids " + json.dumps({t.name: t.native_id for t in threading.enumerate() if t.name in ("A", "B")}))
def main_loop():
    while True:
        time.sleep(0.01)
main_loop()
'''


def signal_any_thread():
    """SIGUSR1 aimed (by native id, from outside) at thread A, then B: who runs the handler, and what it is told."""
    import os
    with Child(ANY_THREAD, prelude=False) as child:
        child.wait_for(lambda lines: any(t.startswith("@@tids ") for _, _, t in lines), 10)
        tids = {}
        for text in texts(child.result(False)):
            if text.startswith("@@tids "):
                tids = json.loads(text[7:])
        calls = []
        for name in ("A", "B"):
            before = len([1 for t in texts(child.result(False)) if t.startswith("@@{")])
            os.kill(tids[name], signal.SIGUSR1)
            child.wait_for(lambda lines: len([1 for _, _, t in lines if t.startswith("@@{")]) > before, 2.0)
            seen = [json.loads(t[2:]) for t in texts(child.result(False)) if t.startswith("@@{")]
            calls.append({"target": name, "handler": seen[before] if len(seen) > before else None})
    return {"tids": tids, "calls": calls}


def isalive():
    """The article's terminate_thread as written, against a busy thread."""
    stop = threading.Event()
    t = threading.Thread(target=_busy, args=(stop,), daemon=True)
    t.start()
    out = {"ran": False, "error": None, "threadStopped": False, "hasIsAlive": hasattr(t, "isAlive")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            terminate_thread(t)
            out["ran"] = True
        except Exception as e:  # noqa: BLE001 - reported as the experiment's finding
            out["error"] = "%s: %s" % (type(e).__name__, e)
    t.join(2)
    out["threadStopped"] = not t.is_alive()
    out["warnings"] = ["%s: %s" % (w.category.__name__, w.message) for w in caught]
    stop.set()  # whatever happened, let the thread go
    t.join(2)
    return out


def ctypes_ident():
    """The article's two calls: c_long(thread.ident) on the main path, the bare thread.ident on the error path."""
    stop = threading.Event()
    t = threading.Thread(target=_busy, args=(stop,), daemon=True)
    t.start()
    out = {"ident": t.ident, "identAbove32Bits": t.ident > 0xFFFFFFFF}
    try:
        # exc=NULL/None only clears a pending exception, so the live thread is not disturbed.
        out["cLongResult"] = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(t.ident), None)
        try:
            out["bareIdentResult"] = ctypes.pythonapi.PyThreadState_SetAsyncExc(t.ident, None)
            out["bareIdentError"] = None
        except Exception as e:  # noqa: BLE001 - reported as the experiment's finding
            out["bareIdentResult"] = None
            out["bareIdentError"] = "%s: %s" % (type(e).__name__, e)
    finally:
        stop.set()
        t.join(2)
    return out
