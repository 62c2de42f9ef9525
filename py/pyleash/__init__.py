"""pyleash agent: Python work started and stopped on command from a TypeScript controller."""
# This file must stay parseable by old interpreters so that they fail with a clear message.
import sys

MIN_PYTHON = (3, 8)
UNSUPPORTED_EXIT = 78  # the controller reads this exit status as "interpreter too old"

if sys.version_info < MIN_PYTHON:
    sys.stderr.write(
        "pyleash: needs CPython >= 3.8, this is %s\n" % sys.version.split()[0]
    )
    sys.exit(UNSUPPORTED_EXIT)

__version__ = "0.1.0"

from pyleash.errors import TaskStopped  # noqa: E402
from pyleash.current import current_task, should_stop  # noqa: E402

__all__ = ["TaskStopped", "current_task", "should_stop", "__version__"]
