"""The Python API: workflows written in code, with the same options and checks as YAML.

    import podium

    daily = podium.Workflow("daily", triggers=[podium.schedule("0 5 * * *")])

    @daily.task(pool="extractors", retries=3, retry_delay="30s")
    def extract(ctx: podium.Context) -> dict[str, int]:
        return {"rows": 10}

    @daily.task(depends_on=[extract])
    def report(ctx: podium.Context) -> None:
        ctx.log.info("%s rows", ctx.upstream["extract"]["rows"])

``podium.Workflow`` only records what it is told, with the file and line of each call.
Checking happens when the project is loaded (``podium validate``): the options go through
the same validation as a workflow YAML file, and a mistake is reported at the line of the
decorator or call that made it. ``build()`` runs those checks for one workflow on its own.
The frozen model the engine reads is ``podium.core.workflow.Workflow``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack, overload

from podium.project.python_files import build_from_builder
from podium.project.specs import TaskSpec, TriggerSpec

if TYPE_CHECKING:
    from podium.core import workflow as model

F = TypeVar("F", bound=Callable[..., Any])
Dependency = str | Callable[..., Any]
Duration = str | float


class TaskOptions(TypedDict, total=False):
    """Options every task takes: the same names and values as in a workflow YAML file."""

    depends_on: Dependency | Sequence[Dependency]
    trigger_rule: str
    retries: int
    retry_delay: Duration
    retry_backoff: float | bool
    retry_max_delay: Duration
    timeout: Duration
    pool: str
    priority: int
    late_after: Duration
    on_late: str
    produces: str | Sequence[str]
    params: Mapping[str, Any]


def schedule(cron: str, *, timezone: str = "UTC", catchup: str = "latest") -> TriggerSpec:
    """Runs on a five-field cron schedule in ``timezone`` (``catchup``: latest, all or none)."""
    return _trigger({"schedule": cron, "timezone": timezone, "catchup": catchup})


def on_event(event: str, where: Mapping[str, Any] | None = None, /, **fields: Any) -> TriggerSpec:
    """Runs on the named event when its payload has every given field equal.

    ``on_event("orders_dropped", store="us")``; fields that are not Python names go in
    ``where``: ``on_event("orders_dropped", {"store-id": 7})``.
    """
    filters = {**(where or {}), **fields}
    return _trigger({"event": event, "filter": filters} if filters else {"event": event})


def on_asset(*assets: str, all_of: bool = False, deadline: Duration | None = None) -> TriggerSpec:
    """Runs when any of ``assets`` is updated; with ``all_of``, once all have been.

    ``deadline`` (with ``all_of``) starts the run anyway that long after the first update.
    """
    if not all_of and deadline is None:
        return _trigger({"asset": list(assets)})
    spec: dict[str, Any] = {"all_of" if all_of else "any_of": list(assets)}
    if deadline is not None:
        spec["deadline"] = deadline
    return _trigger({"asset": spec})


def on_webhook(
    connection: str,
    where: Mapping[str, Any] | None = None,
    /,
    *,
    topic: str | Iterable[str] | None = None,
    params: Mapping[str, str] | None = None,
    **fields: Any,
) -> TriggerSpec:
    """Runs on each verified webhook delivery to ``connection`` (one with ``webhooks:`` in
    podium.yaml) whose topic matches ``topic`` (globs such as ``orders/*``) and whose JSON
    payload has every given field equal; dotted paths go in ``where``:
    ``on_webhook("shopify", {"customer.tags": "vip"}, topic="orders/create")``.
    ``params`` maps workflow params to payload paths: ``params={"order_id": "id"}``.
    """
    spec: dict[str, Any] = {"webhook": connection}
    if topic is not None:
        spec["topic"] = topic if isinstance(topic, str) else list(topic)
    filters = {**(where or {}), **fields}
    if filters:
        spec["filters"] = filters
    if params:
        spec["params"] = dict(params)
    return _trigger(spec)


def after_workflow(workflow: str, *, status: str = "success") -> TriggerSpec:
    """Runs when ``workflow`` finishes with ``status``: success, failed or any."""
    return _trigger({"workflow": workflow, "status": status})


def _trigger(spec: Mapping[str, Any]) -> TriggerSpec:
    file, line = _caller(3)
    return TriggerSpec(spec, file, line)


def _caller(depth: int) -> tuple[str, int]:
    """File and line ``depth`` frames up: where the user wrote the call."""
    frame = sys._getframe(depth)
    return frame.f_code.co_filename, frame.f_lineno


_UNSET: Any = object()


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Workflow:
    """Builds a workflow in code: tasks are added with ``task`` (a decorated function),
    ``run``, ``shell``, ``subworkflow``, ``extract``, ``transform``, ``check``, ``http``, or
    ``add`` for any kind (a plugin's).

    Module-level instances in ``workflows/*.py`` are found when the project loads.
    """

    podium_workflow_builder = True  # how podium.project.specs.is_builder knows it

    def __init__(
        self,
        name: str,
        *,
        triggers: TriggerSpec | Iterable[TriggerSpec | Mapping[str, Any]] = (),
        params: Mapping[str, Any] | None = None,
        defaults: TaskOptions | Mapping[str, Any] | None = None,
        max_active_runs: int | None = None,
        description: str | None = None,
        deadline: str | Mapping[str, str] | None = None,
        notify: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        self.name = name
        self.file, self.line = _caller(2)
        given = {
            "params": params,
            "defaults": defaults,
            "max_active_runs": max_active_runs,
            "description": description,
            "deadline": deadline,  # "07:00" or {"at": "07:00", "timezone": "…"}
            "notify": list(notify) if notify is not None else None,  # [{"on": […], "to": …}]
        }
        self.settings: dict[str, Any] = {"name": name}
        self.settings.update({key: value for key, value in given.items() if value is not None})
        self.triggers: list[TriggerSpec | Mapping[str, Any]] = (
            [triggers] if isinstance(triggers, TriggerSpec | Mapping) else list(triggers)
        )
        self.tasks: list[TaskSpec] = []
        self._ids: dict[Callable[..., Any], str] = {}

    def __repr__(self) -> str:
        return f"<podium.Workflow {self.name!r} with {len(self.tasks)} tasks>"

    @overload
    def task(self, fn: F, /) -> F: ...

    @overload
    def task(
        self, fn: None = None, /, *, id: str | None = None, **options: Unpack[TaskOptions]
    ) -> Callable[[F], F]: ...

    def task(
        self, fn: F | None = None, /, *, id: str | None = None, **options: Unpack[TaskOptions]
    ) -> F | Callable[[F], F]:
        """Makes the decorated function a ``run`` task; its id is the function's name.

        Works bare (``@wf.task``) or with options (``@wf.task(retries=3)``) and returns
        the function unchanged, so it can still be called and tested directly.
        """
        file, line = _caller(2)

        def register(func: F) -> F:
            if not callable(func):
                raise TypeError(
                    f"Workflow.task decorates a function, got {func!r}; "
                    "to name the task write @wf.task(id='name')"
                )
            task_id = id or func.__name__
            self._ids[func] = task_id
            target = f"{func.__module__}:{func.__qualname__}"
            self._add(task_id, "run", target, options, file, line, func)
            return func

        return register if fn is None else register(fn)

    def run(self, task_id: str, target: str, /, **options: Unpack[TaskOptions]) -> str:
        """Adds a task calling ``module:function``; returns its id (for ``depends_on``)."""
        return self._add(task_id, "run", target, options, *_caller(2))

    def shell(self, task_id: str, command: str, /, **options: Unpack[TaskOptions]) -> str:
        """Adds a task running ``command`` in a shell; returns its id."""
        return self._add(task_id, "shell", command, options, *_caller(2))

    def subworkflow(self, task_id: str, workflow: str, /, **options: Unpack[TaskOptions]) -> str:
        """Adds a task that starts ``workflow`` and waits for it to finish; returns its id."""
        return self._add(task_id, "workflow", workflow, options, *_caller(2))

    def extract(
        self,
        task_id: str,
        connection: str,
        /,
        *,
        streams: str | Sequence[str] | None = None,
        full_refresh: bool | None = None,
        **options: Unpack[TaskOptions],
    ) -> str:
        """Adds a task loading ``connection``'s streams (default: all) into the warehouse."""
        own = _given(streams=streams, full_refresh=full_refresh)
        return self._add(task_id, "extract", connection, {**options, **own}, *_caller(2))

    def transform(self, task_id: str, selector: str, /, **options: Unpack[TaskOptions]) -> str:
        """Adds a task building the SQL models ``selector`` names (a folder, a model,
        ``+model``): one model task each when the project loads."""
        return self._add(task_id, "transform", selector, options, *_caller(2))

    def check(self, task_id: str, selector: str, /, **options: Unpack[TaskOptions]) -> str:
        """Adds a task running checks: a check's name, ``checks/<file>.yaml``, a model
        selector or ``*``."""
        return self._add(task_id, "check", selector, options, *_caller(2))

    def http(
        self,
        task_id: str,
        url: str,
        /,
        *,
        method: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = _UNSET,
        for_each: Mapping[str, Any] | None = None,
        expect: int | Sequence[int] | None = None,
        **options: Unpack[TaskOptions],
    ) -> str:
        """Adds a task calling ``url``: once, or once per row (or batch) of ``for_each``."""
        own = _given(method=method, headers=headers, for_each=for_each, expect=expect)
        if body is not _UNSET:
            own["body"] = body
        return self._add(task_id, "http", url, {**options, **own}, *_caller(2))

    def add(self, kind: str, task_id: str, target: str, /, **options: Any) -> str:
        """Adds a task of any kind, a plugin's too, with its options as YAML would write
        them (``wf.add("notebook", "report", "reports/daily.ipynb", timeout="10m")``)."""
        return self._add(task_id, kind, target, options, *_caller(2))

    def build(self) -> model.Workflow:
        """The checked, frozen workflow; raises ProjectError listing every problem.

        Checks what one workflow can show; ``load_project`` also checks pools, other
        workflows and that ``run`` targets import.
        """
        return build_from_builder(self)

    def _add(
        self,
        task_id: str,
        kind: str,
        target: str,
        options: Mapping[str, Any],
        file: str,
        line: int,
        func: Callable[..., Any] | None = None,
    ) -> str:
        spec = {"id": task_id, kind: target, **options}
        if "depends_on" in options:
            spec["depends_on"] = self._dependency_ids(options["depends_on"])
        self.tasks.append(TaskSpec(spec, file, line, func))
        return task_id

    def _dependency_ids(self, value: Any) -> Any:
        """Task ids for ``depends_on``: decorated functions become their ids."""
        items = [value] if isinstance(value, str) or callable(value) else value
        if not isinstance(items, list | tuple):
            return value  # left for validation to report
        return [
            self._ids.get(item, getattr(item, "__name__", item)) if callable(item) else item
            for item in items
        ]
