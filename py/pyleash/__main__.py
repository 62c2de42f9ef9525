"""Entry point: `python -m pyleash` runs the agent (the controller starts it this way)."""
import pyleash  # noqa: F401  (refuses interpreters older than 3.8 before anything else runs)
from pyleash.agent import main

main()
