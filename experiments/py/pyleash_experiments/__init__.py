"""Experiment bodies for `pyleash experiments`: each function returns a JSON dict of raw observations.

One module per article (a0..a3) plus x for pyleash's own findings; `sacrificial` runs snippets that
may take a process down in a child interpreter that it always cleans up. The controller computes the
verdicts from these observations.
"""
