"""Reading and checking an ``http`` task's options, each problem at its file:line.

    - id: send_orders
      http: https://3pl.example.com/api/orders/{{ row.order_id }}   # the URL
      method: PUT                    # GET (the default), or POST when there is a body/for_each
      headers: {Authorization: "Bearer ${THREEPL_TOKEN}"}
      body: {order: "{{ row }}"}     # JSON; see podium.outgoing.templates for references
      for_each:                      # one call per row, or per batch of rows
        query: SELECT order_id, total FROM commerce.orders WHERE ...   # or rows: "{{ … }}"
        key: order_id                # each key is sent once (remembered in _podium.http_sent)
        batch: 100                   # rows per call: the body's {{ rows }}
      expect: [200, 201, 202]        # default: any 2xx

``workflow_yaml`` calls ``read_http_option`` for each of these keys it finds on an http task
(with the whole task mapping at hand, so references can be checked against ``for_each`` and
``depends_on``); ``validate`` calls ``url_problem`` for the target and ``task_problem`` once
the task is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from podium.outgoing.templates import ROOTS, reference_problem, references
from podium.settings.yaml_lines import Fields, LineDict, to_plain

if TYPE_CHECKING:
    from podium.core.workflow import Task

OPTIONS = ("method", "headers", "body", "for_each", "expect")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
FOR_EACH_KEYS = ("query", "rows", "warehouse", "key", "batch")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def default_method(options: Mapping[str, Any]) -> str:
    """GET, or POST when the task sends a body or calls once per row."""
    if "method" in options:
        return str(options["method"])
    return "POST" if "body" in options or "for_each" in options else "GET"


def mode_of(options: Mapping[str, Any]) -> str:
    """``single`` (one call), ``row`` (one per row) or ``batch`` (one per batch of rows)."""
    for_each = options.get("for_each")
    if not isinstance(for_each, Mapping):
        return "single"
    return "batch" if "batch" in for_each else "row"


def read_http_option(read: Fields, key: str) -> Any:
    """The value of option ``key`` of the http task ``read`` holds, checked."""
    return _READERS[key](read)


# -- one reader per option -------------------------------------------------------------------


def _method(read: Fields) -> str:
    value = read.mapping["method"]
    if isinstance(value, str) and value.upper() in METHODS:
        return value.upper()
    read.problem("method", f"method must be one of {', '.join(METHODS)}, got {value!r}")
    return "GET"


def _headers(read: Fields) -> dict[str, str]:
    headers = read.mapping_of("headers")
    if headers is None:
        return {}
    found: dict[str, str] = {}
    for name, value in headers.items():
        line_read = Fields(headers, read.problems)
        line_read.prefix = f"{read.prefix}headers: "
        if not HEADER_NAME.fullmatch(name):
            line_read.problem(name, f"{name!r} is not a valid header name")
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            line_read.problem(name, f"the value of {name} must be text, got {value!r}")
            continue
        found[name] = str(value)
        _check_references(read, name, found[name], f"headers.{name}", line_read)
    return found


def _body(read: Fields) -> Any:
    body = read.mapping["body"]
    if read.mapping.get("method") in ("GET", "HEAD", "get", "head"):
        read.problem(
            "body", f"a {str(read.mapping['method']).upper()} request has no body; use method: POST"
        )
    plain = to_plain(body)
    problem = _non_json(plain)
    if problem:
        read.problem("body", f"body must be JSON; {problem}")
    _check_references(read, "body", plain, "body", read)
    return plain


def _for_each(read: Fields) -> dict[str, Any]:
    section = read.mapping_of("for_each")
    if section is None:
        read.problem("for_each", "for_each must be a mapping with query: SQL or rows: {{ … }}")
        return {}
    inner = Fields(section, read.problems)
    inner.prefix = f"{read.prefix}for_each: "
    inner.unknown_keys(FOR_EACH_KEYS)
    found: dict[str, Any] = {}
    if ("query" in section) == ("rows" in section):
        inner.problem(None, "write exactly one of query: SQL (the warehouse) or rows: {{ … }}")
    if "query" in section:
        found["query"] = inner.text("query", "") or ""
    if "rows" in section:
        found["rows"] = _rows_reference(inner, read)
    warehouse = inner.text("warehouse", "default")
    if warehouse != "default":
        inner.problem("warehouse", "warehouse must be default (the warehouse in podium.yaml)")
    if "key" in section:
        found["key"] = list(inner.names("key"))
    if "batch" in section:
        found["batch"] = inner.integer("batch", 100, minimum=1)
    return found


def _rows_reference(inner: Fields, read: Fields) -> str:
    value = inner.mapping["rows"]
    refs = list(references(value, "for_each.rows")) if isinstance(value, str) else []
    if len(refs) != 1 or not str(value).strip().startswith("{{"):
        inner.problem("rows", "rows must be one reference such as {{ upstream.TASK.rows }}")
        return ""
    _check_references(read, "rows", value, "rows", inner, roots=_OUTER_ROOTS)
    return str(value)


def _expect(read: Fields) -> list[int]:
    value = read.mapping["expect"]
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        isinstance(items, list)
        and items
        and all(isinstance(i, int) and not isinstance(i, bool) and 100 <= i <= 599 for i in items)
    ):
        return sorted(set(items))
    read.problem(
        "expect", f"expect must be a status code or a list of them (100-599), got {value!r}"
    )
    return []


_READERS = {
    "method": _method,
    "headers": _headers,
    "body": _body,
    "for_each": _for_each,
    "expect": _expect,
}
_OUTER_ROOTS = tuple(r for r in ROOTS if r not in ("row", "rows"))


# -- references --------------------------------------------------------------------------------


def _check_references(
    read: Fields,
    key: str,
    value: Any,
    where: str,
    report: Fields,
    roots: tuple[str, ...] = ROOTS,
) -> None:
    """Reports (at ``key`` of ``report``) references that name nothing this task can have."""
    for place, path in references(value, where):
        message = reference_problem(path, roots) or _scope_problem(path, read.mapping)
        if message:
            report.problem(key, f"{place}: {message}")


def _scope_problem(path: str, task: Mapping[str, Any]) -> str | None:
    """Why ``path`` (well formed) names nothing for this task: ``row`` without for_each,
    ``upstream.X`` for a task it does not depend on."""
    parts = path.split(".")
    mode = mode_of(task)
    if parts[0] == "row" and mode != "row":
        return (
            "{{ row }} needs for_each: (one call per row)"
            if mode == "single"
            else "with batch:, each call sends {{ rows }} (a list), not {{ row }}"
        )
    if parts[0] == "rows" and mode != "batch":
        return "{{ rows }} needs for_each: with batch: N (N rows per call)"
    if parts[0] == "upstream":
        if len(parts) < 2:
            return "write {{ upstream.TASK }} or {{ upstream.TASK.FIELD }}"
        depends = task.get("depends_on") or []
        names = [depends] if isinstance(depends, str) else depends
        if isinstance(names, list | tuple) and parts[1] not in names:
            return f"upstream.{parts[1]} is not a task this one depends on; add it to depends_on"
    return None


# -- target and whole-task checks -----------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an http task's target, or None (references are allowed)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "the URL must start with http:// or https:// and name a host"
    for _, path in references(url, "url"):
        message = reference_problem(path)
        if message:
            return message
    return None


def task_problem(task: Task) -> str | None:
    """What is wrong with the whole http task: references in its URL that it cannot have."""
    document = LineDict({**task.options, "depends_on": list(task.depends_on)})
    for place, path in references(task.target, "url"):
        message = _scope_problem(path, document)
        if message:
            return f"{place}: {message}"
    return None


def _non_json(value: Any) -> str | None:
    if value is None or isinstance(value, str | int | float | bool):
        return None
    if isinstance(value, Mapping):
        return next(filter(None, (_non_json(v) for v in value.values())), None)
    if isinstance(value, list):
        return next(filter(None, (_non_json(v) for v in value)), None)
    return f"{value!r} is a {type(value).__name__}; quote it to make it a string"


__all__ = [
    "OPTIONS",
    "METHODS",
    "default_method",
    "mode_of",
    "read_http_option",
    "url_problem",
    "task_problem",
]
