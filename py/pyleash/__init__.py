"""pyleash agent: Python work started and stopped on command from a TypeScript controller."""
# This file must stay parseable by old interpreters (2.7, 3.6) so that they fail with a clear message.
import sys

MIN_PYTHON = (3, 8)

if sys.version_info < MIN_PYTHON:
    import io
    import json
    import os

    sys.stderr.write(
        "pyleash: needs CPython >= 3.8, this is %s\n" % sys.version.split()[0]
    )
    # The exit status the controller reads as "interpreter too old" is in the contract, like every shared fact.
    with io.open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "contract.json"), encoding="utf-8") as f:
        sys.exit(json.load(f)["exitCodes"]["unsupportedPython"])

__version__ = "0.1.0"

from pyleash.deliveries import TaskStopped  # noqa: E402
from pyleash.current import current_task, should_stop  # noqa: E402
from pyleash.progress_events import progress  # noqa: E402

__all__ = ["TaskStopped", "current_task", "should_stop", "progress", "__version__"]
