"""The call pool: a call goes to the most recently idle thread; the pool grows only when its calls stall."""
from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, List, Optional, Set, Tuple

from pyleash.threads import start_soon

Job = Tuple[Callable[..., Any], Tuple[Any, ...]]

GROW_AFTER_S = 0.002  # no call began for this long while calls wait: every thread is stuck, so add one
# ... or for two GIL switch intervals, if longer: a thread that only waits for the GIL is not stuck.
RETIRE_AFTER_S = 30.0  # a thread idle this long exits


class _Worker:
    """One pool thread's parking spot: `wake` is held while it waits; releasing it hands over `job`."""

    __slots__ = ("wake", "job")

    def __init__(self, job: Optional[Job]) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()
        self.job = job


class CallPool:
    """Threads named pyleash-call-N; daemons, so a stuck call never holds the agent's exit.

    Why LIFO and slow growth: under the GIL, more threads never run pure-Python calls faster; a hot thread
    (its stack and caches warm) answers sooner than a cold one, and a pool that spawned a thread per
    queued call would cost a thread start per call and grow to the cap under any burst. Calls that
    block (sleep, I/O, waiting on each other) still overlap: when no call has begun for GROW_AFTER_S
    while some wait, a thread is added, again every GROW_AFTER_S until the backlog drains or the cap.
    """

    def __init__(
        self,
        max_threads: int = 64,
        grow_after_s: float = GROW_AFTER_S,
        retire_after_s: float = RETIRE_AFTER_S,
        on_drain: Optional[Callable[[], None]] = None,
    ) -> None:
        """`on_drain()` is called when a thread takes the last queued call, when it finds none to take, and
        at every watcher tick while calls are queued: the moments to send what jobs held back while more
        work was waiting (a job's view of the queue is stale by the time it ends)."""
        # Everything below is guarded by _lock; workers, submitters (the control thread) and the watcher share it.
        self._lock = threading.Lock()
        self._idle: List[_Worker] = []  # parked workers, the most recently parked last
        self._backlog: Deque[Job] = deque()  # calls no thread could take yet, oldest first
        self._threads = 0  # started and not retired, idle or busy
        self._last_start = time.perf_counter()  # when a thread last began a call
        self._watching = False  # the watcher is ticking (there is a backlog)
        self._watch_wake = threading.Lock()  # released to start the watcher's ticks
        self._watch_wake.acquire()
        self._watcher: Optional[threading.Thread] = None
        self._closed = False
        self._abandoned: Set[int] = set()  # idents of threads whose call a stop gave up on; uncounted in _threads
        self._max = max_threads
        self._grow_after = grow_after_s
        self._retire_after = retire_after_s
        self._names = itertools.count(1)
        self._on_drain = on_drain or (lambda: None)

    @property
    def threads(self) -> int:
        """Pool threads alive now (idle or busy)."""
        return self._threads

    def queued(self) -> bool:
        """Calls are waiting for a thread (a lock-free peek: a hint, not a promise)."""
        return bool(self._backlog)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on a pool thread, never on the caller's; errors are fn's to report."""
        self.submit_many([(fn, args)])

    def submit_many(self, jobs: List[Job]) -> None:
        """submit() each (fn, args), taking the pool's lock once: threads that wait for the GIL while
        holding that lock make every acquisition a possible pair of context switches."""
        grown = None
        with self._lock:
            now = time.perf_counter()
            backlog = self._backlog
            for job in jobs:
                if self._idle:
                    worker = self._idle.pop()
                    worker.job = job
                    self._last_start = now
                    worker.wake.release()
                elif grown is None and self._threads < self._max and (
                    self._threads == 0 or now - self._last_start > self._stall_s()
                ):
                    # Every thread has been in its call for a while: they are blocked, not about to be free.
                    if backlog:  # the oldest waiting call goes first
                        backlog.append(job)
                        job = backlog.popleft()
                    grown = self._reserve_locked(job, now)
                else:
                    backlog.append(job)
            self._watch_locked()
        if grown is not None:
            self._start(grown)

    def abandon(self, ident: int) -> None:
        """The call on pool thread `ident` could not be stopped: the thread no longer counts towards the cap, so
        the pool grows past it as calls wait, and it exits instead of taking more calls should its call return."""
        with self._lock:
            if ident not in self._abandoned:
                self._abandoned.add(ident)
                self._threads -= 1

    def close(self) -> None:
        """Idle threads exit now, busy ones after their call; queued calls still run. For tests and benches."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._threads -= len(idle)
        for worker in idle:
            worker.job = None
            worker.wake.release()

    def _stall_s(self) -> float:
        return max(self._grow_after, 2 * sys.getswitchinterval())

    def _reserve_locked(self, job: Job, now: float) -> _Worker:
        self._threads += 1
        self._last_start = now
        return _Worker(job)

    def _start(self, worker: _Worker) -> None:
        name = "pyleash-call-%d" % next(self._names)
        start_soon(threading.Thread(target=self._run, args=(worker,), name=name, daemon=True), lambda exc: self._not_started(worker))

    def _not_started(self, worker: _Worker) -> None:
        """Can't start new thread: the call waits for a free one instead."""
        with self._lock:
            self._threads -= 1
            if worker.job is not None:
                self._backlog.appendleft(worker.job)
            self._watch_locked()

    def _watch_locked(self) -> None:
        if self._watching or not self._backlog:
            return
        self._watching = True
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="pyleash-call-watch", daemon=True)
            self._watcher.start()
        self._watch_wake.release()

    def _watch(self) -> None:
        """Runs on pyleash-call-watch: while calls wait, adds a thread whenever none began for GROW_AFTER_S."""
        while True:
            self._watch_wake.acquire()
            while True:
                time.sleep(self._stall_s())
                self._on_drain()  # a call that blocks must not hold back the answers of those before it
                grown = None
                with self._lock:
                    if not self._backlog:
                        self._watching = False
                        break
                    now = time.perf_counter()
                    if self._threads < self._max and now - self._last_start > self._stall_s():
                        grown = self._reserve_locked(self._backlog.popleft(), now)
                if grown is not None:
                    self._start(grown)

    def _run(self, worker: _Worker) -> None:
        job = worker.job
        me = threading.get_ident()
        while job is not None:
            fn, args = job
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a job reports its own errors; the thread must survive
                pass
            job = fn = args = None  # type: ignore[assignment]  # drop references before idling
            drained = retire = False
            with self._lock:
                if me in self._abandoned:  # already uncounted: it leaves, and the pool forgets it
                    self._abandoned.discard(me)
                    retire = True
                elif self._backlog:
                    job = self._backlog.popleft()
                    self._last_start = time.perf_counter()
                    drained = not self._backlog
                elif self._closed:
                    self._threads -= 1
                    retire = True
                else:
                    worker.job = None
                    self._idle.append(worker)
            if drained or job is None:  # held answers leave before the last call runs, or before idling
                self._on_drain()
            if retire:
                return
            if job is not None:
                continue
            if not worker.wake.acquire(timeout=self._retire_after):
                with self._lock:
                    if worker in self._idle:  # identity: _Worker has no __eq__
                        self._idle.remove(worker)
                        self._threads -= 1
                        return
                worker.wake.acquire()  # a submit claimed this thread between the timeout and the lock
            job = worker.job
