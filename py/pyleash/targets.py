"""Resolve a "package.module:attr.path" target to a callable, caching what was found; enforce allowedModules."""
from __future__ import annotations

import importlib
import re
import types
from typing import Any, Callable, Dict, Optional, Tuple

from pyleash import contract

_cache: Dict[str, Callable[..., Any]] = {}
_PATTERN = re.compile(contract.CONTRACT["limits"]["targetPattern"])
_allowed: Optional[Tuple[str, ...]] = None  # None: any importable module (set once at boot, read by every thread)


class TargetError(Exception):
    """The target string is malformed, its module cannot be imported, or the attribute is missing."""


class TargetForbidden(TargetError):
    """The target lies outside the agent's allowedModules."""


def allow_only(modules: Optional[Tuple[str, ...]]) -> None:
    """Restrict targets to these modules and their submodules (None: no restriction). Called once, at boot."""
    global _allowed
    _allowed = None if modules is None else tuple(modules)
    _cache.clear()


def check(target: Any) -> Tuple[str, str]:
    """The module and attribute path of a well-formed, allowed target; raises TargetError or TargetForbidden."""
    if not isinstance(target, str) or not _PATTERN.match(target):
        raise TargetError('expected a target like "package.module:function", got %r' % (target,))
    module_name, attr_path = target.split(":")
    if not _is_allowed(module_name):
        raise TargetForbidden("module %r is not in this agent's allowedModules (target %r)" % (module_name, target))
    return module_name, attr_path


def resolve(target: str) -> Callable[..., Any]:
    found = _cache.get(target)
    if found is not None:
        return found
    module_name, attr_path = check(target)
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise TargetError("no module named %r (target %r)" % (exc.name, target)) from exc
        raise  # the module exists but one of its own imports failed: that is the user's exception
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError("module %r has no attribute %r (target %r)" % (module_name, attr_path, target)) from None
        if isinstance(obj, types.ModuleType) and not _is_allowed(obj.__name__):  # "allowed:os.system" must not pass
            raise TargetForbidden("%r reaches module %r, which is not in this agent's allowedModules" % (target, obj.__name__))
    if not callable(obj):
        raise TargetError("%r is a %s, not a callable" % (target, type(obj).__name__))
    _cache[target] = obj
    return obj


def _is_allowed(module_name: str) -> bool:
    allowed = _allowed
    # pyleash.mapping runs map's chunks; it resolves the user's own target here, so allowedModules still applies
    return allowed is None or module_name == "pyleash.mapping" or any(module_name == m or module_name.startswith(m + ".") for m in allowed)
