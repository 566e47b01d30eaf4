"""``podium run`` and the runs its run triggers, in process: a chain of workflow triggers
is run link by link, up to ``MAX_DOWNSTREAM``; the rest are named and left queued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.cli import commands
from podium.cli.main import main

CHAIN = ("a", "b", "c", "d")


def chain_project(root: Path) -> Path:
    (root / "workflows").mkdir(parents=True)
    (root / "podium.yaml").write_text("store: sqlite:///.podium/state.db\n")
    for before, name in zip((None, *CHAIN), CHAIN, strict=False):
        trigger = f"triggers:\n  - workflow: {before}\n" if before else ""
        (root / "workflows" / f"{name}.yaml").write_text(
            f"name: {name}\n{trigger}tasks:\n  - id: t\n    shell: 'echo {name}'\n"
        )
    return root


def test_a_chain_of_triggered_runs_runs_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = chain_project(tmp_path)
    monkeypatch.setattr(commands, "MAX_DOWNSTREAM", 2)
    assert main(["run", "a", "--project", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("running it here too") == 2, out
    assert "of d was triggered (workflow trigger: c succeeded) and waits for `podium up`" in out
    assert "(this command runs at most 2)" in out
    assert main(["runs", "--json", "--project", str(root)]) == 0
    runs = {r["workflow"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert runs == {"a": "succeeded", "b": "succeeded", "c": "succeeded", "d": "queued"}
