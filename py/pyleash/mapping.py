"""map: one chunk of items through one target on a stream; the results leave in slices, each a stream item.

worker.map() runs `pyleash.mapping:chunk` as a stream per chunk, so map has the stream's credit, stop ladder and
binary frames and no protocol path of its own. A slice is `[values, errors]`: one value per item (None where the
item raised) and `[offset, type, message, traceback]` per item that raised, so a failing item is reported where it
sits and the items after it still run.
"""
from __future__ import annotations

import time
from typing import Any, Iterator, List, Optional

from pyleash import targets

SLICE_S = 0.002  # a slice leaves once it has taken this long, so slow items stream back one by one
SLICE_ITEMS = 4096  # and once it holds this many, so fast items leave in few messages


def _failure(offset: int, exc: BaseException) -> List[Any]:
    import traceback  # on the first failing item only

    return [offset, type(exc).__name__, str(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]


def chunk(target: str, items: List[Any], stop_event: Optional[Any] = None) -> Iterator[List[Any]]:
    """Call `target(item)` for each item; yield `[values, errors]` slices. A stop's flag ends it between items."""
    fn = targets.resolve(target)
    clock = time.monotonic
    values: List[Any] = []
    errors: List[List[Any]] = []
    deadline = clock() + SLICE_S
    for item in items:
        try:
            values.append(fn(item))
        except Exception as exc:  # noqa: BLE001 - an item's exception is its result (a stop is a BaseException)
            errors.append(_failure(len(values), exc))
            values.append(None)
        if len(values) >= SLICE_ITEMS or clock() >= deadline:
            yield [values, errors]
            values, errors = [], []
            deadline = clock() + SLICE_S
        if stop_event is not None and stop_event.is_set():
            return
    if values:
        yield [values, errors]
