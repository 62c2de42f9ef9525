"""What an attached agent reads (never patches) of pythonia's Python side: where a call runs, where raising is unsafe.

pythonia runs `interface.py` as __main__: com_io() reads one request per line on the main thread and hands it to
Bridge.onMessage (module Bridge), which catches `Exception` and writes the error as the call's reply. Two spots
would not survive an exception: Ipc.queue (interface.py) turns any error while writing into sys.exit(1), and
Executor.ipc (proxy.py) waits for JavaScript's answer, which com_io would later misread as a request.
"""
from __future__ import annotations

import sys
from types import CodeType, FrameType
from typing import Optional, Set

from pyleash.stop.signal_current import DEFER, DROP, RAISE


class NotPythonia(RuntimeError):
    """The process is not pythonia's (or a pythonia whose layout this module does not know)."""


class PythoniaLoop:
    def __init__(self) -> None:
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

    def call_frame(self, frame: Optional[FrameType]) -> Optional[FrameType]:
        """The outermost Bridge.onMessage frame on the stack ending at `frame`: the call pythonia runs; None when idle."""
        found = None
        while frame is not None:
            if frame.f_code is self.dispatch:
                found = frame
            frame = frame.f_back
        return found

    def verdict(self, frame: Optional[FrameType], target: Optional[FrameType]) -> str:
        """For CurrentWorkSignalStop: may the handler raise at `frame` to stop the call whose dispatch is `target`?"""
        if frame is None or target is None:
            return DROP
        if frame.f_code is self.dispatch:
            return DEFER  # in onMessage itself, maybe in its `except` clause, which nothing catches
        on_stack = False
        while frame is not None:
            if frame.f_code in self.unsafe:
                return DEFER
            if frame is target:
                on_stack = True
                break
            frame = frame.f_back
        return RAISE if on_stack else DROP
