"""The package's layers: the stop engine (pyleash.stop) never imports the task kinds (pyleash.tasks); only
tasks -> stop is allowed; and no module imports itself through others. Read from the sources with ast, so
imports inside functions and under TYPE_CHECKING count too (the cycle check leaves out those inside functions,
which run later, never at import, and name no type)."""
from __future__ import annotations

import ast
import os
import unittest
from typing import Dict, Iterator, List, Set

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyleash")


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _outside_functions(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `tree` that run at import (or are read by a type checker): all but function bodies."""
    for node in ast.iter_child_nodes(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield node
            yield from _outside_functions(node)


def _imports(path: str, at_import: bool = False) -> Set[str]:
    """Every module `path` imports, absolute, with `from pkg import mod` counted as pkg.mod too; `at_import`:
    only those outside functions (module level, class bodies, `if TYPE_CHECKING:`)."""
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), path)
    here = _module_name(path)
    package = here if path.endswith("__init__.py") else here.rpartition(".")[0]
    found: Set[str] = set()
    for node in (_outside_functions(tree) if at_import else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = ["%s.%s" % (base, alias.name) for alias in node.names]
            found.update(names)
            # `from pkg import mod` needs pkg itself only when it takes a name from pkg's __init__, not a submodule
            # (a package is always imported before its submodules: that is no cycle).
            if not at_import or not all(_is_module(name) for name in names):
                found.add(base)
    return found


def _is_module(name: str) -> bool:
    path = os.path.join(os.path.dirname(PACKAGE), *name.split("."))
    return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))


def _graph(at_import: bool = False) -> Dict[str, Set[str]]:
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                graph[_module_name(path)] = _imports(path, at_import)
    return {module: {t for t in targets if t in graph and t != module} for module, targets in graph.items()}


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Each cycle found by a depth-first walk, as the path that closes it."""
    found: List[List[str]] = []
    state: Dict[str, str] = {}
    path: List[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


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
        # tasks -> stop is the one direction between them: the ladder (StopRun) and its Protocols, the steps a
        # kind brings (steps.KindStep), the primitives a kind holds (trace, signal_main), the stack readers,
        # async_exc.revoke, with which a task's
        # thread withdraws an exception still pending when its work ends, rearm (the task wrapper removes a
        # stop's line hook in its own thread, where only it can), and finally_known (a stopped task's end says
        # whether its finally blocks are known to have run). A new edge is a decision.
        used = {
            target
            for module, targets in self.graph.items()
            if _within(module, "pyleash.tasks")
            for target in targets
            if _within(target, "pyleash.stop") and target in self.graph
        }
        allowed = {"pyleash.stop.ladder", "pyleash.stop.stoppable", "pyleash.stop.steps", "pyleash.stop.stacks", "pyleash.stop.signal_main",
                   "pyleash.stop.trace", "pyleash.stop.async_exc", "pyleash.stop.rearm", "pyleash.stop.batch",
                   "pyleash.stop.finally_known"}
        self.assertLessEqual(used, allowed)

    def test_no_module_imports_itself_through_others_type_level_imports_included(self) -> None:
        graph = _graph(at_import=True)
        self.assertIn("pyleash.stop.stoppable", graph["pyleash.tasks.task"])  # a TYPE_CHECKING import counts
        self.assertNotIn("pyleash.tasks.registry", graph["pyleash.tasks.awaiting"])  # one inside a function does not
        self.assertEqual(_cycles(graph), [])

    def test_the_cycle_check_finds_a_cycle(self) -> None:
        self.assertEqual(_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}), [["a", "b", "c", "a"]])

    def test_no_module_imports_the_old_names(self) -> None:
        for module, targets in self.graph.items():
            self.assertNotIn("pyleash.errors", targets, module)


if __name__ == "__main__":
    unittest.main()
