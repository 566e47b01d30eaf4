"""Every PodiumError podium defines is drawn, under its real parent, in errors.py's tree."""

from __future__ import annotations

import importlib
import pkgutil
import re

import podium
from podium import errors
from podium.errors import PodiumError


def drawn_tree() -> dict[str, str]:
    """Class name → its parent's name, read from the drawing in errors.py's docstring."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^([\s│]*(?:[├└]── )?)([A-Z][A-Za-z]+)\b", line)
        if not match or ("── " not in match.group(1) and match.group(2) != "PodiumError"):
            continue  # a line of a description, not of the tree
        depth = len(match.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[match.group(2)] = stack[-1][1]
        stack.append((depth, match.group(2)))
    return parents


def defined_errors() -> list[type[PodiumError]]:
    for info in pkgutil.walk_packages(podium.__path__, "podium."):
        if ".templates" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found: list[type[PodiumError]] = []
    todo: list[type[PodiumError]] = [PodiumError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__.startswith("podium")]


def test_every_podium_error_is_in_the_documented_tree_under_its_parent() -> None:
    tree = drawn_tree()
    wrong = []
    for cls in defined_errors():
        if cls is PodiumError:
            continue
        parent = cls.__bases__[0].__name__
        if tree.get(cls.__name__) != parent:
            wrong.append(
                f"{cls.__module__}.{cls.__name__} (a {parent}): drawn under "
                f"{tree.get(cls.__name__)!r}"
            )
    assert wrong == [], "draw them in podium/errors.py's docstring:\n" + "\n".join(wrong)


def test_the_drawing_is_read() -> None:
    tree = drawn_tree()
    assert tree["NotFoundError"] == "UsageError"
    assert tree["StoreUnavailableError"] == "StoreError"
    assert tree["ChecksFailed"] == "TerminalTaskError"
    assert tree["TaskError"] == "PodiumError"
