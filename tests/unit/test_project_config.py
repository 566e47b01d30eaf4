"""podium.yaml: defaults, the store URL, pools, engine settings and their problems."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from podium.core.workflow import DaskSettings, EngineSettings, Project
from podium.errors import ProjectError
from podium.project import load_project


def project(root: Path, config: str, environ: Mapping[str, str] | None = None) -> Project:
    (root / "podium.yaml").write_text(textwrap.dedent(config).lstrip("\n"))
    return load_project(root, environ=environ or {})


def problems(root: Path, config: str, environ: Mapping[str, str] | None = None) -> list[str]:
    with pytest.raises(ProjectError) as info:
        project(root, config, environ)
    return [str(p) for p in info.value.problems]


def test_missing_podium_yaml_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path, environ={})
    assert [str(p) for p in info.value.problems] == [
        f"podium.yaml: no podium.yaml in {tmp_path.resolve()}; run `podium init` to create one"
    ]


def test_empty_file_gives_every_default(tmp_path: Path) -> None:
    loaded = project(tmp_path, "")
    assert loaded.store_url == f"sqlite:///{tmp_path.resolve()}/.podium/state.db"
    assert loaded.pools == {}
    assert loaded.engine == EngineSettings()
    assert loaded.workflows == {} and loaded.connections == {} and loaded.notifications == ()
    assert loaded.root == str(tmp_path.resolve())


def test_relative_sqlite_path_is_relative_to_the_project_root(tmp_path: Path) -> None:
    loaded = project(tmp_path, "store: sqlite:///data/podium.db\n")
    assert loaded.store_url == f"sqlite:///{tmp_path.resolve()}/data/podium.db"
    assert loaded.store_url.startswith("sqlite:////")


def test_absolute_sqlite_and_postgres_urls_are_kept(tmp_path: Path) -> None:
    assert project(tmp_path, "store: sqlite:////var/p.db\n").store_url == "sqlite:////var/p.db"
    url = "postgresql://podium@db:5432/podium"
    assert project(tmp_path, f"store: {url}\n").store_url == url


def test_podium_store_url_overrides_store(tmp_path: Path) -> None:
    environ = {"PODIUM_STORE_URL": "sqlite:///other.db"}
    loaded = project(tmp_path, "store: postgresql://u@h/db\n", environ)
    assert loaded.store_url == f"sqlite:///{tmp_path.resolve()}/other.db"


def test_bad_podium_store_url_is_a_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, "store: sqlite:///x.db\n", {"PODIUM_STORE_URL": "mysql://h/db"})
    assert found == [
        "podium.yaml:1: PODIUM_STORE_URL: store URL scheme 'mysql' is not supported; "
        "use sqlite:///PATH (relative to the project) or postgresql://USER@HOST:5432/DB"
    ]


def test_unsupported_store_url(tmp_path: Path) -> None:
    found = problems(tmp_path, "pools: {}\nstore: /tmp/state.db\n")
    assert found == [
        "podium.yaml:2: the store must be a URL; use sqlite:///PATH (relative to the project) "
        "or postgresql://USER@HOST:5432/DB"
    ]


def test_store_password_is_a_secret(tmp_path: Path) -> None:
    loaded = project(tmp_path, "store: postgresql://app:s3cr%40t@db/podium\n")
    assert {"s3cr%40t", "s3cr@t"} <= loaded.secrets


def test_pools_and_engine(tmp_path: Path) -> None:
    loaded = project(
        tmp_path,
        """
        pools: {extractors: 4, warehouse: 2}
        engine:
          lease_timeout: 1m
          executor: processes
          workers: 8
          poll_interval: 250ms
        """,
    )
    assert loaded.pools == {"extractors": 4, "warehouse": 2}
    assert loaded.engine == EngineSettings(
        lease_timeout=60.0, executor="processes", workers=8, poll_interval=0.25
    )


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    assert problems(tmp_path, "pool: {a: 1}\n") == [
        "podium.yaml:1: unknown key 'pool'; did you mean 'pools'?"
    ]


def test_unknown_engine_key_suggests_the_right_one(tmp_path: Path) -> None:
    assert problems(tmp_path, "engine:\n  worker: 3\n") == [
        "podium.yaml:2: engine: unknown key 'worker'; did you mean 'workers'?"
    ]


def test_pool_slots_must_be_positive_integers(tmp_path: Path) -> None:
    found = problems(tmp_path, "pools:\n  a: 0\n  b: two\n  c: 3\n")
    assert found == [
        "podium.yaml:2: pools: a must be a whole number 1 or more, got 0",
        "podium.yaml:3: pools: b must be a whole number 1 or more, got 'two'",
    ]


def test_bad_engine_values_are_each_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        engine:
          executor: gpu
          workers: 0
          lease_timeout: soon
          poll_interval: 0s
        """,
    )
    assert found == [
        "podium.yaml:2: engine: executor must be one of threads, processes, dask, got 'gpu'",
        "podium.yaml:3: engine: workers must be a whole number 1 or more, got 0",
        "podium.yaml:4: engine: lease_timeout: 'soon' is not a duration; "
        "write e.g. 30s, 5m, 1h30m or 2d",
        "podium.yaml:5: engine: poll_interval must be more than zero, got '0s'",
    ]


def test_a_dask_executor_is_a_mapping_or_its_name(tmp_path: Path) -> None:
    loaded = project(
        tmp_path,
        """
        pools: {heavy: 2}
        engine:
          executor:
            type: dask
            address: tcp://scheduler:8786
            ship: always
            stop_grace: 30s
            resources: {heavy: {MEMORY: 8}}
        """,
    )
    assert loaded.engine.executor == "dask"
    assert loaded.engine.dask == DaskSettings(
        address="tcp://scheduler:8786",
        ship="always",
        stop_grace=30.0,
        resources={"heavy": {"MEMORY": 8}},
    )
    by_name = project(tmp_path, "engine: {executor: dask}\n").engine
    assert (by_name.executor, by_name.dask) == ("dask", DaskSettings())
    local = project(tmp_path, "engine: {executor: {type: dask, workers: 4, ship: false}}\n")
    assert local.engine.dask == DaskSettings(workers=4, ship="never")


def test_a_dask_executor_s_mistakes_are_each_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        engine:
          executor:
            type: dask
            adress: tcp://x:8786
            workers: 0
            ship: sometimes
            stop_grace: later
        """,
    )
    assert found == [
        "podium.yaml:4: engine: executor: unknown key 'adress'; did you mean 'address'?",
        "podium.yaml:5: engine: executor: workers must be 1 or more, got 0",
        "podium.yaml:6: engine: executor: ship must be one of auto, always, never, got 'sometimes'",
        "podium.yaml:7: engine: executor: stop_grace: 'later' is not a duration;"
        " write e.g. 30s, 5m, 1h30m or 2d",
    ]
    assert problems(tmp_path, "engine:\n  executor: {type: threads, workers: 2}\n") == [
        "podium.yaml:2: engine: executor: a mapping sets up a Dask cluster and needs type:"
        " dask, got 'threads'; write executor: 'threads' or 'processes' for the others"
    ]


def test_connections_and_notifications_are_kept(tmp_path: Path) -> None:
    loaded = project(
        tmp_path,
        """
        connections:
          drops: {type: files, path: inbox, streams: {sales: {pattern: "*.csv"}}}
        notifications:
          - {on: [failed], to: "json://127.0.0.1:9/hook"}
        warehouse: {type: duckdb}
        """,
    )
    assert loaded.connections == {
        "drops": {"type": "files", "path": "inbox", "streams": {"sales": {"pattern": "*.csv"}}}
    }
    assert loaded.warehouse == {"type": "duckdb"}
    (rule,) = loaded.notifications  # checked and named (podium.notify.settings)
    assert (rule.name, rule.on, rule.to, rule.workflows) == (
        "webhook",
        ("failed",),
        "json://127.0.0.1:9/hook",
        None,
    )


def test_connection_and_warehouse_problems_name_their_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "connections:\n"
        "  shop: {type: rest, base_url: 'http://x', streams: {a: {path: /a, write_mode: merge}}}\n"
        "  drops:\n"
        "    type: files\n"
        "    path: inbox\n"
        "    streams:\n"
        "      sales: {write_mode: upsert}\n"
        "warehouse:\n"
        "  type: postgres\n"
        "  url: mysql://x\n",
    )
    assert found == [
        "podium.yaml:2: connections: shop.streams.a.write_mode: merge needs a primary_key: the "
        "field(s) that identify a record",
        "podium.yaml:7: connections: drops.streams.sales.write_mode: expected one of append, "
        "merge, replace, got 'upsert'",
        "podium.yaml:10: warehouse: url: expected postgresql://USER@HOST:5432/DB",
    ]


def test_connections_must_be_mappings_of_mappings(tmp_path: Path) -> None:
    found = problems(tmp_path, "connections:\n  shopify: yes\nnotifications: {a: 1}\n")
    assert found == [
        "podium.yaml:2: connections: 'shopify' must be a mapping of settings (type:, token: …)",
        "podium.yaml:3: notifications must be a list of rules, e.g."
        " - {on: [failed, recovered], to: ${SLACK_WEBHOOK_URL}}",
    ]


def test_podium_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "- a\n- b\n") == [
        "podium.yaml:1: podium.yaml must be a mapping of settings (store:, pools:, engine: …)"
    ]


def test_yaml_syntax_error_in_podium_yaml(tmp_path: Path) -> None:
    found = problems(tmp_path, "pools: {a: 1\n")
    assert len(found) == 1 and found[0].startswith("podium.yaml:2: invalid YAML:")
