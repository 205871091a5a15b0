"""No module of ``deepfake_detect`` imports itself back through others.

``lint-imports`` (pyproject's ``acyclic_siblings`` contract) checks the modules of each package
against each other; this also catches a package's ``__init__`` in a loop with one of its own
modules, which that contract does not see. Lazy imports inside functions count: a loop through
one still means neither module can be read, or tested, without the other."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest


def import_loops(package: str) -> list[frozenset[str]]:
    """Each group of modules that import each other round (strongly connected, more than one)."""
    graph = grimp.build_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[frozenset[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                loops.append(frozenset(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return loops


def test_no_module_imports_itself_back() -> None:
    loops = [sorted(loop) for loop in import_loops("deepfake_detect")]
    assert loops == [], f"import loops: {loops}"


def test_the_check_finds_a_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "looped"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from looped import b\n")
    (package / "b.py").write_text("def f():\n    from looped.a import x\n")
    (package / "c.py").write_text("from looped import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_loops("looped") == [frozenset({"looped.a", "looped.b"})]
