"""Stop a thread through sys.monitoring (CPython 3.12+): no cost until fire(), one shot per fire()."""
from __future__ import annotations

import sys
import threading
from types import CodeType
from typing import Any, Optional, Set, Tuple

from pyleash.deliveries import TaskStopped

# Unassigned ids first, then the ones named for other kinds of tools (debuggers, coverage, profilers).
_TOOL_PREFERENCE = (4, 3, 5, 2, 1, 0)
_TOOL_NAME = "pyleash-stop"
_get_ident = threading.get_ident  # every thread runs the callbacks while a shot is out: keep them lean


def available() -> Tuple[bool, str]:
    """(True, "") where sys.monitoring exists, else (False, why). Cheap: the agent's hello asks at boot."""
    if sys.implementation.name != "cpython":
        return False, "sys.monitoring stop is written for CPython, this is %s" % sys.implementation.name
    if sys.version_info < (3, 12) or not hasattr(sys, "monitoring"):
        return False, "sys.monitoring needs CPython 3.12+, this is %d.%d.%d" % sys.version_info[:3]
    return True, ""


class MonitorKill:
    """arm(ident) at stop time, fire() to raise once in that thread, disarm() when done.

    Nothing is registered until arm(), and no event is on until fire(), so an armed MonitorKill costs
    nothing either. From fire() to the shot, LINE and JUMP events are on for every thread: each line
    and loop back-edge of every thread in the process calls back into Python (other threads get None
    back; returning DISABLE would switch the location off for the target too): pure-Python loops run
    about 10x slower. The shot switches them off again. Global events also reach frames already running.

    Exceptions raised from a JUMP callback skip the enclosing try (no except, no finally; 3.12.1 and
    3.13.0), so the JUMP callback only switches INSTRUCTION events on for that code object, and the
    INSTRUCTION callback raises at a proper location. LINE callbacks raise directly.
    Each fire() raises once, so cleanup code runs; a swallowed shot is renewed by the ladder's `monitor` step. Like every
    in-thread means, nothing happens while the thread sits in a C call.
    """

    def __init__(self, exc_type: type = TaskStopped) -> None:
        self.exc_type = exc_type
        self.tool_id: Optional[int] = None
        self.target: Optional[int] = None
        self.fired = 0  # shots raised so far
        self._shots = 0
        self._codes: Set[CodeType] = set()  # code objects given local INSTRUCTION events

    def arm(self, target_ident: int) -> int:
        """Claim a free tool id and register the callbacks (no event yet); RuntimeError if none is free."""
        ok, why = available()
        if not ok:
            raise RuntimeError(why)
        if self.tool_id is not None:
            raise RuntimeError("already armed")
        mon = sys.monitoring
        for tool in _TOOL_PREFERENCE:
            try:
                mon.use_tool_id(tool, _TOOL_NAME)
            except ValueError:  # taken by a debugger, coverage, a profiler, or another stop
                continue
            break
        else:
            raise RuntimeError("sys.monitoring: all tool ids 0-5 are in use")
        self.tool_id, self.target, self._shots = tool, target_ident, 0
        ev = mon.events
        mon.register_callback(tool, ev.LINE, self._on_line)
        mon.register_callback(tool, ev.JUMP, self._on_jump)
        mon.register_callback(tool, ev.INSTRUCTION, self._on_instruction)
        return tool

    def fire(self) -> None:
        """From any thread: raise exc_type once in the target at its next line or back-edge."""
        tool = self.tool_id
        if tool is None:
            raise RuntimeError("not armed")
        self._shots = 1
        ev = sys.monitoring.events
        sys.monitoring.set_events(tool, ev.LINE | ev.JUMP)

    def disarm(self) -> None:
        """Turn every event off, drop the callbacks and free the tool id (idempotent)."""
        tool = self.tool_id
        if tool is None:
            return
        mon = sys.monitoring
        self._quiet()
        ev = mon.events
        for event in (ev.LINE, ev.JUMP, ev.INSTRUCTION):
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)
        self.tool_id = self.target = None

    def _quiet(self) -> None:
        self._shots = 0
        tool = self.tool_id
        if tool is None:
            return
        try:
            sys.monitoring.set_events(tool, 0)
            for code in list(self._codes):
                sys.monitoring.set_local_events(tool, code, 0)
        except ValueError:  # disarmed by another thread meanwhile
            pass
        self._codes.clear()

    def _shoot(self) -> None:
        self.fired += 1
        self._quiet()  # back to zero cost for every thread until the next fire()
        raise self.exc_type()

    def _on_line(self, code: CodeType, line: int) -> Any:
        if _get_ident() == self.target and self._shots:
            self._shoot()
        return None

    def _on_jump(self, code: CodeType, src: int, dst: int) -> Any:
        if _get_ident() != self.target or not self._shots or code in self._codes:
            return None
        tool = self.tool_id
        self._codes.add(code)
        try:
            sys.monitoring.set_local_events(tool, code, sys.monitoring.events.INSTRUCTION)  # type: ignore[arg-type]  # None: TypeError
        except (TypeError, ValueError):  # disarmed meanwhile: the tool id is None or free again
            pass
        return None

    def _on_instruction(self, code: CodeType, offset: int) -> Any:
        if _get_ident() == self.target and self._shots:
            self._shoot()
        return None
