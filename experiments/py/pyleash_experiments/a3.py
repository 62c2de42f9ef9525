"""Article 003 (six ways to kill a thread): its snippets run in sacrificial children, raw observations back."""
import threading
import time

from pyleash_experiments.sacrificial import count, first_time, run_snippet, texts

# Snippets as printed (tabs kept). Where the article's main thread waits (time.sleep(2), (1), (5)), quick
# runs substitute a shorter wait through %(wait)s; everything else is the article's text.
WITH_EXCEPTION = '''
import threading
import ctypes
import time

class thread_with_exception(threading.Thread):
	def __init__(self, name):
		threading.Thread.__init__(self)
		self.name = name
			
	def run(self):

		# target function of the thread class
		try:
			while True:
				print('running ' + self.name)
		finally:
			print('ended')
		
	def get_id(self):

		# returns id of the respective thread
		if hasattr(self, '_thread_id'):
			return self._thread_id
		for id, thread in threading._active.items():
			if thread is self:
				return id

	def raise_exception(self):
		thread_id = self.get_id()
		res = ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id,
			ctypes.py_object(SystemExit))
		if res > 1:
			ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, 0)
			print('Exception raise failure')
	
t1 = thread_with_exception('Thread 1')
t1.start()
time.sleep(%(wait)s)
t1.raise_exception()
print('@@raised')
t1.join()
print('@@joined')
'''

LUCKY_HENG = '''
import threading
import time
import inspect
import ctypes


def _async_raise(tid, exctype):
    """Raises an exception in the threads with id tid"""
    if not inspect.isclass(exctype):
        raise TypeError("Only types can be raised (not instances)")
    res = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(tid), ctypes.py_object(exctype))
    if res == 0:
        raise ValueError("invalid thread id")
    elif res != 1:
        # """if it returns a number greater than one, you're in trouble,
        # and you should call it again with exc=NULL to revert the effect"""
        ctypes.pythonapi.PyThreadState_SetAsyncExc(tid, None)
        raise SystemError("PyThreadState_SetAsyncExc failed")


def stop_thread(thread):
    _async_raise(thread.ident, SystemExit)


class TestThread(threading.Thread):
    def run(self):
        print("begin run the child thread")
        while True:
            print("sleep 1s")
            time.sleep(1)


if __name__ == "__main__":
    print("begin run main thread")
    t = TestThread()
    t.start()
    time.sleep(%(wait)s)
    stop_thread(t)
    print("main thread end")
'''

GLOBAL_FLAG = '''
import threading
import time

def run():
	while True:
		print('thread running')
		global stop_threads
		if stop_threads:
			break

stop_threads = False
t1 = threading.Thread(target = run)
t1.start()
time.sleep(%(wait)s)
stop_threads = True
print('@@flag set')
t1.join()
print('thread killed')
'''

LAMBDA_FLAG = '''
import threading
import time

def run(stop):
	while True:
		print('thread running')
		if stop():
				break
				
def main():
		stop_threads = False
		t1 = threading.Thread(target = run, args =(lambda : stop_threads, ))
		t1.start()
		time.sleep(%(wait)s)
		stop_threads = True
		print('@@flag set')
		t1.join()
		print('thread killed')
main()
'''

# As printed, the first line lacks its '#' and the class and function bodies lost their indentation:
# mended here (and only that).
WITH_TRACE = '''
# Python program using
# traces to kill threads

import sys
import trace
import threading
import time
class thread_with_trace(threading.Thread):
	def __init__(self, *args, **keywords):
		threading.Thread.__init__(self, *args, **keywords)
		self.killed = False

	def start(self):
		self.__run_backup = self.run
		self.run = self.__run	
		threading.Thread.start(self)

	def __run(self):
		sys.settrace(self.globaltrace)
		self.__run_backup()
		self.run = self.__run_backup

	def globaltrace(self, frame, event, arg):
		if event == 'call':
			return self.localtrace
		else:
			return None

	def localtrace(self, frame, event, arg):
		if self.killed:
			if event == 'line':
				raise SystemExit()
		return self.localtrace

	def kill(self):
		self.killed = True
'''

TRACE_MAIN = '''
def func():
	while True:
		print('thread running')

t1 = thread_with_trace(target = func)
t1.start()
time.sleep(%(wait)s)
t1.kill()
print('@@killed')
t1.join()
print('@@joined')
if not t1.isAlive():
	print('thread killed')
'''

TRACE_BLOCKED = '''
def func():
	time.sleep(%(block)s)

t1 = thread_with_trace(target = func)
t1.start()
time.sleep(0.05)
t1.kill()
print('@@killed')
t1.join()
print('@@joined')
'''

TERMINATE_ALL = '''
import multiprocessing
import time

def func(number):
	for i in range(1, 10):
		time.sleep(0.01)
		print('Processing ' + str(number) + ': prints ' + str(number*i))

# list of all processes, so that they can be killed afterwards
all_processes = []

for i in range(0, 3):
	process = multiprocessing.Process(target=func, args=(i,))
	process.start()
	all_processes.append(process)

# kill all processes after 0.03s
time.sleep(0.03)
for process in all_processes:
	process.terminate()
'''

TERMINATE_EPILOGUE = '''
for process in all_processes:
	process.join(5)
print('@@exitcodes ' + ' '.join(str(p.exitcode) for p in all_processes))
'''

NON_DAEMON = '''
import threading
import time
import sys

def func():
	while True:
		time.sleep(0.5)
		print("Thread alive, and it won't die on program termination")

t1 = threading.Thread(target=func)
t1.start()
time.sleep(%(wait)s)
sys.exit()
'''

DAEMON = '''
import threading
import time
import sys

def func():
	while True:
		time.sleep(0.5)
		print('Thread alive, but it will die on program termination')

t1 = threading.Thread(target=func)
t1.daemon = True
t1.start()
time.sleep(%(wait)s)
sys.exit()
'''

HIDDEN_STOP = '''
import time
import threading

class MyThread(threading.Thread):

	# Thread class with a _stop() method.
	# The thread itself has to check
	# regularly for the stopped() condition.

	def __init__(self, *args, **kwargs):
		super(MyThread, self).__init__(*args, **kwargs)
		self._stop = threading.Event()

	# function using _stop function
	def stop(self):
		self._stop.set()

	def stopped(self):
		return self._stop.isSet()

	def run(self):
		while True:
			if self.stopped():
				return
			print("Hello, world!")
			time.sleep(1)

t1 = MyThread()

t1.start()
time.sleep(%(wait)s)
t1.stop()
print('@@stop called')
t1.join()
print('@@joined', t1.is_alive())
'''


def _gap_ms(r, start, end):
    a, b = first_time(r, start), first_time(r, end)
    return round((b - a) * 1000, 1) if a is not None and b is not None else None


def async_exc(wait=2, grace=3):
    """thread_with_exception.raise_exception() as printed; then lucky-heng's c_long variant for contrast."""
    r = run_snippet(WITH_EXCEPTION % {"wait": wait}, timeout=wait + grace)
    r2 = run_snippet(LUCKY_HENG % {"wait": wait}, timeout=wait + grace)
    return {
        "asPrinted": {
            "raised": first_time(r, "@@raised") is not None,
            "threadEnded": first_time(r, "@@joined") is not None,
            "finallyRan": "ended" in texts(r),
            "stopLatencyMs": _gap_ms(r, "@@raised", "@@joined"),
            "loops": count(r, "running Thread 1"),
            "hungUntilKilled": not r["exitedByItself"],
            "error": r["error"],
        },
        "cLongVariant": {
            "processExited": r2["exitedByItself"],
            "exitAfterStopMs": round((r2["elapsedS"] - first_time(r2, "main thread end")) * 1000, 1)
            if r2["exitedByItself"] and first_time(r2, "main thread end") is not None else None,
            "error": r2["error"],
        },
    }


def flag(wait=1, grace=3):
    """The global-variable flag and the lambda flag snippets as printed."""
    out = {}
    for key, code in (("globalFlag", GLOBAL_FLAG), ("lambdaFlag", LAMBDA_FLAG)):
        r = run_snippet(code % {"wait": wait}, timeout=wait + grace)
        out[key] = {
            "stopped": "thread killed" in texts(r),
            "latencyMs": _gap_ms(r, "@@flag set", "thread killed"),
            "loops": count(r, "thread running"),
            "error": r["error"],
        }
    return out


def trace_kill(wait=2, grace=3, slowdown_s=0.3):
    """thread_with_trace.kill() on the printed busy loop, whether `isAlive()` runs, and what the trace costs."""
    r = run_snippet(WITH_TRACE + TRACE_MAIN % {"wait": wait}, timeout=wait + grace)
    return {
        "killed": first_time(r, "@@joined") is not None,
        "stopLatencyMs": _gap_ms(r, "@@killed", "@@joined"),
        "printedThreadKilled": "thread killed" in texts(r),
        "error": r["error"],
        "slowdown": trace_slowdown(slowdown_s),
    }


def trace_slowdown(seconds=0.3):
    """Loop iterations per second in a thread, plain and under the article's globaltrace/localtrace."""
    scope = {"__name__": "pyleash_exp_trace"}
    exec(WITH_TRACE, scope)
    rates = {}
    for key, traced in (("plain", False), ("traced", True)):
        counted = []

        def loop():
            n = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                n += 1
            counted.append(n / seconds)

        t = scope["thread_with_trace"](target=loop) if traced else threading.Thread(target=loop)
        t.start()
        t.join()
        rates[key] = round(counted[0])
    rates["factor"] = round(rates["plain"] / rates["traced"], 2) if rates["traced"] else None
    return rates


def trace_blocked(block_s=1.0, grace=3):
    """thread_with_trace.kill() 50 ms into a time.sleep(block_s)."""
    r = run_snippet(WITH_TRACE + TRACE_BLOCKED % {"block": block_s}, timeout=block_s + grace)
    return {
        "blockS": block_s,
        "leftMs": round((block_s - 0.05) * 1000, 1),
        "threadEnded": first_time(r, "@@joined") is not None,
        "stopLatencyMs": _gap_ms(r, "@@killed", "@@joined"),
        "error": r["error"],
    }


def terminate_all(grace=10):
    """The terminate-all-after-0.03 s snippet as printed, plus a join that reports each exit code."""
    r = run_snippet(TERMINATE_ALL + TERMINATE_EPILOGUE, timeout=grace)
    codes = []
    for text in texts(r):
        if text.startswith("@@exitcodes "):
            codes = [None if c == "None" else int(c) for c in text.split()[1:]]
    return {
        "exitcodes": codes,
        "prints": count(r, "Processing "),
        "printsIfUninterrupted": 27,
        "error": r["error"],
        "startMethod": _start_method(),
    }


def _start_method():
    import multiprocessing
    return multiprocessing.get_start_method()


def non_daemon_blocks_exit(wait=2, observe=1.5):
    """The non-daemon and daemon sys.exit() snippets as printed; how long each process outlives sys.exit()."""
    out = {}
    for key, code, alive in (("nonDaemon", NON_DAEMON, "won't die"), ("daemon", DAEMON, "will die")):
        r = run_snippet(code % {"wait": wait}, timeout=wait + observe)
        exit_at = first_time(r, "@@sys.exit")
        out[key] = {
            "exitedByItself": r["exitedByItself"],
            "exitAfterSysExitMs": round((r["elapsedS"] - exit_at) * 1000, 1) if r["exitedByItself"] and exit_at else None,
            "printsAfterSysExit": count(r, alive, after=exit_at) if exit_at is not None else None,
            "observedS": observe,
        }
    return out


def hidden_stop(wait=5, grace=3):
    """The MyThread snippet that shadows Thread._stop with an Event: stop() then join()."""
    r = run_snippet(HIDDEN_STOP % {"wait": wait}, timeout=wait + grace)
    joined = [t for t in texts(r) if t.startswith("@@joined")]
    return {
        "stopCalled": first_time(r, "@@stop called") is not None,
        "joinReturned": bool(joined),
        "threadAliveAfterJoin": joined[0].split()[1] == "True" if joined else None,
        "exitCode": r["exitCode"],
        "hung": not r["exitedByItself"],
        "error": r["error"],
        "deprecations": sorted({t.strip().split(": ", 1)[-1] for _, s, t in r["lines"] if s == "err" and "DeprecationWarning" in t}),
    }
