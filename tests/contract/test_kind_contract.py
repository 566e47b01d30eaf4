"""Every task kind podium has passes the kind contract (``podium.kind_contract``).

Each kind that can run without outside services has a case: a small project in a tmp
folder whose workflow holds one of its tasks (an ``http`` task calls a server on the
loopback). ``workflow`` and ``transform`` never run on their own: the contract asks that
they declare so (``StartsWorkflow``, ``Expands``). The example plugin's kind goes through the
same ``kind_contract`` in ``tests/e2e/test_plugins.py``, inside the venv it is installed in.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from dask_clusters import local_cluster
from podium.kind_contract import (
    KindCase,
    description_problems,
    kind_contract,
    run_problems,
    target_problems,
)
from podium.kinds.base import Kind, TaskResult
from podium.kinds.registry import all_kinds
from podium.settings.describe import Option, Settings

KINDS = {kind.name: kind for kind in all_kinds()}
BUILT_IN = (
    "run", "shell", "workflow", "extract", "transform", "model", "check", "http", "sync",
    "dbt", "dbt_node",
)  # fmt: skip
HAS_DBT = (
    importlib.util.find_spec("dbt") is not None and importlib.util.find_spec("dbt.cli") is not None
)

MODELS_YAML = """
warehouse: {type: duckdb}
"""
SHOP_YAML = """
warehouse: {type: duckdb}
connections:
  shop:
    type: files
    path: inbox
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
"""
CASES: dict[str, KindCase | None] = {
    "run": KindCase(
        {
            "contract_run_tasks.py": "def total(ctx):\n    return {'total': 3, 'task': ctx.task_id}\n",
            "workflows/w.yaml": "name: w\ntasks:\n  - id: t\n    run: contract_run_tasks:total\n",
        },
        "w",
    ),
    "shell": KindCase(
        {"workflows/w.yaml": "name: w\ntasks:\n  - id: t\n    shell: echo hello\n"}, "w"
    ),
    "extract": KindCase(
        {
            "podium.yaml": SHOP_YAML,
            "inbox/orders1.csv": "id,total\n1,10.50\n2,4.25\n",
            "workflows/w.yaml": "name: w\ntasks:\n  - id: t\n    extract: shop\n",
        },
        "w",
    ),
    "model": KindCase(
        {
            "podium.yaml": MODELS_YAML,
            "models/commerce/numbers.sql": "select 1 as id union all select 2",
            "models/commerce/numbers.yaml": "checks:\n  - {kind: unique, column: id}\n",
            "workflows/w.yaml": "name: w\ntasks:\n  - id: models\n    transform: commerce\n",
        },
        "w",
    ),
    "check": KindCase(
        {
            "podium.yaml": MODELS_YAML,
            "models/commerce/numbers.sql": "select 1 as id union all select 2",
            "checks/numbers.yaml": (
                "checks:\n  - {kind: not_null, model: commerce.numbers, column: id}\n"
            ),
            "workflows/w.yaml": (
                "name: w\ntasks:\n  - id: models\n    transform: commerce\n"
                "  - id: numbers\n    check: checks/numbers.yaml\n    depends_on: [models]\n"
            ),
        },
        "w",
    ),
    "workflow": None,
    "transform": None,
    "dbt": None,
    "dbt_node": KindCase(
        {
            "analytics/dbt_project.yml": "name: tiny\nprofile: tiny\nversion: '1.0.0'\n",
            "analytics/models/numbers.sql": "select 1 as id union all select 2",
            "analytics/models/numbers.yml": (
                "version: 2\nmodels:\n  - name: numbers\n    columns:\n"
                "      - name: id\n        data_tests: [unique, not_null]\n"
            ),
            "workflows/w.yaml": "name: w\ntasks:\n  - id: dbt\n    dbt: analytics\n",
        },
        "w",
    ),
}


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - a record a sync sends: taken, given an id
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"id": "r1"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def loopback_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def case_for(name: str, loopback: str) -> KindCase | None:
    if name == "http":
        return KindCase(
            {"workflows/w.yaml": f"name: w\ntasks:\n  - id: t\n    http: {loopback}/ping\n"}, "w"
        )
    if name == "sync":
        return KindCase(
            {
                "podium.yaml": (
                    f"warehouse: {{type: duckdb}}\nconnections:\n  api: {{type: rest, base_url:"
                    f" '{loopback}'}}\nsyncs:\n  people_out:\n    from: marts.people\n"
                    "    to: api\n    object: records\n    path: /people\n    key: id\n"
                    "    fields: {email: email}\n"
                ),
                "models/marts/people.sql": "select 1 as id, 'ada@example.com' as email",
                "workflows/w.yaml": (
                    "name: w\ntasks:\n  - id: models\n    transform: marts\n"
                    "  - id: push\n    sync: people_out\n    depends_on: [models]\n"
                ),
            },
            "w",
        )
    return CASES[name]


def test_every_built_in_kind_is_covered() -> None:
    assert set(BUILT_IN) <= set(KINDS)
    assert set(BUILT_IN) == {*CASES, "http", "sync"}


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_kind_is_described(name: str) -> None:
    assert description_problems(KINDS[name]) == []


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_kind_answers_any_target(name: str) -> None:
    assert target_problems(KINDS[name]) == []


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_kind_runs_alone_or_says_it_never_does(
    name: str, tmp_path: Path, loopback_url: str
) -> None:
    if name == "dbt_node" and not HAS_DBT:
        pytest.skip("dbt is not installed: pip install 'podium[dbt]'")
    assert run_problems(KINDS[name], case_for(name, loopback_url), tmp_path) == []


# -- the contract can fail ---------------------------------------------------------------------


class _Broken:
    """A kind that breaks every rule the contract has."""

    name = "Not A Name"
    target = ""
    options = Settings((Option("depth", {"type": "integr"}, "how deep"),))

    def check_target(self, target: str) -> str | None:
        if target == "":
            raise ValueError("empty")
        return None

    def check(self, task: object, workflow: object, view: object) -> str | None:
        return None

    def prepare(self, task: object, workflow: object, project: object) -> object:
        return threading.Lock()  # not picklable

    def run(self, job: object, context: object) -> TaskResult:
        return TaskResult(output={"when": object()})


def test_the_contract_finds_every_broken_rule(tmp_path: Path) -> None:
    kind: Kind = _Broken()  # type: ignore[assignment]
    problems = description_problems(kind)
    assert any(p.startswith("name must be") for p in problems), problems
    assert any(p.startswith("target must") for p in problems), problems
    assert any("JSON Schema is invalid" in p for p in problems), problems
    assert target_problems(kind) == ["check_target('') raised ValueError: empty"]
    assert run_problems(kind, None, tmp_path)[0].startswith("no case runs it")
    with pytest.raises(AssertionError, match="case has no Not A Name task"):
        kind_contract(kind, CASES["shell"], root=tmp_path)


def test_settings_a_worker_cannot_unpickle_break_the_contract(tmp_path: Path) -> None:
    class Unpicklable(_Broken):
        name = "shell"  # so that the case's shell task is this kind's

    problems = run_problems(Unpicklable(), CASES["shell"], tmp_path)  # type: ignore[arg-type]
    assert len(problems) == 2, problems  # both attempts
    assert all("prepare gave nothing picklable" in p for p in problems), problems


def test_a_result_that_is_not_json_breaks_the_contract(tmp_path: Path) -> None:
    class Unjson(_Broken):
        name = "shell"  # so that the case's shell task is this kind's

        def prepare(self, task: object, workflow: object, project: object) -> object:
            return None

    problems = run_problems(Unjson(), CASES["shell"], tmp_path)  # type: ignore[arg-type]
    assert problems and all("output is not JSON" in p for p in problems), problems


# -- the same contract, each attempt handed to a Dask cluster ------------------------------


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    with local_cluster() as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_kind_runs_on_a_dask_cluster(
    name: str, tmp_path: Path, loopback_url: str, dask_address: str
) -> None:
    from podium.core.workflow import DaskSettings
    from podium.execution.cluster import DaskExecutor

    executor = DaskExecutor(
        DaskSettings(address=dask_address), str(tmp_path), lambda key, stream, line: None
    )
    try:
        problems = run_problems(KINDS[name], case_for(name, loopback_url), tmp_path, executor)
    finally:
        executor.shutdown(wait=True)
    assert problems == []
