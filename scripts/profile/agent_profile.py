"""Profiling hooks for scripts/profile-calls.mjs, called as targets inside a pyleash agent (never shipped).

start()/stop() run inline on the agent's control thread (pyleash.inline), so the cProfile they switch on sees
what that thread does for each call: recv, decode, contract check, dispatch, the call, encode, send.
layers() times each step of the agent's per-request path on its own, on a real call frame, without a profiler.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import threading
import timeit
from typing import Any, Dict, List

from pyleash.inline import InlineCalls

_profilers: List[cProfile.Profile] = []  # one per thread that read requests while profiling


def _profile_this_thread() -> None:
    profiler = cProfile.Profile()
    profiler.enable()  # on this thread only
    _profilers.append(profiler)


def _reading_profiled(self: Any, _reading: Any = InlineCalls.reading) -> None:
    """InlineCalls.reading, which a thread calls as it takes over the reading: that thread is profiled too."""
    _reading(self)
    if _profilers:
        _profile_this_thread()


def start() -> str:
    InlineCalls.reading = _reading_profiled  # type: ignore[method-assign]
    _profile_this_thread()
    return threading.current_thread().name


def stop(path: str, calls: int) -> Dict[str, Any]:
    profilers = list(_profilers)
    del _profilers[:]
    for profiler in profilers:
        profiler.disable()  # stops this thread's; one left on a thread that handed over ends with that thread
    stats = pstats.Stats(*profilers, stream=io.StringIO())  # type: ignore[arg-type]
    stats.dump_stats(path)
    rows: List[Dict[str, Any]] = []
    for (filename, line, name), (_cc, ncalls, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"file": _short(filename), "line": line, "name": name, "ncalls": ncalls,
                     "tottimeUs": tottime * 1e6 / calls})
    rows.sort(key=lambda row: -row["tottimeUs"])
    return {"thread": threading.current_thread().name, "threads": len(profilers), "rows": rows}


def _short(filename: str) -> str:
    if "pyleash" in filename:
        return filename[filename.rindex("pyleash"):]
    return os.path.basename(filename) if filename.startswith(("/", ".")) else filename


def layers(n: int = 20000) -> Dict[str, float]:
    """µs per step of one plain call of math:floor(7), each step timed on its own (best of 5 runs of `n`)."""
    from pyleash import contract, protocol, targets
    from pyleash.tasks.awaiting import settle
    from pyleash.tasks.task import with_stop_event

    frame = b'{"id":123,"type":"call","target":"math:floor","args":[7],"kwargs":{}}'
    request = protocol.decode(frame)
    fn = targets.resolve("math:floor")
    event = threading.Event()
    reply = protocol.ok(123, 7)
    steps = {
        "binary_count (frame tail)": lambda: protocol.binary_count(frame),
        "decode (utf-8 + json.loads + checks)": lambda: protocol.decode(frame),
        "contract.check_request": lambda: contract.check_request(dict(request)),
        "dict copy (baseline of the check above)": lambda: dict(request),
        "targets.resolve (cached)": lambda: targets.resolve("math:floor"),
        "with_stop_event + settle + call": lambda: settle(fn(*request["args"], **with_stop_event(fn, request["kwargs"], event))),
        "protocol.ok (reply dict)": lambda: protocol.ok(123, 7),
        "encode_frames (json.dumps + scans + utf-8)": lambda: protocol.encode_frames(reply),
    }
    out = {}
    for name, step in steps.items():
        best = min(timeit.repeat(step, number=n, repeat=5))
        out[name] = round(best * 1e6 / n, 3)
    return out
