"""pyleash.bundle: the agent as one zipapp, made and run by this interpreter (any CPython >= 3.8)."""
from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys
import tempfile
import unittest
import zipfile

from pyleash import bundle, contract


class Bundle(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.out = os.path.join(self.dir.name, "agent.pyz")

    def run_pyz(self, *args: str) -> "subprocess.CompletedProcess[str]":
        env = dict(os.environ, PYTHONPATH="")  # whatever it runs must come from the archive
        return subprocess.run([sys.executable, self.out] + list(args), env=env, capture_output=True, text=True, timeout=30)

    def test_holds_the_package_without_tests_caches_or_experiments(self) -> None:
        files = bundle.build(self.out)
        with zipfile.ZipFile(self.out) as z:
            names = set(z.namelist())
        self.assertEqual(set(files), {n for n in names if not n.endswith("/")})
        for needed in ("__main__.py", "pyleash/__init__.py", "pyleash/serve.py", "pyleash/supervisor.py", "pyleash/contract.json"):
            self.assertIn(needed, names)
        self.assertEqual([n for n in names if "__pycache__" in n or "experiments" in n or n.endswith(".pyc")], [])
        self.assertFalse(bundle.included(pathlib.PurePath("tests/test_bundle.py")))
        self.assertTrue(os.stat(self.out).st_mode & stat.S_IXUSR)

    def test_runs_serve_and_version_from_the_archive_alone(self) -> None:
        bundle.build(self.out)
        version = self.run_pyz("--version")
        self.assertEqual(version.returncode, 0, version.stderr)
        self.assertIn("on Python %d.%d.%d" % sys.version_info[:3], version.stdout)
        usage = self.run_pyz("nonsense")
        self.assertEqual(usage.returncode, 2)
        self.assertIn("usage: python agent.pyz serve", usage.stderr)
        refused = self.run_pyz("serve", "--connect", "tcp://192.0.2.1:7000")  # reads the contract from inside the zip
        self.assertEqual(refused.returncode, contract.EXIT_CODES["insecureRefused"], refused.stderr)

    def test_an_out_that_cannot_be_written_fails_clearly_and_leaves_nothing(self) -> None:
        missing = os.path.join(self.dir.name, "no-such-dir", "agent.pyz")
        done = subprocess.run([sys.executable, "-m", "pyleash.bundle", "--out", missing], capture_output=True, text=True,
                              timeout=30, env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(bundle.__file__))))
        self.assertEqual(done.returncode, 1)
        self.assertIn("cannot write %s" % missing, done.stderr)
        self.assertEqual(os.listdir(self.dir.name), [])


if __name__ == "__main__":
    unittest.main()
