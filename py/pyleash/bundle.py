"""The agent as one file: `python -m pyleash.bundle --out agent.pyz` makes a stdlib zipapp, run as `python agent.pyz serve`.

Made with the stdlib's zipapp from this package's own files (no tests, no __pycache__: serve never imports them; the
experiments live outside the package, in experiments/py). `main` is the archive's entry point (docs/distributed.md,
"One file for the remote host").
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import zipapp
from typing import List, Optional, Sequence

ENTRY = "pyleash.bundle:main"
INTERPRETER = "/usr/bin/env python3"
LEFT_OUT = ("__pycache__",)  # directories of the package that a remote agent never needs
USAGE = """usage: python agent.pyz serve --connect tcp://HOST:PORT [--server-key-file PATH --key-file PATH] [...]
       python agent.pyz --version

A pyleash remote agent in one file (made by `pyleash bundle`). `serve --help` lists serve's options.
"""


def included(path: pathlib.PurePath) -> bool:
    """Whether a path (relative to the directory above the package) goes into the archive."""
    parts = path.parts
    if not parts or parts[0] != "pyleash":
        return False
    if any(part in LEFT_OUT for part in parts[1:]):
        return False
    return path.suffix not in (".pyc", ".pyo")


def build(out: str, interpreter: Optional[str] = INTERPRETER) -> List[str]:
    """Write the archive to `out` (through a temporary file beside it, so a failure leaves no half archive); returns
    the files it holds, relative to the archive's root."""
    source = pathlib.Path(__file__).resolve().parent.parent
    names = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and included(p.relative_to(source)))
    target = os.path.abspath(out)
    fd, temporary = tempfile.mkstemp(prefix=".pyleash-bundle-", suffix=".pyz", dir=os.path.dirname(target))
    os.close(fd)
    here, scratch = os.getcwd(), tempfile.mkdtemp(prefix="pyleash-bundle-")
    try:
        # zipapp (3.13) skips each file that equals its own name resolved against the working directory: from inside
        # `source` that would be every file. An empty directory of our own is nobody's source.
        os.chdir(scratch)
        try:
            zipapp.create_archive(source, temporary, interpreter=interpreter, main=ENTRY, filter=included, compressed=True)
        finally:
            os.chdir(here)
            os.rmdir(scratch)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, (0o777 if interpreter else 0o666) & ~umask)  # mkstemp made it 0600
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return ["__main__.py"] + names


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The archive's entry point: `serve ...`, `--version`, or usage (exit 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        from pyleash.serve import run

        sys.exit(run(args[1:]))
    if args[:1] in (["--version"], ["-V"]):
        import pyleash

        sys.stdout.write("pyleash %s (agent bundle) on Python %d.%d.%d\n" % ((pyleash.__version__,) + sys.version_info[:3]))
        sys.exit(0)
    (sys.stdout if args[:1] in (["--help"], ["-h"]) else sys.stderr).write(USAGE)
    sys.exit(0 if args[:1] in (["--help"], ["-h"]) else 2)


def _build_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m pyleash.bundle", description="Write the pyleash agent as one zipapp.")
    p.add_argument("--out", required=True, help="the archive to write, e.g. agent.pyz")
    p.add_argument("--interpreter", default=INTERPRETER, help="the archive's #! line (default: %(default)s); '' for none")
    p.add_argument("--json", action="store_true", help="print one JSON object: out, bytes, files, python")
    args = p.parse_args(list(argv))
    try:
        files = build(args.out, args.interpreter or None)
    except OSError as exc:
        sys.stderr.write("pyleash bundle: cannot write %s: %s\n" % (args.out, exc.strerror or exc))
        return 1
    size = os.path.getsize(args.out)
    if args.json:
        import json

        python = "%d.%d.%d" % sys.version_info[:3]
        sys.stdout.write(json.dumps({"out": os.path.abspath(args.out), "bytes": size, "files": files, "python": python}) + "\n")
    else:
        sys.stdout.write("wrote %s (%d files, %d bytes): run it as python3 %s serve --connect tcp://HOST:PORT ...\n"
                         % (args.out, len(files), size, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(_build_main(sys.argv[1:]))
