"""Klaviyo's published OpenAPI (``tests/specs/klaviyo/stable.json``, revision 2026-07-15) as
checks for the simulator's answers and the connector's requests.

    check_response(method, path, status, body)          problems with an answer
    check_request(method, path, params, headers, body)  problems with a request, for the
                                                        revision its header names

Responses are validated with ``jsonschema`` against the operation's schema, ``$ref``s
resolved, with OpenAPI 3.0 read as JSON Schema: ``nullable`` allows null, ``allOf``
members are merged, ``oneOf`` is read as ``anyOf`` (Klaviyo's ``send_options`` branches
are identical, so a real answer matches all of them), ``date-time`` and ``uri`` formats
are checked. A 2xx answer is held *closed*: an object may carry only the properties its
schema declares (the spec never says ``additionalProperties``, so without this an invented
field would pass). Error answers are held to the open schema: Klaviyo's real errors carry
a ``status`` the schema does not declare.

Requests: every query parameter must be one the operation declares, present in the
request's revision (``ADDED_IN``: older revisions are not vendored; see the simulator's
``revisions.py`` for the sources), with a value its schema allows; ``filter`` conditions
must name a field and operator the operation's ``x-klaviyo-filters`` lists; required
parameters present; a body must match the operation's ``requestBody`` schema, closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker

from podium.sandbox.faults import Answer
from podium.sandbox.klaviyo import KlaviyoSimulator
from podium.sandbox.paging import Request

SPEC_PATH = Path(__file__).parent / "specs" / "klaviyo" / "stable.json"
SPEC_REVISION = "2026-07-15"
REVISIONS = ("2025-10-15", "2026-01-15", "2026-04-15", "2026-07-15")

# Parameters of the simulated operations that came after the oldest supported revision.
ADDED_IN: dict[tuple[str, str], str] = {
    ("/api/events", "page[size]"): "2026-01-15",
    ("/api/events", "fields[attribution]"): "2026-07-15",
    ("/api/profiles", "fields[push-token]"): "2026-04-15",
    ("/api/profiles", "fields[conversation]"): "2026-07-15",
    ("/api/profiles/{id}", "fields[push-token]"): "2026-04-15",  # as on /api/profiles
    ("/api/profiles/{id}", "fields[conversation]"): "2026-07-15",
    ("/api/campaigns", "page[size]"): "2026-07-15",
    ("/api/lists", "page[size]"): "2026-07-15",
    ("/api/campaign-values-reports", "fields[campaign-values-report]"): "2026-07-15",
    ("/api/flow-values-reports", "fields[flow-values-report]"): "2026-07-15",
}
_DROPPED = {"nullable", "example", "discriminator", "xml", "externalDocs", "description"}
_CONDITION = re.compile(r"([a-z-]+)\(([\w.]+),")


@cache
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text()))


def operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The spec's path and operation for ``method path`` (``/api/events/`` → ``/api/events``,
    ``/api/profiles/01J…/`` → ``/api/profiles/{id}``)."""
    key = _template("/" + path.strip("/"), method.lower())
    found = spec()["paths"].get(key, {}).get(method.lower())
    if found is None:
        raise AssertionError(f"{method} {path} is no operation of Klaviyo's OpenAPI")
    return key, found


def _template(path: str, method: str) -> str:
    """The spec's path for a concrete ``path``: itself, or the one whose ``{…}`` segments
    stand for the ids in it."""
    if method in spec()["paths"].get(path, {}):
        return path
    parts = path.split("/")
    for key, operations in spec()["paths"].items():
        pattern = key.split("/")
        if method in operations and len(pattern) == len(parts) and all(
            p == q or (p.startswith("{") and p.endswith("}")) for p, q in zip(pattern, parts, strict=True)
        ):  # fmt: skip
            return str(key)
    return path


def ratelimit(method: str, path: str) -> dict[str, int]:
    """``{"burst": per second, "steady": per minute[, "daily": per day]}`` of the operation."""
    limits = operation(method, path)[1]["x-klaviyo-ratelimit"]
    return {window: int(text.split("/")[0]) for window, text in limits.items()}


# -- responses ---------------------------------------------------------------------------
def check_response(method: str, path: str, status: int, body: bytes) -> list[str]:
    key, _ = operation(method, path)
    return _errors(_response_validator(key, method.lower(), status), json.loads(body))


@cache
def _response_validator(path: str, method: str, status: int) -> Draft202012Validator:
    responses = spec()["paths"][path][method]["responses"]
    answer = responses.get(str(status)) or responses[f"{str(status)[0]}XX"]
    if "$ref" in answer:
        answer = spec()["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"]["application/vnd.api+json"]["schema"]
    return _validator(schema, closed=200 <= status < 300)


# -- requests ----------------------------------------------------------------------------
def check_request(
    method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> list[str]:
    key, op = operation(method, path)
    lowered = {k.lower(): v for k, v in headers.items()}
    revision = lowered.get("revision", "")
    problems = [] if revision in REVISIONS else [f"revision header {revision!r} not supported"]
    declared = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    for name, value in params.items():
        parameter = declared.get(name)
        if parameter is None:
            problems.append(f"{method} {key}: {name!r} is not a declared parameter")
            continue
        since = ADDED_IN.get((key, name), REVISIONS[0])
        if revision < since:
            problems.append(f"{method} {key}: {name!r} exists from {since}, sent under {revision}")
        problems += _value_problems(key, op, parameter, value)
    for name, parameter in declared.items():
        if parameter.get("required") and name not in params:
            problems.append(f"{method} {key}: required parameter {name!r} missing")
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/vnd.api+json"]["schema"]
        problems += [f"{method} {key} body: {e}" for e in
                     _errors(_validator(schema, closed=True), json.loads(body or b"null"))]  # fmt: skip
    return problems


def _value_problems(
    key: str, op: dict[str, Any], parameter: dict[str, Any], value: str
) -> list[str]:
    name, schema = parameter["name"], _deref(parameter["schema"])
    where = f"{key}: {name}={value!r}"
    if schema.get("type") == "integer":
        low, high = schema.get("minimum", -(10**9)), schema.get("maximum", 10**9)
        if not value.isdigit() or not low <= int(value) <= high:
            return [f"{where} is not an integer in [{low}, {high}]"]
    if schema.get("type") == "array":
        allowed = set(_deref(schema["items"]).get("enum") or [])
        bad = [v for v in value.split(",") if allowed and v not in allowed]
        return [f"{where}: {bad} not in the enum"] if bad else []
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} is not one of {schema['enum']}"]
    if name == "filter":
        return _filter_problems(where, op.get("x-klaviyo-filters") or {}, value)
    return []


def _filter_problems(where: str, filters: dict[str, Any], value: str) -> list[str]:
    problems = []
    for op_name, field in _CONDITION.findall(value):
        operators = (filters.get(field) or {}).get("operators") or {}
        if not any(op_name in names for names in operators.values()):
            problems.append(f"{where}: {op_name}({field},…) is not in x-klaviyo-filters")
    return problems


# -- schemas -----------------------------------------------------------------------------
def _errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
        for e in validator.iter_errors(document)
    ]


def _validator(schema: dict[str, Any], *, closed: bool) -> Draft202012Validator:
    return Draft202012Validator(
        _json_schema(_merged(_deref(schema)), closed), format_checker=_FORMATS
    )


def _deref(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` replaced by a copy of its target (a cycle: ``{}``);
    a ``nullable`` beside a ``$ref`` is kept, as Klaviyo means it."""
    if isinstance(node, list):
        return [_deref(item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return {}
        target = _deref(spec()["components"]["schemas"][name], (*seen, name))
        return {**target, "nullable": True} if node.get("nullable") else target
    return {key: _deref(value, seen) for key, value in node.items()}


def _merged(node: Any) -> Any:
    """``node`` with every ``allOf`` merged into one schema."""
    if isinstance(node, list):
        return [_merged(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _merged(value) for key, value in node.items()}
    members = node.pop("allOf", None)
    for member in members or []:
        node = _merge(node, member)
    return node


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = dict(a["properties"])
        for key, value in b["properties"].items():
            old = a["properties"].get(key)
            merged["properties"][key] = _merge(old, value) if isinstance(old, dict) else value
    if "required" in a or "required" in b:
        merged["required"] = sorted({*a.get("required", []), *b.get("required", [])})
    return merged


def _json_schema(node: Any, closed: bool) -> Any:
    """OpenAPI 3.0 ``node`` as JSON Schema 2020-12 (see the module docstring)."""
    if isinstance(node, list):
        return [_json_schema(item, closed) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("nullable"):
        rest = {k: v for k, v in node.items() if k != "nullable"}
        return {"anyOf": [_json_schema(rest, closed), {"type": "null"}]}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {name: _json_schema(sub, closed) for name, sub in value.items()}
        elif key in ("items", "not", "additionalProperties") and isinstance(value, dict):
            out[key] = _json_schema(value, closed)
        elif key in ("oneOf", "anyOf"):
            out["anyOf"] = [_json_schema(sub, closed) for sub in value]
        else:
            out[key] = value
    if closed and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value and moment.tzinfo is not None
    return True


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is None or bool(parts.scheme and parts.netloc)


class Recorder:
    """A simulator that keeps every request it answered, and the answer."""

    def __init__(self, app: KlaviyoSimulator) -> None:
        self.app = app
        self.exchanges: list[tuple[Request, Answer]] = []

    @property
    def violations(self) -> int:
        return self.app.violations

    def answer(self, request: Request) -> Answer:
        answer = self.app.answer(request)
        self.exchanges.append((request, answer))
        return answer
