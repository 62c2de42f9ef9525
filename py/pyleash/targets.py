"""Resolve a "package.module:attr.path" target to a callable, caching what was found."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Dict

_cache: Dict[str, Callable[..., Any]] = {}


class TargetError(Exception):
    """The target string is malformed, its module cannot be imported, or the attribute is missing."""


def resolve(target: str) -> Callable[..., Any]:
    found = _cache.get(target)
    if found is not None:
        return found
    if not isinstance(target, str) or target.count(":") != 1:
        raise TargetError('expected a target like "package.module:function", got %r' % (target,))
    module_name, attr_path = target.split(":")
    if not module_name or not attr_path:
        raise TargetError('expected a target like "package.module:function", got %r' % (target,))
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
    if not callable(obj):
        raise TargetError("%r is a %s, not a callable" % (target, type(obj).__name__))
    _cache[target] = obj
    return obj
