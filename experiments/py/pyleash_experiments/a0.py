"""Article 000 (daemon threads, SetAsyncExc's sleep caveat, pthread_kill, terminate, asyncio cancel): raw observations."""
import asyncio
import signal
import threading
import time
import warnings

from pyleash_experiments.sacrificial import Child, count, first_time, run_snippet, texts

# The article's circle(), verbatim except that its 3 s period is a parameter in quick runs.
CIRCLE = '''
import threading
import time
import gc
import datetime

def circle():
    print("begin")
    try:
        while True:
            current_time = datetime.datetime.now()
            print(str(current_time) + ' circle.................')
            time.sleep(%(period)s)
    except Exception as e:
        print('error:',e)
    finally:
        print('end')
'''


def sleep_for(seconds):
    """A thread that sits in time.sleep: the article's `sleep(100)` caveat, run as a pyleash task."""
    time.sleep(seconds)
    return seconds


def daemon_dies(wait=1.0, period=3):
    """The article's daemon circle(); the main thread returns after `wait` s instead of looping forever."""
    code = CIRCLE % {"period": period} + '''
if __name__ == "__main__":
   t = threading.Thread(target=circle)
   t.setDaemon(True)
   t.start()
   time.sleep(%s)
   print('@@main returns')
''' % wait
    r = run_snippet(code, timeout=wait + 5)
    return {
        "exitedByItself": r["exitedByItself"],
        "exitCode": r["exitCode"],
        "mainReturnedAtS": first_time(r, "@@main returns"),
        "exitedAtS": r["elapsedS"],
        "begun": "begin" in texts(r),
        "finallyRan": "end" in texts(r),
        "circles": count(r, "circle...."),
        "error": r["error"],
    }


def daemon_outlives_parent(wait=3, period=0.1, window=1.0):
    """The article's Daemon_thread() snippet as printed (parentheses mended); the harness ends the child after `window`."""
    code = CIRCLE % {"period": period} + '''
def Daemon_thread():
   circle_thread= threading.Thread(target=circle)
#    circle_thread.daemon = True
   circle_thread.setDaemon(True)
   circle_thread.start()
   while running:
        print('running:',running)
        time.sleep(1)
   print('end..........')


if __name__ == "__main__":
    t = threading.Thread(target=Daemon_thread)
    t.start()
    time.sleep(%(wait)s)
    running = False
    print('stop running:',running)
    print('stoped 3')
    gc.collect()
    while True:
        time.sleep(3)
        print('stoped circle')
''' % {"wait": wait}
    with Child(code) as child:
        child.wait(wait + window + 1.0)
        time.sleep(0.02)
        r = child.result(False)
    # As printed, `running` is assigned only after the main thread's sleep, so Daemon_thread dies of a NameError
    # at once; with a definition it would end after `running = False`. Either way its thread has ended there.
    name_error = first_time(r, "NameError", stream="err")
    parent_end = name_error if name_error is not None else first_time(r, "end..........")
    return {
        "parentEndedAtS": parent_end,
        "parentEndedBy": "NameError" if name_error is not None else ("return" if parent_end is not None else None),
        "circlesAfterParentEnded": count(r, "circle....", after=parent_end) if parent_end is not None else 0,
        "circlesTotal": count(r, "circle...."),
        "windowS": r["elapsedS"],
        "error": r["error"],
    }


def setdaemon():
    """`t.setDaemon(True)` as the article writes it, with every warning recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = {"works": False, "daemon": None, "error": None}
        try:
            t = threading.Thread(target=time.sleep, args=(0.01,))
            t.setDaemon(True)
            t.start()
            t.join()
            out["daemon"] = t.daemon
            out["works"] = t.daemon is True
        except Exception as e:  # noqa: BLE001 - setDaemon may be gone in a future Python: reported
            out["error"] = "%s: %s" % (type(e).__name__, e)
    out["warnings"] = ["%s: %s" % (w.category.__name__, w.message) for w in caught]
    return out


def pthread_kill_missing():
    """Whether `signal.pthread_kill` exists on this interpreter."""
    return {"hasPthreadKill": hasattr(signal, "pthread_kill"), "hasSIGTSTP": hasattr(signal, "SIGTSTP")}


PTHREAD_KILL = '''
from signal import pthread_kill, SIGTSTP
from threading import Thread
from itertools import count
from time import sleep

def target():
    for num in count():
        print(num)
        sleep(%(period)s)

thread = Thread(target=target)
thread.start()
sleep(%(wait)s)
%(call)s(thread.ident, SIGTSTP)
print('@@pthread_kill returned')
'''


def pthread_kill_sigtstp(wait=5, period=1, observe=0.5):
    """The article's pthread_kill(thread.ident, SIGTSTP) snippet, as printed and with the call mended to the imported name."""
    as_written = {}
    # As printed: `signal.pthread_kill` although only `pthread_kill` was imported. The child would then wait
    # forever on its non-daemon thread; the harness kills it once the error is seen.
    with Child(PTHREAD_KILL % {"period": period, "wait": wait, "call": "signal.pthread_kill"}) as child:
        child.wait_for(lambda lines: any("Error" in t for _, s, t in lines if s == "err"), wait + 5)
        r = child.result(False)
        as_written = {"error": r["error"], "ran": r["error"] is None}
    # Mended: the harness's main thread keeps printing afterwards, so we can see which threads still run.
    code = PTHREAD_KILL % {"period": period, "wait": wait, "call": "pthread_kill"} + '''
while True:
    print('@@main alive')
    sleep(0.05)
'''
    with Child(code) as child:
        stopped = child.wait_for(lambda lines: False, 0) or _wait_state(child, "T", wait + 5)
        stopped_at = child.now()
        time.sleep(observe)
        after = [t for stamp, s, t in child.lines if s == "out" and stamp > stopped_at + 0.05]
        state_after = child.state()
        r = child.result(False)
    return {
        "asWritten": as_written,
        "processStopped": stopped,
        "stateAfter": state_after,
        "linesWhileStopped": len(after),
        # Who printed while the target was meant to be stopped: the main thread's heartbeat, the target's count.
        "mainLinesWhileStopped": sum(1 for t in after if t.startswith("@@main")),
        "targetLinesWhileStopped": sum(1 for t in after if t.strip().isdigit()),
        "observeS": observe,
        "error": r["error"],
    }


def _wait_state(child, letter, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if child.state() == letter:
            return True
        if child.proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def terminate(wait=1, period=3):
    """The article's multiprocessing circle() snippet (parentheses mended); its endless main loop becomes a join."""
    code = CIRCLE % {"period": period} + '''
import multiprocessing
if __name__ == "__main__":
    t = multiprocessing.Process(target=circle, args=())
    t.start()
    # Terminate the process
    current_time = datetime.datetime.now()
    print(str(current_time) + ' stoped before')
    time.sleep(%(wait)s)
    t.terminate()  # sends a SIGTERM
    current_time = datetime.datetime.now()
    print(str(current_time) + ' stoped after')
    t.join(10)
    print('@@joined', t.exitcode)
''' % {"wait": wait}
    r = run_snippet(code, timeout=wait + 15)
    after = first_time(r, "stoped after")
    joined = first_time(r, "@@joined")
    exitcode = None
    for text in texts(r):
        if text.startswith("@@joined"):
            exitcode = None if text.split()[1] == "None" else int(text.split()[1])
    return {
        "begun": "begin" in texts(r),
        "childExitcode": exitcode,
        "stopped": exitcode is not None,
        "bySignal": signal.Signals(-exitcode).name if exitcode is not None and exitcode < 0 else None,
        "finallyRan": "end" in texts(r),
        "latencyMs": round((joined - after) * 1000, 1) if joined is not None and after is not None else None,
        "error": r["error"],
    }


ASYNCIO = '''
import asyncio
import time


async def num(n):
    try:
        i = 0
        while True:
            print(f'i={i} Hello')
            i=i+1
            # time.sleep(10)
            await asyncio.sleep(n*0.1)
        return n
    except asyncio.CancelledError:
        print(f"数字{n}被取消")
        raise


async def main():
    # tasks = [num(i) for i in range(10)]
    tasks = [num(10)]
    complete, pending = await asyncio.wait(tasks, timeout=0.5)
    for i in complete:
        print("当前数字",i.result())
    if pending:
        print("取消未完成的任务")
        for p in pending:
            p.cancel()


if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
'''


def asyncio_cancel(block_s=1.0):
    """The article's asyncio snippet as printed; then cancel() measured at an await and in a blocking time.sleep."""
    r = run_snippet(ASYNCIO, timeout=10)
    as_written = {
        "cancelPrinted": "数字10被取消" in texts(r),
        "error": r["error"],
        "exitCode": r["exitCode"],
        "warnings": sorted({t.strip() for _, s, t in r["lines"] if s == "err" and "Warning" in t})[:4],
    }
    return {"asWritten": as_written, "atAwait": _cancel_latency(False, block_s), "inTimeSleep": _cancel_latency(True, block_s)}


def _cancel_latency(blocking, block_s):
    """Cancel a coroutine from another thread 50 ms into its wait; time until CancelledError reaches it."""
    out = {"cancelled": False, "latencyMs": None, "blockS": block_s, "leftMs": None}
    waiting = threading.Event()
    asked = []

    async def victim():
        try:
            while True:
                waiting.set()
                if blocking:
                    time.sleep(block_s)  # stalls the whole loop: cancel() cannot even be scheduled
                await asyncio.sleep(block_s)
        except asyncio.CancelledError:
            out["cancelled"] = True
            out["latencyMs"] = round((time.monotonic() - asked[0]) * 1000, 1)
            raise

    async def main():
        loop = asyncio.get_running_loop()
        task = loop.create_task(victim())

        def cancel_later():
            waiting.wait()
            began = time.monotonic()
            time.sleep(0.05)
            asked.append(time.monotonic())
            out["leftMs"] = round((block_s - (asked[0] - began)) * 1000, 1)
            loop.call_soon_threadsafe(task.cancel)

        threading.Thread(target=cancel_later, daemon=True).start()
        try:
            await asyncio.wait_for(task, 10 + block_s)
        except (asyncio.CancelledError, asyncio.TimeoutError):
            pass

    asyncio.run(main())
    return out


def signals_main_thread(main_sleep=1.0):
    """Which thread runs a Python signal handler, whoever the signal was aimed at, and how soon while main sleeps."""
    code = '''
import json, os, signal, threading, time
seen = []
def handler(signum, frame):
    seen.append({"thread": threading.current_thread().name, "at": time.monotonic()})
signal.signal(signal.SIGUSR1, handler)
ready = threading.Event()
def worker():
    ready.set()
    time.sleep(%(sleep)s)
w = threading.Thread(target=worker, name="worker")
w.start(); ready.wait()
def send():
    time.sleep(0.05)
    sent.append(time.monotonic()); os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.05)
    sent.append(time.monotonic()); signal.pthread_kill(w.ident, signal.SIGUSR1)
sent = []
threading.Thread(target=send, name="sender").start()
time.sleep(%(sleep)s)
w.join()
print("@@" + json.dumps({"seen": [s["thread"] for s in seen],
    "delaysMs": [round((s["at"] - t) * 1000, 2) for s, t in zip(seen, sent)]}))
''' % {"sleep": main_sleep}
    r = run_snippet(code, timeout=main_sleep + 5, prelude=False)
    import json
    data = {"seen": [], "delaysMs": []}
    for text in texts(r):
        if text.startswith("@@"):
            data = json.loads(text[2:])
    return {
        "targets": ["process (os.kill)", "worker thread (pthread_kill)"],
        "handlerThreads": data["seen"],
        "handlerDelaysMs": data["delaysMs"],
        "mainSleepS": main_sleep,
        "error": r["error"],
    }
