"""``http: URL`` — calls out: one call, one per row, or one per batch of rows.

The options and what the calls do are described in ``podium.kinds.http_options`` and
``podium.kinds.http_calls``.
"""

from __future__ import annotations

from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.kinds.base import Job, ProjectView, TaskContext, TaskResult
from podium.kinds.http_options import (
    FOR_EACH_KEYS,
    HEADER_NAME,
    METHODS,
    read_http_option,
    task_problem,
    url_problem,
)
from podium.settings.describe import Option, Settings

_JSON: dict[str, Any] = {}  # any JSON value
_STATUS = {"type": "integer", "minimum": 100, "maximum": 599}
# the reader takes a method in any case: completion offers METHODS, this accepts "post"
_ANY_CASE_METHOD = {
    "type": "string",
    "pattern": "^(" + "|".join("".join(f"[{c}{c.lower()}]" for c in m) for m in METHODS) + ")$",
}


class HttpKind:
    name = "http"
    target = "a URL"
    options = Settings(
        (
            Option(
                "method",
                {"anyOf": [{"type": "string", "enum": list(METHODS)}, _ANY_CASE_METHOD]},
                "GET (the default), or POST when the task sends a body or calls per row",
                read=read_http_option,
            ),
            Option(
                "headers",
                {
                    "type": "object",
                    "propertyNames": {"pattern": f"^{HEADER_NAME.pattern}$"},
                    "additionalProperties": {"type": ["string", "number"]},
                },
                "request headers; values may use ${VAR} secrets and {{ references }}",
                read=read_http_option,
            ),
            Option(
                "body",
                _JSON,
                "the JSON body; {{ row }}, {{ rows }}, {{ params.x }}, {{ upstream.t.y }}",
                read=read_http_option,
            ),
            Option(
                "for_each",
                {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "SQL over the warehouse"},
                        "rows": {"type": "string", "description": "{{ upstream.TASK.path }}"},
                        "warehouse": {"enum": ["default"]},
                        "key": {
                            "anyOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "string"}},
                            ],
                            "description": "columns naming a row: each key is sent once",
                        },
                        "batch": {"type": "integer", "minimum": 1},
                    },
                    "additionalProperties": False,
                    "oneOf": [{"required": ["query"]}, {"required": ["rows"]}],
                },
                "one call per row (or per batch of rows) of a query or an upstream output; "
                f"keys: {', '.join(FOR_EACH_KEYS)}",
                read=read_http_option,
            ),
            Option(
                "expect",
                {
                    "anyOf": [
                        _STATUS,
                        {"type": "array", "minItems": 1, "items": _STATUS},
                    ]
                },
                "the statuses that count as success (default: any 2xx)",
                read=read_http_option,
            ),
        ),
        doc="A task that calls an HTTP endpoint (an outgoing webhook, a 3PL's API).",
    )

    def check_target(self, target: str) -> str | None:
        return url_problem(target)

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        return task_problem(task)

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        from podium.kinds.http_calls import HttpPlan  # httpx: only where http tasks run

        return HttpPlan(project.warehouse, project.secrets)

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium.kinds.http_calls import run_http_task

        return TaskResult(output=run_http_task(job, context.log, context.cancelled))


KIND = HttpKind()
