"""The fake's rooms: one-way imports (lazy and TYPE_CHECKING imports included), sizes, independence.

Read from the source with ``ast``, so an import hidden inside a function or under ``if TYPE_CHECKING`` counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import agora_recording.testing

PACKAGE = "agora_recording.testing"
ROOT = Path(agora_recording.testing.__file__).parent
MAX_MODULE_LINES = 530  # "no room over ~500 lines"
MAX_CLASS_LINES = 320  # "no class over ~300"


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(ROOT.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """Every module name imported anywhere in ``tree`` (top level, in functions, under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, tree in modules.items():
        graph[name] = {
            target.removeprefix(PACKAGE + ".").split(".")[0]
            for target in _imports(tree)
            if target.startswith(PACKAGE + ".") and target.removeprefix(PACKAGE + ".").split(".")[0] in modules
        } - {name}
    return graph


def test_no_module_of_the_fake_imports_one_that_imports_it_back() -> None:
    graph = _graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(graph.get(current, ()))
        return False

    circles = sorted((a, b) for a, targets in graph.items() for b in targets if reaches(b, a))
    assert circles == []
    assert "_fake" in graph["__init__"]  # the check sees real edges


def test_transports_depend_only_on_the_handler_seam() -> None:
    graph = _graph()
    for transport in ("_transport", "_server"):
        assert graph[transport] <= {"_wire", "_faults"}, transport
    assert graph["_wire"] == set()


def test_the_fake_never_imports_the_code_it_checks() -> None:
    forbidden = ("agora_recording.models", "agora_recording._converter", "agora_recording._rules")
    forbidden += ("agora_recording._client", "agora_recording._session", "agora_recording.webhooks")
    for name, tree in _modules().items():
        if name == "_cli":  # the command line (another room's file) may use the client
            continue
        bad = sorted(t for t in _imports(tree) if t.startswith(forbidden))
        assert bad == [], name


def test_rooms_and_classes_stay_readable_in_one_sitting() -> None:
    for path in sorted(ROOT.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= MAX_MODULE_LINES, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                assert node.end_lineno - node.lineno + 1 <= MAX_CLASS_LINES, (path.name, node.name)
