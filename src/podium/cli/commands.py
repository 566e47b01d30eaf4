"""One function per CLI command: parse flags, call a service, print the result."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from podium import clock
from podium.cli import colour
from podium.cli.progress import Progress, follow
from podium.cli.render import render_graph, render_run, render_runs
from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.engine import queries, services
from podium.engine.loop import Engine
from podium.errors import EngineLockedError, UsageError
from podium.observe.wiring import Observers
from podium.observe.worker import fan_out
from podium.store.database import Database, open_database


def _project(args: argparse.Namespace) -> Project:
    from podium.project import load_project

    root = Path(args.project).resolve()
    if not root.is_dir():
        raise UsageError(f"--project {args.project}: no such folder")
    return load_project(root)


def _open(project: Project) -> Database:
    return open_database(project.store_url, project.secrets)


def _print_json(value: Any, mask: Masker | None = None) -> None:
    print(json.dumps(mask.data(value) if mask else value, indent=2, default=str))


# -- project ----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from podium.project import init_project

    dest = Path(args.dir or args.project).resolve()
    written = init_project(dest, args.template)
    print(f"created a podium project in {dest} ({len(written)} files)")
    if args.template == "commerce":
        print("next: set the variables podium.yaml names (see README.md), then")
        print("      podium validate, podium run daily — or try it first with `podium demo`")
    else:
        print("next: podium validate, then podium run example")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    project = _project(args)
    tasks = sum(len(wf.tasks) for wf in project.workflows.values())
    workflows = len(project.workflows)
    print(
        f"ok: {workflows} workflow{'s' if workflows != 1 else ''},"
        f" {tasks} task{'s' if tasks != 1 else ''}, no problems"
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from podium.project.schema import schema_for

    text = json.dumps(schema_for(args.which), indent=2, ensure_ascii=False) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {args.output}: {exc.strerror or exc}") from exc
    print(f"wrote the {args.which} schema to {args.output}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    project = _project(args)
    print(render_graph(services.workflow_named(project, args.workflow), args.format))
    return 0


# -- running ----------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    project = _project(args)
    params = dict(services.parse_param(p) for p in args.param)
    services.check_params(services.workflow_named(project, args.workflow), params)
    db = _open(project)
    progress = Progress(enabled=not args.json, stream=sys.stdout)
    since = clock.time()
    run_id = services.start_run(db, project, args.workflow, params)
    progress.started(run_id, args.workflow)
    execute_tree(project, db, run_id, progress)
    run = queries.show_run(db, run_id)
    progress.finished(db, run)
    ok = tree_succeeded(db, run_id)
    ok = run_downstream(project, db, since, [run_id], progress, leave=args.no_downstream) and ok
    if args.json:
        _print_json(run, Masker(project.secrets))
    return 0 if ok else 1


#: at most this many triggered runs are run by one command (a workflow that triggers
#: itself would never end); the rest are left to podium up, which is said
MAX_DOWNSTREAM = 100


def run_downstream(
    project: Project,
    db: Database,
    since: float,
    done: list[str],
    progress: Progress,
    *,
    leave: bool,
) -> bool:
    """Runs here the runs triggered since ``since`` (by a workflow trigger on a run's end,
    an event or asset trigger on what it did; the runs in ``done`` ran already), and
    theirs in turn: without an engine they would wait for ``podium up``. With ``leave``,
    only says so. True when every run it ran succeeded."""
    ok, done, ran = True, list(done), 0
    while True:
        services.dispatch_pending(db, project)  # its engine stopped as soon as its run ended
        pending = queries.triggered_runs(db, since, exclude=done)
        if not pending:
            return ok
        if leave or ran >= MAX_DOWNSTREAM:
            for run in pending:
                progress.note(
                    f"run {run['run_id']} of {run['workflow']} was triggered"
                    f" ({_trigger_text(run['trigger'])}) and waits for `podium up`"
                    + ("" if leave else f" (this command runs at most {MAX_DOWNSTREAM})")
                )
            return ok
        for run in pending[: MAX_DOWNSTREAM - ran]:
            progress.note(
                f"run {run['run_id']} of {run['workflow']} was triggered"
                f" ({_trigger_text(run['trigger'])}); running it here too"
                " (--no-downstream leaves it to podium up)"
            )
            progress.started(run["run_id"], run["workflow"])
            execute_tree(project, db, run["run_id"], progress)
            progress.finished(db, queries.show_run(db, run["run_id"]))
            ok = tree_succeeded(db, run["run_id"]) and ok
            done.append(run["run_id"])
            ran += 1


def _trigger_text(trigger: dict[str, Any]) -> str:
    kind = trigger.get("type")
    if kind == "workflow":
        return f"workflow trigger: {trigger.get('workflow')} {trigger.get('status')}"
    if kind == "event":
        return f"event trigger: {trigger.get('event')}"
    if kind == "asset":
        return f"asset trigger: {', '.join(trigger.get('assets') or [])}"
    return f"{kind} trigger"


def execute_tree(project: Project, db: Database, root_id: str, progress: Progress) -> None:
    """Runs the run tree (the run, its catch-ups, its child runs) here until all end.

    When a ``podium up`` holds this SQLite store, the run is left to it and followed."""
    engine = Engine(project, db, scope_root=root_id)
    waiting = False
    while True:
        try:
            engine.start(what=f"podium run {root_id}")
            break
        except EngineLockedError as exc:
            if str(exc.holder.get("what", "")).startswith("podium up"):
                progress.note("podium up is serving this store; it runs this one, we follow it")
                follow(db, root_id, progress)
                return
            if not waiting:  # another `podium run`: the store is ours once it ends
                progress.note(
                    f"waiting for {exc.holder.get('what')} (pid {exc.holder.get('pid')})"
                    " to finish with this SQLite store"
                )
                waiting = True
            time.sleep(0.2)
    # lineage: (when podium.yaml sets it) on its own thread, sent before this command ends
    observers = Observers(project, db, metrics=False, report=_to_stderr)
    engine.on_events = fan_out(progress.on_events, observers.on_events)
    engine.on_outage = lambda reason: progress.note(reason or "the store is back; carrying on")
    told = False

    def done() -> bool:
        nonlocal told
        if not told and (blocker := queries.blocking_run(db, root_id)):
            told = True
            progress.note(
                f"waiting: workflow {blocker['workflow']} allows {blocker['limit']} active"
                f" run(s) and run {blocker['run_id']} is active; it starts when that one ends"
                f" (run by podium up), or cancel it: podium cancel {blocker['run_id']}"
            )
        return queries.open_runs_in_tree(db, root_id) == 0 and not engine.busy

    try:
        engine.run(until=done)
    except KeyboardInterrupt:  # Ctrl-C: cancel the run rather than leave it running
        progress.note(f"interrupted: cancelling run {root_id}")
        services.cancel_run(db, project, root_id)
        engine.poke()
        engine.step()
        raise
    finally:
        engine.close()
        observers.close()


def _to_stderr(line: str) -> None:
    print(f"podium: {line}", file=sys.stderr, flush=True)


def tree_succeeded(db: Database, root_id: str) -> bool:
    rows = db.read().fetchall("SELECT status FROM runs WHERE root_id = ?", (root_id,))
    return all(r[0] == "succeeded" for r in rows)


def cmd_up(args: argparse.Namespace) -> int:
    from podium.server.up import serve

    project = _project(args)
    db = _open(project)
    return serve(project, db, host=args.host, port=args.port, log_format=args.log_format)


def cmd_backfill(args: argparse.Namespace) -> int:
    project = _project(args)
    start = services.parse_date(args.start, "--start")
    end = services.parse_date(args.end, "--end", end_of_day=True)
    db = _open(project)
    since = clock.time()
    created, skipped = services.backfill(db, project, args.workflow, start, end)
    print(
        f"backfill of {args.workflow}: {len(created)} runs created"
        + (f", {skipped} ticks already had a run" if skipped else "")
    )
    if not args.wait:
        for run_id in created:
            print(f"  {run_id}")
        print("they start as soon as `podium up` runs (or pass --wait to run them here)")
        return 0
    failed = 0
    progress = Progress(enabled=True, stream=sys.stdout)
    for run_id in created:
        execute_tree(project, db, run_id, progress)
        failed += not tree_succeeded(db, run_id)
    print(f"{len(created) - failed} succeeded, {failed} failed")
    downstream_ok = run_downstream(project, db, since, created, progress, leave=False)
    return 1 if failed or not downstream_ok else 0


# -- inspecting -------------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    project = _project(args)
    runs = queries.list_runs(
        _open(project), workflow=args.workflow, status=args.status, limit=args.limit
    )
    if args.json:
        _print_json(runs, Masker(project.secrets))
    else:
        print(render_runs(runs, colour=colour.wanted(sys.stdout)))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    project = _project(args)
    db = _open(project)
    run = queries.show_run(db, queries.resolve_run(db, args.run))
    if args.json:
        _print_json(run, Masker(project.secrets))
    else:
        print(render_run(Masker(project.secrets).data(run), colour=colour.wanted(sys.stdout)))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from podium.cli import logs

    project = _project(args)
    return logs.cmd_logs(args, _open(project), Masker(project.secrets))


# -- changing runs ----------------------------------------------------------------------


def cmd_retry(args: argparse.Namespace) -> int:
    project = _project(args)
    db = _open(project)
    run_id = queries.resolve_run(db, args.run)
    since = clock.time()
    tasks = services.retry_run(db, project, run_id, failed_only=args.failed_only)
    print(f"run {run_id}: re-running {len(tasks)} task(s): {', '.join(tasks)}")
    if not args.wait:
        print(
            "it starts as soon as `podium up` runs on this store"
            f" (or pass --wait to run it here: podium retry {run_id} --wait"
            f"{' --failed-only' if args.failed_only else ''})"
        )
        return 0
    progress = Progress(enabled=True, stream=sys.stdout)
    execute_tree(project, db, run_id, progress)
    run = queries.show_run(db, run_id)
    progress.finished(db, run)
    ok = run_downstream(project, db, since, [run_id], progress, leave=False)
    return 0 if run["status"] == "succeeded" and ok else 1


def cmd_cancel(args: argparse.Namespace) -> int:
    project = _project(args)
    db = _open(project)
    run_id = queries.resolve_run(db, args.run)
    if services.cancel_run(db, project, run_id):
        print(f"run {run_id}: cancelling")
    else:
        print(f"run {run_id} had already finished; nothing to cancel")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    from podium.engine import pauses

    project = _project(args)
    if pauses.pause_workflow(_open(project), project, args.workflow, by="cli"):
        print(f"workflow {args.workflow}: schedules paused (podium resume {args.workflow})")
    else:
        print(f"workflow {args.workflow}: schedules were paused already")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from podium.engine import pauses

    project = _project(args)
    if pauses.resume_workflow(_open(project), project, args.workflow):
        print(f"workflow {args.workflow}: schedules resumed (missed ticks follow its catchup)")
    else:
        print(f"workflow {args.workflow}: schedules were not paused")
    return 0


def cmd_emit(args: argparse.Namespace) -> int:
    project = _project(args)
    try:
        payload = json.loads(args.payload) if args.payload is not None else {}
    except ValueError as exc:
        raise UsageError(f"--payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise UsageError('--payload must be a JSON object, e.g. \'{"store": "us"}\'')
    seq = services.emit_event(_open(project), args.event, payload)
    print(f"event {args.event} stored (#{seq})")
    return 0


# -- extract ------------------------------------------------------------------------------


def cmd_extract(args: argparse.Namespace) -> int:
    from podium.connectors.extract import extract

    project = _project(args)
    mask = Masker(project.secrets)
    show = sys.stderr.isatty() and not args.json
    last = [0.0]

    def progress(p: Any) -> None:
        if show and p.seconds - last[0] >= 0.2:
            last[0] = p.seconds
            rate = p.records / p.seconds if p.seconds else 0
            sys.stderr.write(
                f"\r{p.stream}: {p.pages:,} pages, {p.records:,} records, {rate:,.0f} records/s "
            )
            sys.stderr.flush()

    def loaded(r: Any) -> None:
        if show:
            sys.stderr.write("\r\033[K")
        if not args.json:
            c = r.counts
            print(
                f"{r.stream}: {r.received:,} received, {r.loaded:,} loaded "
                f"({c.inserted:,} new, {c.updated:,} updated, {c.unchanged:,} unchanged, "
                f"{c.deleted:,} deleted), {r.quarantined:,} quarantined, {r.pages:,} pages "
                f"in {r.seconds:.1f}s; cursor {r.cursor}"
            )
            for change in r.schema_changes:
                print(f"  schema: {change}")
        _record_assets(project, r)

    results = extract(
        project,
        args.connection,
        streams=args.stream or None,
        full_refresh=args.full_refresh,
        on_progress=progress,
        on_loaded=loaded,
    )
    if args.json:
        _print_json([r.to_json() for r in results], mask)
    return 0


def _record_assets(project: Project, result: Any) -> None:
    """An ``AssetUpdated`` per loaded table, so asset triggers and the UI see one-off loads."""
    from podium.core.events import AssetUpdated
    from podium.engine.journal import Journal

    db = _open(project)
    try:
        with db.transaction() as tx:
            journal = Journal(tx, clock.time())
            for asset, stats in result.assets.items():
                journal.add(AssetUpdated(asset, None, "extract", False, stats))  # type: ignore[arg-type]
            journal.flush()
    finally:
        db.close()


def cmd_assets(args: argparse.Namespace) -> int:
    """Every asset: last update, age, completeness and, for warehouse tables, row count."""
    from podium.transforms.warehouse_sql import open_warehouse_sql

    project = _project(args)
    db = _open(project)
    try:
        found = queries.assets(db)
    finally:
        db.close()
    with open_warehouse_sql(project.warehouse, Path(project.root)) as wh:
        for asset in found:
            asset["rows"] = _row_count(wh, str(asset["asset"]))
    if args.json:
        _print_json(found, Masker(project.secrets))
        return 0
    if not found:
        print("no assets yet: run a workflow with extract or transform tasks")
        return 0
    for a in found:
        rows = f"{a['rows']:,} rows" if a["rows"] is not None else "—"
        late = a.get("late_sources") or {}
        state = "complete" if a["complete"] else "INCOMPLETE (built while an input was late)"
        if not a["complete"] and late:
            state = "INCOMPLETE: " + "; ".join(
                f"{task} late, complete through {at or 'never'}" for task, at in late.items()
            )
        age = a["age_seconds"] / 3600
        print(
            f"{a['asset']:<40} {rows:>14}  updated {a['updated_at']} ({age:,.1f} h ago) "
            f"by {a['task_id']}  {state}"
        )
    return 0


def _row_count(wh: Any, asset: str) -> int | None:
    schema, _, table = asset.partition(".")
    if not table or wh.relation_kind(schema, table) is None:
        return None
    from podium.transforms.warehouse_sql import count_rows

    return count_rows(wh, schema, table)
