"""Amazon's published SP-API models (``tests/specs/amazon-sp-api``) as a judge.

``SpecCheck`` finds the operation of a request by the models' path templates (not by the
simulator's own routes), checks the request against the operation's declared parameters
(names, required, types, enums, formats, min/max, item counts, the JSON body's schema) and
the answer against the model's response schema for its status (``#/definitions`` refs
resolved with ``jsonschema``). ``Recorder`` wraps a simulator so every request and answer
that crossed the socket can be judged afterwards. ``usage_plans`` reads the rate and burst
of each operation from the tables in the models' descriptions.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request

SPECS = Path(__file__).parent / "specs" / "amazon-sp-api"
MODELS = ("ordersV0.json", "financesV0.json", "reports_2021-06-30.json")

# Limits the models state only in prose (quoted), checked like the schema's keywords.
PROSE_LIMITS: dict[tuple[str, str], tuple[int, int]] = {
    # ordersV0 getOrders MaxResultsPerPage: "Value must be 1 - 100. Default 100."
    ("getOrders", "MaxResultsPerPage"): (1, 100),
}
_PLAN = re.compile(r"\|\s*([0-9.]+)\s*\|\s*([0-9.]+)\s*\|")


@dataclass(frozen=True)
class Operation:
    model: dict[str, Any]
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return list(self.spec.get("parameters", []))


def load_models() -> list[dict[str, Any]]:
    return [json.loads((SPECS / name).read_text()) for name in MODELS]


def operations() -> list[Operation]:
    found = []
    for model in load_models():
        for template, item in model["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
            for method, spec in item.items():
                if isinstance(spec, dict) and "operationId" in spec:
                    found.append(
                        Operation(
                            model,
                            spec["operationId"],
                            method.upper(),
                            template,
                            re.compile(regex),
                            spec,
                        )  # fmt: skip
                    )
    return found


def usage_plans() -> dict[str, tuple[float, float]]:
    """operationId: (rate, burst) from each description's **Usage Plan** table."""
    plans = {}
    for op in operations():
        match = _PLAN.search(op.spec.get("description", ""))
        if match is not None:
            plans[op.operation_id] = (float(match.group(1)), float(match.group(2)))
    return plans


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_is_datetime)


def _scalar(value: str, declared: dict[str, Any]) -> tuple[Any, list[str]]:
    """The query text as the declared type, and what is wrong with it."""
    kind = declared.get("type", "string")
    problems: list[str] = []
    parsed: Any = value
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            return value, [f"{value!r} is not an integer"]
        parsed = int(value)
    elif kind == "number":
        try:
            parsed = float(value)
        except ValueError:
            return value, [f"{value!r} is not a number"]
    elif kind == "boolean":
        if value not in ("true", "false"):
            return value, [f"{value!r} is not true/false"]
        parsed = value == "true"
    schema = {k: v for k, v in declared.items() if k not in ("name", "in", "description")}
    schema.pop("required", None)
    schema.pop("x-docgen-enum-table-extension", None)
    validator = jsonschema.Draft4Validator(schema, format_checker=FORMATS)
    problems.extend(e.message for e in validator.iter_errors(parsed))
    return parsed, problems


@dataclass
class Judged:
    requests: int = 0
    responses: int = 0
    problems: list[str] = field(default_factory=list)
    operations: dict[str, int] = field(default_factory=dict)


class SpecCheck:
    """Judges requests and answers of the SP-API operations in the vendored models."""

    def __init__(self) -> None:
        self.ops = operations()

    def operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.ops:
            match = op.pattern.match(path)
            if op.method == method and match is not None:
                names = re.findall(r"\{([^}]+)\}", op.template)
                return op, dict(zip(names, match.groups(), strict=True))
        return None

    def request_problems(
        self, op: Operation, path_args: dict[str, str], query: dict[str, str], body: bytes
    ) -> list[str]:
        name = op.operation_id
        problems: list[str] = []
        declared = {p["name"]: p for p in op.parameters}
        for key in query:
            if key not in declared or declared[key]["in"] != "query":
                problems.append(f"{name}: query parameter {key!r} is not in the model")
        for param in op.parameters:
            where, pname = param["in"], param["name"]
            if where == "body":
                problems.extend(self._body_problems(op, param, body))
                continue
            source = path_args if where == "path" else query if where == "query" else {}
            if where not in ("path", "query"):
                continue
            if pname not in source:
                if param.get("required"):
                    problems.append(f"{name}: required {where} parameter {pname!r} missing")
                continue
            value = source[pname]
            if param.get("type") == "array":
                items = value.split(",")  # collectionFormat csv, Swagger 2.0's default
                whole = {k: v for k, v in param.items() if k in ("minItems", "maxItems")}
                found = [e.message for e in jsonschema.Draft4Validator(whole).iter_errors(items)]
                for item in items:
                    found.extend(_scalar(item, param.get("items", {}))[1])
            else:
                parsed, found = _scalar(value, param)
                low, high = PROSE_LIMITS.get((name, pname), (None, None))
                if low is not None and isinstance(parsed, int) and not low <= parsed <= high:
                    found.append(f"{parsed} is outside {low}-{high}")
            problems.extend(f"{name}: {pname}: {p}" for p in found)
        return problems

    def _body_problems(self, op: Operation, param: dict[str, Any], body: bytes) -> list[str]:
        if not body:
            return [f"{op.operation_id}: no body"] if param.get("required") else []
        try:
            document = json.loads(body)
        except ValueError:
            return [f"{op.operation_id}: the body is not JSON"]
        return [
            f"{op.operation_id}: body: {message}"
            for message in self.schema_problems(op.model, param["schema"], document)
        ]

    def response_problems(
        self, op: Operation, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> list[str]:
        """What is wrong with an answer; ``headers`` (when given) must hold every header the
        model declares for the status (``x-amzn-RateLimit-Limit``, ``x-amzn-RequestId``)."""
        responses = op.spec.get("responses", {})
        declared = responses.get(str(status)) or responses.get("default")
        if declared is None:
            return [f"{op.operation_id}: status {status} is not in the model"]
        problems = []
        if headers is not None:
            have = {name.lower() for name in headers}
            problems = [
                f"{op.operation_id} {status}: no {name} header"
                for name in declared.get("headers", {})
                if name.lower() not in have
            ]
        if "schema" not in declared:
            return problems
        try:
            document = json.loads(body)
        except ValueError:
            return [f"{op.operation_id}: {status} body is not JSON"]
        return problems + [
            f"{op.operation_id} {status}: {message}"
            for message in self.schema_problems(op.model, declared["schema"], document)
        ]

    @staticmethod
    def schema_problems(model: dict[str, Any], schema: dict[str, Any], document: Any) -> list[str]:
        root = {**schema, "definitions": model["definitions"]}
        validator = jsonschema.Draft4Validator(root, format_checker=FORMATS)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(document)
        ]


@dataclass
class Exchange:
    request: Request
    answer: Answer


class Recorder:
    """A simulator wrapped so every request and answer is kept (thread-safe)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    @property
    def violations(self) -> int:
        return int(getattr(self.app, "violations", 0))

    def answer(self, request: Request) -> Answer:
        answer: Answer = self.app.answer(request)
        with self._lock:
            self.exchanges.append(Exchange(request, answer))
        return answer

    def sp_api(self) -> Iterator[tuple[Operation, dict[str, str], Exchange]]:
        """Each exchange with an operation of the models (not LWA, not the S3 download)."""
        check = SpecCheck()
        for exchange in list(self.exchanges):
            found = check.operation(exchange.request.method, exchange.request.path)
            if found is not None:
                yield found[0], found[1], exchange

    def judge(self) -> Judged:
        check, judged = SpecCheck(), Judged()
        for op, args, exchange in self.sp_api():
            request, answer = exchange.request, exchange.answer
            judged.operations[op.operation_id] = judged.operations.get(op.operation_id, 0) + 1
            judged.requests += 1
            judged.problems.extend(
                check.request_problems(op, args, dict(request.params), request.body)
            )
            judged.responses += 1
            judged.problems.extend(
                check.response_problems(op, answer.status, answer.body, answer.headers)
            )
        return judged
