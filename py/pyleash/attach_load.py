"""Make this pyleash package importable in a process that did not start with it on sys.path (pythonia's).

Run by path (runpy.run_path): it puts the package in sys.modules under "pyleash" and leaves sys.path alone, so
nothing else the process imports can be shadowed by pyleash's own module names.
"""
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_loaded = sys.modules.get("pyleash")
if _loaded is None:
    _spec = importlib.util.spec_from_file_location("pyleash", os.path.join(_here, "__init__.py"),
                                                   submodule_search_locations=[_here])
    assert _spec is not None and _spec.loader is not None  # a file location always has a spec and a loader
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["pyleash"] = _module
    try:
        _spec.loader.exec_module(_module)
    except BaseException:
        del sys.modules["pyleash"]
        raise
elif os.path.dirname(os.path.abspath(getattr(_loaded, "__file__", "") or "")) != _here:
    raise ImportError("another pyleash is already imported here (%s); the controller needs its own (%s)"
                      % (getattr(_loaded, "__file__", None), _here))
