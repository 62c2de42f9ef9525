"""Runs the agent's unittest suite and prints its counts as data: the last stdout line is one JSON object.

`python -m tests.run` from py/ (or `python py/tests/run.py`). unittest's own report goes to stderr;
stdout ends with {"run", "passed", "failed", "errors", "skipped"}, each test counted once: a test with a
failing subtest is failed, one that errors anywhere is an error, and passed = run - failed - errors - skipped.
An error outside any test (setUpClass, a module that does not import) counts as one more error, not against
a test that ran. Exit status 0 when the suite was successful, else 1.
"""
import json
import os
import sys
import unittest

TESTS = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(TESTS)


class CountingResult(unittest.TextTestResult):
    """unittest's text result that also records one outcome per test id (subtests fold into their test)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started = set()  # ids of the tests that ran
        self.outcomes = {}  # id -> "failed" | "error" | "skipped"; a started test without one passed

    def startTest(self, test):
        super().startTest(test)
        self.started.add(test.id())

    def _mark(self, test, outcome):
        key = test.id()
        if self.outcomes.get(key) != "error":  # an error outranks a failure or a skip
            self.outcomes[key] = outcome

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "error")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "failed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.started.add(test.id())  # CPython 3.12.1 skips without startTest
        self._mark(test, "skipped")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._mark(test, "failed" if failed else "error")

    def counts(self):
        outcomes = list(self.outcomes.values())
        failed = outcomes.count("failed")
        errors = outcomes.count("error")
        skipped = outcomes.count("skipped")
        passed = len(self.started.difference(self.outcomes))
        # Not testsRun: CPython 3.12.1's leaves skipped tests out (3.8-3.11 and 3.13 count them).
        return {"run": len(self.started), "passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


def main():
    if TOP not in sys.path:
        sys.path.insert(0, TOP)  # run as a script: `tests` and `pyleash` import from py/
    suite = unittest.defaultTestLoader.discover(start_dir=TESTS, top_level_dir=TOP)
    runner = unittest.TextTestRunner(stream=sys.stderr, resultclass=CountingResult)
    result = runner.run(suite)
    sys.stdout.flush()
    print(json.dumps(result.counts()))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
