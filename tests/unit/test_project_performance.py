"""Large workflows load: 10,000 tasks as a chain, a fan-out and a fan-in.

No timing assertion (machines differ); a quadratic step would make these tests crawl.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from podium.project import load_project

SIZE = 10_000


def chain() -> str:
    lines = ["name: big", "defaults: {retries: 2, retry_delay: 30s}", "tasks:"]
    lines += ["  - id: t0", "    shell: echo 0"]
    for i in range(1, SIZE):
        lines += [f"  - id: t{i}", f"    shell: echo {i}", f"    depends_on: [t{i - 1}]"]
    return "\n".join(lines) + "\n"


def fan_out() -> str:
    lines = ["name: big", "tasks:", "  - id: root", "    run: os.path:join", "    pool: p"]
    for i in range(SIZE):
        lines += [f"  - id: leaf{i}", "    run: os.path:join", "    depends_on: root"]
        lines += ["    timeout: 5m", "    pool: p", f"    params: {{n: {i}}}"]
    return "\n".join(lines) + "\n"


def fan_in() -> str:
    ids = [f"src{i}" for i in range(SIZE)]
    lines = ["name: big", "tasks:"]
    lines += [f"  - {{id: {task_id}, shell: x}}" for task_id in ids]
    lines += ["  - id: sink", "    shell: x", f"    depends_on: [{', '.join(ids)}]"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("shape", [chain, fan_out, fan_in])
def test_ten_thousand_tasks_load(tmp_path: Path, shape: Callable[[], str]) -> None:
    (tmp_path / "podium.yaml").write_text("pools: {p: 4}\n")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "big.yaml").write_text(shape())
    workflow = load_project(tmp_path, environ={}).workflow("big")
    assert len(workflow.tasks) >= SIZE
