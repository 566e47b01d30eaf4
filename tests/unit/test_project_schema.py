"""``podium schema``: the JSON Schemas of podium.yaml and of a workflow file.

Every template, and every complete podium.yaml or workflow in the README, validates
against them; the mistakes ``podium validate`` refuses, the schemas refuse too (the same
documents go to both); a plugin's kind shows up with its options; and the readers' keys
come from the same descriptions as the schemas'.
"""

from __future__ import annotations

import datetime
import re
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from podium.errors import ProjectError
from podium.kinds import registry
from podium.project import init_project, load_project
from podium.project import workflow_yaml as yaml_reader
from podium.project.schema import project_schema, workflow_schema
from podium.project.workflow_grammar import TASK_OPTIONS, TRIGGERS
from podium.settings.describe import Option, Settings, with_references
from podium.settings.yaml_lines import load_yaml, to_plain

README = Path(__file__).resolve().parents[2] / "README.md"
Validator = jsonschema.Draft202012Validator


def as_json(value: Any) -> Any:
    """A document as an editor's YAML 1.2 reader sees it: unquoted dates are text."""
    value = to_plain(value)
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def schema_errors(schema: Mapping[str, Any], text: str) -> list[str]:
    document, problems = load_yaml(text, "file.yaml")
    assert problems == []
    errors = Validator(schema).iter_errors(as_json(document) or {})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def project_files(root: Path) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(file, the schema it should satisfy, its text) for each YAML file of a project."""
    yield "podium.yaml", project_schema(), (root / "podium.yaml").read_text()
    for path in sorted((root / "workflows").glob("*.yaml")):
        yield f"workflows/{path.name}", workflow_schema(), path.read_text()


def templates() -> list[str]:
    folder = resources.files("podium") / "templates"
    return sorted(item.name for item in folder.iterdir() if item.is_dir())


# -- the schemas themselves --------------------------------------------------------------------


@pytest.mark.parametrize("make", [project_schema, workflow_schema])
def test_each_schema_is_a_draft_2020_12_schema_with_a_title(make: Any) -> None:
    schema = make()
    Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:podium:")
    assert schema["title"] and schema["description"]
    assert all("description" in s for s in schema["properties"].values())


# -- what real projects hold validates ---------------------------------------------------------


@pytest.mark.parametrize("template", templates())
def test_every_template_validates(tmp_path: Path, template: str) -> None:
    init_project(tmp_path, template)
    checked = list(project_files(tmp_path))
    assert len(checked) >= 2
    for file, schema, text in checked:
        assert schema_errors(schema, text) == [], file


def readme_files() -> list[tuple[str, str]]:
    """The README's YAML blocks that are one whole file (they start by naming it)."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    named = re.compile(r"^# (podium\.yaml|workflows/\w+\.yaml)\s*$", re.M)
    return [(names[0], block) for block in blocks if len(names := named.findall(block)) == 1]


@pytest.mark.parametrize("file, text", readme_files(), ids=lambda v: v[:24])
def test_the_readmes_whole_files_validate(file: str, text: str) -> None:
    schema = project_schema() if file == "podium.yaml" else workflow_schema()
    assert schema_errors(schema, text) == []


def test_the_readme_has_whole_files_of_both_kinds() -> None:
    assert {file for file, _ in readme_files()} >= {"podium.yaml", "workflows/daily.yaml"}


def test_references_stand_where_text_is_constrained_but_not_where_numbers_are() -> None:
    """``${VAR}`` is replaced by text before podium reads a value: a pattern or a choice may
    be a reference; a number may not (podium validate refuses ``workers: ${W}`` too)."""
    config = textwrap.dedent(
        """
        store: ${STORE_URL}
        engine: {executor: "${EXECUTOR}", lease_timeout: "${LEASE}"}
        warehouse: {type: postgres, url: "${WAREHOUSE_URL}"}
        connections:
          shop: {type: shopify, shop: "${SHOP}", access_token: "${TOKEN}", api_version: "${V}"}
        """
    )
    assert schema_errors(project_schema(), config) == []
    assert schema_errors(project_schema(), "engine: {workers: '${W}'}\n") != []


# -- the same mistakes are refused by both -----------------------------------------------------

SHELL = "tasks:\n  - {id: a, shell: echo}\n"
SHOP = "{type: shopify, shop: acme, access_token: t}"


@dataclass(frozen=True)
class Mistake:
    name: str
    podium_yaml: str = ""
    workflow: str = SHELL

    def write(self, root: Path) -> None:
        (root / "workflows").mkdir(parents=True)
        (root / "podium.yaml").write_text(self.podium_yaml)
        (root / "workflows" / "daily.yaml").write_text(self.workflow)


SYNC_YAML = """\
connections:
  klaviyo: {type: klaviyo, api_key: pk_test_0123456789abcdef}
syncs:
  vip:
    from: marts.vip
    to: klaviyo
    object: list_members
    list: VIP
    key: id
    mode: mirror
    fields: {email: email}
    guard: {max_changes: 10%}
"""
MISTAKES = [
    Mistake("unknown task key", workflow="tasks:\n  - {id: a, shell: echo, retrys: 2}\n"),
    Mistake("two kinds on one task", workflow="tasks:\n  - {id: a, shell: echo, run: m:f}\n"),
    Mistake("retries is text", workflow="tasks:\n  - {id: a, shell: echo, retries: two}\n"),
    Mistake("retries below zero", workflow="tasks:\n  - {id: a, shell: echo, retries: -1}\n"),
    Mistake("another kind's option", workflow="tasks:\n  - {id: a, shell: x, streams: [s]}\n"),
    Mistake("a task without a kind", workflow="tasks:\n  - {id: a, retries: 1}\n"),
    Mistake("a task without an id", workflow="tasks:\n  - {shell: echo}\n"),
    Mistake("no tasks", workflow="name: daily\n"),
    Mistake("a dbt option that is not one", workflow="tasks:\n  - {id: a, dbt: x, selekt: y}\n"),
    Mistake("unknown workflow key", workflow="schedule: daily\n" + SHELL),
    Mistake("a default that is not an option", workflow="defaults: {id: x}\n" + SHELL),
    Mistake("unknown trigger kind", workflow="triggers:\n  - {cron: '0 5 * * *'}\n" + SHELL),
    Mistake("two trigger kinds", workflow="triggers:\n  - {event: e, schedule: x}\n" + SHELL),
    Mistake("unknown schedule key", workflow="triggers:\n  - {schedule: x, tz: UTC}\n" + SHELL),
    Mistake("unknown catchup", workflow="triggers:\n  - {schedule: '@daily', catchup: some}\n"),
    Mistake("asset all_of and any_of", workflow="triggers:\n  - asset: {all_of: [a], any_of: [b]}\n"),
    Mistake("on_late unknown", workflow="tasks:\n  - {id: a, shell: x, on_late: skip}\n"),
    Mistake("deadline unquoted", workflow="deadline: 7:30\n" + SHELL),
    Mistake("notify unknown state", workflow="notify:\n  - {on: [broken], to: 'json://h/p'}\n"),
    Mistake("unknown top-level key", podium_yaml="stores: sqlite:///x.db\n"),
    Mistake("store that is no URL", podium_yaml="store: state.db\n"),
    Mistake("pool slots zero", podium_yaml="pools: {extractors: 0}\n"),
    Mistake("unknown engine key", podium_yaml="engine: {workerz: 2}\n"),
    Mistake("unknown executor", podium_yaml="engine: {executor: gpu}\n"),
    Mistake("dask without its type", podium_yaml="engine: {executor: {workers: 2}}\n"),
    Mistake("dask ship unknown", podium_yaml="engine: {executor: {type: dask, ship: maybe}}\n"),
    Mistake("unknown source key", podium_yaml=f"connections:\n  s: {SHOP[:-1]}, shopp: x}}\n"),
    Mistake("source without its token", podium_yaml="connections:\n  s: {type: shopify, shop: a}\n"),
    Mistake("concurrency zero", podium_yaml=f"connections:\n  s: {SHOP[:-1]}, concurrency: 0}}\n"),
    Mistake("rest with no streams", podium_yaml=(
        "connections:\n  r: {type: rest, base_url: 'https://x', streams: {}}\n")),
    Mistake("unknown pagination style", podium_yaml=(
        "connections:\n  r: {type: rest, base_url: 'https://x', pagination: {style: pages},"
        " streams: {o: {path: /o}}}\n")),
    Mistake("files with an unknown format", podium_yaml=(
        "connections:\n  f: {type: files, path: in, streams: {s: {format: xls}}}\n")),
    Mistake("netsuite auth of another method", podium_yaml=(
        "connections:\n  n: {type: netsuite, account_id: '1', auth: {method: tba, client_id: x}}\n")),
    Mistake("webhooks hmac without header", podium_yaml=(
        "connections:\n  w: {type: webhook, webhooks: {verify: hmac, secret: s}}\n")),
    Mistake("webhook connection with a source key", podium_yaml=(
        "connections:\n  w: {type: webhook, base_url: x, webhooks: {verify: stripe, secret: s}}\n")),
    Mistake("unknown warehouse key", podium_yaml="warehouse: {type: duckdb, url: x}\n"),
    Mistake("unknown warehouse type", podium_yaml="warehouse: {type: snowflake}\n"),
    Mistake("postgres warehouse without url", podium_yaml="warehouse: {type: postgres}\n"),
    Mistake("notification without to", podium_yaml="notifications:\n  - {on: [failed]}\n"),
    Mistake("outgoing webhook without secret", podium_yaml=(
        "outgoing_webhooks:\n  - {url: 'https://x.example/h'}\n")),
    Mistake("unknown server key", podium_yaml="server: {port: 8642}\n"),
    Mistake("unknown server auth", podium_yaml="server: {auth: sometimes}\n"),
    Mistake("a sync object's unknown key", podium_yaml=SYNC_YAML.replace("list: VIP", "lists: VIP")),
    Mistake("a sync mode that is none", podium_yaml=SYNC_YAML.replace("mode: mirror", "mode: all")),
    Mistake("a sync without a key", podium_yaml=SYNC_YAML.replace("    key: id\n", "")),
    Mistake("a sync guard that is no share", podium_yaml=SYNC_YAML.replace("10%", "ten")),
]  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_validate_and_the_schema_refuse_the_same_mistakes(tmp_path: Path, mistake: Mistake) -> None:
    mistake.write(tmp_path)
    with pytest.raises(ProjectError):
        load_project(tmp_path, environ={})
    errors = schema_errors(project_schema(), mistake.podium_yaml) + schema_errors(
        workflow_schema(), mistake.workflow
    )
    assert errors, "the schema accepted what podium validate refuses"


def test_the_sound_project_these_mistakes_start_from_is_accepted_by_both(tmp_path: Path) -> None:
    sound = Mistake(
        "none",
        podium_yaml=(
            f"connections:\n  s: {SHOP}\n  chat: {{type: slack, channel: data}}\n"
            "server: {auth: off, url: 'https://podium.example.com'}\n"
        ),
        workflow="triggers:\n  - {schedule: '0 5 * * *', catchup: all}\n" + SHELL,
    )
    sound.write(tmp_path)
    load_project(tmp_path, environ={})
    assert schema_errors(project_schema(), sound.podium_yaml) == []
    assert schema_errors(workflow_schema(), sound.workflow) == []


def test_the_sound_sync_these_mistakes_start_from_is_accepted_by_both(tmp_path: Path) -> None:
    sound = Mistake("none", podium_yaml=SYNC_YAML)
    sound.write(tmp_path)
    assert set(load_project(tmp_path, environ={}).syncs) == {"vip"}
    assert schema_errors(project_schema(), sound.podium_yaml) == []


# -- plugins -----------------------------------------------------------------------------------


class NotebookKind:
    """A kind as a plugin would register it (only what the schema reads)."""

    name = "notebook"
    target = "a notebook path"
    options = Settings(
        (
            Option("kernel", {"type": "string", "enum": ["python3", "ir"]}, "the kernel"),
            Option("cells", {"type": "integer", "minimum": 1}, "cells to run"),
        ),
        doc="A task that runs a notebook.",
    )


def test_a_plugin_kind_is_in_the_workflow_schema_with_its_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, failed = registry._kinds()
    monkeypatch.setattr(registry, "_kinds", lambda: ({**found, "notebook": NotebookKind()}, failed))
    task = workflow_schema()["properties"]["tasks"]["items"]
    assert "notebook" in task["properties"] and "a notebook path" in str(task["properties"])
    assert {"kernel", "cells"} <= set(task["properties"])
    schema = workflow_schema()
    ok = "tasks:\n  - {id: n, notebook: report.ipynb, kernel: python3, cells: 3}\n"
    assert schema_errors(schema, ok) == []
    for bad in ("kernel: julia", "cells: 0", "streams: [a]"):
        text = f"tasks:\n  - {{id: n, notebook: report.ipynb, {bad}}}\n"
        assert schema_errors(schema, text) != [], bad
    assert schema_errors(schema, "tasks:\n  - {id: s, shell: echo, kernel: ir}\n") != []


def test_without_the_plugin_its_kind_is_not_in_the_schema() -> None:
    assert "notebook" not in workflow_schema()["properties"]["tasks"]["items"]["properties"]


# -- described once ----------------------------------------------------------------------------


def test_every_task_option_and_trigger_kind_has_a_reader_and_a_description() -> None:
    assert set(yaml_reader._OPTION_READERS) == set(TASK_OPTIONS.names)
    assert set(yaml_reader._TRIGGER_READERS) == set(TRIGGERS)


def test_with_references_leaves_numbers_and_choices_of_keys_alone() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"], "description": "which"},
        },
        "propertyNames": {"enum": ["n", "mode"]},
    }
    wrapped = with_references(schema)
    assert wrapped["properties"]["n"] == {"type": "integer"}
    assert wrapped["properties"]["mode"]["description"] == "which"
    assert wrapped["propertyNames"] == {"enum": ["n", "mode"]}
    Validator(wrapped).validate({"mode": "${MODE}"})
    with pytest.raises(jsonschema.ValidationError):
        Validator(wrapped).validate({"mode": "c"})
