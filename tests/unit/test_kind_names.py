"""Nothing outside a kind's own module compares a task's kind to a kind's name.

The engine, the loader, notifications and the UI ask a kind what it can do (``StartsWorkflow``,
``LoadsConnection``, ``Expands``) instead, so that a plugin's kind gets the same treatment
as podium's own.
"""

from __future__ import annotations

import ast
from pathlib import Path

from podium.kinds.registry import LATER, all_kinds

SOURCE = Path(__file__).resolve().parents[2] / "src" / "podium"
KIND_HOME = SOURCE / "kinds"


def kind_name_comparisons(source: Path) -> list[str]:
    """``x.kind == "extract"``, ``task.kind in ("model", "check")`` and the like."""
    names = {kind.name for kind in all_kinds()} | set(LATER)
    found = []
    for path in sorted(source.rglob("*.py")):
        if path.is_relative_to(KIND_HOME):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            reads_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides)
            literals = {
                c.value
                for side in sides
                for c in ast.walk(side)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
            if reads_kind and literals & names:
                found.append(f"{path.relative_to(source.parent)}:{node.lineno}")
    return found


def test_no_module_outside_kinds_compares_a_kind_name() -> None:
    assert kind_name_comparisons(SOURCE) == []


def test_the_walk_finds_a_comparison(tmp_path: Path) -> None:
    source = tmp_path / "podium"
    (source / "engine").mkdir(parents=True)
    (source / "engine" / "loop.py").write_text(
        "def claim(task):\n    if task.kind == 'workflow':\n        return 1\n"
    )
    assert kind_name_comparisons(source) == ["podium/engine/loop.py:2"]
