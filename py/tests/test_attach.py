"""The attached agent's pieces without pythonia: CurrentWorkSignalStop's verdicts, and detaching (never exiting) when
the controller's connection is lost. test/pythonia.test.ts runs the whole on real pythonia."""
from __future__ import annotations

import signal
import sys
import threading
import time
import unittest
from typing import Any, List

from pyleash import attach
from pyleash.stop.signal_current import DEFER, DROP, RAISE, CurrentWorkSignalStop
from pyleash.transport import TransportError


class Stopped(Exception):
    pass


@unittest.skipUnless(hasattr(signal, "pthread_kill"), "needs POSIX signals")
class CurrentWorkSignalStopTest(unittest.TestCase):
    """Runs on the main thread (unittest's): a helper thread asks for the stop while the main thread sleeps."""

    def setUp(self) -> None:
        self.verdicts: List[str] = []
        self.answer = RAISE
        self.stop = CurrentWorkSignalStop(self._verdict, Stopped)
        self.stop.install()
        self.addCleanup(self.stop.uninstall)

    def _verdict(self, frame: Any, target: Any) -> str:
        self.verdicts.append(self.answer)
        return self.answer

    def _ask_soon(self, target: Any = "work", delay: float = 0.1) -> threading.Thread:
        helper = threading.Thread(target=lambda: (time.sleep(delay), self.stop.request_stop(target)))
        helper.start()
        self.addCleanup(helper.join)
        return helper

    def test_it_raises_its_exception_in_a_main_thread_sleep(self) -> None:
        self._ask_soon()
        with self.assertRaises(Stopped):
            time.sleep(30)
        self.assertEqual(self.stop.raised, 1)
        self.assertFalse(self.stop.pending)

    def test_a_dropped_request_raises_nothing_and_is_withdrawn(self) -> None:
        self.answer = DROP
        self._ask_soon().join()
        time.sleep(0.05)  # the handler runs between bytecodes of this thread
        self.assertEqual(self.verdicts, [DROP])
        self.assertFalse(self.stop.pending)
        self.assertEqual(self.stop.raised, 0)

    def test_a_deferred_request_stays_pending_until_signalled_again(self) -> None:
        self.answer = DEFER
        self._ask_soon().join()
        time.sleep(0.05)
        self.assertTrue(self.stop.pending)
        self.assertEqual(self.stop.deferred, 1)
        self.answer = RAISE
        with self.assertRaises(Stopped):
            self.stop.resignal()
            time.sleep(5)
        self.assertEqual(self.stop.raised, 1)

    def test_a_cancelled_request_does_nothing_when_its_signal_lands(self) -> None:
        self.stop._requested = True  # as if asked, with the signal still in flight
        self.stop.cancel()
        signal.pthread_kill(threading.main_thread().ident, self.stop.signum)  # type: ignore[arg-type]
        time.sleep(0.05)
        self.assertEqual(self.verdicts, [])


class LostTransport:
    name = "builtin"

    def __init__(self) -> None:
        self.closed = False

    def send(self, frames: Any) -> None:
        pass

    def send_many(self, messages: Any) -> None:
        pass

    def recv(self, timeout: Any) -> Any:
        raise TransportError("the controller is gone")

    def close(self) -> None:
        self.closed = True


class FakeLoop:
    def verdict(self, frame: Any, target: Any) -> str:
        return DROP

    def call_frame(self, frame: Any) -> None:
        return None


class SlowToCloseTransport(LostTransport):
    """Delivers one shutdown request; closing then takes a while, as a control thread waiting for the GIL would."""

    def __init__(self) -> None:
        super().__init__()
        self.replied = threading.Event()
        self._requests = [[b'{"type": "shutdown", "id": 1}']]

    def send(self, frames: Any) -> None:
        self.replied.set()

    def recv(self, timeout: Any) -> Any:
        if self._requests:
            return self._requests.pop()
        raise TransportError("transport is closed")

    def close(self) -> None:
        time.sleep(0.3)
        super().close()


class DetachTest(unittest.TestCase):
    def test_the_hosts_detach_returns_once_pyleash_control_has_ended(self) -> None:
        # The shutdown reply leaves before pyleash-control can end: the controller's next step, detach() on the
        # host's main thread, is what must wait for it.
        attachment = attach.Attachment({}, loop=FakeLoop())
        transport = SlowToCloseTransport()
        attachment.agent = attach.AttachedAgent(transport, 1 << 20, attachment)
        attachment.start_thread(threading.Thread(target=attachment.agent.serve, name="pyleash-control"), None)
        self.assertTrue(transport.replied.wait(10))
        self.assertTrue(attachment.detach(10))
        self.assertEqual([t.name for t in threading.enumerate() if t.name == "pyleash-control"], [])
        self.assertTrue(transport.closed)

    def test_a_thread_that_could_not_start_is_not_waited_for(self) -> None:
        attachment = attach.Attachment({}, loop=FakeLoop())
        failures: List[BaseException] = []
        never = threading.Thread(target=lambda: None)
        never.start = lambda: (_ for _ in ()).throw(RuntimeError("can't start new thread"))  # type: ignore[method-assign]
        attachment.start_thread(never, failures.append)
        for _ in range(1000):
            if failures:
                break
            time.sleep(0.005)
        self.assertEqual(len(failures), 1)
        self.assertTrue(attachment.detach(10))

    def test_losing_the_controller_detaches_and_returns_instead_of_exiting(self) -> None:
        attachment = attach.Attachment({}, loop=FakeLoop())
        transport = LostTransport()
        agent = attach.AttachedAgent(transport, 1 << 20, attachment)
        attachment.agent = agent
        serving = threading.Thread(target=agent.serve)
        serving.start()
        serving.join(10)
        self.assertFalse(serving.is_alive())
        self.assertTrue(attachment.detached.is_set())
        self.assertTrue(transport.closed)

    def test_call_stopped_is_a_task_stopped_that_except_exception_reports(self) -> None:
        from pyleash.deliveries import TaskStopped

        self.assertTrue(issubclass(attach.CallStopped, TaskStopped))
        self.assertTrue(issubclass(attach.CallStopped, Exception))

    def test_attach_is_refused_outside_pythonia(self) -> None:
        from pyleash.attach_pythonia import NotPythonia, PythoniaLoop

        if "Bridge" in sys.modules:
            self.skipTest("a module named Bridge is loaded")
        with self.assertRaises(NotPythonia):
            PythoniaLoop(sys._getframe())


if __name__ == "__main__":
    unittest.main()
