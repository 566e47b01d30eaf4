"""The import layers of docs/architecture.md hold: no upward import, no package cycle.

Every import statement in src/podium counts, those inside functions too (an import hidden
in a function to dodge a cycle is still a cycle).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "podium"
LEFT_OUT = ("templates",)  # projects `podium init` copies: user code, which imports podium


def documented_layers() -> list[list[str]]:
    """The ```layers block of docs/architecture.md, lowest first."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    match = re.search(r"```layers\n(.*?)```", text, re.S)
    assert match, "docs/architecture.md has no ```layers block"
    return [line.split() for line in match.group(1).splitlines() if line.strip()]


def component(module: str) -> str:
    """``podium.engine.loop`` → ``engine``; ``podium.errors`` → ``errors``; ``podium`` →
    ``podium`` (the package's __init__)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "podium"


def module_name(path: Path, source: Path = SOURCE) -> str:
    parts = list(path.relative_to(source.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, source: Path = SOURCE) -> list[tuple[str, int]]:
    """(imported module, line) for every podium import in the file."""
    module = module_name(path, source)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "podium":  # from podium import clock: the module, not the package
                found += [(f"podium.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((name, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name.split(".")[0] == "podium"]


def _is_module(source: Path, name: str) -> bool:
    return (source / name).is_dir() or (source / f"{name}.py").is_file()


def edges(source: Path = SOURCE) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) components → where."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(source.rglob("*.py")):
        here = component(module_name(path, source))
        if here in LEFT_OUT:
            continue
        for name, line in imports_of(path, source):
            there = component(name)
            if not _is_module(source, there):  # from podium import __version__
                there = "podium"
            if there != here:
                where = path.relative_to(source.parent.parent)
                found[(here, there)].append(f"{where}:{line} imports {name}")
    return found


def test_every_package_has_a_documented_layer() -> None:
    layered = {name for layer in documented_layers() for name in layer}
    present = {
        component(module_name(p)) for p in SOURCE.rglob("*.py") if p.name != "py.typed"
    } - set(LEFT_OUT)
    assert sorted(present - layered) == [], "add them to docs/architecture.md's layers"
    assert sorted(layered - present) == [], "docs/architecture.md names packages that are gone"


def upward_imports(source: Path = SOURCE) -> list[str]:
    rank = {name: i for i, layer in enumerate(documented_layers()) for name in layer}
    return [
        where
        for (here, there), places in sorted(edges(source).items())
        if rank[there] > rank[here]
        for where in places
    ]


def test_no_import_goes_up_the_layers() -> None:
    upward = upward_imports()
    assert upward == [], "\n".join(upward)


def test_no_package_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for here, there in edges():
        graph[here].add(there)
    cycle = _find_cycle(graph)
    assert cycle is None, " → ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_walk_finds_an_upward_import_hidden_in_a_function(tmp_path: Path) -> None:
    """A tree where core imports the engine inside a function, as the old code did to dodge
    cycles: the walk reports it with its file and line, and the cycle it makes."""
    source = tmp_path / "src" / "podium"
    (source / "core").mkdir(parents=True)
    (source / "engine").mkdir()
    (source / "__init__.py").write_text("")
    (source / "core" / "__init__.py").write_text("")
    (source / "engine" / "__init__.py").write_text("from podium.core import model\n")
    (source / "core" / "model.py").write_text(
        "def late() -> None:\n    from ..engine import loop\n"
    )
    assert upward_imports(source) == ["src/podium/core/model.py:2 imports podium.engine"]
    graph: dict[str, set[str]] = defaultdict(set)
    for here, there in edges(source):
        graph[here].add(there)
    assert _find_cycle(graph) == ["core", "engine", "core"]
