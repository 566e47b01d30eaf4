"""No secret at rest, on the SQLite and the PostgreSQL store: every table's text is read
back raw after an engine stored params, outputs, errors, log lines and event payloads."""

from __future__ import annotations

from typing import Any

from podium.core.workflow import Task, Workflow
from podium.engine import services
from podium.engine.loop import Engine
from podium.store.database import Database, open_database
from podium.testing import FakeClock, ManualExecutor, project_of

SECRET = "shpat_contract_secret_77"
TABLES = {
    "runs": "params || trigger",
    "task_runs": "COALESCE(output, '') || COALESCE(error, '')",
    "attempts": "COALESCE(error, '')",
    "events": "payload",
    "logs": "line",
}


def raw_text(db: Database) -> dict[str, list[Any]]:
    read = db.read()
    return {
        table: [r[0] for r in read.fetchall(f"SELECT {expr} FROM {table}")]
        for table, expr in TABLES.items()
    }


def test_an_engine_stores_nothing_secret(store_url: str) -> None:
    workflow = Workflow(
        "shop",
        (Task("pull", "run", "tasks:pull"), Task("push", "run", "tasks:push")),
        params={"token": SECRET, "days": 3, "note": ""},
    )
    project = project_of(workflow, secrets=frozenset({SECRET}))
    db = open_database(store_url)  # no secrets given: the engine adds its project's
    executor = ManualExecutor()
    engine = Engine(project, db, executor=executor, clock=FakeClock())
    engine.start()
    try:
        run_id = services.start_run(db, project, "shop", {"note": f"by {SECRET}"})
        services.emit_event(db, "shop_hit", {"header": f"Bearer {SECRET}"})
        engine.step()
        pulled = executor.succeed("pull", {"token": SECRET, "rows": 5})
        failed = executor.fail("push", f"401 for token {SECRET}", retryable=False)
        engine._on_log(failed.key, "stderr", f"sent {SECRET}")  # as the executor reports a line
        engine.step()
        assert pulled.params["token"] == SECRET  # the task had the real value of its default
        assert pulled.params["note"] == "by ***"  # a secret given at run time stays masked
        texts = raw_text(db)
        assert all(texts.values()), texts  # every table holds something to look at
        leaks = {table: [t for t in rows if SECRET in t] for table, rows in texts.items()}
        assert leaks == dict.fromkeys(TABLES, []), leaks
        assert db.read().fetchone("SELECT status FROM runs WHERE id = ?", (run_id,)) == ("failed",)
    finally:
        engine.close()
        db.close()
