"""MainSignalStop through the main kind's `signal` step: the main thread's blocking calls end with TaskStopped;
one subprocess per case."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

from pyleash.stop import signal_main

PY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a fresh interpreter, as the agent does: the main kind's lane runs on the main thread, the case
# blocks there as a main task, and a helper thread stops it after 0.3 s with a StopRun (strategy `signal`).
CASE = r"""
import json, os, queue, socket, subprocess, sys, threading, time
from pyleash.tasks.main_kind import MainKind
from tests.stop_helpers import Inbox, new_task, stop, wait_running

case = sys.argv[1]
kind = MainKind()
stopper = kind.signal
result = {"before_install": stopper.request_stop()}
kind.install()
result["idle_request"] = stopper.request_stop()  # no task running: refused, nothing sent
children = []

def block():
    if case == "sleep":
        time.sleep(100)
    elif case == "lock":
        lock = threading.Lock(); lock.acquire(); lock.acquire()
    elif case == "queue":
        queue.Queue().get()
    elif case == "socket":
        a, b = socket.socketpair(); a.recv(1)
    elif case == "subprocess_run":
        subprocess.run(["sleep", "100"])
    elif case == "popen_wait":
        p = subprocess.Popen(["sleep", "100"]); children.append(p); p.wait()

inbox = Inbox()
task = new_task(kind, "__main__:block")

def stop_later():
    wait_running(task, 20)
    time.sleep(0.3)
    result["stop"] = stop(task, inbox, "signal", 20.0)

helper = threading.Thread(target=stop_later)
helper.start()
kind.start(task, inbox)
kind.lane.run_one()  # what the agent's main thread does, for one task
helper.join()
result["outcome"] = task.status
result["how"] = task.how
result["raised"] = stopper.raised
os.kill(os.getpid(), stopper.signum)  # a stray signal between tasks is ignored
time.sleep(0.05)
result["survived_stray"] = True
for p in children:
    result["child_alive_after"] = p.poll() is None
    p.kill(); p.wait()
try:
    result["children_left"] = os.waitpid(-1, os.WNOHANG) == (0, 0)
except ChildProcessError:
    result["children_left"] = False
print(json.dumps(result))
"""


@unittest.skipUnless(signal_main.available()[0], signal_main.available()[1])
class MainSignalStopTest(unittest.TestCase):
    def _run(self, case: str) -> dict:
        env = dict(os.environ, PYTHONPATH=PY_DIR)
        proc = subprocess.run(
            [sys.executable, "-c", CASE, case], env=env, capture_output=True, text=True, timeout=60
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertFalse(result["before_install"])
        self.assertFalse(result["idle_request"])
        self.assertTrue(result["survived_stray"])
        self.assertFalse(result["children_left"], result)
        return result

    def _assert_stopped(self, case: str) -> dict:
        result = self._run(case)
        self.assertEqual((result["outcome"], result["how"]), ("stopped", "TaskStopped"), result)
        self.assertEqual(result["stop"]["outcome"], "stopped", result)
        self.assertEqual(result["stop"]["steps"], [{"strategy": "signal", "atMs": 0.0}], result)
        self.assertGreaterEqual(result["raised"], 1)
        return result

    def test_sleep(self) -> None:
        self._assert_stopped("sleep")

    def test_lock_acquire(self) -> None:
        self._assert_stopped("lock")

    def test_queue_get(self) -> None:
        self._assert_stopped("queue")

    def test_socket_recv(self) -> None:
        self._assert_stopped("socket")

    def test_subprocess_run_kills_its_child(self) -> None:
        self._assert_stopped("subprocess_run")  # children_left False: killed and reaped by run()

    def test_popen_wait_leaves_the_child_running(self) -> None:
        result = self._assert_stopped("popen_wait")
        self.assertTrue(result["child_alive_after"])  # the task's own finally must kill it

    def test_constructor_refuses_without_a_signal(self) -> None:
        with self.assertRaises(RuntimeError):
            signal_main.MainSignalStop(None)


if __name__ == "__main__":
    unittest.main()
