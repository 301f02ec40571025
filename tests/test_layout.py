"""The core's layout holds: no import circle, no import against the layering, no module too long.

The floors, bottom up (a module imports only from its own floor or below; docs/layout.md):

0. primitives: errors, anchors, options, logs, safeio, jsonl, specs, splits
1. the plugin contract and its machinery: data_api, contexts, distributed, flops, hookspecs,
   plugins, registry, data/
2. plan/: the config and the grid it expands to
3. results/: rows, statistics, leaderboards, reports
4. run/: running a grid
5. cli/ and testing/: the command line and the plugin author's kit
6. __main__ (``python -m sslbench``)
"""
from __future__ import annotations

import ast
from pathlib import Path

import sslbench

ROOT = Path(sslbench.__file__).parent
MAX_LINES = 450
FLOORS = {
    **dict.fromkeys(("errors", "anchors", "options", "logs", "safeio", "jsonl", "specs", "splits"), 0),
    **dict.fromkeys(("data_api", "contexts", "distributed", "flops", "hookspecs", "plugins", "registry", "data",
                     "__init__"), 1),
    "plan": 2, "results": 3, "run": 4, "cli": 5, "testing": 5, "__main__": 6,
}


def _modules() -> dict[str, Path]:
    return {".".join(("sslbench", *p.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__"): p
            for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """Every sslbench module ``path`` imports, at the top or inside a function."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    modules = _modules()
    return {m for m in found if m in modules and m != name}


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS[parts[1]] if len(parts) > 1 else 1


def _graph() -> dict[str, set[str]]:
    # the package `sslbench` itself re-exports lazily: importing it is importing floor 1
    return {name: _imports(name, path) - {"sslbench"} for name, path in _modules().items()}


def test_every_module_has_a_floor():
    assert [m for m in _modules() if m != "sslbench" and m.split(".")[1] not in FLOORS] == []


def test_no_import_goes_up_a_floor():
    upward = [f"{m} (floor {_floor(m)}) imports {d} (floor {_floor(d)})"
              for m, deps in _graph().items() for d in deps if _floor(d) > _floor(m)]
    assert upward == []


def find_circles(graph: dict[str, set[str]]) -> list[str]:
    """Every import circle a depth-first walk of ``graph`` meets, as ``a → b → a``."""
    state: dict[str, str] = {}
    circles: list[str] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                circles.append(" → ".join([*stack[stack.index(dep):], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return circles


def test_no_import_circle():
    assert find_circles(_graph()) == []


def test_the_circle_search_finds_a_circle():
    assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a → b → c → a"]
    assert find_circles({"a": {"b"}, "b": set()}) == []


def test_no_module_is_longer_than_the_limit():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_docs_layout_names_every_module_of_the_core():
    """docs/layout.md shows the tree one line per module: a module added or moved must appear there."""
    text = (ROOT.parent / "docs" / "layout.md").read_text()
    missing = []
    for name, path in _modules().items():
        relative = path.relative_to(ROOT.parent).as_posix()
        if relative.startswith(("sslbench/data/", "sslbench/testing/")) or relative.count("/") > 1 and \
                relative.endswith("/__init__.py"):
            continue  # data/ and testing/ are shown as folders; a package's __init__ by its modules
        if f"\n{relative} " not in text:
            missing.append(relative)
    assert missing == []
