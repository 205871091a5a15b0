"""The page's ES modules (``api/static/*.js``) import each other without a cycle.

A cycle works in a browser only while no module uses an import during its own evaluation; it
also means neither module can be read (or tested) without the other. The graph is read from the
``from "./x.js"`` clauses (static imports and re-exports) and ``import("./x.js")`` calls."""

from __future__ import annotations

import re
from pathlib import Path

import deepfake_detect.api

STATIC = Path(deepfake_detect.api.__file__).parent / "static"
_SPECIFIER = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["'](\./[^"']+)["']""")


def import_graph(folder: Path) -> dict[str, set[str]]:
    """Each module's file name -> the file names it imports from the same folder."""
    return {
        path.name: {Path(spec).name for spec in _SPECIFIER.findall(path.read_text(encoding="utf-8"))}
        for path in sorted(folder.glob("*.js"))
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that starts and ends at the same module, or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_the_parser_sees_the_imports_and_every_imported_module_exists() -> None:
    graph = import_graph(STATIC)
    assert {"evidence.js", "client.js"} <= graph["main.js"]
    missing = {(name, target) for name, targets in graph.items() for target in targets if target not in graph}
    assert not missing


def test_the_static_modules_import_each_other_without_a_cycle() -> None:
    cycle = find_cycle(import_graph(STATIC))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a.js": {"b.js"}, "b.js": {"c.js"}, "c.js": {"b.js"}}) == ["b.js", "c.js", "b.js"]
    assert find_cycle({"a.js": {"b.js", "c.js"}, "b.js": {"c.js"}, "c.js": set()}) is None
