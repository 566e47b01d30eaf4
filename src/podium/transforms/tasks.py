"""A ``transform: SELECTOR`` task becomes one ``model`` task per model it selects.

Each model is its own step of the run, so a failed model is retried (and re-run with
``podium retry --failed-only``) alone, and the engine's late-source handling works per
model: when an extract runs late, only the models that read its tables wait or are marked
incomplete, and the catch-up run rebuilds exactly those. The checks declared on a model run
in its task, so a model whose checks read other models (a relationship's target, the
tables of a check's query) also depends on those models' tasks.

For a transform task ``models`` selecting ``commerce``::

    models.commerce.orders   depends on the extract tasks whose tables it reads, and on
                             the transform's other dependencies if it reads no model
    models.commerce.daily    depends on models.commerce.orders (the tables it reads)

An extract task of connection ``shop`` loads ``raw_shop.*`` (or its ``dataset``); a model
reading such a table depends on every extract task of that connection in the workflow. A
dependency of the transform task that is an extract task whose tables none of its models
read is dropped from them. Tasks that depended on the transform task depend on all its
model tasks. The model tasks keep the transform task's settings (retries, pool, timeout…).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from podium.core.workflow import Task, Workflow
from podium.transforms.checks import Check, check_dependencies
from podium.transforms.models import ModelSet


def expand_transforms(
    workflow: Workflow,
    *,
    kind: str,
    model_kind: str,
    models: ModelSet,
    checks: Sequence[Check],
    datasets: Mapping[str, frozenset[str]],
) -> Workflow:
    """``workflow`` with each task of ``kind`` replaced by its ``model_kind`` tasks;
    ``datasets`` maps each warehouse dataset to the tasks that load it."""
    if not any(task.kind == kind for task in workflow.tasks):
        return workflow
    loaders = {tid for ids in datasets.values() for tid in ids}
    checked = check_dependencies(models, checks)
    replaced: dict[str, tuple[str, ...]] = {}  # transform task id → its model task ids
    tasks: list[Task] = []
    made: set[str] = set()
    for task in workflow.tasks:
        if task.kind != kind:
            tasks.append(task)
            continue
        chosen = models.select(task.target)
        ids = {name: f"{task.id}.{name}" for name in chosen}
        replaced[task.id] = tuple(ids.values())
        made.update(ids.values())
        for name in chosen:
            upstream = [
                ids[p] for p in [*models.upstream(name), *checked.get(name, ())] if p in ids
            ]
            reads = {i.split(".", 1)[0] for i in models.inputs(name) if "." in i}
            loaded_by = sorted({t for d in reads for t in datasets.get(d, ())})
            inherited = [d for d in task.depends_on if d not in loaders and not upstream]
            depends = tuple(dict.fromkeys([*upstream, *loaded_by, *inherited]))
            tasks.append(
                replace(
                    task,
                    id=ids[name],
                    kind=model_kind,
                    target=name,
                    depends_on=depends,
                    produces=(name,),
                )
            )
    tasks = [
        replace(t, depends_on=expanded_deps(t.depends_on, replaced)) if t.id not in made else t
        for t in tasks
    ]
    return replace(workflow, tasks=tuple(tasks))


def expanded_deps(
    depends_on: tuple[str, ...], replaced: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """``depends_on`` with each task that expanded replaced by the tasks it became."""
    out: list[str] = []
    for dep in depends_on:
        out.extend(replaced.get(dep, (dep,)))
    return tuple(dict.fromkeys(out))
