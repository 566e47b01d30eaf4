"""What the demo prints at the end: what landed, what it adds up to, what was checked,
what was late and what was restated, and what the syncs sent back out.

``summarise`` reads a run (``queries.show_run``), its catch-up runs and the warehouse;
``render`` turns that into lines. Each part copes with what is not there (a model that
failed, a mart not built): it says so and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from podium.core.workflow import Project

MART = ("marts", "daily_sales_by_channel")
CHANNELS = ("dtc", "marketplace", "wholesale")  # shown in this order, others after
LAST_DAYS = 7
WIDTH = 96
_CHECKS_FAILED = re.compile(r"\d+ check\(s\) failed")


@dataclass
class Source:
    connection: str
    dataset: str
    tables: list[tuple[str, int]]  # table, rows


@dataclass
class Checks:
    """The latest result of each check: passed, or failed with severity ``warn`` (a failed
    ``error`` check fails its task: see ``Failure``)."""

    passed: int = 0
    warned: list[str] = field(default_factory=list)  # their messages


@dataclass
class Failure:
    task: str
    error: str
    run: str  # "" for the run itself, else "catch-up run ID"
    recovered: bool  # a catch-up run re-ran the task and it succeeded

    @property
    def by_check(self) -> bool:
        return _CHECKS_FAILED.search(self.error) is not None


@dataclass
class Catchup:
    run_id: str
    status: str
    tasks: list[str]


@dataclass
class Summary:
    sources: list[Source]
    revenue: list[tuple[Any, str, Decimal]] | None  # day, channel, net; None: no mart
    checks: Checks
    late: list[str]
    incomplete: list[str]
    catchups: list[Catchup]
    failed: list[Failure]  # every task that did not succeed, in any run of the tree
    syncs: list[tuple[str, str]] = field(default_factory=list)  # (task, where), what it did


# -- collecting -----------------------------------------------------------------------------


def summarise(
    project: Project, run: Mapping[str, Any], catchups: Sequence[Mapping[str, Any]]
) -> Summary:
    """The summary of ``run`` and its ``catchups`` (each a ``queries.show_run``)."""
    from podium.connectors.registry import is_source
    from podium.transforms.warehouse_sql import open_warehouse_sql

    with open_warehouse_sql(project.warehouse, Path(project.root)) as sql:
        sources = [
            _source(sql, name, settings)
            for name, settings in project.connections.items()
            if is_source(settings)  # a connection only syncs write to loads nothing
        ]
        revenue = _revenue(sql)
    rerun = [[t for t in c["tasks"] if t["status"] != "pending"] for c in catchups]
    latest = {t["id"]: t for t in [*run["tasks"], *(t for tasks in rerun for t in tasks)]}
    ran = [
        ("", run["tasks"]),
        *((f"catch-up run {c['run_id']}", t) for c, t in zip(catchups, rerun, strict=True)),
    ]
    return Summary(
        sources=sources,
        revenue=revenue,
        checks=_checks(latest.values()),
        late=[t["id"] for t in run["tasks"] if t["late"]],
        incomplete=[t["id"] for t in run["tasks"] if t["incomplete"]],
        catchups=[
            Catchup(c["run_id"], c["status"], [t["id"] for t in tasks])
            for c, tasks in zip(catchups, rerun, strict=True)
        ],
        failed=[
            Failure(
                t["id"],
                str(t["error"] or t["status"]),
                where,
                latest[t["id"]]["status"] == "succeeded",
            )
            for where, tasks in ran
            for t in tasks
            if t["status"] not in ("succeeded", "skipped")
        ],
        syncs=[
            (f"{t['id']} ({where or 'the run'})", str(t["output"]["summary"]))
            for where, tasks in ran
            for t in tasks
            if isinstance(t.get("output"), Mapping)
            and "sync" in t["output"]
            and "summary" in t["output"]
        ],
    )


def _source(sql: Any, name: str, settings: Mapping[str, Any]) -> Source:
    from podium.connectors.registry import dataset_for
    from podium.transforms.warehouse_sql import count_rows

    dataset = dataset_for(name, settings)
    tables = sql.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
        " AND table_type <> 'VIEW' ORDER BY table_name",
        (sql.schema_prefix + dataset,),
    )
    counts = [(str(t), count_rows(sql, dataset, str(t))) for (t,) in tables]
    return Source(name, dataset, counts)


def _revenue(sql: Any) -> list[tuple[Any, str, Decimal]] | None:
    from podium.transforms.warehouse_sql import qualified

    if sql.relation_kind(*MART) is None:
        return None
    mart = qualified(sql, *MART)
    rows = sql.query(
        f"SELECT day, channel, sum(net) FROM {mart}"
        f" WHERE day > (SELECT max(day) FROM {mart}) - {LAST_DAYS}"
        " GROUP BY day, channel ORDER BY day, channel"
    )
    return [(day, str(channel), Decimal(str(net or 0))) for day, channel, net in rows]


def _checks(tasks: Iterable[Mapping[str, Any]]) -> Checks:
    checks = Checks()
    for task in tasks:
        output = task.get("output")
        for result in output.get("checks", []) if isinstance(output, Mapping) else []:
            if result.get("passed"):
                checks.passed += 1
            else:
                checks.warned.append(str(result.get("message") or result.get("name")))
    return checks


# -- rendering ------------------------------------------------------------------------------


def render(summary: Summary) -> list[str]:
    return [
        *_render_sources(summary.sources),
        "",
        *_render_revenue(summary.revenue),
        "",
        *_render_checks(summary.checks, summary.failed),
        "",
        *_render_lateness(summary),
        *(["", *_render_syncs(summary.syncs)] if summary.syncs else []),
    ]


def _render_syncs(syncs: Sequence[tuple[str, str]]) -> list[str]:
    lines = ["Reverse ETL (syncs: in podium.yaml; podium sync preview NAME shows the next one)"]
    for task, said in syncs:
        lines += _wrapped(said.split(" "), f"  {task}: ", "    ", sep=" ")
    return lines


def _render_sources(sources: Sequence[Source]) -> list[str]:
    lines = ["Rows per source (raw tables in the warehouse)"]
    for s in sources:
        total = sum(rows for _, rows in s.tables)
        parts = [f"{table} {rows:,}" for table, rows in s.tables if "__" not in table]
        children = sum(1 for table, _ in s.tables if "__" in table)
        parts += [f"+{children} child tables"] if children else []
        head = f"  {s.connection:<10} {total:>7,} rows  "
        lines += _wrapped(parts or ["nothing loaded"], head, " " * len(head), sep=" · ")
    return lines


def _render_revenue(revenue: list[tuple[Any, str, Decimal]] | None) -> list[str]:
    title = f"Net revenue by channel, last {LAST_DAYS} days ({'.'.join(MART)}, USD)"
    if revenue is None:
        return [title, "  not in the warehouse: its model failed or is missing (see above)"]
    if not revenue:
        return [title, "  no sales yet"]
    seen = {channel for _, channel, _ in revenue}
    channels = [c for c in CHANNELS if c in seen] + sorted(seen - set(CHANNELS))
    cells = {(day, channel): net for day, channel, net in revenue}
    body: list[tuple[str, list[Decimal]]] = []
    for day in sorted({day for day, _, _ in revenue}):
        nets = [cells.get((day, c), Decimal(0)) for c in channels]
        body.append((str(day), [*nets, sum(nets, Decimal(0))]))
    totals = [sum(column, Decimal(0)) for column in zip(*(nets for _, nets in body), strict=True)]
    table = [
        ["day", *channels, "total"],
        *([day, *(f"{n:,.2f}" for n in nets)] for day, nets in body),
        ["total", *(f"{n:,.2f}" for n in totals)],
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]

    def line(row: Sequence[str]) -> str:
        return "  " + "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  " + "  ".join("-" * w for w in widths)
    return [title, *(line(row) for row in table[:-1]), rule, line(table[-1])]


def _render_checks(checks: Checks, failed: Sequence[Failure]) -> list[str]:
    stopped = [f for f in failed if f.by_check]
    ran = checks.passed + len(checks.warned)
    if not ran and not stopped:
        head = "Checks: none ran (declare them in checks/*.yaml or beside a model)"
    else:
        head = f"Checks: {checks.passed} of {ran} passed"
        head += f", {len(checks.warned)} warned" if checks.warned else ""
        head += f"; a failing check stopped {len(stopped)} task(s)" if stopped else ""
    lines = [head, *(f"  warned: {message}" for message in checks.warned[:5])]
    if failed:
        lines.append("Tasks that did not succeed:")
    for f in failed[:8]:
        where = f" in {f.run}" if f.run else ""
        after = "; its catch-up re-run succeeded" if f.recovered and not f.run else ""
        lines.append(f"  {f.task}{where}: {f.error}{after}")
    return lines


def _render_lateness(summary: Summary) -> list[str]:
    if not summary.late:
        return ["Late: nothing; every source landed on time"]
    late = " and ".join(summary.late)
    lines = [
        f"Late: {late} ran past late_after, and the workflow went on without it.",
        f"Built from what was fresh and marked incomplete ({len(summary.incomplete)}):",
        *_wrapped(summary.incomplete, "  ", "  "),
    ]
    for c in summary.catchups:
        what = (
            "exactly those" if sorted(c.tasks) == sorted(summary.incomplete) else ", ".join(c.tasks)
        )
        lines.append(
            f"Restated: when {late} landed, catch-up run {c.run_id} re-ran {what}: {c.status}"
        )
    if not summary.catchups:
        lines.append(f"Restated: nothing; {late} did not land, so no catch-up run started")
    return lines


def _wrapped(items: Sequence[str], first: str, rest: str, sep: str = ", ") -> list[str]:
    """``items`` joined by ``sep`` in lines of at most ``WIDTH`` characters."""
    lines: list[str] = []
    line = first
    for n, item in enumerate(items):
        piece = item if n == 0 else sep + item
        if n and len(line) + len(piece) > WIDTH:
            lines.append(line + sep.rstrip())
            line, piece = rest, item
        line += piece
    return [*lines, line]
