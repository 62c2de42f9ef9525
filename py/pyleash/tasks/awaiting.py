"""A call whose target is an `async def`: its coroutine is awaited on the agent's event loop (pyleash-asyncio)."""
from __future__ import annotations

import types
from typing import Any

_POLL_S = 0.05  # the caller's thread waits in short slices, so that a stop's exception or signal lands between them


def settle(value: Any) -> Any:
    """`value`, or, when it is a coroutine, what it returns once run to its end on the agent's event loop."""
    if not isinstance(value, types.CoroutineType):
        return value
    return _await(value)


def _await(coroutine: Any) -> Any:
    import asyncio
    import concurrent.futures

    from pyleash.tasks.registry import KINDS

    loop = KINDS["asyncio"].loop()  # type: ignore[attr-defined]  # AsyncioKind's, started on first use
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    try:
        while not future.done():
            concurrent.futures.wait([future], timeout=_POLL_S)
    except BaseException:  # a stop (TaskStopped) or KeyboardInterrupt: the coroutine is cancelled too, and it goes on
        future.cancel()
        raise
    return future.result()
