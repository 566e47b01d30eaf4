"""``retention:`` and ``podium prune`` as a user meets them: read from podium.yaml (every
mistake at its line), and a run forgotten once podium's clock is past its retention."""

from __future__ import annotations

import json

from e2e.conftest import MakeProject
from podium import clock

WORKFLOW = "name: hello\ntasks:\n  - {id: a, shell: echo hi}\n"


def test_prune_forgets_a_run_past_its_retention(make_project: MakeProject) -> None:
    project = make_project(
        {
            "podium.yaml": "retention: {runs: 30d, events: 30d, logs: 7d, every: 10m}\n",
            "workflows/hello.yaml": WORKFLOW,
        }
    )
    run = project.ok("run", "hello", "--json").json()
    assert project.ok("prune", "--dry-run").out.strip() == "prune would remove nothing"
    later = {clock.OFFSET_VARIABLE: repr(clock.offset() + 31 * 86_400)}
    dry = json.loads(project.podium("prune", "--dry-run", "--json", env=later).out)
    assert dry == {"dry_run": True, "counts": dry["counts"]} and dry["counts"]["runs"] == 1
    assert [r["run_id"] for r in project.runs()] == [run["run_id"]]  # nothing deleted yet
    done = project.podium("prune", env=later)
    assert done.code == 0 and done.out.startswith("prune removed "), done
    assert "1 runs" in done.out and project.runs() == []


def test_retention_mistakes_are_reported_at_their_line(make_project: MakeProject) -> None:
    project = make_project(
        {
            "podium.yaml": "store: sqlite:///.podium/state.db\nretention:\n  runs: forever\n"
            "  keep: 3d\n",
            "workflows/hello.yaml": WORKFLOW,
        }
    )
    checked = project.podium("validate")
    assert checked.code == 2
    assert "podium.yaml:3: retention: runs:" in checked.err, checked
    assert "podium.yaml:4: retention: unknown key 'keep'" in checked.err, checked
