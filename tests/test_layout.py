"""The house rules of the package layout (ARCHITECTURE.md): no import circles, rooms of a readable size, and
optional subsystems that ``import agora_recording`` never loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import agora_recording

PACKAGE_DIR = Path(agora_recording.__file__).parent
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300
# Heavy or optional parts: none may be loaded by ``import agora_recording`` (or ``agora_recording.testing``).
OPTIONAL_MODULES = ("redis", "coredis", "uvicorn", "starlette", "fastapi", "rich", "h2")
OPTIONAL_SUBPACKAGES = ("agora_recording.redis", "agora_recording.webhooks", "agora_recording.cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every package module that ``name`` imports anywhere: top level, inside functions, under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one, else a name of ``pkg``.
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def test_no_module_imports_one_that_imports_it_back() -> None:
    """No import circle among the package's modules, counting lazy (in-function) and TYPE_CHECKING imports.

    A package ``__init__`` re-exporting its own submodules is the one allowed direction: submodules never import
    their package's ``__init__`` back (they import the sibling module that defines a name instead).
    """
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    """The checker above can fail: a planted two-module circle and a three-module one are reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_relative_and_lazy_imports_are_seen(tmp_path: Path) -> None:
    """An import inside a function and one under TYPE_CHECKING both count as edges."""
    source = tmp_path / "mod.py"
    source.write_text(
        "import typing\nif typing.TYPE_CHECKING:\n    from agora_recording._client import X\n"
        "def f():\n    from agora_recording import _session\n",
        encoding="utf-8",
    )
    known = {"agora_recording._client", "agora_recording._session", "agora_recording"}
    assert _imports("agora_recording._other", source, known) == {"agora_recording._client", "agora_recording._session"}


def _code_lines(tree: ast.Module, lines: list[str], first: int = 1, last: int | None = None) -> int:
    """Lines of code in ``first..last``: not blank, not a comment, not part of a docstring."""
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            for index, statement in enumerate(node.body):
                is_doc = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                # the docstring, and attribute docstrings (a string right after a statement in a module or class)
                if is_doc and (index == 0 or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
                    docs.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    last = len(lines) if last is None else last
    return sum(
        1
        for number in range(first, last + 1)
        if number not in docs and lines[number - 1].strip() and not lines[number - 1].lstrip().startswith("#")
    )


@pytest.mark.parametrize("name", sorted(_modules()))
def test_every_module_reads_in_one_sitting(name: str) -> None:
    """No module over ~500 lines of code and no class over ~300 (ARCHITECTURE.md: one concept per room).

    Counted as lines of code: blank lines, comments and docstrings do not count, so documenting a room never
    pushes it over, and spacing neither hides nor inflates its size.
    """
    text = _modules()[name].read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    size = _code_lines(tree, lines)
    assert size <= MAX_MODULE_LINES, f"{name} has {size} lines of code"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
            size = _code_lines(tree, lines, node.lineno, node.end_lineno)
            assert size <= MAX_CLASS_LINES, f"class {name}.{node.name} has {size} lines of code"


def test_code_lines_leave_out_docstrings_comments_and_blanks() -> None:
    """The size measure counts code only."""
    text = (
        '"""Doc."""\n\nX = 1\n"""About X."""\n# a comment\n'
        'class A:\n    """Doc."""\n\n    def f(self):\n        return 1\n'
    )
    lines = text.splitlines()
    assert _code_lines(ast.parse(text), lines) == 4  # X = 1, class A:, def f, return 1


def test_importing_the_package_loads_no_optional_part() -> None:
    """``import agora_recording`` (and its testing package) never loads Redis, an ASGI stack, a TUI or the CLI."""
    code = (
        "import sys, agora_recording, agora_recording.testing\n"
        f"bad = [m for m in {OPTIONAL_MODULES + OPTIONAL_SUBPACKAGES!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
