"""Run a snippet in a child `sys.executable` with a timeout, timestamp its output, and always kill it after."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

# Prepended to every snippet. Article snippets print in tight loops; this `print` shadows the builtin
# for the snippet's module so identical lines are counted instead of flooding the pipe, and marks
# sys.exit() so the harness knows when the main thread asked to leave.
PRELUDE = r'''
import builtins as _pl_builtins, os as _pl_os, sys as _pl_sys, time as _pl_time
_pl_state = {'last': None, 'run': 0, 'folded': 0, 'at': 0.0}
def print(*args, sep=' ', end='\n', file=None, flush=False):
    if file is not None and file is not _pl_sys.stdout:
        return _pl_builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
    text = sep.join(str(a) for a in args)
    now = _pl_time.monotonic()
    st = _pl_state
    if text == st['last']:
        st['run'] += 1
        # A tight loop repeating itself is folded; a line repeated at a human pace is still written.
        if st['run'] > 3 and now - st['at'] < 0.02:
            st['folded'] += 1
            return
    else:
        st['last'] = text
        st['run'] = 1
    head = ''
    if st['folded']:
        head = '@@repeated %d\n' % st['folded']
        st['folded'] = 0
    st['at'] = now
    _pl_os.write(1, (head + text + end).encode('utf-8', 'replace'))
_pl_exit = _pl_sys.exit
def _pl_sys_exit(*a):
    _pl_os.write(1, b'@@sys.exit\n')
    _pl_exit(*a)
_pl_sys.exit = _pl_sys_exit
'''

MAX_LINES = 400


def _own_process_group():
    # A new process group (not a new session): killpg then takes the child's own children too, and the
    # group is not orphaned, so SIGTSTP stops it instead of being discarded by the kernel.
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}


class Child(object):
    """A child interpreter running `code` in its own process group, so that killing it takes its children too."""

    def __init__(self, code, prelude=True, env=None):
        fd, self.path = tempfile.mkstemp(prefix="pyleash-exp-", suffix=".py")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write((PRELUDE if prelude else "") + "\n" + code + "\n")
        child_env = dict(os.environ)
        child_env["PYTHONUNBUFFERED"] = "1"
        child_env["PYTHONWARNINGS"] = "always::DeprecationWarning"
        child_env.update(env or {})
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            **_own_process_group()
        )
        self.lines = []  # [seconds since start, stream, text]; appended by the two reader threads
        self.dropped = 0
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for r in self._readers:
            r.start()

    def _read(self, stream, name):
        for raw in iter(stream.readline, b""):
            stamp = round(time.monotonic() - self.t0, 4)
            with self._lock:
                if len(self.lines) < MAX_LINES:
                    self.lines.append([stamp, name, raw.decode("utf-8", "replace").rstrip("\n")])
                else:
                    self.dropped += 1

    def now(self):
        return round(time.monotonic() - self.t0, 4)

    def wait_for(self, predicate, timeout):
        """Poll the output until predicate(lines) is true; returns whether it became true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if predicate(self.lines):
                    return True
            if self.proc.poll() is not None:
                time.sleep(0.05)  # let the readers drain what the child wrote before it ended
                with self._lock:
                    return bool(predicate(self.lines))
            time.sleep(0.005)
        return False

    def state(self):
        """The kernel's state letter for the child (R, S, T for stopped...), or None once reaped."""
        if not sys.platform.startswith("linux"):  # no /proc (macOS): ask ps, whose STAT starts with the same letters
            try:
                out = subprocess.run(["ps", "-o", "stat=", "-p", str(self.proc.pid)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, universal_newlines=True, timeout=5).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                return None
            return out[:1] or None
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None

    def wait(self, timeout):
        """Wait for the child to end; returns True if it ended by itself within timeout."""
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self):
        """SIGCONT (a stopped process cannot die until resumed on some kernels) then SIGKILL the whole session."""
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except OSError:
                pass
        self.proc.wait()
        for r in self._readers:
            r.join(1.0)

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        else:
            # The child is gone, but anything it started in its session (multiprocessing children) may not be.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            for r in self._readers:
                r.join(1.0)
        for s in (self.proc.stdout, self.proc.stderr):
            s.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def result(self, ended_by_itself):
        """The observations every snippet run reports."""
        rc = self.proc.returncode
        with self._lock:
            lines = list(self.lines)
        err = [text for _, stream, text in lines if stream == "err"]
        return {
            "exitedByItself": ended_by_itself,
            "exitCode": rc if rc is not None and rc >= 0 else None,
            "signal": signal.Signals(-rc).name if rc is not None and rc < 0 and ended_by_itself else None,
            "elapsedS": self.now(),
            "lines": lines,
            "droppedLines": self.dropped,
            "error": last_exception(err),
        }


def last_exception(err_lines):
    """The last 'SomeError: message' line of a traceback on stderr, or None."""
    for text in reversed(err_lines):
        head = text.split(":", 1)[0]
        if head and not text.startswith(" ") and head.replace(".", "").replace("_", "").isalnum() and (
            head.endswith("Error") or head.endswith("Exception") or head.endswith("Exit") or head.endswith("Warning")
        ):
            return text.strip()
    return None


def run_snippet(code, timeout, prelude=True, env=None):
    """Run `code` to its end or until `timeout` s, then kill it; returns the observations."""
    with Child(code, prelude=prelude, env=env) as child:
        ended = child.wait(timeout)
        if not ended:
            child.kill()
        time.sleep(0.02)  # readers: take the last lines
        return child.result(ended)


def texts(result, stream="out"):
    return [text for _, s, text in result["lines"] if s == stream]


def first_time(result, needle, stream=None):
    """When a line containing `needle` first appeared, in s since the child started, or None."""
    for stamp, s, text in result["lines"]:
        if needle in text and (stream is None or s == stream):
            return stamp
    return None


def count(result, needle, after=None):
    """How many stdout lines contain `needle` (optionally after a time), counting '@@repeated N' folded repeats."""
    n = 0
    previous = None
    for stamp, s, text in result["lines"]:
        if s != "out":
            continue
        if after is not None and stamp <= after:
            previous = text
            continue
        if needle in text:
            n += 1
        elif text.startswith("@@repeated ") and previous is not None and needle in previous:
            n += int(text.split()[1])
            continue
        previous = text
    return n
