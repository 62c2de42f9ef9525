"""The wire protocol, agent side: message names, encoding, and error payloads (mirrors ts/protocol.ts)."""
from __future__ import annotations

import json
import re
import threading
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from pyleash import contract

# Error kinds: which part of a request went wrong; the controller maps each to an error class. Read from the
# contract (its "errorKinds" says what each means): a kind the contract lacks fails at import, not on the wire.
EXCEPTION, TARGET, FORBIDDEN, RESULT, PROTOCOL = (
    contract.error_kind(name) for name in ("exception", "target", "forbidden", "result", "protocol"))

TAG = contract.CONTRACT["values"]["tagKey"]  # {"__pyleash__": "int", "value": "123..."}: docs/values.md
BINARY_KEY = contract.CONTRACT["values"]["binaryFramesKey"]  # the JSON frame's last key: how many binary frames follow
BYTES_LIKE = (bytes, bytearray, memoryview)
_TAG_TEXT = '"%s"' % TAG
MAX_SAFE_INTEGER = 2 ** 53 - 1  # beyond it a JavaScript number is no longer exact
_LONG_DIGITS = re.compile(r"\d{16,}")  # only an encoded message with such a run can hold an int beyond 2^53
_ID_VALUE = re.compile(rb'\s*:\s*(\d{1,15})\s*[,}]')
_ID_SCAN_LIMIT = 1 << 20  # how far into an undecodable frame its top-level "id" is looked for
# Written last, with no whitespace, so a receiver reads the count from the frame's end without decoding it.
_BINARY_TAIL = re.compile(rb',"%s":(\d{1,9})\}\Z' % BINARY_KEY.encode())
_BINARY_TAIL_BYTES = len(BINARY_KEY) + 16

_dumps_ascii = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=True).encode
_loads = json.JSONDecoder().decode
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner: decode() without its two Python frames and regex matches
_local = threading.local()
_refuse = json.JSONEncoder().default  # raises TypeError("Object of type X is not JSON serializable")


def _c_encoder() -> Any:
    """What json.dumps(separators=(",", ":"), allow_nan=False, ensure_ascii=False) builds on every call (CPython's C
    encoder, from _json), built once per thread: its circular-reference markers must not be shared by two encodings."""
    return c_make_encoder({}, _refuse, encode_basestring, None, ":", ",", False, False, False)


def _dumps(value: Any) -> str:
    try:
        encode = _local.encode
    except AttributeError:
        encode = _local.encode = _c_encoder()
    try:
        return "".join(encode(value, 0))
    except BaseException:
        _local.encode = _c_encoder()  # a failed encoding may leave markers behind
        raise


def _fast_loads(text: str) -> Any:
    """json.loads(text) for a frame with no whitespace around its value (what both sides write); others, and every
    error, go through the decoder itself."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _loads(text)  # raises the decoder's own error
    return value if end == len(text) else _loads(text)


class ProtocolError(Exception):
    """A request that does not follow the protocol; `request_id` is the id to answer, when one could be read."""

    def __init__(self, detail: str, request_id: Optional[int] = None) -> None:
        super().__init__(detail)
        self.request_id = request_id


class NotSerializable(Exception):
    """A value that cannot cross exactly; `python_type` names the culprit and `path` where it sits."""

    def __init__(self, python_type: str, detail: str, path: Optional[str] = None) -> None:
        super().__init__(detail)
        self.python_type = python_type
        self.path = path


def encode(message: Dict[str, Any]) -> bytes:
    """JSON-encode one message that carries no binary data (bytes are refused: see encode_frames)."""
    frames = encode_frames(message)
    if len(frames) > 1:
        python_type, path = _offender(message, TypeError("binary data"), binary=True)
        raise NotSerializable(python_type, "binary data cannot cross here", path)
    return frames[0]


def ok_frame(request_id: Any, result: Any) -> Optional[bytes]:
    """The one frame encode_frames(ok(request_id, result)) makes, in the usual case (an id and a result JSON carries
    as they are: no bytes, tag, big integer or lone surrogate), built without the reply dict or its encoding; None
    in every other case, which encode_frames handles (and explains when it fails)."""
    if request_id.__class__ is not int or not -MAX_SAFE_INTEGER <= request_id <= MAX_SAFE_INTEGER:
        return None
    try:
        text = _dumps(result)
    except Exception:  # noqa: BLE001 - bytes, NaN, a cycle, ...: encode_frames says what
        return None
    if len(text) >= len(_TAG_TEXT) and (_TAG_TEXT in text or _LONG_DIGITS.search(text) is not None):  # a tag or 16 digits: 13+ characters
        return None
    try:
        return ('{"id":%d,"status":"ok","result":%s}' % (request_id, text)).encode("utf-8")
    except UnicodeEncodeError:
        return None


def encode_frames(message: Dict[str, Any]) -> List[Any]:
    """One message as its frames: the JSON frame, then one frame per bytes, bytearray or memoryview inside it,
    sent as they are (no copy), each referenced from the JSON by a `bytes` tag; ints beyond 2^53 are tagged.
    Raises NotSerializable naming the offender."""
    binary: List[Any] = []
    dumps: Callable[[Any], str] = _dumps  # the C encoder: the usual reply carries no bytes and needs no hook
    try:
        try:
            text = _dumps(message)
        except TypeError:
            dumps = _binary_dumps(binary)
            text = dumps(message)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        python_type, path = _offender(message, exc)
        raise NotSerializable(python_type, str(exc), path) from None
    if _TAG_TEXT in text and (not binary or text.count(_TAG_TEXT) > len(binary)):
        path = _reserved_key(message)
        if path is not None:
            raise NotSerializable("dict", "the key %r is reserved by pyleash" % TAG, path)
    if _LONG_DIGITS.search(text):
        tagged = _tag_big_ints(message)
        if tagged is not message:
            del binary[:]
            message, text = tagged, dumps(tagged)
    try:
        frame = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): escaped, it crosses exactly, as JavaScript allows it
        del binary[:]
        frame = _binary_dumps(binary, ascii_only=True)(message).encode("ascii")
    if not binary:
        return [frame]
    return [b"%s,\"%s\":%d}" % (frame[:-1], BINARY_KEY.encode(), len(binary))] + binary


def _binary_dumps(binary: List[Any], ascii_only: bool = False) -> Callable[[Any], str]:
    """A JSON encoder that moves bytes-like values out to `binary` and writes a tag in their place."""
    plain = _dumps_ascii if ascii_only else _dumps

    def out_of_band(value: Any) -> Any:
        if isinstance(value, BYTES_LIKE):
            binary.append(_frame_of(value))
            return {TAG: "bytes", "value": str(len(binary) - 1)}
        raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)

    def dumps(value: Any) -> str:
        # The C encoder without a default hook is the fast path; it raises on the first bytes-like value.
        try:
            return plain(value)
        except TypeError:
            del binary[:]
            # made only when needed: building an encoder costs more than encoding a short reply
            return json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=ascii_only,
                                    default=out_of_band).encode(value)
    return dumps


def _frame_of(value: Any) -> Any:
    """A bytes-like value as a frame's payload: bytes and bytearray as they are, a memoryview as flat bytes
    (a view, no copy, when it is contiguous; a copy when it is strided)."""
    if not isinstance(value, memoryview):
        return value
    if value.contiguous:
        return value.cast("B") if value.format != "B" or value.ndim != 1 else value
    return value.tobytes()


def binary_count(frame: Any) -> int:
    """How many binary frames follow this JSON frame (0 for most): read from its last bytes, without decoding."""
    if len(frame) < 4 or frame[-2] not in _DIGITS:
        return 0
    match = _BINARY_TAIL.search(frame, max(0, len(frame) - _BINARY_TAIL_BYTES))
    return int(match.group(1)) if match else 0


_DIGITS = frozenset(b"0123456789")


def decode(frame: bytes, binary: Sequence[bytes] = ()) -> Dict[str, Any]:
    """Decode one request frame, reviving tagged values (a `bytes` tag as the binary frame it names, as it came:
    no copy); raises ProtocolError when it is not a JSON object with a type (carrying the request's id when the
    frame starts with one, so that even a broken request is answered)."""
    try:
        text = frame.decode("utf-8")  # the wire is UTF-8 (RFC 8259); json.loads(bytes) would guess
        if _TAG_TEXT not in text:  # the str's search: a third of the bytes one's time
            message = _fast_loads(text)
        elif binary:
            message = json.JSONDecoder(object_hook=lambda obj: _revive(obj, binary)).decode(text)
        else:
            message = _loads_tagged(text)
    except RecursionError:
        raise ProtocolError("the message is nested too deeply to decode", salvage_id(frame)) from None
    except (ValueError, UnicodeDecodeError) as exc:  # 3.11+ refuses integers of more than 4300 digits here too
        raise ProtocolError("frame is not JSON: %s" % _short(exc), salvage_id(frame)) from None
    if not isinstance(message, dict):
        raise ProtocolError("message is a JSON %s, not an object" % type(message).__name__)
    if message.pop(BINARY_KEY, 0) != len(binary):
        raise ProtocolError("the message's %r does not match its %d binary frames" % (BINARY_KEY, len(binary)),
                            _integer(message.get("id")))
    if not isinstance(message.get("type"), str):
        raise ProtocolError("message has no string 'type'", _integer(message.get("id")))
    return message


def salvage_id(frame: bytes) -> Optional[int]:
    """The top-level integer id of a request that could not be decoded, or None.

    A scan of the frame's structure (strings, escapes, nesting), not a parse: it needs no recursion, so it works
    where the decoder gave up. The controller writes "id" first, so it is usually found in the first bytes.
    """
    depth = 0
    i, n = 0, min(len(frame), _ID_SCAN_LIMIT)
    while i < n:
        c = frame[i]
        if c == 0x22:  # a string: a key when it is followed by ':' at depth 1
            end = i + 1
            while end < n and frame[end] != 0x22:
                end += 2 if frame[end] == 0x5C else 1
            if depth == 1 and frame[i + 1:end] == b"id":
                match = _ID_VALUE.match(frame, end + 1, n)
                if match:
                    return int(match.group(1))
            i = end + 1
            continue
        if c in (0x7B, 0x5B):  # { [
            depth += 1
        elif c in (0x7D, 0x5D):  # } ]
            depth -= 1
        i += 1
    return None


def _integer(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _revive(obj: Dict[str, Any], binary: Sequence[bytes] = ()) -> Any:
    tag = obj.get(TAG)
    if tag is None:
        return obj
    value = obj.get("value")
    if not isinstance(value, str) or len(obj) != 2:
        raise ValueError("malformed tagged value %r" % (obj,))
    if tag == "int":
        return int(value)
    if tag == "float":
        return float(value)
    if tag == "bytes":
        if not value.isdigit() or int(value) >= len(binary):
            raise ValueError("a bytes tag names binary frame %r of %d" % (value[:20], len(binary)))
        return binary[int(value)]
    raise ValueError("unknown tag %r" % (tag,))


_loads_tagged = json.JSONDecoder(object_hook=_revive).decode


def _tag_big_ints(value: Any) -> Any:
    """`value` with every int beyond ±(2^53-1) tagged; the same object when there is none (no copy)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {TAG: "int", "value": str(value)} if abs(value) > MAX_SAFE_INTEGER else value
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            tagged = _tag_big_ints(item)
            if tagged is not item:
                if out is None:
                    out = dict(value)
                out[key] = tagged
        return value if out is None else out
    if isinstance(value, (list, tuple)):
        items = None
        for i, item in enumerate(value):
            tagged = _tag_big_ints(item)
            if tagged is not item:
                if items is None:
                    items = list(value)
                items[i] = tagged
        return value if items is None else items
    return value


def _walk(value: Any, limit: int = 1_000_000) -> Any:
    """(item, path) for every item of a JSON-like value, depth first; bounded in count. A container met again (shared,
    or a cycle) is yielded but not walked twice, so a circular value ends the walk instead of growing its paths."""
    stack: List[Tuple[Any, str]] = [(value, "")]
    walked = set()
    seen = 0
    while stack and seen < limit:
        seen += 1
        item, path = stack.pop()
        yield item, path
        if isinstance(item, (dict, list, tuple)):
            if id(item) in walked:
                continue
            walked.add(id(item))
        if isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                stack.append((inner, _join(path, key)))
        elif isinstance(item, (list, tuple)):
            for i in range(len(item) - 1, -1, -1):
                stack.append((item[i], "%s[%d]" % (path, i)))


def _join(path: str, key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return "%s.%s" % (path, key) if path else key
    return "%s[%s]" % (path, json.dumps(key) if isinstance(key, str) else repr(key))


def _reserved_key(message: Any) -> Optional[str]:
    for item, path in _walk(message):
        if isinstance(item, dict) and TAG in item:
            return _join(path, TAG)
    return None


def ok(request_id: Any, result: Any) -> Dict[str, Any]:
    return {"id": request_id, "status": "ok", "result": result}


def error(request_id: Any, kind: str, exc: BaseException, with_traceback: bool = True) -> Dict[str, Any]:
    payload: Dict[str, Any] = {"kind": kind, "type": type(exc).__name__, "message": str(exc)}
    if with_traceback and exc.__traceback__ is not None:
        import traceback  # on first use: with tokenize and textwrap it costs the idle agent ~0.3 MB

        payload["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, NotSerializable):
        payload["pythonType"] = exc.python_type
        if exc.path:
            payload["path"] = exc.path
    return {"id": request_id, "status": "error", "error": payload}


def _offender(message: Any, exc: BaseException, binary: bool = False) -> Tuple[str, Optional[str]]:
    """The first thing JSON refuses in the message, and where: the exception text alone is vague for NaN.
    Bytes-like values cross as frames, so they are offenders only where `binary` says frames cannot go."""
    for item, path in _walk(message):
        if isinstance(item, BYTES_LIKE):
            if binary:
                return type_name(item), path
            continue
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    return type_name(key) + " (as a dict key)", path
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return "float (%r)" % item, path
        elif item is not None and not isinstance(item, (str, bool, int, list, tuple)):
            return type_name(item), path
    if isinstance(exc, RecursionError):
        return "nesting", None
    if isinstance(exc, ValueError) and "ircular" in str(exc):
        return "circular reference", _cycle(message)
    return type(exc).__name__, None


def _cycle(value: Any, limit: int = 100_000) -> Optional[str]:
    """The path of the first container that holds one of its own ancestors (what JSON calls circular), or None."""
    stack: List[Tuple[Any, str, frozenset]] = [(value, "", frozenset())]
    seen = 0
    while stack and seen < limit:
        seen += 1
        item, path, ancestors = stack.pop()
        if not isinstance(item, (dict, list, tuple)):
            continue
        if id(item) in ancestors:
            return path
        inner = ancestors | {id(item)}
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in children:
            stack.append((child, _join(path, key) if isinstance(item, dict) else "%s[%d]" % (path, key), inner))
    return None


def type_name(value: Any) -> str:
    """`int`, `set`, `decimal.Decimal`: the name a user would import."""
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else "%s.%s" % (cls.__module__, cls.__qualname__)
