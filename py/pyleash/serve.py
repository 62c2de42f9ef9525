"""Remote agent: `python -m pyleash serve --connect tcp://HOST:PORT` joins a listening controller (docs/distributed.md).

Keys come from files or the environment, never argv. Without --no-supervise a small stdlib parent (pyleash.supervisor)
runs the agent as its child, restarts it after a crash or on the controller's word, and while --reconnect-for allows.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import stat
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pyleash import contract

EXIT_CONNECT = contract.EXIT_CODES["cannotConnect"]
EXIT_LOST = contract.EXIT_CODES["controllerLost"]
EXIT_INSECURE = contract.EXIT_CODES["insecureRefused"]
EXIT_CONFIG = contract.EXIT_CODES["badConfig"]
DEFAULT_HEARTBEAT_MS = 1000


class ServeError(Exception):
    """A bad option or key; the message names it. `code` is the process exit status."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


def is_loopback(endpoint: str) -> bool:
    """True for ipc:// and tcp:// to a loopback address (127.0.0.0/8, ::1, localhost)."""
    if endpoint.startswith("ipc://"):
        return True
    host = endpoint[6:].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_key(path: str, what: str, private: bool) -> bytes:
    try:
        st = os.stat(path)
        if private and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ServeError("%s %s is readable by group or others (mode %o): chmod 600 it" % (what, path, st.st_mode & 0o777))
        with open(path, "rb") as f:
            return _z85(f.read().strip(), what)
    except OSError as exc:
        raise ServeError("cannot read %s %s: %s" % (what, path, exc)) from None


def _z85(key: bytes, what: str) -> bytes:
    if len(key) != 40:
        raise ServeError("%s must be a 40-character z85 CURVE key, got %d characters" % (what, len(key)))
    return key


def resolve_curve(server_key: Optional[str], server_key_file: Optional[str], key_file: Optional[str],
                  env: Dict[str, str]) -> Optional[Tuple[bytes, bytes, bytes]]:
    """(server public, own public, own secret) from files or env, or None when no server key is given."""
    if server_key is not None:
        server = _z85(server_key.encode(), "--server-key")
    elif server_key_file is not None:
        server = _read_key(server_key_file, "--server-key-file", private=False)
    elif env.get("PYLEASH_SERVER_KEY"):
        server = _z85(env["PYLEASH_SERVER_KEY"].encode(), "PYLEASH_SERVER_KEY")
    else:
        return None
    if key_file is not None:
        secret = _read_key(key_file, "--key-file", private=True)
    elif env.get("PYLEASH_SECRET_KEY"):
        secret = _z85(env["PYLEASH_SECRET_KEY"].encode(), "PYLEASH_SECRET_KEY")
    else:
        raise ServeError("a server key needs the agent's own secret key: --key-file PATH or PYLEASH_SECRET_KEY")
    try:
        import zmq
    except ImportError:
        raise ServeError("CURVE needs pyzmq on this host: pip install pyzmq", EXIT_INSECURE) from None
    return server, zmq.curve_public(secret), secret


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pyleash serve", description="Join a pyleash controller listening on tcp.")
    p.add_argument("--connect", required=True, help="the controller's endpoint, e.g. tcp://10.0.0.1:7000")
    p.add_argument("--server-key", help="the controller's CURVE public key (z85; public, so argv is fine)")
    p.add_argument("--server-key-file", help="file holding the controller's CURVE public key")
    p.add_argument("--key-file", help="file holding this agent's CURVE secret key (mode 0600); or PYLEASH_SECRET_KEY")
    p.add_argument("--insecure", action="store_true", help="allow the unencrypted built-in transport off loopback")
    p.add_argument("--reconnect-for", type=float, default=0.0, metavar="SECONDS",
                   help="keep trying this long after the controller is lost, then exit (default 0)")
    p.add_argument("--heartbeat-ms", type=int, default=DEFAULT_HEARTBEAT_MS, help="ZMTP PING interval (pyzmq)")
    p.add_argument("--lifeline-fd", type=int, help="exit when this pipe closes")
    p.add_argument("--no-supervise", action="store_true", help="run the agent in this process, without a parent")
    p.add_argument("--transport", choices=contract.TRANSPORTS, default="auto")
    p.add_argument("--connect-timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    return p


def serve(connect: str, *, server_key: Optional[str] = None, server_key_file: Optional[str] = None,
          key_file: Optional[str] = None, insecure: bool = False, reconnect_for: float = 0.0,
          heartbeat_ms: int = DEFAULT_HEARTBEAT_MS, lifeline_fd: Optional[int] = None, supervise: bool = True,
          transport: str = "auto") -> int:
    """Join the controller at `connect`; returns (or exits with) a contract exit code when it is gone."""
    argv = ["--connect", connect, "--reconnect-for", str(reconnect_for), "--heartbeat-ms", str(heartbeat_ms),
            "--transport", transport]
    for flag, value in (("--server-key", server_key), ("--server-key-file", server_key_file), ("--key-file", key_file),
                        ("--lifeline-fd", lifeline_fd)):
        if value is not None:
            argv += [flag, str(value)]
    if insecure:
        argv.append("--insecure")
    if not supervise:
        argv.append("--no-supervise")
    return run(argv)


def run(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    try:
        curve = resolve_curve(args.server_key, args.server_key_file, args.key_file, dict(os.environ))
        if not args.connect.startswith(("tcp://", "ipc://")):
            raise ServeError("--connect must be tcp://HOST:PORT or ipc://PATH, got %r" % args.connect)
        kind = args.transport
        if curve is not None:
            if kind == "builtin":
                raise ServeError("the built-in transport has no CURVE: use --transport pyzmq or auto")
            kind = "pyzmq"
        elif not is_loopback(args.connect):
            if not args.insecure:
                raise ServeError("refusing unencrypted %s off loopback: give --server-key/--key-file for CURVE, or "
                                 "--insecure to send everything in clear text" % args.connect, EXIT_INSECURE)
            sys.stderr.write("pyleash-agent: WARNING: --insecure: every request and result to %s crosses the network "
                             "unencrypted and unauthenticated\n" % args.connect)
    except ServeError as exc:
        sys.stderr.write("pyleash-agent: %s\n" % exc)
        return exc.code
    if args.lifeline_fd is not None:
        from pyleash import lifeline

        lifeline.watch(args.lifeline_fd, None)
    if args.no_supervise:
        return _agent(args.connect, kind, curve, args.heartbeat_ms, args.connect_timeout)
    from pyleash.supervisor import supervise

    return supervise(_without(list(argv), "--lifeline-fd") + ["--no-supervise"], args.reconnect_for, args.connect, kind,
                     curve, args.heartbeat_ms)


def _without(argv: List[str], flag: str) -> List[str]:
    """argv less `flag VALUE` / `flag=VALUE` (the supervisor gives its child a lifeline of its own)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return out


def _agent(endpoint: str, kind: str, curve: Optional[Tuple[bytes, bytes, bytes]], heartbeat_ms: int,
           connect_timeout: float) -> int:
    from pyleash import agent as boot
    from pyleash.transport import TransportError, open_transport

    try:
        transport = open_transport(endpoint, kind, curve=curve, heartbeat_ms=heartbeat_ms,
                                   connect_timeout=connect_timeout)
    except TransportError as exc:
        sys.stderr.write("pyleash-agent: cannot connect to %s: %s\n" % (endpoint, exc))
        return EXIT_CONNECT
    hello_extra: Dict[str, Any] = {"host": socket.gethostname(), "remote": True}
    supervisor = os.environ.get(contract.CONTRACT["supervisor"]["idEnv"])  # pyleash.supervisor's id: the controller pairs us by it
    if supervisor:
        hello_extra["supervisor"] = supervisor
    if os.environ.get("PYLEASH_AGENT_TAG"):
        hello_extra["tag"] = os.environ["PYLEASH_AGENT_TAG"]  # what its launcher calls it (a Ray actor's name)
    boot.serve_on(transport, os.environ.get("PYLEASH_TOKEN", ""), hello_extra, lost_exit=EXIT_LOST)
    return 0
