"""Running a dbt task's nodes in batches: one dbt invocation for many node tasks.

Each node task of a run joins that run's session for its dbt task (in this process). The
first to find its node neither built nor being built starts ONE in-process dbt ``build``
(``dbtRunner`` with the pre-parsed manifest, so nothing is parsed again) over its node and
every node of the same dbt task it can take along: nodes downstream of it, and nodes the
engine has claimed in this run too (so a catch-up or a retry builds exactly its own nodes),
whose dbt parents are in the batch or already built in this session, and whose other
podium upstreams (the extracts) are known done — because some node task that joined had
them upstream. Nodes reading a not-yet-loaded extract are left for a later invocation. The
batch is chosen when the invocation gets its turn (after a short gather, and after any
invocation before it), so it takes along what was claimed or built meanwhile. dbt's events (``NodeFinished``: status, timing,
``rows_affected``, message) are recorded per node as they come; a node task waits for its
node and that node's tests, then returns. A node task whose node dbt already built returns
at once.

One dbt invocation runs at a time in a process (dbt's runner keeps process-wide state);
on a DuckDB warehouse it holds podium's lock on the file for its length, so podium's own
loads in this process wait for it instead of opening the file beside it.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.transforms.dbt.project import DbtSetup, manifest

#: one dbt invocation at a time in this process (re-entrant: ``manifest`` may parse inside)
invoke_lock = threading.RLock()
_invocations = itertools.count(1)
SAMPLE_ROWS = 5
#: how long a node task waits for others claimed at the same moment before dbt starts
GATHER_SECONDS = 0.05
#: how long a node waits, in a worker process, for another process's hold on a DuckDB file
LOCK_WAIT_SECONDS = 600.0
_LOCKED = "Could not set lock on file"
_SKIPPED = ("skipped",)


@dataclass
class TestOutcome:
    unique_id: str
    name: str
    kind: str
    severity: str
    status: str  # pass, fail, warn, error, skipped
    failures: int
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NodeOutcome:
    unique_id: str
    status: str  # success, error, skipped
    message: str
    rows: int | None = None
    seconds: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    tests: list[TestOutcome] = field(default_factory=list)
    #: which dbt invocation of this process built it, and how many nodes that one had
    invocation: int = 0
    batch: int = 0


@dataclass(frozen=True)
class Group:
    """A dbt task's nodes as its node tasks see them (picklable, from ``prepare``)."""

    setup: DbtSetup
    warehouse: Mapping[str, Any]
    graph: Mapping[str, Any]
    #: node → its dbt parents among the group's nodes (the podium upstreams inside it)
    inside: Mapping[str, tuple[str, ...]]
    #: node → its podium upstream tasks outside the group (extracts, others)
    outside: Mapping[str, tuple[str, ...]]
    #: node → the tests that run in its task
    tests: Mapping[str, tuple[str, ...]]
    key: str  # the dbt task's id
    #: podium task id → the connection it loads (for late sources' completeness)
    loads: Mapping[str, str] = field(default_factory=dict)


class Session:
    """One run's dbt task in this process: what is built, being built, and known done."""

    def __init__(self, group: Group, *, alone: bool = False) -> None:
        self.group = group
        #: in a worker process (``processes``/``dask`` executors) each node is built alone,
        #: in the calling thread: the other nodes' tasks run in other processes
        self.alone = alone
        self.changed = threading.Condition()
        self.outcomes: dict[str, NodeOutcome] = {}
        self.pending: set[str] = set()
        self.built: set[str] = set()
        self.known_done: set[str] = set()
        self.started: set[str] = set()  # in an invocation that has begun

    def outcome(self, uid: str, *, cancelled: threading.Event) -> NodeOutcome:
        start = False
        with self.changed:
            self.known_done.update(self.group.outside.get(uid, ()))
            found = self.outcomes.get(uid)
            if found is not None and found.status not in _SKIPPED:
                return self.outcomes.pop(uid)
            if uid not in self.pending:
                self.pending.add(uid)
                self.outcomes.pop(uid, None)
                start = True
        if start and self.alone:
            self._invoke(uid)
        elif start:
            threading.Thread(
                target=self._invoke,
                args=(uid,),
                name=f"dbt-{self.group.key}",
                daemon=False,  # the process waits for dbt to finish before it exits
            ).start()
        with self.changed:
            while uid in self.pending:
                if cancelled.is_set():
                    raise InterruptedError("cancelled while dbt was building")
                self.changed.wait(0.5)
            return self.outcomes.pop(uid)

    def _batch(self, uid: str) -> list[str]:
        """``uid`` and the nodes it can take along (see the module docstring)."""
        inside, outside = self.group.inside, self.group.outside
        batch = [uid]
        if self.alone:
            return batch
        grew = True
        while grew:
            grew = False
            for node in inside:
                if node in batch or node in self.started or node in self.outcomes:
                    continue
                below = any(p in batch for p in inside[node])
                if not below and node not in self.pending:
                    continue  # neither downstream of the batch nor claimed in this run
                ready = all(p in batch or p in self.built for p in inside[node])
                if ready and set(outside.get(node, ())) <= self.known_done:
                    batch.append(node)
                    grew = True
        return batch

    def _invoke(self, uid: str) -> None:
        """Waits for this process's turn to run dbt, then builds ``uid`` and what it can
        take along by then (nodes an earlier invocation just built count as built)."""
        if not self.alone:
            time.sleep(GATHER_SECONDS)  # node tasks claimed together join one invocation
        with invoke_lock:
            with self.changed:
                if uid in self.started or uid not in self.pending:
                    return  # an earlier invocation took it along
                batch = self._batch(uid)
                self.pending.update(batch)
                self.started.update(batch)
                for node in batch:
                    self.outcomes.pop(node, None)
            self._run(batch)

    def _run(self, batch: list[str]) -> None:
        delay, deadline = 0.1, time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            recorder = _Recorder(self, batch, next(_invocations))
            try:
                result = run_build(self.group, batch, recorder.on_event)
            except Exception as exc:  # noqa: BLE001 - every waiting task is told why
                result = None
                recorder.failed = f"dbt did not run: {exc}"
            failure = recorder.failed or str(getattr(result, "exception", None) or "")
            if _LOCKED in failure:
                recorder.locked = True
            if not recorder.locked or time.monotonic() > deadline:
                recorder.finish(result)
                return
            time.sleep(delay)  # another process writes the DuckDB file: wait for it
            delay = min(delay * 2, 2.0)


class _Recorder:
    """dbt's events of one invocation → node outcomes, handed over as each completes."""

    def __init__(self, session: Session, batch: list[str], number: int) -> None:
        self.session, self.batch, self.number = session, batch, number
        group = session.group
        self.tests = {uid: list(group.tests.get(uid, ())) for uid in batch}
        self.nodes: dict[str, NodeOutcome] = {}
        self.test_results: dict[str, TestOutcome] = {}
        self.failed: str | None = None
        self._locked = False

    def on_event(self, event: Any) -> None:
        if event.info.name != "NodeFinished":
            return
        info, result = event.data.node_info, event.data.run_result
        uid = info.unique_id
        if _LOCKED in str(result.message or ""):
            self.locked = True  # the whole batch runs again once the file is free
            return
        response = dict(result.adapter_response or {})
        rows = response.get("rows_affected")
        with self.session.changed:
            if uid.startswith("test."):
                self.test_results[uid] = self._test(uid, result)
            else:
                self.nodes[uid] = NodeOutcome(
                    uid,
                    _status(result.status),
                    str(result.message or ""),
                    int(rows) if isinstance(rows, int | float) and rows >= 0 else None,
                    float(result.execution_time or 0.0),
                    info.node_started_at or None,
                    info.node_finished_at or None,
                )
            self._hand_over(final=False)

    def _test(self, uid: str, result: Any) -> TestOutcome:
        test = self.session.group.graph["tests"].get(uid, {})
        status = str(result.status)
        return TestOutcome(
            uid,
            str(test.get("name", uid)),
            str(test.get("kind", "")),
            "warn" if status == "warn" else str(test.get("severity", "error")),
            status,
            int(result.num_failures or 0),
            str(result.message or status),
        )

    def _hand_over(self, *, final: bool) -> None:
        session = self.session
        for uid in [u for u in self.batch if u in session.pending]:
            node = self.nodes.get(uid)
            done = [self.test_results.get(t) for t in self.tests[uid]]
            complete = node is not None and all(t is not None for t in done)
            failing = any(t is not None and t.status in ("fail", "warn") for t in done)
            if not final and (not complete or failing):  # samples come when dbt is done
                continue
            if node is None:
                node = self._missing(uid)
            node.invocation, node.batch = self.number, len(self.batch)
            node.tests = [
                t if t is not None else _not_run(session.group, test, node)
                for t, test in zip(done, self.tests[uid], strict=True)
            ]
            if node.status == "success":
                session.built.add(uid)
            session.outcomes[uid] = node
            session.pending.discard(uid)
            session.started.discard(uid)
        session.changed.notify_all()

    def _missing(self, uid: str) -> NodeOutcome:
        if self.failed:
            return NodeOutcome(uid, "error", self.failed)
        return NodeOutcome(uid, "success", "dbt had nothing to build for it (ephemeral)")

    @property
    def locked(self) -> bool:
        return self._locked and self.session.alone

    @locked.setter
    def locked(self, value: bool) -> None:
        self._locked = value

    def finish(self, result: Any) -> None:
        if result is not None and not result.success and result.exception and not self.nodes:
            self.failed = f"dbt build failed: {result.exception}"
        failing = [t for t in self.test_results.values() if t.status in ("fail", "warn")]
        if failing and result is not None:
            add_samples(self.session.group, failing, _compiled(result))
        with self.session.changed:
            self._hand_over(final=True)


def _status(status: Any) -> str:
    text = str(status).split(".")[-1].lower()
    return {"pass": "success", "fail": "error", "runtime_error": "error"}.get(text, text)


def _not_run(group: Group, uid: str, node: NodeOutcome) -> TestOutcome:
    test = group.graph["tests"].get(uid, {})
    return TestOutcome(
        uid,
        str(test.get("name", uid)),
        str(test.get("kind", "")),
        str(test.get("severity", "error")),
        "skipped",
        0,
        f"not run: {test.get('name', uid)} was skipped ({node.status})",
    )


def _compiled(result: Any) -> dict[str, str]:
    found = {}
    for item in getattr(result.result, "results", None) or ():
        code = getattr(item.node, "compiled_code", None)
        if code:
            found[item.node.unique_id] = str(code)
    return found


def add_samples(group: Group, failing: Sequence[TestOutcome], compiled: Mapping[str, str]) -> None:
    """The first failing rows of each failing test, read with podium's own warehouse
    connection (a target from the project's own profiles.yml gets none)."""
    from podium.transforms.warehouse_sql import open_warehouse_sql

    if group.setup.profiles_dir is None or not group.setup.profiles_dir.startswith(
        str(Path(group.setup.root) / ".podium")
    ):
        return
    try:
        with open_warehouse_sql(group.warehouse, Path(group.setup.root)) as sql:
            for test in failing:
                code = compiled.get(test.unique_id)
                if not code:
                    continue
                rows, columns = sql.described(
                    f"SELECT * FROM ({code}) AS failing LIMIT {SAMPLE_ROWS}"
                )
                test.sample = [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]
    except Exception as exc:  # noqa: BLE001 - the outcome stands; only its sample is missing
        for test in failing:
            test.message += f" (no sample: {exc})"


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def run_build(group: Group, batch: Sequence[str], on_event: Callable[[Any], None]) -> Any:
    """One ``dbt build`` over ``batch`` and the tests that run in their tasks."""
    from dbt.cli.main import dbtRunner

    setup = group.setup
    nodes, tests = group.graph["nodes"], group.graph["tests"]
    chosen = [nodes[uid]["fqn"] for uid in batch]
    chosen += [tests[t]["fqn"] for uid in batch for t in group.tests.get(uid, ())]
    args = ["build", *setup.cli_args(), "--log-level", "none", "--log-level-file", "info"]
    args += ["--no-use-colors"]
    args += ["--indirect-selection", "empty", "--select", *(f"fqn:{f}" for f in chosen)]
    parsed = manifest(setup)
    with invoke_lock, _warehouse_lock(group), _pii_key(group):
        try:
            return dbtRunner(manifest=parsed, callbacks=[on_event]).invoke(args)
        finally:
            _close_duckdb()


def _close_duckdb() -> None:
    """dbt-duckdb keeps its database open in this process after a run; podium's loads
    attach the same file, so it is closed when the invocation ends."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None and hasattr(env, "close"):
        env.close()
    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]


@contextmanager
def _pii_key(group: Group) -> Iterator[None]:
    """warehouse.pii_key handed to the sessions dbt opens, for the invocation's length (a
    generated target's): on DuckDB to podium's dbt-duckdb plugin, which defines
    ``pii_email``/``pii_phone`` on each cursor; on PostgreSQL the key's HMAC pads as the
    session settings ``podium.pii_ipad``/``podium.pii_opad`` (libpq's ``PGOPTIONS``) that
    the project's macros read. Never in a file, the SQL or dbt's log."""
    from podium.transforms import pii
    from podium.transforms.dbt.project import GENERATED_TARGET, PII_KEY_VARIABLE

    key = group.warehouse.get("pii_key") or None
    if key is None or group.setup.target != GENERATED_TARGET:
        yield
        return
    if str(group.warehouse.get("type", "duckdb")) == "duckdb":
        name, value = PII_KEY_VARIABLE, str(key)
    else:
        inner, outer = pii.pads(str(key))
        given = os.environ.get("PGOPTIONS", "")
        name, value = "PGOPTIONS", f"{given} -c podium.pii_ipad={inner} -c podium.pii_opad={outer}"
    before = os.environ.get(name)
    os.environ[name] = value.strip()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _warehouse_lock(group: Group) -> AbstractContextManager[Any]:
    """podium's in-process lock on the DuckDB file dbt writes (a generated target's)."""
    warehouse = group.warehouse
    if str(warehouse.get("type", "duckdb")) != "duckdb" or group.setup.target != "podium":
        return nullcontext()
    from podium.connectors.destinations.duckdb import process_lock
    from podium.connectors.warehouse import DEFAULT_PATH

    path = Path(str(warehouse.get("path", DEFAULT_PATH)))
    path = path if path.is_absolute() else Path(group.setup.root) / path
    return process_lock(str(path.resolve()))


_sessions: dict[tuple[str, str, str], Session] = {}
_sessions_lock = threading.Lock()


def session_for(run_id: str, group: Group) -> Session:
    key = (run_id, group.setup.fingerprint, group.key)
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = Session(group, alone=multiprocessing.parent_process() is not None)
        return _sessions[key]


def forget_finished() -> None:
    """Drops sessions with nothing pending and nothing left to hand over."""
    with _sessions_lock:
        for key, session in list(_sessions.items()):
            if not session.pending and not any(
                o.status not in _SKIPPED for o in session.outcomes.values()
            ):
                del _sessions[key]
