"""Source types, warehouses and notifiers open to plugins by entry point.

Each test puts a distribution on ``sys.path`` (a ``.dist-info`` with its
``entry_points.txt``, beside the plugin's module) and has podium read the groups again,
as if a plugin package had been installed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import duckdb
import pytest

from podium import plugins
from podium.connectors.extract import extract
from podium.connectors.registry import (
    connection_problems,
    is_source,
    open_source,
    plugin_problems,
    source_type_names,
)
from podium.connectors.warehouse import open_destination, warehouse_problems
from podium.notify.delivery import AppriseDestination, Message, open_notification, url_problem
from podium.project import load_project
from podium.transforms.warehouse_sql import open_warehouse_sql

PLUGIN_MODULE = '''
from contextlib import contextmanager
from pathlib import Path

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.source import JsonPage, Stream
from podium.settings.describe import Option, Settings
from podium.transforms.warehouse_sql import DuckDBSql


class Constant:
    def __init__(self, rows):
        self.rows = rows

    def streams(self):
        return [Stream("items", primary_key=("id",))]

    def read(self, stream, state, *, full_refresh):
        yield JsonPage([{"id": i} for i in range(self.rows)], "constant")

    def close(self):
        pass


class ConstantType:
    settings = Settings((Option("rows", {"type": "integer"}, "how many", required=True),))

    def problems(self, settings):
        return self.settings.problems(settings)

    def open(self, name, settings, *, root, secrets, logger=None):
        return Constant(settings["rows"])


class DuckFile:
    """DuckDB under another name: ``type: duckfile``, ``file: …``."""

    settings = Settings((Option("file", {"type": "string"}, "the file", required=True),))

    def problems(self, settings):
        return self.settings.problems(settings)

    def open_destination(self, settings, root):
        return DuckDBDestination(Path(root) / settings["file"])

    @contextmanager
    def open_sql(self, settings, root):
        with self.open_destination(settings, root).connection() as db:
            yield DuckDBSql(db)


class Memo:
    style = "text"

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message.title)
        return None


class MemoNotifier:
    def url_problem(self, url):
        return None if url.partition("://")[2] else "names no memo"

    def open(self, url, secrets):
        return Memo()


class Incomplete:
    def problems(self, settings):
        return []


SOURCE = ConstantType()
WAREHOUSE = DuckFile()
NOTIFIER = MemoNotifier()
INCOMPLETE = Incomplete()
'''

ENTRY_POINTS = """
[podium.sources]
constant = podium_fake_plugin:SOURCE
files = podium_fake_plugin:SOURCE
half = podium_fake_plugin:INCOMPLETE
missing = podium_fake_nowhere:SOURCE

[podium.warehouses]
duckfile = podium_fake_plugin:WAREHOUSE
duckdb = podium_fake_plugin:WAREHOUSE

[podium.notifiers]
memo = podium_fake_plugin:NOTIFIER
slack = podium_fake_plugin:NOTIFIER
"""

Install = Callable[[str], None]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(entry_points_txt)``: the fake plugin, installed for this test only."""

    def put(points: str) -> None:
        site = tmp_path / "site"
        info = site / "podium_fake_plugin-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: podium-fake-plugin\nVersion: 0.1\n"
        )
        (info / "entry_points.txt").write_text(textwrap.dedent(points))
        (site / "podium_fake_plugin.py").write_text(PLUGIN_MODULE)
        monkeypatch.syspath_prepend(str(site))
        plugins.forget()

    yield put
    plugins.forget()


def test_without_plugins_the_lists_are_podiums_own() -> None:
    plugins.forget()
    assert source_type_names() == ["rest", "files", "shopify", "amazon", "netsuite", "klaviyo"]
    assert connection_problems({"type": "constant"})[0].startswith("type: expected one of rest")
    assert warehouse_problems({"type": "duckfile"}) == [
        "type: expected one of duckdb, postgres, got 'duckfile'"
    ]


def test_a_plugin_source_type_is_checked_and_opened(install: Install, tmp_path: Path) -> None:
    install(ENTRY_POINTS)
    assert "constant" in source_type_names()
    assert is_source({"type": "constant"})
    settings = {"type": "constant", "rows": "3", "dataset": "raw_c", "colour": "red"}
    assert connection_problems(settings) == [
        "colour: unknown setting; expected one of rows",
        "rows: must be a whole number, got '3'",
    ]
    source = open_source("c", {"type": "constant", "rows": 2}, root=tmp_path, secrets=frozenset())
    assert [s.name for s in source.streams()] == ["items"]


def test_a_plugin_cannot_take_a_name_podium_has(install: Install) -> None:
    install(ENTRY_POINTS)
    files = {"type": "files", "path": "in", "streams": {"a": {}}}
    assert connection_problems(files) == []  # podium's own files source still
    assert "which podium already has; give it another name" in plugin_problems()["files"]
    assert warehouse_problems({"type": "duckdb"}) == []
    assert isinstance(open_notification("slack://T1/B2/C3", set()), AppriseDestination)


def test_a_plugin_that_cannot_load_is_a_problem_of_the_connection(install: Install) -> None:
    install(ENTRY_POINTS)
    [problem] = connection_problems({"type": "missing"})
    assert problem.startswith("type: plugin source type 'missing' (podium_fake_nowhere:SOURCE)")
    assert "cannot be loaded: ModuleNotFoundError" in problem and "reinstall it" in problem
    assert is_source({"type": "missing"})  # so extract does not call it something else
    [lacking] = connection_problems({"type": "half"})
    assert "lacks open; update the plugin" in lacking


def write(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_plugin_warehouse_takes_loads_models_and_checks(install: Install, tmp_path: Path) -> None:
    install(ENTRY_POINTS)
    assert warehouse_problems({"type": "duckfile", "file": 3}) == ["file: must be text, got 3"]
    root = write(
        tmp_path / "proj",
        {
            "podium.yaml": (
                "warehouse: {type: duckfile, file: elsewhere.duckdb}\n"
                "connections:\n  c: {type: constant, rows: 4}\n"
            ),
        },
    )
    project = load_project(root, environ={})
    [loaded] = extract(project, "c")
    assert loaded.loaded == 4
    with duckdb.connect(str(root / "elsewhere.duckdb"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM raw_c.items").fetchone() == (4,)
    with open_warehouse_sql(project.warehouse, root) as sql:
        assert sql.query("SELECT count(*) FROM raw_c.items") == [(4,)]
    assert open_destination(project.warehouse, root).name.endswith("elsewhere.duckdb)")


def test_a_plugin_notifier_takes_its_scheme(install: Install) -> None:
    install(ENTRY_POINTS)
    assert url_problem("memo://team") is None
    assert url_problem("memo://") == "names no memo"
    destination = open_notification("memo://team", set())
    assert destination.send(Message("run failed", "body")) is None
    assert destination.sent == ["run failed"]  # type: ignore[attr-defined]


def test_a_warehouse_or_notifier_plugin_that_cannot_load_says_so(install: Install) -> None:
    install(
        "[podium.notifiers]\nmemo = podium_fake_nowhere:NOTIFIER\n"
        "[podium.warehouses]\nfar = podium_fake_nowhere:WAREHOUSE\n"
    )
    [broken] = warehouse_problems({"type": "far", "url": "x"})
    assert broken.startswith("type: plugin warehouse type 'far' (podium_fake_nowhere:WAREHOUSE)")
    assert "cannot be loaded: ModuleNotFoundError" in broken
    problem = url_problem("memo://team")
    assert problem is not None
    assert problem.startswith("names a scheme whose plugin cannot be used: plugin notifier 'memo'")
