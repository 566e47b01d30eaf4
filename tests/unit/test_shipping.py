"""Packing a project's code for Dask workers: what goes, its version, unpacking it once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podium.errors import UsageError
from podium.execution import shipping
from podium.execution.shipping import Packer, code_files, pack, unpack


def make_project(root: Path) -> None:
    files = {
        "podium.yaml": "warehouse: {type: duckdb}\n",
        "tasks.py": "def work(ctx):\n    return 1\n",
        "pkg/__init__.py": "",
        "pkg/steps.py": "X = 1\n",
        "models/marts/a.sql": "select 1",
        "scripts/go.sh": "#!/bin/sh\necho hi\n",
        "inbox/orders.csv": "id\n1\n",  # data: stays where it is
        ".podium/state.db": "x",
        ".git/config": "x",
        "pkg/__pycache__/steps.cpython-311.pyc": "x",
        "venv/pyvenv.cfg": "home = /usr\n",
        "venv/lib/site.py": "x",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "scripts/go.sh").chmod(0o755)


def test_only_code_files_are_packed(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert [p.as_posix() for p in code_files(tmp_path)] == [
        "podium.yaml",
        "tasks.py",
        "models/marts/a.sql",
        "pkg/__init__.py",
        "pkg/steps.py",
        "scripts/go.sh",
    ]


def test_the_version_follows_the_contents(tmp_path: Path) -> None:
    make_project(tmp_path)
    version, code = pack(tmp_path)
    assert pack(tmp_path) == (version, code)  # the same files give the same bytes
    (tmp_path / "inbox/orders.csv").write_text("id\n1\n2\n")
    assert pack(tmp_path)[0] == version  # data is not code
    (tmp_path / "tasks.py").write_text("def work(ctx):\n    return 2\n")
    assert pack(tmp_path)[0] != version


def test_unpacking_once_per_version_keeps_modes(tmp_path: Path) -> None:
    make_project(tmp_path / "project")
    version, code = pack(tmp_path / "project")
    folder = unpack(code, version, tmp_path / "worker")
    assert (folder / "pkg/steps.py").read_text() == "X = 1\n"
    assert os.access(folder / "scripts/go.sh", os.X_OK)
    assert not (folder / "inbox").exists()
    (folder / "marker").write_text("kept")
    assert unpack(code, version, tmp_path / "worker") == folder  # not unpacked again
    assert (folder / "marker").exists()


def test_the_packer_looks_at_the_files_at_most_once_a_period(tmp_path: Path) -> None:
    make_project(tmp_path)
    now = [0.0]
    packer = Packer(tmp_path, every=1.0, clock=lambda: now[0])
    first = packer.current()
    (tmp_path / "tasks.py").write_text("def work(ctx):\n    return 'changed'\n")
    assert packer.current() == first  # within the period
    now[0] = 1.0
    assert packer.current()[0] != first[0]


def test_too_much_code_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path)
    monkeypatch.setattr(shipping, "MAX_TOTAL", 10)
    with pytest.raises(UsageError, match="ship: false"):
        pack(tmp_path)
