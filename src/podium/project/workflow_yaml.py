"""Reading one workflow definition (``workflows/*.yaml``) into the frozen model.

``build_workflow`` takes a document with line numbers and checks everything one file can
show: keys at every level, types, enum values, durations, cron expressions, task kinds,
duplicate ids, unknown ``depends_on`` and dependency cycles. The Python API hands it a
document built from its keyword arguments, so both ways of writing a workflow get the same
checks and the same messages. Checking never stops at the first problem; a value that is
wrong is reported and replaced by its default.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podium.core.alerts import NotifyRule
from podium.core.cron import Cron, CronError
from podium.core.events import DISPATCHED_EVENT_TYPES, system_event_like
from podium.core.graph import find_cycle
from podium.core.status import Catchup, OnLate, TriggerRule
from podium.core.workflow import (
    AssetTrigger,
    EventTrigger,
    Location,
    RetryPolicy,
    ScheduleTrigger,
    Task,
    Trigger,
    Workflow,
    WorkflowTrigger,
)
from podium.kinds.registry import LATER, generation, has_kind, kind_of, written_kinds
from podium.notify.settings import read_deadline, read_rules
from podium.project.validate import ParsedWorkflow, available_kinds
from podium.project.workflow_grammar import (
    AFTER_WORKFLOW,
    ASSET,
    ASSET_SET,
    EVENT,
    SCHEDULE,
    TASK,
    TRIGGERS,
    WORKFLOW,
    WORKFLOW_STATUSES,
)
from podium.project.workflow_grammar import TASK_OPTIONS as TASK_OPTION_SETTINGS
from podium.settings.secrets import Interpolator
from podium.settings.yaml_lines import (
    Fields,
    LineDict,
    LineList,
    Problems,
    did_you_mean,
    load_yaml,
    located,
)
from podium.webhooks.grammar import read_webhook_trigger

WORKFLOW_KEYS = frozenset(WORKFLOW.names)
TASK_OPTIONS = frozenset(TASK_OPTION_SETTINGS.names)
BASE_TASK_KEYS = frozenset((*TASK.names, *TASK_OPTIONS))


@dataclass(frozen=True)
class TaskKeys:
    """The keys a task may have, from the kinds there are (podium's and plugins')."""

    kinds: tuple[str, ...]  # the kind keys a task may be written with, then the later ones
    allowed: frozenset[str]
    shown: frozenset[str]  # in did-you-mean hints: not the kinds that are not available yet
    owners: Mapping[str, tuple[str, ...]]  # a kind's option → the kinds that take it


def task_keys() -> TaskKeys:
    return _task_keys(generation())


@functools.lru_cache(maxsize=1)
def _task_keys(generation: int) -> TaskKeys:
    kinds = [kind.name for kind in written_kinds()]
    owners: dict[str, list[str]] = {}
    for kind in written_kinds():
        for option in kind.options.names:
            owners.setdefault(option, []).append(kind.name)
    allowed = frozenset((*BASE_TASK_KEYS, *kinds, *LATER, *owners))
    return TaskKeys(
        (*kinds, *LATER),
        allowed,
        allowed - frozenset(LATER),
        {option: tuple(names) for option, names in owners.items()},
    )


TRIGGER_KINDS = tuple(TRIGGERS)
LATER_TRIGGER_KINDS: tuple[str, ...] = ()
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_ON_LATE = frozenset(v.value for v in OnLate)
_HINTED_DEPENDENCIES = 20  # did-you-mean for this many unknown depends_on, then plain


def read_workflow_file(
    text: str, file: str, default_name: str, interpolator: Interpolator, problems: Problems
) -> ParsedWorkflow | None:
    """The workflow in a YAML file's ``text`` (``file``: its path relative to the project)."""
    document, syntax = load_yaml(text, file)
    problems.found.extend(syntax)
    if syntax and document is None:
        return None
    if not isinstance(document, LineDict):
        problems.add(1, "a workflow file must be a mapping with name:, triggers: and tasks:")
        return None
    interpolator.document(document, problems)
    return build_workflow(document, file, default_name, problems)


def build_workflow(
    document: LineDict,
    file: str,
    default_name: str,
    problems: Problems,
    funcs: Mapping[str, Callable[..., Any]] | None = None,
) -> ParsedWorkflow:
    """The workflow ``document`` describes, best effort; every problem goes to ``problems``.

    ``funcs`` maps task ids to the functions the Python API defined them from.
    """
    problems = problems.at(document.file or file)
    read = Fields(document, problems)
    read.unknown_keys(WORKFLOW_KEYS)
    name = read.text("name", default_name) or default_name
    if not _NAME.fullmatch(name):
        read.problem("name", _bad_name("workflow name", name))
    read.text("description")
    defaults = _defaults(read)
    tasks, docs = _tasks(read, defaults, funcs or {})
    triggers = _triggers(read)
    workflow = Workflow(
        name=name,
        tasks=tasks,
        triggers=triggers,
        params=read.json_mapping("params"),
        max_active_runs=read.integer("max_active_runs", None, minimum=1),
        location=Location(document.file or file, document.line_of("name")),
        deadline=read_deadline(read, triggers),
        notify=_notify(read, name),
    )
    return ParsedWorkflow(workflow, file, docs)


def _notify(read: Fields, workflow: str) -> tuple[NotifyRule, ...]:
    """``notify:``: rules for this workflow only (see podium.notify.settings)."""
    if read.mapping.get("notify") is None:
        return ()
    value, line = read.mapping["notify"], read.line("notify")
    return read_rules(value, line, read.problems, section="notify", workflow=workflow)


def _bad_name(what: str, name: str) -> str:
    return f"{what} {name!r} may hold only letters, digits, '_', '.' and '-'"


# -- triggers ------------------------------------------------------------------------------


def _triggers(read: Fields) -> tuple[Trigger, ...]:
    if read.mapping.get("triggers") is None:
        return ()
    items = located(read.mapping["triggers"], read.line("triggers"))
    if not isinstance(items, LineList):
        read.problem("triggers", "triggers must be a list, one item per trigger")
        return ()
    found = (_trigger(item, items.line_at(i), read.problems) for i, item in enumerate(items))
    return tuple(trigger for trigger in found if trigger is not None)


def _trigger(item: Any, line: int, problems: Problems) -> Trigger | None:
    item = located(item, line)
    if not isinstance(item, LineDict) or not item:
        problems.add(line, 'each trigger must be a mapping such as {schedule: "0 5 * * *"}')
        return None
    kinds = [kind for kind in TRIGGER_KINDS if kind in item]
    if len(kinds) != 1:
        _trigger_kind_problem(item, kinds, problems)
        return None
    read = Fields(item, problems, f"{kinds[0]} trigger")
    location = Location(problems.file, item.line)
    return _TRIGGER_READERS[kinds[0]](read, location)


def _trigger_kind_problem(item: LineDict, kinds: list[str], problems: Problems) -> None:
    known = ", ".join(TRIGGER_KINDS)
    if kinds:
        kinds.sort(key=item.line_of)
        both = " and ".join(kinds)
        problems.add(item.line_of(kinds[1]), f"a trigger has one kind; this one has {both}")
        return
    first = next(iter(item))
    hint = did_you_mean(first, TRIGGER_KINDS)
    if first in LATER_TRIGGER_KINDS:
        hint = f"; {first} triggers are not available in this version of podium"
    problems.add(item.line_of(first), f"unknown trigger kind {first!r}{hint} (kinds: {known})")


def _schedule(read: Fields, location: Location) -> ScheduleTrigger:
    read.unknown_keys(SCHEDULE.names)
    cron = read.text("schedule", "") or ""
    timezone = read.text("timezone", "UTC") or "UTC"
    catchup = Catchup(read.choice("catchup", [c.value for c in Catchup], Catchup.LATEST.value))
    if cron:
        _check_cron(read, cron, timezone)
    return ScheduleTrigger(cron, timezone, catchup, location)


def _check_cron(read: Fields, cron: str, timezone: str) -> None:
    try:
        Cron.parse(cron, timezone)
    except CronError as exc:
        try:  # which key is wrong: the expression, or only the time zone?
            Cron.parse(cron, "UTC")
        except CronError:
            read.problem("schedule", str(exc))
        else:
            read.problem("timezone", str(exc))


def _event(read: Fields, location: Location) -> EventTrigger:
    read.unknown_keys(EVENT.names)
    name = read.text("event", "") or ""
    problem = event_name_problem(name)
    if problem:
        read.problem("event", problem)
    return EventTrigger(name, read.json_mapping("filter"), location)


def event_name_problem(name: str) -> str | None:
    """Why an event trigger on ``name`` could never start (None: it can).

    Custom events may not pass for podium's system events, so a trigger on a system event
    starts only when podium records it, and only dispatched ones reach triggers."""
    taken = system_event_like(name)
    if taken is None or (name == taken and taken in DISPATCHED_EVENT_TYPES):
        return None
    never = "and no custom event may take that name, so this trigger never starts"
    if taken in DISPATCHED_EVENT_TYPES:
        return (
            f"event {name!r} is not podium's system event {taken!r} (names are exact), {never};"
            f" write event: {taken}"
        )
    dispatched = ", ".join(sorted(DISPATCHED_EVENT_TYPES))
    return (
        f"event {name!r}: podium's system event {taken!r} never reaches triggers (only"
        f" {dispatched} do), {never}; start after a workflow with a workflow: trigger"
        " (podium.after_workflow) or after an asset's update with an asset: trigger"
        " (podium.on_asset)"
    )


def _workflow(read: Fields, location: Location) -> WorkflowTrigger:
    read.unknown_keys(AFTER_WORKFLOW.names)
    name = read.text("workflow", "") or ""
    return WorkflowTrigger(name, read.choice("status", WORKFLOW_STATUSES, "success"), location)


def _asset(read: Fields, location: Location) -> AssetTrigger:
    if read.has("deadline"):
        read.problem("deadline", "write the deadline inside: asset: {all_of: [a, b], deadline: 2h}")
    read.unknown_keys((*ASSET.names, "deadline"))
    spec = read.mapping_of("asset") if isinstance(read.mapping["asset"], Mapping) else None
    if spec is None:
        assets = read.names("asset")
        if not assets and read.has("asset"):
            read.problem("asset", "name at least one asset")
        return AssetTrigger(assets, location=location)
    inner = Fields(spec, read.problems, "asset trigger")
    inner.unknown_keys(ASSET_SET.names)
    if inner.has("all_of") == inner.has("any_of"):
        inner.problem(None, "write exactly one of all_of: [assets] or any_of: [assets]")
    all_of = inner.has("all_of")
    assets = inner.names("all_of" if all_of else "any_of")
    if not assets:
        inner.problem(None, "name at least one asset")
    if inner.has("deadline") and not all_of:
        inner.problem("deadline", "deadline applies only with all_of")
    deadline = inner.duration("deadline", None, positive=True)
    return AssetTrigger(assets, all_of=all_of, deadline=deadline, location=location)


_TRIGGER_READERS: dict[str, Callable[[Fields, Location], Trigger]] = {
    "schedule": _schedule,
    "event": _event,
    "workflow": _workflow,
    "asset": _asset,
    "webhook": read_webhook_trigger,
}


# -- tasks ---------------------------------------------------------------------------------

_OPTION_READERS: dict[str, Callable[[Fields], Any]] = {
    "trigger_rule": lambda r: TriggerRule(
        r.choice("trigger_rule", [v.value for v in TriggerRule], TriggerRule.ALL_SUCCESS.value)
    ),
    "retries": lambda r: r.integer("retries", 0, minimum=0),
    "retry_delay": lambda r: r.duration("retry_delay", 0.0),
    "retry_backoff": lambda r: _backoff(r),
    "retry_max_delay": lambda r: r.duration("retry_max_delay", 3600.0, positive=True),
    "timeout": lambda r: r.duration("timeout", None, positive=True),
    "pool": lambda r: r.text("pool"),
    "priority": lambda r: r.integer("priority", 0),
    "late_after": lambda r: r.duration("late_after", None, positive=True),
    "on_late": lambda r: OnLate(r.choice("on_late", [v.value for v in OnLate], "wait")),
    "params": lambda r: r.json_mapping("params"),
}


def _backoff(read: Fields) -> float:
    value = read.mapping["retry_backoff"]
    if isinstance(value, bool):
        return 2.0 if value else 1.0
    return read.number("retry_backoff", 1.0, minimum=1.0)


def _options(read: Fields) -> dict[str, Any]:
    """The task options ``read`` sets, parsed; options it does not set are absent."""
    return {key: _OPTION_READERS[key](read) for key in read.mapping if key in _OPTION_READERS}


def _defaults(read: Fields) -> dict[str, Any]:
    defaults = read.mapping_of("defaults")
    if defaults is None:
        return {}
    inner = Fields(defaults, read.problems, "defaults")
    for key in defaults:
        if key in task_keys().allowed and key not in TASK_OPTIONS:
            inner.problem(key, f"{key!r} cannot be a default; set it on each task")
    inner.unknown_keys(task_keys().allowed, TASK_OPTIONS)
    return _options(inner)


def _tasks(
    read: Fields, defaults: dict[str, Any], funcs: Mapping[str, Callable[..., Any]]
) -> tuple[tuple[Task, ...], dict[str, LineDict]]:
    items = located(read.mapping.get("tasks"), read.line("tasks"))
    if not isinstance(items, LineList) or not items:
        read.problem("tasks", "a workflow needs tasks: a list of at least one task")
        return (), {}
    tasks: list[Task] = []
    docs: dict[str, LineDict] = {}
    for index, item in enumerate(items):
        item = located(item, items.line_at(index))
        if not isinstance(item, LineDict):
            read.problems.add(items.line_at(index), "each task must be a mapping with id:")
            continue
        task = _task(item, defaults, funcs, read.problems)
        if task is None:
            continue
        if task.id in docs:
            first = docs[task.id]
            message = f"duplicate task id {task.id!r} (first at line {first.line})"
            read.problems.at(item.file).add(item.line_of("id"), message)
            continue
        docs[task.id] = item
        tasks.append(task)
    _check_dependencies(tasks, docs, read.problems)
    return tuple(tasks), docs


def _task(
    item: LineDict,
    defaults: dict[str, Any],
    funcs: Mapping[str, Callable[..., Any]],
    problems: Problems,
) -> Task | None:
    task_id = item.get("id")
    if not isinstance(task_id, str) or not task_id:
        read = Fields(item, problems)
        read.problem("id" if "id" in item else None, _missing_id(task_id))
        read.unknown_keys(task_keys().allowed, task_keys().shown)
        return None
    read = Fields(item, problems, f"task {task_id!r}")
    read.unknown_keys(task_keys().allowed, task_keys().shown)
    if not _NAME.fullmatch(task_id):
        read.problem("id", _bad_name("task id", task_id))
    kind, target = _kind(read, checked=task_id not in funcs)
    own = _options(read)
    on_late = item.get("on_late")  # a list (unhashable) is reported by its reader
    needs_late_after = isinstance(on_late, str) and on_late in _ON_LATE
    if needs_late_after and "late_after" not in own and "late_after" not in defaults:
        read.problem("on_late", "on_late has no effect without late_after; add late_after: 3h")
    merged = {**defaults, **own}
    return Task(
        id=task_id,
        kind=kind,
        target=target,
        depends_on=read.names("depends_on"),
        trigger_rule=merged.get("trigger_rule", TriggerRule.ALL_SUCCESS),
        retry=_retry(merged),
        timeout=merged.get("timeout"),
        pool=merged.get("pool"),
        priority=merged.get("priority", 0),
        late_after=merged.get("late_after"),
        on_late=merged.get("on_late", OnLate.WAIT),
        produces=read.names("produces"),
        params=merged.get("params", {}),
        options=_kind_options(read, kind),
        location=Location(read.problems.file, item.line),
        func=funcs.get(task_id),
    )


def _kind_options(read: Fields, kind: str) -> dict[str, Any]:
    """The options of ``kind`` the task sets; another kind's options are reported."""
    owners = task_keys().owners
    present = [key for key in read.mapping if key in owners]
    own = [key for key in present if kind in owners[key]]
    for key in present:
        if kind not in owners[key]:
            read.problem(key, f"{key!r} applies only to {' and '.join(owners[key])} tasks")
    return kind_of(kind).options.read(read, own) if own and has_kind(kind) else {}


def _missing_id(value: Any) -> str:
    if value is None:
        return "each task needs an id: (a unique name within its workflow)"
    return f"task id must be a non-empty string, got {value!r}"


def _retry(options: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(
        retries=options.get("retries", 0),
        delay=options.get("retry_delay", 0.0),
        backoff=options.get("retry_backoff", 1.0),
        max_delay=options.get("retry_max_delay", 3600.0),
    )


def _kind(read: Fields, checked: bool = True) -> tuple[str, str]:
    """The task's kind and target; exactly one kind key must be present and available.

    ``checked=False`` skips checking the target's form: a function given to the Python
    API names itself, and the project check says whether workers can import it.
    """
    kinds = [kind for kind in task_keys().kinds if kind in read.mapping]
    if not kinds:
        read.problem(None, f"say what the task runs with one of: {', '.join(available_kinds())}")
        return "", ""
    if len(kinds) > 1:
        kinds.sort(key=read.line)
        read.problem(kinds[1], f"a task runs one thing; it has {' and '.join(kinds)}")
        return "", ""
    kind = kinds[0]
    if kind in LATER:
        read.problem(kind, f"task kind {kind!r} is not available in this version of podium")
        return kind, ""
    target = read.text(kind, "") or ""
    message = kind_of(kind).check_target(target) if target and checked else None
    if message:
        read.problem(kind, message)
        return kind, ""
    return kind, target


def _check_dependencies(tasks: list[Task], docs: dict[str, LineDict], problems: Problems) -> None:
    hinted = 0
    for task in tasks:
        for dependency in task.depends_on:
            if dependency in docs:
                continue
            hint = ""
            if hinted < _HINTED_DEPENDENCIES:
                hint, hinted = did_you_mean(dependency, docs), hinted + 1
            line = docs[task.id].line_of("depends_on")
            problems.at(docs[task.id].file).add(
                line, f"task {task.id!r} depends on unknown task {dependency!r}{hint}"
            )
    cycle = find_cycle({task.id: task.depends_on for task in tasks})
    if cycle:
        doc = docs[cycle[0]]
        path = " → ".join(cycle)
        problems.at(doc.file).add(
            doc.line_of("depends_on"),
            f"tasks depend on each other in a cycle: {path}; remove one of these depends_on",
        )
