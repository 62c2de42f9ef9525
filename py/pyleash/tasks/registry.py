"""The task kinds, one instance each, by the names the contract gives them."""
from __future__ import annotations

from typing import Dict

from pyleash.tasks.asyncio_kind import AsyncioKind
from pyleash.tasks.kind import Kind
from pyleash.tasks.main_kind import MainKind
from pyleash.tasks.process_kind import ProcessKind
from pyleash.tasks.thread_kind import ThreadKind

MAIN = MainKind()  # the agent's main thread runs MAIN.lane and installs MAIN's signal handler at boot

KINDS: Dict[str, Kind] = {kind.name: kind for kind in (ThreadKind(), MAIN, ProcessKind(), AsyncioKind())}
