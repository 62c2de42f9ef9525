"""The wire protocol, agent side: message names, encoding, and error payloads (mirrors ts/protocol.ts)."""
from __future__ import annotations

import json
from typing import Any, Dict

# Error kinds (contract.json "errorKinds"): which part of a request went wrong; the controller maps each to an
# error class.
EXCEPTION = "exception"  # the Python code raised
TARGET = "target"  # "mod:func" could not be imported or resolved
RESULT = "result"  # the return value is not JSON-serialisable
PROTOCOL = "protocol"  # the request itself was malformed

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
_loads = json.JSONDecoder().decode


class ProtocolError(Exception):
    """A request that does not follow the protocol beyond what the contract checks (an unknown type or task)."""


class NotSerializable(Exception):
    """A value that JSON cannot carry; `python_type` names the culprit."""

    def __init__(self, python_type: str, detail: str) -> None:
        super().__init__(detail)
        self.python_type = python_type


def encode(message: Dict[str, Any]) -> bytes:
    """JSON-encode one message; raises NotSerializable naming the first offending type."""
    try:
        return _dumps(message).encode("utf-8")
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise NotSerializable(_offending_type(message, exc), str(exc)) from None


def decode(frame: bytes) -> Dict[str, Any]:
    """Decode one request frame; raises ProtocolError when it is not a JSON object with a type."""
    try:
        message = _loads(frame.decode("utf-8"))  # the wire is UTF-8 (RFC 8259); json.loads(bytes) would guess
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("frame is not JSON: %s" % exc) from None
    if not isinstance(message, dict):
        raise ProtocolError("message is a JSON %s, not an object" % type(message).__name__)
    if not isinstance(message.get("type"), str):
        raise ProtocolError("message has no string 'type'")
    return message


def ok(request_id: Any, result: Any) -> Dict[str, Any]:
    return {"id": request_id, "status": "ok", "result": result}


def error(request_id: Any, kind: str, exc: BaseException, with_traceback: bool = True) -> Dict[str, Any]:
    payload: Dict[str, Any] = {"kind": kind, "type": type(exc).__name__, "message": str(exc)}
    if with_traceback and exc.__traceback__ is not None:
        import traceback  # on first use: with tokenize and textwrap it costs the idle agent ~0.3 MB

        payload["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, NotSerializable):
        payload["pythonType"] = exc.python_type
    return {"id": request_id, "status": "error", "error": payload}


def _offending_type(value: Any, exc: BaseException) -> str:
    """Walk the value for the first thing JSON refuses; the exception text alone is vague for NaN."""
    stack = [value]
    seen = 0
    while stack and seen < 100_000:
        seen += 1
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    return type(key).__name__
                stack.append(inner)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return "float (%r)" % item
        elif isinstance(item, int) and not isinstance(item, bool):
            continue
        elif item is not None and not isinstance(item, (str, bool)):
            return type_name(item)
    return type(exc).__name__


def type_name(value: Any) -> str:
    """`int`, `set`, `decimal.Decimal`: the name a user would import."""
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else "%s.%s" % (cls.__module__, cls.__qualname__)
