"""Running one attempt's code in the current process: the task context, the kinds, logs.

Shared by every executor: the threads executor calls ``invoke`` in a worker thread, the
processes executor in a child process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from podium.errors import TerminalTaskError, UsageError, first_line
from podium.execution.base import Job, JobResult, Key, LogSink

_current = threading.local()


class TaskContext:
    """What a task function receives: who it is, its inputs, and a logger."""

    def __init__(self, job: Job, sink: LogSink, cancelled: threading.Event) -> None:
        self.run_id, self.task_id, self.attempt = job.key
        self.workflow = job.workflow
        self.idempotency_key = job.idempotency_key
        self.params: Mapping[str, Any] = job.params
        self.logical_time = datetime.fromisoformat(job.logical_time)
        self.upstream: Mapping[str, Any] = job.upstream
        self.late_upstreams = job.late_upstreams
        self.trigger: Mapping[str, Any] = job.trigger
        self.cancelled = cancelled
        self.log = logging.Logger(f"podium.task.{self.task_id}", logging.DEBUG)
        self.log.addHandler(_SinkHandler(job.key, sink))

    def __repr__(self) -> str:
        return f"<TaskContext {self.workflow}/{self.run_id}/{self.task_id}#{self.attempt}>"


class _SinkHandler(logging.Handler):
    def __init__(self, key: Key, sink: LogSink) -> None:
        super().__init__()
        self.key, self.sink = key, sink
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink(self.key, "log", self.format(record))


def invoke(job: Job, sink: LogSink, cancelled: threading.Event) -> JobResult:
    """Runs the job's code and turns whatever happens into a JobResult."""
    _current.sink, _current.key = sink, job.key
    try:
        value = _KINDS[job.kind](job, sink, cancelled)
        output = _to_json(value)
    except ChecksFailed as exc:  # the results go with the failure: CheckEvaluated events
        failed = _failure(job.key, exc, sink, retryable=False)
        return JobResult(job.key, False, _to_json(exc.output), failed.error, retryable=False)
    except TerminalTaskError as exc:
        return _failure(job.key, exc, sink, retryable=False)
    except BaseException as exc:  # noqa: BLE001 - user code: any failure is the task's
        if (
            isinstance(exc, KeyboardInterrupt | SystemExit)
            and threading.current_thread() is threading.main_thread()
        ):
            raise
        return _failure(job.key, exc, sink, retryable=True)
    finally:
        _current.sink = None
    return JobResult(job.key, True, output=output)


_PODIUM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _failure(key: Key, exc: BaseException, sink: LogSink, *, retryable: bool) -> JobResult:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PODIUM_DIR):
        tb = tb.tb_next  # the user's frames are what matter; podium's own come first
    for line in traceback.format_exception(type(exc), exc, tb or exc.__traceback__):
        for part in line.rstrip("\n").splitlines():
            sink(key, "stderr", part)
    message = f"{type(exc).__name__}: {exc}".strip().removesuffix(":")
    return JobResult(key, False, error=message, retryable=retryable)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TerminalTaskError(
            f"the task returned a {type(value).__name__}, which is not JSON-serialisable "
            f"({exc}); return dicts, lists, strings, numbers or None"
        ) from None


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# -- kinds ----------------------------------------------------------------------------


def _run_callable(job: Job, sink: LogSink, cancelled: threading.Event) -> Any:
    from podium.kinds.callables import resolve_callable

    if job.project_root not in sys.path:
        sys.path.insert(0, job.project_root)
    try:
        func = resolve_callable(job.target)
    except UsageError as exc:  # a missing module or function: retrying will not help
        raise TerminalTaskError(str(exc)) from None
    return func(TaskContext(job, sink, cancelled))


def _run_shell(job: Job, sink: LogSink, cancelled: threading.Event) -> Any:
    env = dict(os.environ)
    env.update(
        PODIUM_RUN_ID=job.key[0],
        PODIUM_TASK_ID=job.key[1],
        PODIUM_ATTEMPT=str(job.key[2]),
        PODIUM_IDEMPOTENCY_KEY=job.idempotency_key,
        PODIUM_LOGICAL_TIME=job.logical_time,
        PODIUM_PARAMS=json.dumps(dict(job.params), default=str),
        PODIUM_WORKFLOW=job.workflow,
    )
    proc = subprocess.Popen(
        job.target,
        shell=True,
        cwd=job.project_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
        errors="replace",
        preexec_fn=_die_with_parent,
    )
    killer = threading.Thread(target=_kill_when, args=(cancelled, proc), daemon=True)
    killer.start()
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        last = line.rstrip("\n")
        sink(job.key, "stdout", last)
    code = proc.wait()
    cancelled.set()  # ends the killer thread
    if code != 0:
        raise RuntimeError(f"command exited with status {code}" + (f": {last}" if last else ""))
    return {"exit_code": 0, "last_line": last}


def _kill_when(cancelled: threading.Event, proc: subprocess.Popen[str]) -> None:
    cancelled.wait()
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the process that started it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _run_extract(job: Job, sink: LogSink, cancelled: threading.Event) -> Any:
    from podium.connectors.extract import extract, task_output
    from podium.project import load_project

    project = load_project(__import__("pathlib").Path(job.project_root))
    log = TaskContext(job, sink, cancelled).log
    results = extract(
        project,
        job.target,
        streams=job.options.get("streams") or None,
        full_refresh=bool(job.options.get("full_refresh")),
        on_loaded=lambda r: log.info(
            "%s: %d received, %d inserted, %d updated, %d quarantined in %.1fs",
            r.stream,
            r.received,
            r.counts.inserted,
            r.counts.updated,
            r.quarantined,
            r.seconds,
        ),
        logger=log,
    )
    return task_output(results)


def _run_model(job: Job, sink: LogSink, cancelled: threading.Event) -> Any:
    """Builds one model, then runs the checks declared on it (an error-severity check that
    fails fails the task, so nothing downstream reads a model known to be wrong)."""
    from podium.project import load_project
    from podium.transforms.checks import checks_for, load_checks
    from podium.transforms.materialize import build
    from podium.transforms.models import load_models
    from podium.transforms.warehouse_sql import open_warehouse_sql

    root = __import__("pathlib").Path(job.project_root)
    project = load_project(root)
    model = load_models(root).models[job.target]
    log = TaskContext(job, sink, cancelled).log
    with open_warehouse_sql(project.warehouse, root) as sql:
        late = _late_sources(job)
        through = _complete_through(sql, project, job.workflow, late) if late else {}
        missing = _missing_inputs(sql, model.reads)
        if missing:
            if not late:
                raise TerminalTaskError(
                    f"model {model.name} reads {', '.join(missing)}, which does not exist yet;"
                    " run the extract that loads it first (podium extract CONNECTION) or"
                    " correct the table's name"
                )
            log.warning(
                "%s not built: %s not loaded yet because %s ran late; the catch-up run"
                " builds it when the data lands",
                model.name,
                ", ".join(missing),
                ", ".join(late),
            )
            return {
                "model": model.name,
                "built": False,
                "missing": missing,
                "late_sources": through,
            }
        built = build(sql, model)
        log.info(
            "%s: %s, %d rows (%d written) in %.2fs",
            built.model,
            built.materialized,
            built.rows,
            built.written,
            built.seconds,
        )
        if through:
            log.warning("%s is incomplete: %s", built.model, _describe_late(through))
        results = _run_checks(sql, checks_for(load_checks(root), [model.name]), log)
        revenue = _revenue(sql, model, log)
    stats: dict[str, Any] = {"rows": built.rows}
    if revenue is not None:
        stats["revenue"] = revenue
    if through:
        stats["late_sources"] = through
    output = {**built.to_json(), "assets": {built.model: stats}}
    if through:
        output["late_sources"] = through
    return _checked(output, results)


def _revenue(sql: Any, model: Any, log: logging.Logger) -> float | None:
    """``sum(revenue)`` over the model's rows, for alerts (``revenue:`` in its settings);
    None without the setting, and with a warning when the expression does not run."""
    if not model.revenue:
        return None
    try:
        rows = sql.query(f"SELECT sum({model.revenue}) FROM {model.name}")
        value = rows[0][0] if rows else None
        return None if value is None else round(float(value), 2)
    except Exception as exc:  # noqa: BLE001 - the model is built; only its figure is missing
        first = first_line(exc)
        log.warning(
            "%s: revenue: sum(%s) does not run over the model (%s); alerts leave its revenue"
            " out until the setting is corrected",
            model.name,
            model.revenue,
            first,
        )
        return None


def _missing_inputs(sql: Any, reads: frozenset[str]) -> list[str]:
    names = sorted(name for name in reads if "." in name)
    return [n for n in names if sql.relation_kind(*n.split(".", 1)) is None]


def _late_sources(job: Job) -> list[str]:
    """The late tasks behind this model's inputs: its late upstreams, and those of the
    upstream models that were built (or not) while a source was late."""
    late = set(job.late_upstreams)
    for output in job.upstream.values():
        if isinstance(output, Mapping):
            late.update(str(name) for name in output.get("late_sources") or ())
    return sorted(late)


def _complete_through(
    sql: Any, project: Any, workflow: str, late: list[str]
) -> dict[str, str | None]:
    """Late task → until when the data it loads is complete: the start of the oldest of
    its streams' latest committed loads (None when it never loaded, or is not an extract)."""
    from podium.connectors.destinations.base import BOOKKEEPING
    from podium.connectors.normalize.names import quote

    tasks = (
        {t.id: t for t in project.workflows[workflow].tasks}
        if workflow in project.workflows
        else {}
    )
    loads = f"{quote(sql.schema_prefix + BOOKKEEPING)}.loads"
    known = sql.relation_kind(BOOKKEEPING, "loads") is not None
    found: dict[str, str | None] = {}
    for task_id in late:
        task = tasks.get(task_id)
        found[task_id] = None
        if task is None or task.kind != "extract" or not known:
            continue
        rows = sql.query(
            f"SELECT stream, max(started_at) FROM {loads} WHERE connection = ?"
            " AND status = 'committed' GROUP BY stream",
            (task.target,),
        )
        if rows:
            oldest = min(r[1] for r in rows)
            found[task_id] = oldest.isoformat() if hasattr(oldest, "isoformat") else str(oldest)
    return found


def _describe_late(through: Mapping[str, str | None]) -> str:
    return "; ".join(
        f"{task} was late, complete through {at}" if at else f"{task} was late, never loaded"
        for task, at in sorted(through.items())
    )


def _run_check_task(job: Job, sink: LogSink, cancelled: threading.Event) -> Any:
    from podium.project import load_project
    from podium.transforms.checks import select_checks
    from podium.transforms.models import load_models
    from podium.transforms.warehouse_sql import open_warehouse_sql

    root = __import__("pathlib").Path(job.project_root)
    project = load_project(root)
    chosen = select_checks(root, load_models(root), job.target)
    log = TaskContext(job, sink, cancelled).log
    with open_warehouse_sql(project.warehouse, root) as sql:
        results = _run_checks(sql, chosen, log)
    return _checked({}, results)


def _run_checks(sql: Any, checks: Any, log: logging.Logger) -> list[Any]:
    from podium.transforms.checks import run_check

    results = []
    for check in checks:
        result = run_check(sql, check)
        results.append(result)
        level = (
            logging.INFO
            if result.passed
            else (logging.WARNING if check.severity == "warn" else logging.ERROR)
        )
        log.log(level, "check %s", result.message)
    return results


class ChecksFailed(TerminalTaskError):
    """Error-severity checks failed; ``output`` still holds every check's result."""

    def __init__(self, message: str, output: dict[str, Any]) -> None:
        super().__init__(message)
        self.output = output


def _checked(output: dict[str, Any], results: list[Any]) -> dict[str, Any]:
    output = {**output, "checks": [r.to_json() for r in results]}
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if failed:
        raise ChecksFailed(
            f"{len(failed)} check(s) failed: " + "; ".join(r.message for r in failed[:5]),
            output,
        )
    return output


def _run_http(job: Job, sink: LogSink, cancelled: threading.Event) -> Any:
    from podium.outgoing.http_task import run_http_task

    return run_http_task(job, TaskContext(job, sink, cancelled).log, cancelled)


_KINDS: dict[str, Callable[[Job, LogSink, threading.Event], Any]] = {
    "run": _run_callable,
    "shell": _run_shell,
    "extract": _run_extract,
    "model": _run_model,
    "check": _run_check_task,
    "http": _run_http,
}


class _StreamRouter:
    """Stands in for sys.stdout/stderr: text written by a task's thread goes to its log."""

    def __init__(self, real: Any, stream: str) -> None:
        self._real, self._stream = real, stream
        self._buffers: dict[int, str] = {}

    def write(self, text: str) -> int:
        sink = getattr(_current, "sink", None)
        if sink is None:
            return int(self._real.write(text))
        ident = threading.get_ident()
        buffered = self._buffers.get(ident, "") + text
        *lines, rest = buffered.split("\n")
        for line in lines:
            sink(_current.key, self._stream, line)
        self._buffers[ident] = rest
        return len(text)

    def flush(self) -> None:
        if getattr(_current, "sink", None) is None:
            self._real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_installed = False


def capture_prints() -> None:
    """Routes ``print`` from task threads into their logs (idempotent)."""
    global _installed
    if not _installed:
        sys.stdout = _StreamRouter(sys.stdout, "stdout")  # type: ignore[assignment]
        sys.stderr = _StreamRouter(sys.stderr, "stderr")  # type: ignore[assignment]
        _installed = True
