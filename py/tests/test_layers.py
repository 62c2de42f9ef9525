"""The package's layers: the stop engine (pyleash.stop) never imports the task kinds (pyleash.tasks); only
tasks -> stop is allowed. Read from the sources with ast, so imports inside functions and under
TYPE_CHECKING count too."""
from __future__ import annotations

import ast
import os
import unittest
from typing import Dict, Set

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyleash")


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _imports(path: str) -> Set[str]:
    """Every module `path` imports, absolute, with `from pkg import mod` counted as pkg.mod too."""
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), path)
    here = _module_name(path)
    package = here if path.endswith("__init__.py") else here.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found.add(base)
            found.update("%s.%s" % (base, alias.name) for alias in node.names)
    return found


def _graph() -> Dict[str, Set[str]]:
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                graph[_module_name(path)] = _imports(path)
    return graph


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


class LayersTest(unittest.TestCase):
    def setUp(self) -> None:
        self.graph = _graph()

    def test_the_graph_is_read(self) -> None:
        self.assertIn("pyleash.tasks.kind", self.graph["pyleash.tasks.main_kind"])
        self.assertIn("pyleash.stop.stoppable", self.graph["pyleash.stop.ladder"])

    def test_the_stop_engine_does_not_import_the_tasks(self) -> None:
        edges = sorted(
            (module, target)
            for module, targets in self.graph.items()
            if _within(module, "pyleash.stop")
            for target in targets
            if _within(target, "pyleash.tasks")
        )
        self.assertEqual(edges, [])

    def test_the_tasks_use_the_stop_engine_through_a_known_surface(self) -> None:
        # tasks -> stop is the one direction between them: the ladder (StopRun) and its Protocols, the
        # primitives a kind holds (trace, signal_main), the stack readers, async_exc.revoke, with which a task's
        # thread withdraws an exception still pending when its work ends, and rearm (the task wrapper removes a
        # stop's line hook in its own thread, where only it can). A new edge is a decision.
        used = {
            target
            for module, targets in self.graph.items()
            if _within(module, "pyleash.tasks")
            for target in targets
            if _within(target, "pyleash.stop") and target in self.graph
        }
        allowed = {"pyleash.stop.ladder", "pyleash.stop.stoppable", "pyleash.stop.stacks", "pyleash.stop.signal_main",
                   "pyleash.stop.trace", "pyleash.stop.async_exc", "pyleash.stop.rearm"}
        self.assertLessEqual(used, allowed)

    def test_no_module_imports_the_old_names(self) -> None:
        for module, targets in self.graph.items():
            self.assertNotIn("pyleash.errors", targets, module)


if __name__ == "__main__":
    unittest.main()
