"""The Linux-only parts (prctl, /proc) step aside on other platforms instead of raising."""
import os
import shutil
import signal
import sys
import time
import unittest
from unittest import mock

from pyleash import lifeline

# The experiments' package (experiments/py, beside the library, not shipped): its Child reads a process state.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "py"))
from pyleash_experiments.sacrificial import Child


class OffLinuxTest(unittest.TestCase):
    def test_die_with_parent_does_nothing_off_linux_even_for_a_parent_that_is_gone(self):
        # On Linux a parent pid that is not ours makes the agent exit; elsewhere only the lifeline pipe does.
        with mock.patch.object(sys, "platform", "darwin"):
            self.assertIsNone(lifeline.die_with_parent(os.getppid() + 1))

    @unittest.skipUnless(shutil.which("ps"), "needs ps")
    def test_a_child_state_comes_from_ps_when_there_is_no_proc(self):
        with Child("import time\nwhile True:\n    time.sleep(0.01)\n") as child:
            with mock.patch.object(sys, "platform", "darwin"):
                self.assertIn(child.state(), ("R", "S"))
                os.kill(child.proc.pid, signal.SIGSTOP)
                deadline = time.monotonic() + 10
                while child.state() != "T" and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.assertEqual(child.state(), "T")
                os.kill(child.proc.pid, signal.SIGCONT)


if __name__ == "__main__":
    unittest.main()
