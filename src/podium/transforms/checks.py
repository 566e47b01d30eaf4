"""Data checks: declared in YAML, each one a query for the rows that break it.

Checks live in ``checks/*.yaml`` or beside a model (``models/commerce/orders.yaml``, whose
checks default to that model)::

    checks:
      - {kind: not_null, model: commerce.orders, columns: [order_id, channel]}
      - {kind: unique, model: commerce.orders, columns: [source, source_id]}
      - {kind: accepted_values, model: commerce.orders, column: channel,
         values: [dtc, marketplace, wholesale, retail_sell_through]}
      - {kind: relationships, model: commerce.order_lines, column: order_id,
         to: commerce.orders, field: order_id}
      - {kind: row_count, model: commerce.orders, min: 1, max: 5000000}
      - {kind: freshness, model: commerce.orders, column: ordered_at, max_age: 2d}
      - {kind: sql, name: no_negative_totals, severity: warn,
         sql: "select * from commerce.orders where total < 0"}
      - kind: reconciliation            # two queries agree, key by key, within a tolerance
        name: amazon_revenue
        left: "select day, sum(net) as value from commerce.daily_sales where channel = 'marketplace' group by 1"
        right: "select cast(purchase_date as date) as day, sum(total) as value from raw_amazon.orders group by 1"
        on: day
        tolerance_pct: 0.5              # or tolerance: 0.01 (absolute)
        subject: Amazon revenue         # how messages name the figure

``severity`` is ``error`` (default: the check's task fails, which blocks what depends on
it) or ``warn``. A result keeps the number of failing rows, up to ``SAMPLE_ROWS`` of them,
and a message in the words of the data ("Amazon revenue for 2026-11-22 is 38% below the
raw total (120.00 vs 193.55)").
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from podium import clock
from podium.core.durations import parse_duration
from podium.errors import Problem, ProjectError, did_you_mean, first_line
from podium.settings.yaml_lines import LineDict, LineList, load_yaml
from podium.transforms.models import MODELS_DIR, ModelSet

CHECKS_DIR = "checks"
SAMPLE_ROWS = 5
KINDS = (
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "row_count",
    "freshness",
    "sql",
    "reconciliation",
)
_REQUIRED = {
    "not_null": ("model", "columns"),
    "unique": ("model", "columns"),
    "accepted_values": ("model", "column", "values"),
    "relationships": ("model", "column", "to", "field"),
    "row_count": ("model",),
    "freshness": ("model", "column", "max_age"),
    "sql": ("name", "sql"),
    "reconciliation": ("name", "left", "right", "on"),
}


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    severity: str
    settings: Mapping[str, Any]
    where: str  # file:line, for messages

    @property
    def model(self) -> str | None:
        value = self.settings.get("model")
        return str(value).lower() if value else None


@dataclass
class CheckResult:
    name: str
    kind: str
    severity: str
    passed: bool
    failing: int
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "severity": self.severity,
            "passed": self.passed,
            "failing": self.failing,
            "message": self.message,
            "sample": self.sample,
            "seconds": round(self.seconds, 3),
        }


# -- reading -----------------------------------------------------------------------------


def load_checks(root: Path) -> list[Check]:
    """Every check of the project; ``ProjectError`` lists every problem with file:line."""
    problems: list[Problem] = []
    checks: list[Check] = []
    files = sorted((root / CHECKS_DIR).glob("*.y*ml")) if (root / CHECKS_DIR).is_dir() else []
    beside = sorted((root / MODELS_DIR).rglob("*.y*ml")) if (root / MODELS_DIR).is_dir() else []
    for path in [*files, *beside]:
        default_model = None
        if path in beside:
            parts = path.relative_to(root / MODELS_DIR).parts
            default_model = f"{parts[0]}.{path.stem}".lower() if len(parts) >= 2 else None
        checks += _read_file(root, path, default_model, problems)
    names: dict[str, str] = {}
    for check in checks:
        if check.name in names:
            problems.append(
                _problem(check.where, f"check {check.name!r} is also at {names[check.name]}")
            )
        names.setdefault(check.name, check.where)
    if problems:
        raise ProjectError(problems)
    return checks


def _read_file(
    root: Path, path: Path, default_model: str | None, problems: list[Problem]
) -> list[Check]:
    relative = str(path.relative_to(root))
    loaded, found_problems = load_yaml(path.read_text(encoding="utf-8"), relative)
    problems.extend(found_problems)
    if loaded is None or found_problems:
        return []
    if not isinstance(loaded, LineDict) or "checks" not in loaded:
        if default_model is None:
            problems.append(Problem(relative, 0, "expected `checks:` with a list of checks"))
        return []
    items = loaded["checks"]
    if not isinstance(items, LineList):
        problems.append(Problem(relative, loaded.line_of("checks"), "checks: expected a list"))
        return []
    found = []
    for index, item in enumerate(items):
        line = items.line_at(index)
        check = _one(item, f"{relative}:{line}", default_model, problems, relative, line)
        if check is not None:
            found.append(check)
    return found


def _one(
    item: Any,
    where: str,
    default_model: str | None,
    problems: list[Problem],
    file: str,
    line: int,
) -> Check | None:
    def bad(message: str) -> None:
        problems.append(Problem(file, line, message))

    if not isinstance(item, dict):
        bad("a check is a mapping with at least `kind:`")
        return None
    settings = dict(item)
    kind = settings.get("kind")
    if kind not in KINDS:
        bad(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        return None
    if default_model and "model" not in settings and kind not in ("sql", "reconciliation"):
        settings["model"] = default_model
    if "column" in settings and "columns" not in settings and kind in ("not_null", "unique"):
        settings["columns"] = [settings["column"]]
    missing = [key for key in _REQUIRED[kind] if settings.get(key) in (None, "", [])]
    if missing:
        bad(f"a {kind} check needs {', '.join(missing)}")
        return None
    severity = str(settings.get("severity", "error"))
    if severity not in ("warn", "error"):
        bad(f"severity: expected warn or error, got {severity!r}")
        return None
    if kind == "freshness":
        try:
            parse_duration(str(settings["max_age"]))
        except ValueError as exc:
            bad(f"max_age: {exc}")
            return None
    name = str(settings.get("name") or _default_name(kind, settings))
    return Check(name, kind, severity, settings, where)


def column_problems(checks: Sequence[Check], models: ModelSet) -> list[Problem]:
    """A problem (file:line, the check, the column) for each column a check names that its
    model does not have, where the model's SELECT names its columns (not ``SELECT *``)."""
    found = []
    for check in checks:
        for model_name, column in _columns_named(check):
            model = models.models.get(model_name)
            if model is None or model.columns is None or column.lower() in model.columns:
                continue
            hint = did_you_mean(column.lower(), model.columns)
            found.append(
                _problem(
                    check.where,
                    f"check {check.name!r}: model {model_name} has no column {column!r}{hint}"
                    f" (its columns: {', '.join(model.columns)}; {model.path})",
                )
            )
    return found


def _columns_named(check: Check) -> list[tuple[str, str]]:
    """(model, column) of every column ``check`` names, as its kind reads them."""
    settings, model = check.settings, check.model or ""
    named = [str(c) for c in settings.get("columns") or []]
    if "column" in settings and check.kind not in ("not_null", "unique"):
        named.append(str(settings["column"]))
    pairs = [(model, column) for column in named]
    if check.kind == "relationships":
        pairs.append((str(settings["to"]).lower(), str(settings["field"])))
    return pairs


def _default_name(kind: str, settings: Mapping[str, Any]) -> str:
    columns = settings.get("columns") or [settings.get("column")]
    columns = [str(c) for c in columns if c]
    return "_".join([str(settings.get("model", "")).replace(".", "_"), kind, *columns]).strip("_")


def _problem(where: str, message: str) -> Problem:
    file, _, line = where.rpartition(":")
    return Problem(file, int(line or 0), message)


# -- running -----------------------------------------------------------------------------


def run_check(sql: Any, check: Check, *, now: datetime | None = None) -> CheckResult:
    """Runs one check on a ``WarehouseSql``; a query that fails is a failed check."""
    started = time.monotonic()
    try:
        result = _RUNNERS[check.kind](sql, check, now or clock.now())
    except Exception as exc:  # noqa: BLE001 - a broken check must be reported, not crash
        text = first_line(exc)
        result = CheckResult(
            check.name,
            check.kind,
            check.severity,
            False,
            0,
            f"{check.name}: the check could not run: {text} ({check.where})",
        )
    result.seconds = time.monotonic() - started
    return result


def _table(sql: Any, name: str) -> str:
    from podium.connectors.normalize.names import quote

    schema, _, table = name.partition(".")
    return f"{quote(sql.schema_prefix + schema)}.{quote(table)}" if table else quote(name)


def _query(sql: Any, text: str) -> str:
    """A check's own SQL, written in DuckDB's dialect, for this warehouse."""
    if sql.dialect == "duckdb" and not sql.schema_prefix:
        return text
    from podium.transforms.compile import compile_model
    from podium.transforms.models import Model

    return compile_model(
        Model("check.query", Path("checks"), text), sql.dialect, schema_prefix=sql.schema_prefix
    )


def _failing(sql: Any, check: Check, failing_sql: str, describe: str) -> CheckResult:
    rows, columns = sql.described(f"SELECT * FROM ({failing_sql}) AS f LIMIT {SAMPLE_ROWS}")
    count = int(sql.query(f"SELECT count(*) FROM ({failing_sql}) AS f")[0][0]) if rows else 0
    sample = [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]
    passed = count == 0
    message = f"{check.name}: passed" if passed else f"{check.name}: {count:,} {describe}"
    return CheckResult(check.name, check.kind, check.severity, passed, count, message, sample)


def _cols(check: Check) -> list[str]:
    from podium.connectors.normalize.names import quote

    return [quote(str(c)) for c in check.settings["columns"]]


def _not_null(sql: Any, check: Check, now: datetime) -> CheckResult:
    where = " OR ".join(f"{c} IS NULL" for c in _cols(check))
    text = f"SELECT * FROM {_table(sql, check.model or '')} WHERE {where}"
    return _failing(sql, check, text, f"rows of {check.model} have no {_listed(check)}")


def _unique(sql: Any, check: Check, now: datetime) -> CheckResult:
    cols = ", ".join(_cols(check))
    text = (
        f"SELECT {cols}, count(*) AS copies FROM {_table(sql, check.model or '')} "
        f"GROUP BY {cols} HAVING count(*) > 1"
    )
    return _failing(
        sql, check, text, f"values of {_listed(check)} in {check.model} appear more than once"
    )


def _accepted(sql: Any, check: Check, now: datetime) -> CheckResult:
    from podium.connectors.normalize.names import literal, quote

    column = quote(str(check.settings["column"]))
    values = ", ".join(literal(str(v)) for v in check.settings["values"])
    text = (
        f"SELECT {column}, count(*) AS n FROM {_table(sql, check.model or '')} "
        f"WHERE {column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({values}) "
        f"GROUP BY {column}"
    )
    allowed = ", ".join(str(v) for v in check.settings["values"])
    return _failing(
        sql, check, text, f"unexpected values of {check.settings['column']} (allowed: {allowed})"
    )


def _relationships(sql: Any, check: Check, now: datetime) -> CheckResult:
    from podium.connectors.normalize.names import quote

    column, target = quote(str(check.settings["column"])), quote(str(check.settings["field"]))
    text = (
        f"SELECT c.* FROM {_table(sql, check.model or '')} c WHERE c.{column} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {_table(sql, str(check.settings['to']).lower())} p "
        f"WHERE p.{target} = c.{column})"
    )
    return _failing(
        sql,
        check,
        text,
        f"rows of {check.model} point to a {check.settings['to']} that does not exist",
    )


def _row_count(sql: Any, check: Check, now: datetime) -> CheckResult:
    count = int(sql.query(f"SELECT count(*) FROM {_table(sql, check.model or '')}")[0][0])
    low, high = check.settings.get("min"), check.settings.get("max")
    passed = (low is None or count >= int(low)) and (high is None or count <= int(high))
    bounds = f"{low if low is not None else 0:,}–{high:,}" if high is not None else f"≥ {low:,}"
    message = (
        f"{check.name}: passed ({count:,} rows)"
        if passed
        else f"{check.name}: {check.model} has {count:,} rows, expected {bounds}"
    )
    return CheckResult(check.name, check.kind, check.severity, passed, 0 if passed else 1, message)


def _freshness(sql: Any, check: Check, now: datetime) -> CheckResult:
    from podium.connectors.normalize.names import quote

    column = quote(str(check.settings["column"]))
    newest = sql.query(f"SELECT max({column}) FROM {_table(sql, check.model or '')}")[0][0]
    limit = parse_duration(str(check.settings["max_age"]))
    if newest is None:
        return CheckResult(
            check.name,
            check.kind,
            check.severity,
            False,
            1,
            f"{check.name}: {check.model} has no {check.settings['column']} at all",
        )
    if isinstance(newest, date) and not isinstance(newest, datetime):
        newest = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    age = (now - newest).total_seconds()
    passed = age <= limit
    hours = age / 3600
    message = (
        f"{check.name}: passed (newest {newest.isoformat()})"
        if passed
        else f"{check.name}: the newest {check.model} row is {hours:,.1f} hours old "
        f"({newest.isoformat()}); expected at most {check.settings['max_age']}"
    )
    return CheckResult(check.name, check.kind, check.severity, passed, 0 if passed else 1, message)


def _custom(sql: Any, check: Check, now: datetime) -> CheckResult:
    return _failing(sql, check, _query(sql, str(check.settings["sql"])), "rows break it")


def _reconciliation(sql: Any, check: Check, now: datetime) -> CheckResult:
    from podium.connectors.normalize.names import quote

    keys = check.settings["on"]
    keys = [keys] if isinstance(keys, str) else list(keys)
    left, right = (
        _query(sql, str(check.settings["left"])),
        _query(sql, str(check.settings["right"])),
    )
    join = " AND ".join(f"l.{quote(k)} = r.{quote(k)}" for k in keys)
    key_cols = ", ".join(f"coalesce(l.{quote(k)}, r.{quote(k)}) AS {quote(k)}" for k in keys)
    rows = sql.query(
        f"SELECT {key_cols}, l.value AS model_value, r.value AS raw_value "
        f"FROM ({left}) AS l FULL OUTER JOIN ({right}) AS r ON {join} ORDER BY 1",
    )
    absolute = Decimal(str(check.settings.get("tolerance", 0)))
    percent = Decimal(str(check.settings.get("tolerance_pct", 0)))
    subject = str(check.settings.get("subject") or check.name)
    broken: list[dict[str, Any]] = []
    messages: list[str] = []
    for row in rows:
        key, model_value, raw_value = row[: len(keys)], row[len(keys)], row[len(keys) + 1]
        mv = Decimal(str(model_value)) if model_value is not None else Decimal(0)
        rv = Decimal(str(raw_value)) if raw_value is not None else Decimal(0)
        diff = mv - rv
        allowed = max(absolute, abs(rv) * percent / 100)
        if abs(diff) <= allowed:
            continue
        label = " ".join(str(_plain(k)) for k in key)
        if rv:
            pct = abs(diff) / abs(rv) * 100
            side = "below" if diff < 0 else "above"
            messages.append(
                f"{subject} for {label} is {pct:.0f}% {side} the raw total ({mv:,.2f} vs {rv:,.2f})"
            )
        else:
            messages.append(f"{subject} for {label} is {mv:,.2f} where the raw total is 0")
        broken.append(
            {
                **{k: _plain(v) for k, v in zip(keys, key, strict=True)},
                "model_value": _plain(model_value),
                "raw_value": _plain(raw_value),
            }
        )
    passed = not broken
    message = (
        f"{check.name}: passed ({len(rows)} compared)"
        if passed
        else (
            "; ".join(messages[:3])
            + (f"; and {len(messages) - 3} more" if len(messages) > 3 else "")
        )
    )
    return CheckResult(
        check.name, check.kind, check.severity, passed, len(broken), message, broken[:SAMPLE_ROWS]
    )


_RUNNERS = {
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted,
    "relationships": _relationships,
    "row_count": _row_count,
    "freshness": _freshness,
    "sql": _custom,
    "reconciliation": _reconciliation,
}


def _listed(check: Check) -> str:
    return ", ".join(str(c) for c in check.settings["columns"])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def check_reads(check: Check) -> set[str]:
    """``schema.table`` of every relation a check reads (lower case)."""
    import sqlglot

    from podium.transforms.models import tables_read

    found = {check.model} if check.model else set()
    if check.settings.get("to"):
        found.add(str(check.settings["to"]).lower())
    for key in ("sql", "left", "right"):
        text = check.settings.get(key)
        if isinstance(text, str):
            try:
                found |= tables_read(sqlglot.parse_one(text, read="duckdb"))
            except sqlglot.errors.ParseError:
                continue
    return found


def check_dependencies(models: ModelSet, checks: Sequence[Check]) -> dict[str, list[str]]:
    """Model → the other models its checks read (a relationship's target, a query's
    tables), which must be built before the checks run; an edge that would close a cycle
    (the other model reads this one) is left out."""
    found: dict[str, list[str]] = {}

    def reads(name: str) -> list[str]:
        return [*models.upstream(name), *found.get(name, ())]

    for check in checks:
        if check.model is None or check.model not in models.models:
            continue
        for other in sorted(check_reads(check) & set(models.models) - {check.model}):
            if check.model not in models.reachable({other}, reads):
                found.setdefault(check.model, []).append(other)
    return found


def checks_for(checks: Sequence[Check], models: Sequence[str]) -> list[Check]:
    """The checks declared on any of ``models``."""
    wanted = set(models)
    return [c for c in checks if c.model in wanted]


def select_checks(root: Path, models: Any, selector: str) -> list[Check]:
    """The checks a ``check:`` selector names: a check's name, ``checks/<file>.yaml``, or a
    model selector (the checks declared on those models); ``*`` is every check."""
    from podium.errors import UsageError

    checks = load_checks(root)
    text = selector.strip()
    if text in ("*", ""):
        return checks
    by_name = [c for c in checks if c.name == text]
    if by_name:
        return by_name
    by_file = [c for c in checks if c.where.rsplit(":", 1)[0] in (text, f"{CHECKS_DIR}/{text}")]
    if by_file:
        return by_file
    try:
        chosen = models.select(text)
    except UsageError:
        names = ", ".join(sorted(c.name for c in checks)) or "none"
        raise UsageError(
            f"no check, checks file or model matches {selector!r}; checks: {names}"
        ) from None
    return checks_for(checks, chosen)
