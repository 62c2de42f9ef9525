"""Plain calls run on the control thread itself; the reading passes to another thread when one outlasts a budget."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional

from pyleash.threads import start_soon

if TYPE_CHECKING:
    from pyleash.pool import CallPool, Job

BUDGET_S = 0.002  # an inline call running at two ticks this far apart hands the reading over
QUIET_TICKS = 50  # ticks with no inline call before the watcher sleeps until the next one


class InlineCalls:
    """Why inline: handing a call to a pool thread costs a wake-up of that thread and a pass of the GIL each way,
    about as much as the rest of a short call's round trip in the agent. Run on the control thread, a short call
    pays neither. But a call that blocks there would hold the control loop: pings, stops and other calls would
    wait. So a watcher thread (pyleash-control-watch), ticking every `budget_s` while calls run inline and asleep
    otherwise, takes over the reading when it finds the same call running at two ticks in a row: it becomes
    pyleash-control, the calls of that message not yet begun go to the pool, a fresh watcher is started, and the
    thread left in the long call (renamed pyleash-inline-call) exits once the call returns.

    Everything below is guarded by _lock; the reading thread and the watcher share it. `reader` is the current turn
    at reading: the thread serving with another turn leaves the control loop.
    """

    def __init__(self, serve: Callable[[object], None], pool: CallPool, flush: Callable[[], None],
                 budget_s: float = BUDGET_S) -> None:
        """`serve(reader)` runs the control loop with that turn; `flush()` sends the replies held back."""
        self._serve = serve
        self._pool = pool
        self._flush = flush
        self._budget = budget_s
        self._lock = threading.Lock()
        self.reader: object = object()
        self._reading: Optional[threading.Thread] = None  # the thread serving with `reader`
        self._pending: Deque[Job] = deque()  # calls of the message being run, not begun yet
        self._begun = 0  # inline calls begun so far
        self._running = False  # an inline call runs now
        self._watching = False  # the watcher ticks (or is about to)
        self._watcher = False  # a watcher thread exists
        self._wake = threading.Lock()  # released to wake the sleeping watcher
        self._wake.acquire()

    def reading(self) -> None:
        """The current thread serves the control loop now (for the rename at a hand-over)."""
        self._reading = threading.current_thread()

    def run(self, jobs: List[Job], reader: object) -> bool:
        """Run each job, fn(*args, hold), on this thread in order (`hold`: more of them wait, so its reply may wait
        for theirs). False when the reading passed to another thread meanwhile: the caller must leave the loop."""
        pending = self._pending
        lock = self._lock
        lock.acquire()  # held except while a job runs: one acquisition per job
        try:
            pending.extend(jobs)
            if not self._watching:
                self._wake_watcher_locked()
            while self.reader is reader:
                if not pending:
                    self._running = False
                    return True
                fn, args = pending.popleft()
                self._begun += 1
                self._running = True
                hold = bool(pending)  # more of them wait: its reply may wait for theirs
                lock.release()
                try:
                    fn(*args, hold)  # jobs report their own errors
                finally:
                    fn = args = None  # type: ignore[assignment]  # drop references before the next
                    lock.acquire()
        finally:
            lock.release()
        self._flush()  # our reply may have been held for calls that have gone to the pool since
        return False

    def _wake_watcher_locked(self) -> None:
        self._watching = True
        if not self._watcher:
            self._watcher = True
            start_soon(threading.Thread(target=self._watch, name="pyleash-control-watch", daemon=True), self._no_watcher)
        if self._wake.locked():  # else a wake is already pending
            self._wake.release()

    def _no_watcher(self, exc: BaseException) -> None:
        """No thread for a watcher (the process is out of threads): calls run unguarded until the next run() starts one."""
        with self._lock:
            self._watcher = self._watching = False

    def _watch(self) -> None:
        """Runs on pyleash-control-watch: sleeps until calls run inline, then ticks; see the class docstring."""
        while True:
            self._wake.acquire()
            seen = -1  # the inline call running at the last tick, by number
            last = self._begun
            quiet = 0
            while True:
                time.sleep(self._budget)
                with self._lock:
                    if self._running and self._begun == seen:
                        turn = self.reader = object()
                        leftovers = list(self._pending)
                        self._pending.clear()
                        self._running = self._watching = False
                        self._watcher = False  # this thread reads from now on; the next run() starts a new watcher
                        stuck = self._reading
                        break
                    seen = self._begun if self._running else -1
                    quiet = 0 if self._running or self._begun != last else quiet + 1
                    last = self._begun
                    if quiet >= QUIET_TICKS:
                        self._watching = False
                        turn = None
                        break
            if turn is not None:
                self._take_over(turn, leftovers, stuck)
                return

    def _take_over(self, turn: object, leftovers: List[Any], stuck: Optional[threading.Thread]) -> None:
        if stuck is not None:
            stuck.name = "pyleash-inline-call"
        threading.current_thread().name = "pyleash-control"
        if leftovers:
            self._pool.submit_many(leftovers)  # pool threads call fn(*args): their replies decide hold themselves
        self._flush()  # replies held for calls that will not run here
        self._serve(turn)
