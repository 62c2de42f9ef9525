"""`python -m pyleash serve`: its options, key handling and refusals (no controller needed for these)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import unittest

from pyleash import contract
from pyleash.serve import ServeError, is_loopback, resolve_curve

PY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"  # a z85 string of the right length (40 characters)

try:
    import zmq
except ImportError:
    zmq = None  # type: ignore[assignment]


def serve(*args: str, env: "dict[str, str] | None" = None) -> "subprocess.CompletedProcess[str]":
    full = dict(os.environ, PYTHONPATH=PY)
    for name in ("PYLEASH_SERVER_KEY", "PYLEASH_SECRET_KEY"):
        full.pop(name, None)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "pyleash", "serve"] + list(args), env=full, capture_output=True,
                          text=True, timeout=30)


class LoopbackTest(unittest.TestCase):
    def test_loopback_addresses(self) -> None:
        for endpoint in ("tcp://127.0.0.1:7000", "tcp://127.1.2.3:7000", "tcp://localhost:7000", "tcp://[::1]:7000",
                         "ipc:///tmp/x.sock"):
            self.assertTrue(is_loopback(endpoint), endpoint)

    def test_other_addresses(self) -> None:
        for endpoint in ("tcp://10.0.0.1:7000", "tcp://0.0.0.0:7000", "tcp://example.com:7000", "tcp://[fe80::1]:1"):
            self.assertFalse(is_loopback(endpoint), endpoint)


class RefusalTest(unittest.TestCase):
    def test_non_loopback_without_curve_is_refused(self) -> None:
        done = serve("--connect", "tcp://10.255.255.1:7000", "--no-supervise")
        self.assertEqual(done.returncode, contract.EXIT_CODES["insecureRefused"], done.stderr)
        self.assertIn("--insecure", done.stderr)

    def test_insecure_warns_loudly(self) -> None:
        # 0.0.0.0 is not loopback by address, yet Linux refuses a connect to it at once: the agent warns, then fails.
        done = serve("--connect", "tcp://0.0.0.0:1", "--no-supervise", "--insecure", "--transport", "builtin")
        self.assertIn("WARNING: --insecure", done.stderr)
        self.assertEqual(done.returncode, contract.EXIT_CODES["cannotConnect"], done.stderr)

    def test_bad_endpoint(self) -> None:
        done = serve("--connect", "http://127.0.0.1:7000", "--no-supervise")
        self.assertEqual(done.returncode, contract.EXIT_CODES["badConfig"], done.stderr)
        self.assertIn("--connect must be", done.stderr)

    def test_server_key_without_secret_key(self) -> None:
        done = serve("--connect", "tcp://127.0.0.1:7000", "--server-key", KEY, "--no-supervise")
        self.assertEqual(done.returncode, contract.EXIT_CODES["badConfig"], done.stderr)
        self.assertIn("--key-file", done.stderr)

    def test_server_key_that_begins_with_a_dash(self) -> None:
        # z85's alphabet has "-": about one key in 85 begins with it, and argparse took it for an option.
        done = serve("--connect", "tcp://127.0.0.1:7000", "--server-key", "-" + KEY[1:], "--no-supervise")
        self.assertEqual(done.returncode, contract.EXIT_CODES["badConfig"], done.stderr)
        self.assertIn("--key-file", done.stderr)

    def test_no_secret_key_option_on_argv(self) -> None:
        self.assertNotIn("--secret-key", serve("--help").stdout)


class KeyTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pyleash-keys-")

    def tearDown(self) -> None:
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def write(self, name: str, text: str, mode: int) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, mode)
        return path

    def test_no_server_key_means_no_curve(self) -> None:
        self.assertIsNone(resolve_curve(None, None, None, {}))

    def test_short_key_is_refused(self) -> None:
        with self.assertRaisesRegex(ServeError, "40-character"):
            resolve_curve("short", None, None, {})
        with self.assertRaisesRegex(ServeError, "PYLEASH_SERVER_KEY"):
            resolve_curve(None, None, None, {"PYLEASH_SERVER_KEY": "short"})

    def test_world_readable_secret_key_file_is_refused(self) -> None:
        path = self.write("agent.key", KEY, 0o644)
        with self.assertRaisesRegex(ServeError, "chmod 600"):
            resolve_curve(KEY, None, path, {})

    def test_missing_key_file(self) -> None:
        with self.assertRaisesRegex(ServeError, "cannot read"):
            resolve_curve(KEY, None, os.path.join(self.dir, "absent"), {})

    @unittest.skipUnless(zmq is not None, "pyzmq is not importable")
    def test_keys_from_files_and_env(self) -> None:
        public, secret = zmq.curve_keypair()
        server = self.write("server.pub", KEY, 0o644)
        own = self.write("agent.key", secret.decode(), 0o600)
        self.assertEqual(resolve_curve(None, server, own, {}), (KEY.encode(), public, secret))
        env = {"PYLEASH_SERVER_KEY": KEY, "PYLEASH_SECRET_KEY": secret.decode()}
        self.assertEqual(resolve_curve(None, None, None, env), (KEY.encode(), public, secret))


if __name__ == "__main__":
    unittest.main()
