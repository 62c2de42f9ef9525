"""Entry point: `python -m pyleash` runs the agent (the controller starts it this way); `serve` joins one remotely."""
import pyleash  # noqa: F401  (refuses interpreters older than 3.8 before anything else runs)
import sys

if sys.argv[1:2] == ["serve"]:
    from pyleash.serve import run

    sys.exit(run(sys.argv[2:]))
else:
    from pyleash.agent import main

    main()
