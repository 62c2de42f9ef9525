"""What an attached agent reads (never patches) of pythonia's Python side: where a call runs, where raising is unsafe.

pythonia runs `interface.py` as __main__: com_io() reads one request per line on the main thread and hands it to
Bridge.onMessage (module Bridge), which catches `Exception` and writes the error as the call's reply. Two spots
would not survive an exception: Ipc.queue (interface.py) turns any error while writing into sys.exit(1), and
Executor.ipc (proxy.py) waits for JavaScript's answer, which com_io would later misread as a request. And
onMessage itself is safe only on the line of its `try` that runs the call: its `except` clause (formatting a
traceback) has nothing around it. Elsewhere in pythonia's own code the handler raises only on the line that
invokes the called function: past it, pythonia may have written the reply already, and a stop landing there
would be reported though JavaScript got the value.
"""
from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Optional, Set

from pyleash.stop.signal_current import DEFER, DROP, RAISE


class NotPythonia(RuntimeError):
    """The process is not pythonia's (or a pythonia whose layout this module does not know)."""


class PythoniaLoop:
    def __init__(self, here: Optional[FrameType]) -> None:
        """`here`: a frame of the attach call, which pythonia dispatches like any other: its stack shows the line."""
        main, bridge, proxy = (sys.modules.get(name) for name in ("__main__", "Bridge", "proxy"))
        try:
            self.dispatch: CodeType = bridge.Bridge.onMessage.__code__  # type: ignore[union-attr]
            self.unsafe: Set[CodeType] = {
                main.Ipc.queue.__code__,  # type: ignore[union-attr]
                proxy.Executor.ipc.__code__,  # type: ignore[union-attr]
                bridge.Bridge.read.__code__,  # type: ignore[union-attr]
            }
        except AttributeError as exc:
            raise NotPythonia("this is not pythonia's Python process (no interface.py loop, Bridge and proxy "
                              "modules as pythonia 1.x has them): %s" % exc) from None
        dispatch = self.call_frame(here)
        if dispatch is None:
            raise NotPythonia("attach() was not called through pythonia (no Bridge.onMessage on its stack)")
        self.call_line = dispatch.f_lineno  # onMessage's `return getattr(self, action)(...)`, inside its try
        self.home = os.path.dirname(os.path.abspath(bridge.__file__))  # type: ignore[union-attr, arg-type]
        invoke = here
        while invoke is not None and not self._in_pythonia(invoke):
            invoke = invoke.f_back
        assert invoke is not None  # the dispatch frame above is pythonia's
        self.invoke = (invoke.f_code, invoke.f_lineno)  # Bridge.call's `v = v(*args, **kwargs)`, calling attach()

    def call_frame(self, frame: Optional[FrameType]) -> Optional[FrameType]:
        """The outermost Bridge.onMessage frame on the stack ending at `frame`: the call pythonia runs; None when idle."""
        found = None
        while frame is not None:
            if frame.f_code is self.dispatch:
                found = frame
            frame = frame.f_back
        return found

    def _in_pythonia(self, frame: FrameType) -> bool:
        return os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == self.home

    def verdict(self, frame: Optional[FrameType], target: Optional[FrameType]) -> str:
        """For CurrentWorkSignalStop: may the handler raise at `frame` to stop the call whose dispatch is `target`?"""
        if frame is None or target is None:
            return DROP
        if self._in_pythonia(frame) and (frame.f_code, frame.f_lineno) != self.invoke:
            return DEFER  # pythonia's own bookkeeping: maybe after the reply went
        while frame is not None:
            if frame.f_code in self.unsafe:
                return DEFER
            if frame is target:
                # Past its try (or not in it yet): an exception here would escape onMessage and end com_io.
                return RAISE if frame.f_lineno == self.call_line else DEFER
            frame = frame.f_back
        return DROP
