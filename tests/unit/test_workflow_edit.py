"""Writing a workflow file back after the builder changed it: only the changed nodes
change; comments, key order, quoting, flow lists and indentation stay."""

from __future__ import annotations

import textwrap
from importlib.resources import files

from podium.project.workflow_edit import apply_changes, locate, read_document

DAILY = (files("podium") / "templates/commerce/workflows/daily.yaml").read_text()


def changed_lines(before: str, after: str) -> list[str]:
    import difflib

    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_unchanged_data_writes_the_same_bytes() -> None:
    assert apply_changes(DAILY, read_document(DAILY)) == DAILY


def test_one_retry_changes_one_line() -> None:
    document = read_document(DAILY)
    document["tasks"][1]["retries"] = 3
    assert changed_lines(DAILY, apply_changes(DAILY, document)) == [
        "-    retries: 2",
        "+    retries: 3",
    ]


def test_a_task_added_removed_and_a_dependency_drawn() -> None:
    document = read_document(DAILY)
    document["tasks"] = [t for t in document["tasks"] if t["id"] != "ad_spend"]
    document["tasks"].append({"id": "report", "shell": "echo done", "depends_on": ["push_vip"]})
    after = apply_changes(DAILY, document)
    assert changed_lines(DAILY, after) == [
        "-  - id: ad_spend",
        "-    extract: ad_spend",
        "+  - id: report",
        "+    shell: echo done",
        "+    depends_on: [push_vip]",
    ]
    assert read_document(after) == document


def test_a_trigger_added_or_replaced_keeps_the_blank_line_before_tasks() -> None:
    document = read_document(DAILY)
    document["triggers"].append({"event": "go"})
    after = apply_changes(DAILY, document)
    assert "    timezone: America/New_York\n  - event: go\n\ntasks:" in after
    document["triggers"] = [{"event": "go"}]
    after = apply_changes(DAILY, document)
    assert "triggers:\n  - event: go\n\ntasks:" in after
    assert changed_lines(DAILY, after) == [
        '-  - schedule: "0 6 * * *"',
        "-    timezone: America/New_York",
        "+  - event: go",
    ]


def test_another_indentation_and_quoting_round_trip_exactly() -> None:
    other = textwrap.dedent(
        """\
        name: other
        tasks:
        - id: a          # no indent before the dash
          run: "pkg.mod:fn"
          params: {x: 1, 'y': "two"}
        - id: b
          shell: >-
            echo folded
          depends_on:
          - a
        """
    )
    document = read_document(other)
    assert apply_changes(other, document) == other
    document["tasks"][1]["retries"] = 1
    assert apply_changes(other, document) == other + "  retries: 1\n"


def test_types_are_kept_apart() -> None:
    text = "name: t\nparams: {flag: true, n: 1}\ntasks:\n  - id: a\n    run: m:f\n"
    document = read_document(text)
    document["params"] = {"flag": 1, "n": True}
    assert "params: {flag: 1, n: true}" in apply_changes(text, document)


def test_a_new_file_is_written_in_the_usual_layout() -> None:
    document = {
        "name": "fresh",
        "triggers": [{"schedule": "0 6 * * *", "timezone": "UTC"}],
        "tasks": [
            {"id": "a", "shell": "echo a"},
            {"id": "b", "shell": "echo b", "depends_on": ["a"]},
        ],
    }
    text = apply_changes("", document)
    assert text.startswith("name: fresh\ntriggers:\n  - schedule: 0 6 * * *\n")
    assert "    depends_on: [a]\n" in text
    assert read_document(text) == document


def test_a_line_is_located_on_its_task_or_trigger_and_key() -> None:
    lines = DAILY.splitlines()
    row = next(i for i, line in enumerate(lines, 1) if "on_late: continue" in line)
    assert locate(DAILY, row).as_dict() == {"task": "amazon", "trigger": None, "field": "on_late"}
    row = next(i for i, line in enumerate(lines, 1) if "timezone:" in line)
    assert locate(DAILY, row).as_dict() == {"task": None, "trigger": 0, "field": "timezone"}
    row = next(i for i, line in enumerate(lines, 1) if line.startswith("name:"))
    assert locate(DAILY, row).field == "name"
