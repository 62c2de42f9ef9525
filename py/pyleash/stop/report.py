"""The StopReport: the one place its fields are written (docs/protocol.md, "StopReport")."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from pyleash.stop.stoppable import Frame


class StopReport:
    """Collects a stop's steps, swallowed deliveries and stack while it runs; result() gives the wire dict."""

    def __init__(self, strategy: str, t0: float) -> None:
        self.strategy = strategy
        self.t0 = t0  # time.perf_counter() when the stop request arrived: atMs and latencyMs count from it
        self.steps: List[Dict[str, Any]] = []
        self.swallowed = 0
        self.stack: Optional[List[Frame]] = None  # only in a blocked report

    def step(self, strategy: str, at: float) -> None:
        """Record that `strategy` began at time.perf_counter() `at`."""
        self.steps.append({"strategy": strategy, "atMs": _ms(at - self.t0)})

    def blocked(self, stack: List[Frame]) -> None:
        self.stack = stack

    def result(self, outcome: str, latency: Optional[float], finally_ran: Optional[bool],
               reason: Optional[str] = None) -> Dict[str, Any]:
        """{strategy, steps, outcome, latencyMs, swallowed, finallyRan, blockedIn, stack?, reason?}"""
        report: Dict[str, Any] = {
            "strategy": self.strategy,
            "steps": list(self.steps),
            "outcome": outcome,
            "latencyMs": None if latency is None else _ms(latency),
            "swallowed": self.swallowed,
            "finallyRan": finally_ran,
            "blockedIn": self.stack[-1] if self.stack else None,
        }
        if self.stack is not None:
            report["stack"] = self.stack
        if reason:
            report["reason"] = reason
        return report


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
