"""A bytes object the kernel writes into: a large frame is received straight into the bytes its reader gets.

Joining pieces costs a second copy of the whole frame, and on a machine where first touching memory is slow
(page faults) that copy costs as much as the transfer itself. CPython lets a new, not yet shared bytes object be
filled in place (PyBytes_FromStringAndSize with NULL, as its own readers do); its pages are touched only as the
data arrives, so a peer that announces a large frame costs what it has sent so far. Elsewhere (no ctypes, not
CPython) the frame is gathered in pieces and joined.
"""
from __future__ import annotations

import sys
from typing import List, Optional, Union

try:
    import ctypes

    if sys.implementation.name != "cpython":
        raise ImportError("not CPython")
    # A private prototype, as in stop/async_exc.py: setting restype on ctypes.pythonapi's shared attribute would
    # change it for every other user of it in the process.
    _new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t)(("PyBytes_FromStringAndSize", ctypes.pythonapi))
    _DATA_OFFSET = bytes.__basicsize__ - 1  # offsetof(PyBytesObject, ob_sval): the header, then the bytes
except (ImportError, AttributeError):  # pragma: no cover - other interpreters, or a Python built without ctypes
    _new = None  # type: ignore[assignment]  # callers check for None


class FreshBytes:
    """`size` bytes to fill, in order, by `add(piece)` or by writing into `slot()` and calling `filled(n)`."""

    __slots__ = ("want", "_frame", "_view", "_pieces", "_pos")

    def __init__(self, size: int, head: bytes) -> None:
        self.want = size  # bytes still missing
        self._pos = 0
        self._frame: Optional[bytes] = None
        self._view: Optional[memoryview] = None
        self._pieces: List[Union[bytes, memoryview]] = []
        if _new is not None:
            frame = _new(None, size)
            self._frame = frame
            self._view = memoryview((ctypes.c_char * size).from_address(id(frame) + _DATA_OFFSET)).cast("B")
        self.add(head)

    def slot(self) -> Optional[memoryview]:
        """Where the next bytes go (the whole rest of the frame), or None when the frame is gathered in pieces."""
        return None if self._view is None else self._view[self._pos:]

    def filled(self, n: int) -> None:
        """`n` more bytes were written into slot()."""
        self._pos += n
        self.want -= n

    def add(self, piece: Union[bytes, memoryview]) -> None:
        """The next bytes (at most `want`)."""
        n = len(piece)
        if self._view is not None:
            self._view[self._pos:self._pos + n] = piece
            self._pos += n
        else:
            self._pieces.append(piece)
        self.want -= n

    def result(self) -> bytes:
        """The whole frame, once `want` is 0; the buffer is let go."""
        if self._view is not None:
            self._view.release()
            frame, self._frame, self._view = self._frame, None, None
            return frame  # type: ignore[return-value]
        frame = b"".join(self._pieces)
        self._pieces = []
        return frame
