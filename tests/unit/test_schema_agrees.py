"""The schemas never refuse what ``podium validate`` accepts.

Each setting, one at a time, gets every value of a set of samples (numbers, durations,
text of many shapes, lists, mappings) in an otherwise sound document; whenever the JSON
Schema refuses the document, podium's reader must refuse it too. (The other way round is
allowed: a schema cannot know which time zones exist or whether apprise takes a URL; the
mistakes both must refuse are in ``test_project_schema``.) The same run would catch a
reader that crashes on a value of the wrong type: it found three (``on_late: []``,
``region: []`` on an amazon connection, ``type: []`` for the warehouse).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from podium.connectors.registry import BUILT_IN, COMMON
from podium.connectors.warehouse import SETTINGS as WAREHOUSES
from podium.kinds.registry import written_kinds
from podium.notify.settings import RULE
from podium.outgoing.hooks_config import HOOK
from podium.project.config import ENGINE, SERVER, read_settings
from podium.project.schema import project_schema, workflow_schema
from podium.project.workflow_grammar import TASK_OPTIONS
from podium.project.workflow_yaml import build_workflow
from podium.settings.secrets import Interpolator
from podium.settings.yaml_lines import Problems, load_yaml
from podium.webhooks.settings import WEBHOOKS

SAMPLES: list[Any] = [
    0, 1, -1, 2.5, 1000, 200, [200, 201], "30s", "x", "", "a b", True, False, [], ["a"],
    ["orders"], {}, {"a": 1}, "https://x.example", "2025-10", "2025-10-15", "2026-01-01",
    "na", "all", "hmac", "sha256", "1MB", "pk_x", "1234567_SB1", "America/New_York",
    "postgresql://u@h/db", "link", "csv", "merge", "failed", "POST", "Post", "continue", "threads",
    "json://h/p",
]  # fmt: skip

SOURCES: dict[str, dict[str, Any]] = {
    "rest": {"type": "rest", "base_url": "https://x", "streams": {"o": {"path": "/o"}}},
    "files": {"type": "files", "path": "in", "streams": {"s": {"pattern": "*.csv"}}},
    "shopify": {"type": "shopify", "shop": "acme", "access_token": "t"},
    "amazon": {"type": "amazon", "refresh_token": "r", "client_id": "c", "client_secret": "s"},
    "netsuite": {
        "type": "netsuite",
        "account_id": "1234567_SB1",
        "auth": {"method": "tba", **{k: "x" for k in ("consumer_key", "consumer_secret")}}
        | {"token_id": "x", "token_secret": "x"},
    },
    "klaviyo": {"type": "klaviyo", "api_key": "pk_abc"},
}
SIGNED = {"secret": "s"}
SCHEMES = {
    "shopify": {"verify": "shopify", **SIGNED},
    "stripe": {"verify": "stripe", **SIGNED},
    "klaviyo": {"verify": "klaviyo", **SIGNED},
    "hmac": {"verify": "hmac", "header": "X-Sig", **SIGNED},
}


def podium_yaml_is_read_without_problems(document: dict[str, Any]) -> bool:
    problems = Problems("podium.yaml")
    read_settings(Path("."), yaml.safe_dump(document), {}, Interpolator({}), problems)
    return not problems.found


def workflow_is_read_without_problems(document: dict[str, Any]) -> bool:
    problems = Problems("workflows/w.yaml")
    parsed, syntax = load_yaml(yaml.safe_dump(document), "workflows/w.yaml")
    assert syntax == []
    build_workflow(parsed, "workflows/w.yaml", "w", problems)
    return not problems.found


def refused_by_the_schema_only(
    schema: dict[str, Any], reader: Any, documents: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        label
        for label, document in documents
        if not validator.is_valid(document) and reader(document)
    ]


def varied(base: dict[str, Any], keys: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """``base`` with each of ``keys`` set to each sample, labelled ``key=value``."""
    found = []
    for key in keys:
        for value in SAMPLES:
            document = copy.deepcopy(base)
            document[key] = value
            found.append((f"{key}={value!r}", document))
    return found


def test_the_sound_documents_are_sound() -> None:
    for kind, settings in SOURCES.items():
        assert podium_yaml_is_read_without_problems({"connections": {"c": settings}}), kind
    for scheme, settings in SCHEMES.items():
        webhook = {"type": "webhook", "webhooks": settings}
        assert podium_yaml_is_read_without_problems({"connections": {"w": webhook}}), scheme


@pytest.mark.parametrize("kind", list(SOURCES))
def test_source_settings(kind: str) -> None:
    keys = (*BUILT_IN[kind].settings.names, *COMMON.names[:2])
    documents = [
        (label, {"connections": {"c": settings}})
        for label, settings in varied(SOURCES[kind], tuple(k for k in keys if k != "type"))
    ]
    assert (
        refused_by_the_schema_only(
            project_schema(), podium_yaml_is_read_without_problems, documents
        )
        == []
    )


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_webhook_settings(scheme: str) -> None:
    documents = [
        (label, {"connections": {"w": {"type": "webhook", "webhooks": settings}}})
        for label, settings in varied(SCHEMES[scheme], WEBHOOKS.names)
    ]
    assert (
        refused_by_the_schema_only(
            project_schema(), podium_yaml_is_read_without_problems, documents
        )
        == []
    )


def test_the_other_sections_of_podium_yaml() -> None:
    documents: list[tuple[str, dict[str, Any]]] = []
    documents += [(f"engine.{k}", {"engine": d}) for k, d in varied({}, ENGINE.names)]
    documents += [(f"server.{k}", {"server": d}) for k, d in varied({}, SERVER.names)]
    documents += [(f"pools.{k}", {"pools": d}) for k, d in varied({}, ("extractors",))]
    documents += [(k, d) for k, d in varied({}, ("store",))]
    postgres = {"type": "postgres", "url": "postgresql://u@h/db"}
    for base in ({"type": "duckdb"}, postgres):
        keys = WAREHOUSES[base["type"]].names
        documents += [(f"warehouse.{k}", {"warehouse": d}) for k, d in varied(base, keys)]
    hook = {"url": "https://x.example/h", "secret": "s"}
    documents += [(f"hook.{k}", {"outgoing_webhooks": [d]}) for k, d in varied(hook, HOOK.names)]
    rule = {"on": ["failed"], "to": "json://h/p"}
    documents += [(f"rule.{k}", {"notifications": [d]}) for k, d in varied(rule, RULE.names)]
    assert (
        refused_by_the_schema_only(
            project_schema(), podium_yaml_is_read_without_problems, documents
        )
        == []
    )


def test_task_options_and_each_kinds_options() -> None:
    task = {"id": "a", "shell": "echo", "late_after": "1h"}
    documents = [(k, {"tasks": [d]}) for k, d in varied(task, TASK_OPTIONS.names)]
    documents += [(f"defaults.{k}", {"defaults": d, "tasks": [task]}) for k, d in varied({}, TASK_OPTIONS.names)]  # fmt: skip
    targets = {"http": "https://x.example/hook", "run": "pipeline.steps:run"}
    for kind in written_kinds():
        base = {"id": "a", kind.name: targets.get(kind.name, "x")}
        documents += [(f"{kind.name}.{k}", {"tasks": [d]}) for k, d in varied(base, kind.options.names)]  # fmt: skip
    assert (
        refused_by_the_schema_only(workflow_schema(), workflow_is_read_without_problems, documents)
        == []
    )
