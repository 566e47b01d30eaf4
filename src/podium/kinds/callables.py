"""Importing user code by name: ``run`` targets and ``workflows/*.py``.

The project root goes first on ``sys.path`` so that ``tasks.extract:main`` and
``workflows.weekly`` import the same way in this process and in any worker process.
Loading a second project in one process (tests, a server reloading) must not see the first
project's modules, so ``activate_root`` forgets modules that came from a project root.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from podium.errors import UsageError
from podium.settings.yaml_lines import did_you_mean

_IDENTIFIERS = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_TARGET = re.compile(f"{_IDENTIFIERS}:{_IDENTIFIERS}")
_added_roots: list[str] = []  # roots podium put on sys.path, most recent last


def target_problem(target: str) -> str | None:
    """Why ``target`` is not of the form ``module:function``, or None."""
    if _TARGET.fullmatch(target):
        return None
    return f"run target {target!r} must look like module:function (e.g. pipeline.steps:extract)"


def resolve_callable(target: str, root: Path | None = None) -> Callable[..., Any]:
    """The callable named by ``module:function`` (``function`` may be dotted: ``Class.method``).

    Raises UsageError saying what could not be imported and why; file paths in the message
    are relative to ``root`` when given.
    """
    problem = target_problem(target)
    if problem:
        raise UsageError(problem)
    module_name, _, attribute = target.partition(":")
    obj: Any = _import(module_name, target, root)
    for part in attribute.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            hint = did_you_mean(part, names)
            raise UsageError(
                f"run target {target!r}: {getattr(obj, '__name__', module_name)!r} "
                f"has no attribute {part!r}{hint}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"run target {target!r} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def _import(module_name: str, target: str, root: Path | None) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise UsageError(
                f"run target {target!r}: no module named {exc.name!r} "
                "(modules are imported from the project root)"
            ) from exc
        raise UsageError(_import_failure(target, exc, root)) from exc
    except Exception as exc:
        raise UsageError(_import_failure(target, exc, root)) from exc


def _import_failure(target: str, exc: BaseException, root: Path | None) -> str:
    where = failure_location(exc, root)
    at = f" at {where[0]}:{where[1]}" if where else ""
    return f"run target {target!r}: importing it failed{at}: {type(exc).__name__}: {exc}"


def failure_location(exc: BaseException, root: Path | None) -> tuple[str, int] | None:
    """The file and line where ``exc`` happened, preferring the deepest frame under ``root``."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return _show_path(exc.filename, root), exc.lineno
    frames = [
        (frame.filename, frame.lineno or 1)
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<")
    ]
    if root is not None:
        inside = [f for f in frames if _is_under(f[0], str(root.resolve()))]
        frames = inside or frames
    if not frames:
        return None
    file, line = frames[-1]
    return _show_path(file, root), line


def activate_root(root: Path) -> None:
    """Puts ``root`` first on sys.path and forgets modules loaded from earlier roots.

    Only modules whose top-level package lives directly in a project root are forgotten
    (never a virtualenv kept inside the project), plus the ``workflows`` package.
    """
    root_text = str(root.resolve())
    roots = {root_text, *_added_roots}
    for old in _added_roots:
        if old in sys.path:
            sys.path.remove(old)
    _added_roots.clear()
    if root_text in sys.path:  # the user's own entry: move it first, never remove it
        sys.path.remove(root_text)
    else:
        _added_roots.append(root_text)
    sys.path.insert(0, root_text)
    for name in [n for n, m in list(sys.modules.items()) if _is_project_module(n, m, roots)]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _is_project_module(name: str, module: ModuleType | None, roots: set[str]) -> bool:
    top = name.partition(".")[0]
    if top == "workflows":
        return True
    for location in _module_locations(module):
        for root in roots:
            if _is_under(location, root):
                first = os.path.relpath(location, root).split(os.sep)[0]
                if first == top or first.startswith(top + "."):
                    return True
    return False


def _module_locations(module: ModuleType | None) -> Iterator[str]:
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        yield file
    path = getattr(module, "__path__", None)
    if file is None and path is not None:
        yield from (p for p in path if isinstance(p, str))


def _is_under(path: str, root: str) -> bool:
    return os.path.normpath(path).startswith(root + os.sep)


def _show_path(path: str, root: Path | None) -> str:
    if root is not None and _is_under(path, str(root.resolve())):
        return Path(os.path.relpath(path, root.resolve())).as_posix()
    return path
