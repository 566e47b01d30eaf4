"""SQL models: plain ``SELECT`` files under ``models/``, their settings and their graph.

``models/commerce/orders.sql`` is the model ``commerce.orders``: the folder right under
``models/`` is the schema, the file name the table (deeper folders only group files).
Settings come from a leading comment block, or from a YAML file beside the SQL with the
same name (``orders.yaml``); the YAML wins where both set a key::

    -- materialized: incremental      # view (default) | table | incremental
    -- unique_key: order_id           # incremental: one column or [a, b]
    -- updated_at: updated_at         # incremental: rows newer than the stored max …
    -- lookback: 3d                   # … minus this window are merged again
    -- revenue: net_sales             # optional: alerts show sum(net_sales) of its rows
    select …

Dependencies are the tables a query reads, found by parsing it (sqlglot, DuckDB dialect):
a table that is another model is an edge between models; any other ``schema.table`` is an
input (a raw table an extract task loads). Common table expressions are not tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.core.durations import parse_duration
from podium.errors import Problem, ProjectError, UsageError, did_you_mean, first_line
from podium.settings.yaml_lines import load_yaml

if TYPE_CHECKING:  # sqlglot is imported when models are parsed, not by every project load
    from sqlglot import exp

MODELS_DIR = "models"
DIALECT = "duckdb"
_SETTING = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_KEYS = ("materialized", "unique_key", "updated_at", "lookback", "description", "revenue")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Materialized(StrEnum):
    VIEW = "view"
    TABLE = "table"
    INCREMENTAL = "incremental"


@dataclass(frozen=True)
class Model:
    """One model: where it is, what it selects, how it is kept, and what it reads."""

    name: str  # schema.table
    path: Path  # relative to the project
    sql: str  # the SELECT, settings comments included
    materialized: Materialized = Materialized.VIEW
    unique_key: tuple[str, ...] = ()
    updated_at: str | None = None
    lookback: float = 0.0  # seconds
    description: str = ""
    revenue: str = ""  # a SQL expression summed over the model's rows for alerts ("" none)
    reads: frozenset[str] = frozenset()  # schema.table, lower case, models or inputs
    #: the columns its SELECT names (lower case); None when they are not knowable from the
    #: SQL alone (``SELECT *``, ``t.*``)
    columns: tuple[str, ...] | None = None

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]


@dataclass(frozen=True)
class ModelSet:
    """Every model of a project, by name, and the graph between them."""

    models: Mapping[str, Model] = field(default_factory=dict)

    def upstream(self, name: str) -> list[str]:
        """The models ``name`` reads, directly."""
        return sorted(r for r in self.models[name].reads if r in self.models)

    def inputs(self, name: str) -> list[str]:
        """The tables ``name`` reads that are not models (raw tables)."""
        return sorted(r for r in self.models[name].reads if r not in self.models)

    def downstream(self, name: str) -> list[str]:
        return sorted(m for m, model in self.models.items() if name in model.reads)

    def order(
        self,
        names: Iterable[str] | None = None,
        after: Mapping[str, Iterable[str]] | None = None,
    ) -> list[str]:
        """``names`` (default: all) with every model after the models it reads, and after
        the models ``after`` names for it (those its checks read)."""
        wanted = set(self.models if names is None else names)
        extra = after or {}
        done: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for parent in [*self.upstream(name), *extra.get(name, ())]:
                visit(parent)
            if name in wanted:
                done.append(name)

        for name in sorted(wanted):
            visit(name)
        return done

    def select(self, selector: str) -> list[str]:
        """The models a selector names, in run order.

        ``commerce`` or ``models/commerce`` (a folder: every model under it), ``orders`` or
        ``commerce.orders`` (one model), ``+model`` (it and everything upstream),
        ``model+`` (it and everything downstream); ``*`` is every model.
        """
        text = selector.strip()
        up, down = text.startswith("+"), text.endswith("+")
        text = text.strip("+")
        if text in ("*", ""):
            return self.order()
        chosen = self._match(text, selector)
        if up:
            chosen |= self.reachable(chosen, self.upstream)
        if down:
            chosen |= self.reachable(chosen, self.downstream)
        return self.order(chosen)

    def _match(self, text: str, selector: str) -> set[str]:
        folder = f"{MODELS_DIR}/{text.removeprefix(f'{MODELS_DIR}/').rstrip('/')}/"
        by_folder = {
            name
            for name, model in self.models.items()
            if f"{model.path.parent.as_posix()}/".startswith(folder)
        }
        if by_folder:
            return by_folder
        if text in self.models:
            return {text}
        by_table = {name for name, model in self.models.items() if model.table == text}
        if len(by_table) == 1:
            return by_table
        if len(by_table) > 1:
            raise UsageError(
                f"model selector {selector!r} is ambiguous: {', '.join(sorted(by_table))}; "
                "name it as schema.table"
            )
        known = ", ".join(sorted(self.models)) or "none (add .sql files under models/)"
        hint = did_you_mean(text, self.models)
        raise UsageError(f"no model or folder matches {selector!r}{hint}; models: {known}")

    @staticmethod
    def reachable(start: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
        """Every name reached from ``start`` by repeating ``step`` (``start`` itself only
        if a step leads back to it)."""
        found, pending = set(), list(start)
        while pending:
            for other in step(pending.pop()):
                if other not in found:
                    found.add(other)
                    pending.append(other)
        return found


def load_models(root: Path) -> ModelSet:
    """Every model under ``root/models``; ``ProjectError`` lists every problem found."""
    folder = root / MODELS_DIR
    if not folder.is_dir():
        return ModelSet({})
    problems: list[Problem] = []
    models: dict[str, Model] = {}
    for path in sorted(folder.rglob("*.sql")):
        relative = path.relative_to(root)
        model = _load_one(root, relative, problems)
        if model is None:
            continue
        if model.name in models:
            problems.append(
                Problem(
                    str(relative),
                    0,
                    f"model {model.name} is also defined in {models[model.name].path}; "
                    "rename one of the files",
                )
            )
            continue
        models[model.name] = model
    found = ModelSet(models)
    problems += _cycles(found)
    if problems:
        raise ProjectError(problems)
    return found


def _load_one(root: Path, relative: Path, problems: list[Problem]) -> Model | None:
    where = str(relative)
    parts = relative.parts[1:]  # below models/
    if len(parts) < 2:
        problems.append(
            Problem(
                where,
                0,
                "a model file must sit in a folder naming its schema: models/<schema>/<table>.sql",
            )
        )
        return None
    schema, table = parts[0], Path(parts[-1]).stem
    for label, value in (("schema", schema), ("table", table)):
        if not _NAME.match(value):
            problems.append(
                Problem(where, 0, f"{label} name {value!r} must be letters, digits and _")
            )
            return None
    text = (root / relative).read_text(encoding="utf-8")
    settings, lines = _comment_settings(text)
    beside = (root / relative).with_suffix(".yaml")
    if not beside.exists():
        beside = beside.with_suffix(".yml")
    if beside.exists():
        settings.update(_yaml_settings(beside, root, problems))
        lines.update(dict.fromkeys(settings, 0))
    name = f"{schema}.{table}".lower()
    parsed = _reads(text, where, problems)
    if parsed is None:
        return None
    reads, columns = parsed
    return _with_settings(
        Model(name, relative, text, reads=frozenset(reads - {name}), columns=columns),
        settings,
        lines,
        where,
        problems,
    )


def _comment_settings(text: str) -> tuple[dict[str, Any], dict[str, int]]:
    settings: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _SETTING.match(stripped)
        if match and match.group(1) in _KEYS:
            settings[match.group(1)] = match.group(2)
            lines[match.group(1)] = number
    return settings, lines


def _yaml_settings(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any]:
    where = str(path.relative_to(root))
    data, found = load_yaml(path.read_text(encoding="utf-8"), where)
    problems.extend(found)
    if data is None or found:
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(where, 0, "expected a mapping of model settings"))
        return {}
    return {k: v for k, v in data.items() if k in _KEYS}


def _with_settings(
    model: Model,
    settings: Mapping[str, Any],
    lines: Mapping[str, int],
    where: str,
    problems: list[Problem],
) -> Model | None:
    def problem(key: str, message: str) -> None:
        problems.append(Problem(where, lines.get(key, 0), f"{key}: {message}"))

    values: dict[str, Any] = {}
    kind = str(settings.get("materialized", "view")).strip()
    try:
        values["materialized"] = Materialized(kind)
    except ValueError:
        problem("materialized", f"expected view, table or incremental, got {kind!r}")
        return None
    key = settings.get("unique_key")
    if key is not None:
        values["unique_key"] = _columns(key)
    if values["materialized"] is Materialized.INCREMENTAL and not values.get("unique_key"):
        problem("unique_key", "an incremental model needs the column(s) that identify a row")
        return None
    if settings.get("updated_at"):
        values["updated_at"] = str(settings["updated_at"]).strip()
    if settings.get("lookback") is not None:
        try:
            values["lookback"] = parse_duration(str(settings["lookback"]))
        except ValueError as exc:
            problem("lookback", str(exc))
            return None
    if settings.get("description"):
        values["description"] = str(settings["description"])
    revenue = settings.get("revenue")
    if revenue is not None:
        if not isinstance(revenue, str) or not revenue.strip() or ";" in revenue:
            problem("revenue", "expected a column or SQL expression to sum, e.g. net_sales")
            return None
        values["revenue"] = revenue.strip()
    from dataclasses import replace

    return replace(model, **values)


def _columns(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value)
    text = str(value).strip().strip("[]")
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _reads(
    text: str, where: str, problems: list[Problem]
) -> tuple[set[str], tuple[str, ...] | None] | None:
    """The tables a model's SELECT reads, and the columns it names (None when a ``*``
    hides them)."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(text, read=DIALECT) if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = int(first.get("line") or 0)
        problems.append(Problem(where, line, f"SQL does not parse: {first_line(exc)}"))
        return None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        problems.append(Problem(where, 0, "a model is exactly one SELECT (or WITH … SELECT)"))
        return None
    return tables_read(statements[0]), output_columns(statements[0])


def output_columns(query: exp.Query) -> tuple[str, ...] | None:
    """The names of the columns ``query`` returns, lower case; None when it has a ``*``."""
    from sqlglot import exp

    if any(isinstance(e, exp.Star) or e.is_star for e in query.selects):
        return None
    names = tuple(name.lower() for name in query.named_selects)
    return names if len(names) == len(query.selects) and all(names) else None


def tables_read(query: exp.Expr) -> set[str]:
    """``schema.table`` of every table a query reads (lower case), CTE names excluded."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    found = set()
    for table in query.find_all(exp.Table):
        name = table.name.lower()
        schema = table.db.lower()
        if not name or (not schema and name in ctes):
            continue
        if isinstance(table.this, exp.Func):  # read_csv(…), range(…): not a table
            continue
        found.add(f"{schema}.{name}" if schema else name)
    return found


def _cycles(found: ModelSet) -> list[Problem]:
    problems: list[Problem] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for parent in found.upstream(name):
            if state.get(parent) == 1:
                cycle = trail[trail.index(parent) :] + [parent] if parent in trail else [parent]
                problems.append(
                    Problem(
                        str(found.models[name].path),
                        0,
                        "models read each other in a cycle: " + " → ".join(cycle),
                    )
                )
            elif parent not in state:
                visit(parent, trail + [parent])
        state[name] = 2

    for name in sorted(found.models):
        if name not in state:
            visit(name, [name])
    return problems


def describe(models: Sequence[Model]) -> list[dict[str, Any]]:
    """What ``podium models list --json`` prints."""
    return [
        {
            "name": m.name,
            "path": str(m.path),
            "materialized": str(m.materialized),
            "unique_key": list(m.unique_key),
            "reads": sorted(m.reads),
        }
        for m in models
    ]
