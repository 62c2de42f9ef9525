"""The controller-agent contract, loaded from contract.json (ts/contract.ts is generated from the same file)."""
from __future__ import annotations

import json
import pkgutil
from typing import Any, Callable, Dict, FrozenSet, Optional, Tuple

# Through the package's loader, so that it reads from a zipapp (pyleash.bundle) as well as from a directory.
_data = pkgutil.get_data("pyleash", "contract.json")
if _data is None:
    raise ImportError("pyleash: contract.json is missing beside %s" % __file__)
CONTRACT: Dict[str, Any] = json.loads(_data.decode("utf-8"))

PROTOCOL_VERSION: int = CONTRACT["protocol"]
KINDS: Tuple[str, ...] = tuple(CONTRACT["kinds"])
# a call's lane -> the kind whose stops fit it
LANE_KINDS: Dict[str, str] = {lane: spec["kind"] for lane, spec in CONTRACT["lanes"].items()}
STRATEGIES: Tuple[str, ...] = tuple(CONTRACT["strategies"])
LADDERS: Dict[str, Tuple[str, ...]] = {kind: tuple(spec["ladder"]) for kind, spec in CONTRACT["kinds"].items()}
SUPPORTED: Dict[str, Tuple[str, ...]] = {kind: tuple(spec["strategies"]) for kind, spec in CONTRACT["kinds"].items()}
STOP_DEFAULTS: Dict[str, Any] = CONTRACT["stopDefaults"]
EXIT_CODES: Dict[str, int] = CONTRACT["exitCodes"]
SIGNALS: Dict[str, str] = CONTRACT["signals"]  # names; signal.Signals[name] where the platform has them
FDS: Dict[str, int] = CONTRACT["fds"]
ERROR_KINDS: Tuple[str, ...] = tuple(CONTRACT["errorKinds"])
TRANSPORTS: Tuple[str, ...] = tuple(CONTRACT["transports"])
REQUESTS: Dict[str, Dict[str, Any]] = CONTRACT["requests"]

_LISTS = {"kinds": KINDS, "lanes": tuple(LANE_KINDS), "strategies": STRATEGIES, "transports": TRANSPORTS,
          "taskEndStatuses": tuple(CONTRACT["taskEndStatuses"])}


def error_kind(name: str) -> str:
    """The contract's error kind `name`; a KeyError at import when the contract has no such kind."""
    if name not in CONTRACT["errorKinds"]:
        raise KeyError("contract.json has no error kind %r" % name)
    return name


class ContractError(ValueError):
    """A message that breaks the contract; the text names the field and what was wrong with it."""


def check_request(message: Dict[str, Any]) -> Dict[str, Any]:
    """Check a decoded request against its spec and fill in the defaults of absent optional fields.

    Raises ContractError naming the first bad field. The type must be known (look it up in REQUESTS first).
    """
    kind = message["type"]
    get = message.get
    request_id = get("id")
    if request_id.__class__ is not int and not _is_integer(request_id):
        raise ContractError("%r request needs an integer 'id', got %s" % (kind, _show(request_id)))
    for name, exact, allowed, check in _FAST[kind]:
        value = get(name, _ABSENT)
        if value.__class__ not in exact or (allowed is not None and value not in allowed):  # the usual field passes at once
            _check_field(message, kind, check)
    return message


def _check_field(message: Dict[str, Any], kind: str, check: Tuple[str, bool, Any, bool, Any, Tuple[type, ...]]) -> None:
    """The field `check` names, when it is absent or not of its exact type: its default, or a ContractError."""
    name, optional, default, nullable, expected, _exact = check
    value = message.get(name, _ABSENT)
    if value is _ABSENT:
        if not optional:
            raise ContractError("%r request needs field %r" % (kind, name))
        if isinstance(default, (list, dict)):
            message[name] = json.loads(json.dumps(default))  # a fresh copy: callers may mutate it
        elif default is not None:
            message[name] = default
        return
    if value is None and nullable:
        return
    problem = _type_problem(expected, value, name)
    if problem:
        raise ContractError("%r request field %r %s, got %s" % (kind, name, problem, _show(value)))


def _type_problem(expected: str, value: Any, name: str) -> str:
    """What is wrong with `value` for type `expected`, or ''."""
    if expected is str:  # the commonest, checked first: a call's target
        return "" if isinstance(value, str) else "must be a JSON string"
    if expected in _LISTS:
        return "" if isinstance(value, str) and value in _LISTS[expected] else "must be one of %s" % ", ".join(_LISTS[expected])
    millis = expected == "number" and name.endswith("Ms")
    if _TYPES[expected](value) and not (millis and value < 0):
        return ""
    return "must be a non-negative number of milliseconds" if millis else "must be a JSON %s" % expected


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")


# Made once: check_request runs on every request, calls included.
_TYPES: Dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
    "any": lambda value: True,
}


def _show(value: Any) -> str:
    text = repr(value)
    return "%s (%s)" % (text if len(text) <= 60 else text[:57] + "...", type(value).__name__)


_ABSENT = object()
# The exact classes a field of each type may hold with no further check (bool is not an int here, as in
# _is_integer); numbers (NaN, negative milliseconds) and the contract's lists are checked by _type_problem.
_EXACT: Dict[str, Tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,), "array": (list,),
                                       "object": (dict,)}

# Per request type, its fields as (name, optional, default, nullable, type, exact classes): check_request runs on
# every request, calls included, so the spec is read once here. A string field's type is `str` itself.
_CHECKS: Dict[str, Tuple[Tuple[str, bool, Any, bool, Any, Tuple[type, ...]], ...]] = {
    kind: tuple(
        (name, bool(spec.get("optional")), spec.get("default", STOP_DEFAULTS.get(name) if kind == "stop" else None),
         bool(spec.get("nullable")), str if spec["type"] == "string" else spec["type"], _EXACT.get(spec["type"], ()))
        for name, spec in request["fields"].items())
    for kind, request in REQUESTS.items()
}
# The loop's view of _CHECKS: (name, the classes that pass at once, for a field of one of the contract's lists its
# values (a str passes when it is one), the whole check for _check_field). An optional field with no default may
# also be absent: _ABSENT's class, object, is never what JSON decodes.
_FAST: Dict[str, Tuple[Tuple[str, Tuple[type, ...], Optional[FrozenSet[str]], Tuple[str, bool, Any, bool, Any, Tuple[type, ...]]], ...]] = {
    kind: tuple((check[0], (str,) if check[4] in _LISTS else check[5] + ((object,) if check[1] and check[2] is None else ()),
                 frozenset(_LISTS[check[4]]) if check[4] in _LISTS else None, check) for check in checks)
    for kind, checks in _CHECKS.items()}
