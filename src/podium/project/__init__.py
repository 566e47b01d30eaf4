"""Loading and checking a project folder, and creating one from a template.

    my-brand/
      podium.yaml           store, pools, engine, connections, notifications
      workflows/*.yaml      workflows written in YAML
      workflows/*.py        workflows written with the Python API (podium.Workflow)

``load_project`` reads every file, collects every problem across all of them, and raises
one ``ProjectError`` listing each with its file and line; it never stops at the first.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.errors import Problem, ProjectError, UsageError
from podium.kinds.base import ProjectView
from podium.kinds.callables import activate_root
from podium.notify.settings import all_rules, rule_problems, rule_secrets
from podium.project.config import CONFIG_FILE, read_settings
from podium.project.connection_pools import connection_pools, with_connection_pools
from podium.project.expand import expand_tasks
from podium.project.python_files import read_python_file
from podium.project.validate import ParsedWorkflow, check_project
from podium.project.workflow_yaml import read_workflow_file
from podium.settings.secrets import Interpolator
from podium.settings.yaml_lines import Problems
from podium.transforms.checks import Check
from podium.transforms.models import ModelSet

__all__ = ["load_project", "init_project"]

WORKFLOWS_DIR = "workflows"
_YAML_SUFFIXES = (".yaml", ".yml")


def load_project(
    root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    overlay: Mapping[str, str] | None = None,
) -> Project:
    """The project in ``root``, checked; raises ProjectError listing every problem.

    ``environ`` (default ``os.environ``) supplies ``${VAR}`` values and ``PODIUM_STORE_URL``.
    ``overlay`` maps workflow files (``workflows/daily.yaml``) to the text to read instead
    of what is on disk, new files included: the builder validates what it would save.
    The project root goes first on ``sys.path`` (and stays there) so that ``run`` targets
    and ``workflows/*.py`` import by name, here and in worker processes.
    """
    root = Path(root).resolve()
    environ = os.environ if environ is None else environ
    with _collector_paused():
        return _load(root, environ, overlay or {})


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector while loading.

    Loading allocates hundreds of thousands of small objects that all stay alive; the
    collector would scan them again and again (two thirds of the time for a 10,000-task
    workflow) and find nothing to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_models(root: Path, found: list[Problem]) -> ModelSet | None:
    """The SQL models under ``models/`` (None, with their problems in ``found``, if any).
    sqlglot is imported only for a project that has models."""
    if not (root / "models").is_dir():
        return ModelSet({})
    from podium.transforms.models import load_models

    try:
        return load_models(root)
    except ProjectError as exc:
        found.extend(exc.problems)
        return None


def _read_checks(root: Path, found: list[Problem]) -> list[Check]:
    """The checks of ``checks/*.yaml`` and beside models; their problems go to ``found``."""
    if not (root / "checks").is_dir() and not (root / "models").is_dir():
        return []
    from podium.transforms.checks import load_checks

    try:
        return load_checks(root)
    except ProjectError as exc:
        found.extend(exc.problems)
        return []


def _load(root: Path, environ: Mapping[str, str], overlay: Mapping[str, str]) -> Project:
    if not (root / CONFIG_FILE).is_file():
        message = f"no podium.yaml in {root}; run `podium init` to create one"
        raise ProjectError([Problem(CONFIG_FILE, 0, message)])
    found: list[Problem] = []
    interpolator = Interpolator(environ, root)
    config = Problems(CONFIG_FILE, found)
    text = _read_text(root / CONFIG_FILE, config)
    settings = read_settings(root, text or "", environ, interpolator, config)
    activate_root(root)
    pools = {**connection_pools(settings.connections), **settings.pools}
    parsed = [
        replace(p, workflow=with_connection_pools(p.workflow, pools, settings.syncs))
        for p in _read_workflows(root, interpolator, found, overlay)
    ]
    workflows = {p.workflow.name: p.workflow for p in parsed}
    models = _read_models(root, found)
    checks = _read_checks(root, found)
    view = ProjectView(
        root,
        pools,
        workflows,
        settings.connections,
        models=models,
        syncs=settings.syncs,
        warehouse=settings.warehouse,
    )
    found.extend(check_project(view, parsed))
    found.extend(rule_problems(settings.notifications, workflows))
    secrets = settings.secrets | interpolator.secrets
    secrets |= rule_secrets(all_rules((), workflows))
    if found:  # a secret put where it does not belong must not show in the message
        mask = Masker(secrets)
        raise ProjectError([Problem(p.file, p.line, mask(p.message)) for p in found])
    if models is not None:
        workflows = {
            name: expand_tasks(
                workflow,
                models,
                tuple(checks),
                settings.connections,
                root=root,
                warehouse=settings.warehouse,
            )
            for name, workflow in workflows.items()
        }
    return Project(
        root=str(root),
        store_url=settings.store_url,
        pools=pools,
        engine=settings.engine,
        workflows=workflows,
        secrets=secrets,
        connections=settings.connections,
        warehouse=settings.warehouse,
        notifications=settings.notifications,
        server=settings.server,
        outgoing_webhooks=settings.outgoing_webhooks,
        models=models,
        checks=tuple(checks),
        syncs={name: sync for name, sync in settings.syncs.items() if sync is not None},
        retention=settings.retention,
        lineage=settings.lineage,
    )


def _read_workflows(
    root: Path, interpolator: Interpolator, found: list[Problem], overlay: Mapping[str, str]
) -> list[ParsedWorkflow]:
    folder = root / WORKFLOWS_DIR
    paths = set(folder.iterdir()) if folder.is_dir() else set()
    paths |= {root / file for file in overlay}
    parsed: list[ParsedWorkflow] = []
    builders: set[int] = set()
    for path in sorted(paths):
        file = f"{WORKFLOWS_DIR}/{path.name}"
        problems = Problems(file, found)
        if path.suffix in _YAML_SUFFIXES and (file in overlay or path.is_file()):
            text = overlay[file] if file in overlay else _read_text(path, problems)
            if text is not None:
                workflow = read_workflow_file(text, file, path.stem, interpolator, problems)
                parsed.extend([workflow] if workflow else [])
        elif path.suffix == ".py" and not path.name.startswith("_") and path.is_file():
            parsed.extend(read_python_file(root, path, file, problems, builders))
    return parsed


def _read_text(path: Path, problems: Problems) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(0, f"cannot read the file: {exc}")
        return None


def init_project(dest: Path, template: str = "example") -> list[Path]:
    """Copies the ``template`` project into ``dest`` (created if needed); returns the files.

    Refuses (UsageError) when ``dest`` already holds a podium.yaml or any file the template
    would overwrite.
    """
    dest = Path(dest)
    source = resources.files("podium") / "templates" / template
    if not source.is_dir():
        raise UsageError(f"unknown template {template!r}; templates: {', '.join(_templates())}")
    if (dest / CONFIG_FILE).exists():
        raise UsageError(
            f"{dest} already has a podium.yaml; choose an empty folder or remove it first"
        )
    files = dict(_template_files(source, PurePosixPath()))
    clashes = sorted(str(rel) for rel in files if (dest / rel).exists())
    if clashes:
        raise UsageError(f"{dest} already has {', '.join(clashes)}; init would overwrite them")
    written = []
    for rel, item in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.read_bytes())
        written.append(target)
    return written


def _templates() -> list[str]:
    folder = resources.files("podium") / "templates"
    return sorted(item.name for item in folder.iterdir() if item.is_dir())


def _template_files(
    folder: Traversable, rel: PurePosixPath
) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name == "__pycache__" or item.name.endswith(".pyc"):
            continue
        if item.is_dir():
            yield from _template_files(item, rel / item.name)
        else:
            yield rel / item.name, item
