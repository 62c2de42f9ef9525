"""Message transport between the agent and the controller's ZeroMQ ROUTER socket.

Every transport is a ZeroMQ DEALER connected to the controller and has:

- ``name``: ``"builtin"`` (stdlib ZMTP 3.1 client, pyleash.transport.zmtp) or
  ``"pyzmq"`` (pyleash.transport.pyzmq_transport).
- ``send(frames: list[bytes]) -> None``: send one multipart message. Thread-safe:
  any number of threads may send while one other thread sits in ``recv()``.
  Frames arrive at the controller exactly as sent, after the routing id the
  ROUTER prepends; no empty delimiter frame is added or expected. builtin
  writes each message with one locked sendall(); pyzmq hands sends that race a
  running recv() to it through an outbox (see pyzmq_transport's docstring).
- ``send_many(messages: list[list[bytes]]) -> None``: send several multipart
  messages in order, as ``send()`` would one after the other, in as few writes
  as the transport allows (the agent sends a task's end and a stop's report so).
- ``recv(timeout: float | None) -> list[bytes] | None``: the next whole message,
  or None when ``timeout`` seconds pass first (None waits forever, 0 polls).
  Only one thread may call it.
- ``close() -> None``: idempotent; also wakes a thread blocked in ``recv()``.

Constructors take ``(endpoint, routing_id=None, connect_timeout=10.0)`` where
endpoint is ``ipc:///abs/path`` or ``tcp://HOST:PORT``, and routing_id (1..255
bytes, not starting with a NUL, which libzmq reserves) becomes the ROUTER's
routing id for us; they return once the connection is up and the ZMTP
handshake done, retrying a refused connect until connect_timeout, or raise
TransportError.
Every failure of the connection or the protocol (peer gone, bad greeting,
ERROR command, oversized frame, ...) raises TransportError with the reason;
``recv()`` first hands out messages that arrived before the failure.
"""
from __future__ import annotations

from typing import List, Optional, Protocol, Sequence, Tuple

from pyleash.contract import TRANSPORTS

from .errors import TransportError

__all__ = ["Transport", "TransportError", "open_transport", "KINDS"]

KINDS = TRANSPORTS  # ("auto", "pyzmq", "builtin"), as the contract names them


class Transport(Protocol):
    """What the agent needs from a transport; see the module docstring."""

    name: str

    def send(self, frames: List[bytes]) -> None: ...

    def send_many(self, messages: Sequence[Sequence[bytes]]) -> None: ...

    def recv(self, timeout: Optional[float]) -> Optional[List[bytes]]: ...

    def flush(self) -> None:
        """Return once what send() accepted so far is written (send may leave a message to a thread writing)."""
        ...

    def close(self) -> None: ...


def open_transport(
    endpoint: str,
    kind: str = "auto",
    routing_id: Optional[bytes] = None,
    connect_timeout: float = 10.0,
    max_message_bytes: Optional[int] = None,
    curve: Optional[Tuple[bytes, bytes, bytes]] = None,
    heartbeat_ms: int = 0,
) -> Transport:
    """Connect to endpoint: kind "auto" is pyzmq where CURVE is needed (`curve` given), else the builtin client, which
    is faster and smaller than pyzmq on every local figure (docs/performance.md). The builtin client skips frames
    over `max_message_bytes` unread; the control loop refuses such messages on either transport. `curve` (server
    public, own public, own secret key) and `heartbeat_ms` need pyzmq (remote agents, pyleash.serve)."""
    if curve is not None and kind == "builtin":
        raise TransportError("the builtin transport has no CURVE security: use pyzmq")
    if kind not in KINDS:
        raise TransportError("unknown transport kind %r (expected one of %s)" % (kind, ", ".join(KINDS)))
    if kind == "pyzmq" or curve is not None:
        try:
            from .pyzmq_transport import PyzmqTransport
        except Exception as exc:  # noqa: BLE001 - a broken pyzmq install counts as absent
            if kind == "pyzmq":
                raise TransportError("pyzmq is not importable: %s" % exc) from None
        else:
            return PyzmqTransport(endpoint, routing_id=routing_id, connect_timeout=connect_timeout, curve=curve,
                                  heartbeat_ms=heartbeat_ms)
    if curve is not None:
        raise TransportError("CURVE security needs pyzmq, which is not importable here: pip install pyzmq")
    from .zmtp import ZmtpTransport

    if max_message_bytes is None:
        return ZmtpTransport(endpoint, routing_id=routing_id, connect_timeout=connect_timeout)
    return ZmtpTransport(endpoint, routing_id=routing_id, connect_timeout=connect_timeout, max_frame=max_message_bytes)
