"""No secret at rest: a live ``podium up`` masks params, outputs, errors, logs and event
payloads before the store keeps them, so rotating a secret never lets its old value back
out through the API or the UI, and the raw SQLite file never holds it."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from .conftest import DEFAULT_CONFIG, MakeProject, Project, Up, wait_until

OLD = "shpat_old_0a1b2c3d4e5f"
NEW = "shpat_new_9z8y7x6w5v4u"

TASKS = """
import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def leak(ctx):
    token = ctx.params["token"]
    # the task gets the real value of its masked param default, read from the project
    (ROOT / "seen").write_text(hashlib.sha256(token.encode()).hexdigest())
    ctx.log.info("calling with %s", os.environ["SHOP_TOKEN"])
    return {"token": token, "env": os.environ["SHOP_TOKEN"]}


def fail(ctx):
    raise RuntimeError("refused token " + os.environ["SHOP_TOKEN"])
"""

FILES = {
    "podium.yaml": DEFAULT_CONFIG + 'connections:\n  shop:\n    token: "${SHOP_TOKEN}"\n',
    "pipeline/tasks.py": TASKS,
    "workflows/shop.yaml": """
        name: shop
        params: {token: "${SHOP_TOKEN}"}
        tasks:
          - id: leak
            run: pipeline.tasks:leak
          - id: fail
            run: pipeline.tasks:fail
            retries: 0
    """,
}


def run_shop(up: Up) -> str:
    started = up.http.post("/api/workflows/shop/runs", json={})
    assert started.status_code == 201, started.text
    run_id = str(started.json()["run_id"])
    assert up.wait_run(run_id, 20)["status"] == "failed"
    posted = up.http.post("/api/events", json={"name": "shop_hit", "payload": {"key": OLD}})
    assert posted.status_code == 202, posted.text
    return run_id


def raw_store(project: Project) -> bytes:
    """Every byte of the SQLite store as it is on disk, WAL included."""
    folder = project.root / ".podium"
    return b"".join(p.read_bytes() for p in folder.glob("state.db*") if p.is_file())


def test_a_rotated_secret_never_comes_back_and_is_never_on_disk(
    make_project: MakeProject,
) -> None:
    project = make_project(FILES, env={"SHOP_TOKEN": OLD})
    up = project.up()
    run_id = run_shop(up)
    seen = (project.root / "seen").read_text()
    assert seen == hashlib.sha256(OLD.encode()).hexdigest()  # the task had the real secret
    up.close()

    project.env["SHOP_TOKEN"] = NEW  # rotated: the new process masks only the new value
    up = project.up()
    served = {
        "run": up.http.get(f"/api/runs/{run_id}").text,
        "runs": up.http.get("/api/runs").text,
        "attempts": up.http.get(f"/api/runs/{run_id}/attempts").text,
        "logs": up.http.get(f"/api/runs/{run_id}/logs").text,
        "events": up.http.get("/api/events").text,
        "ui run": up.http.get(f"/runs/{run_id}").text,
        "ui task": up.http.get(f"/runs/{run_id}/tasks/fail").text,
    }
    for where, text in served.items():
        assert OLD not in text, f"the rotated secret came back in {where}"
    run = up.http.get(f"/api/runs/{run_id}").json()
    assert run["params"] == {"token": "***"}
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["leak"]["output"] == {"token": "***", "env": "***"}
    assert tasks["fail"]["error"] and "***" in tasks["fail"]["error"]

    # a run started after the rotation gets the new value back for its masked default
    started = up.http.post("/api/workflows/shop/runs", json={})
    wait_until(
        lambda: up.run(started.json()["run_id"])["status"] == "failed", 20, message="2nd run"
    )
    assert (project.root / "seen").read_text() == hashlib.sha256(NEW.encode()).hexdigest()
    up.close()

    raw = raw_store(project)
    assert b"calling with" in raw  # the log lines are there ...
    assert OLD.encode() not in raw and NEW.encode() not in raw  # ... never the secrets


def test_the_store_and_its_folder_are_readable_by_their_owner_only(
    make_project: MakeProject,
) -> None:
    project = make_project(FILES, env={"SHOP_TOKEN": OLD})
    project.ok("validate")
    project.ok("runs", "--json")  # opens (creates) the store
    folder = project.root / ".podium"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.glob("state.db*") if p.is_file()]
    assert files and {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {
        p.name: 0o600 for p in files
    }


def test_an_existing_store_is_tightened_when_opened(make_project: MakeProject) -> None:
    project = make_project(FILES, env={"SHOP_TOKEN": OLD})
    folder = project.root / ".podium"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "state.db").touch(mode=0o644)
    Path(folder / "state.db").chmod(0o644)
    project.ok("runs", "--json")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "state.db").stat().st_mode) == 0o600
