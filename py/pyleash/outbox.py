"""Call replies that wait briefly to leave together, as one message of several frames."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, List

if TYPE_CHECKING:
    from pyleash.transport import Transport

MAX_FRAMES = 64  # a fuller outbox leaves at once: a bound on how long the first answer in it waits


class Outbox:
    """Holds a reply only while its thread has more calls queued (see CallPool.queued): a burst of pipelined
    calls is answered in a few writes instead of one per call, and a lone call is answered at once.
    What is held leaves at the latest when the pool drains or its watcher ticks (CallPool on_drain).
    """

    def __init__(self, transport: Transport, max_frames: int = MAX_FRAMES) -> None:
        self._transport = transport
        self._max = max_frames
        self._frames: List[bytes] = []
        self._lock = threading.Lock()

    def add(self, frames: List[bytes], hold: bool) -> None:
        """One reply's frames (its JSON frame, then any binary frames it carries)."""
        if not hold and not self._frames:  # nothing held (a lone call): no lock, it leaves at once
            self._transport.send(frames)
            return
        with self._lock:
            self._frames += frames
            if hold and len(frames) == 1 and len(self._frames) < self._max:  # binary data never waits
                return
            frames, self._frames = self._frames, []
        self._transport.send(frames)

    def flush(self) -> None:
        if not self._frames:  # a lock-free peek: a reply added meanwhile is its adder's to send or hold
            return
        with self._lock:
            frames, self._frames = self._frames, []
        if frames:
            self._transport.send(frames)
