"""A plugin package adds a source type and a task kind without touching podium.

``tests/plugins/podium-example-plugin`` is installed with pip into a fresh virtual
environment (offline: no index, no build isolation). That environment sees podium and its
dependencies through a ``.pth`` file naming this one's site-packages, and nothing else of
it: the plugin's entry points exist only there. ``podium validate`` and ``podium run`` are
then run with its interpreter on a project whose workflow extracts the plugin's ``counter``
source into DuckDB and runs the plugin's ``word_count`` task; the kind also passes the kind
contract there, the same checks as podium's own kinds.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path

import duckdb
import pytest

import podium

from .conftest import podium_env

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "podium-example-plugin"
#: the podium modules a plugin may import: the protocols and what flows through them
PUBLIC = {
    "podium",
    "podium.connectors.source",
    "podium.core.workflow",
    "podium.errors",
    "podium.kinds.base",
    "podium.kind_contract",
    "podium.settings.describe",
    "podium.syncs",
    "podium.syncs.destination",
    "podium.testing",
}

PODIUM_YAML = """
warehouse: {type: duckdb}
connections:
  numbers:
    type: counter
    rows: ROWS
    page_size: 10
"""
WORKFLOW = """
name: daily
tasks:
  - id: numbers
    extract: numbers
  - id: words
    word_count: notes/today.txt
    top: 2
    depends_on: [numbers]
"""
NOTES = "The plan: load the numbers, then count the words. The end, the end.\n"


class Venv:
    """A fresh virtual environment that sees podium (and its dependencies) through a .pth."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"

    def create(self) -> None:
        made = subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(self.root)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if made.returncode != 0:
            pytest.skip(f"cannot create a virtual environment here: {made.stderr.strip()}")
        site = self.check("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        lines = [f"import site; site.addsitedir({path!r})" for path in sorted(ours)]
        lines.append(str(Path(podium.__file__).resolve().parents[1]))  # podium from src/
        (Path(site.strip()) / "_podium_under_test.pth").write_text("\n".join(lines) + "\n")

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd,
            env=podium_env(),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def check(self, *args: str, cwd: Path | None = None) -> str:
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def pip_install(self, package: Path, into: Path) -> None:
        """Installs a copy of ``package`` (the build writes beside its sources)."""
        copy = into / package.name
        shutil.copytree(package, copy)
        self.check(
            "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
            "--no-build-isolation", "--disable-pip-version-check", str(copy),
        )  # fmt: skip

    def podium(self, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "podium.cli.main", *args, cwd=project)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    made = Venv(tmp_path_factory.mktemp("plugin-venv") / "venv")
    made.create()
    made.pip_install(PLUGIN, tmp_path_factory.mktemp("plugin-build"))
    return made


def write(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def test_the_plugin_is_not_installed_where_the_tests_run() -> None:
    assert "word_count" not in entry_points(group="podium.kinds").names
    assert "counter" not in entry_points(group="podium.sources").names


def test_a_plugin_source_and_kind_run_in_a_workflow(venv: Venv, tmp_path: Path) -> None:
    project = write(
        tmp_path / "proj",
        {
            "podium.yaml": PODIUM_YAML.replace("ROWS", "25"),
            "workflows/daily.yaml": WORKFLOW,
            "notes/today.txt": NOTES,
        },
    )
    validated = venv.podium(project, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr

    first = _run(venv, project)
    assert first["status"] == "succeeded", first
    words = _task(first, "words")["output"]
    assert words == {"file": "notes/today.txt", "words": 13, "top": [["the", 5], ["end", 2]]}
    assert _table(project) == list(range(1, 26))

    assets = json.loads(venv.podium(project, "assets", "--json").stdout)
    by_name = {a["asset"]: a for a in assets}
    assert by_name["words.today"]["stats"] == {"words": 13}, assets
    assert by_name["words.today"]["task_id"] == "words", assets
    assert by_name["raw_numbers.numbers"]["rows"] == 25, assets

    (project / "podium.yaml").write_text(PODIUM_YAML.replace("ROWS", "30").lstrip("\n"))
    second = _run(venv, project)
    stream = _task(second, "numbers")["output"]["streams"][0]
    assert stream["received"] == 6, stream  # from the cursor (25, read again) to 30
    assert _table(project) == list(range(1, 31))


def test_a_sync_writes_through_a_plugins_destination(venv: Venv, tmp_path: Path) -> None:
    project = write(
        tmp_path / "proj",
        {
            "podium.yaml": (
                "warehouse: {type: duckdb}\nconnections:\n  outbox: {type: jsonl, path:"
                " out/changes.jsonl}\nsyncs:\n  people_out:\n    from: marts.people\n"
                "    to: outbox\n    object: lines\n    key: id\n    mode: mirror\n"
                "    fields: {email: email}\n"
            ),
            "models/marts/people.sql": (
                "select i as id, case when i = 3 then 'nope' else 'p' || i || '@x.io' end"
                " as email from range(1, 6) t(i)"
            ),
            "workflows/push.yaml": (
                "name: push\ntasks:\n  - {id: models, transform: marts}\n"
                "  - {id: out, sync: people_out, depends_on: [models]}\n"
            ),
        },
    )
    done = venv.podium(project, "run", "push", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    output = _task(json.loads(done.stdout), "out")["output"]
    assert isinstance(output, dict)
    assert (output["landed"], output["rejected"]) == ({"add": 4, "update": 0, "remove": 0}, 1)
    assert output["reasons"] == {"email 'nope' has no @": 1}
    lines = (project / "out" / "changes.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == ["1", "2", "4", "5"]
    listed = json.loads(venv.podium(tmp_path, "plugins", "--json").stdout)
    assert listed["podium.destinations"]["plugins"]["jsonl"] == "podium_example_plugin.jsonl"


def test_the_plugin_kind_passes_the_kind_contract(venv: Venv, tmp_path: Path) -> None:
    """The test docs/plugins.md shows a plugin author, run with pytest in the plugin's venv."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    example = docs.split("```python\n")[-1].split("```")[0]
    assert "kind_contract(KIND" in example, example
    (tmp_path / "test_doc_example.py").write_text(example)
    done = venv.run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
        str(tmp_path / "test_doc_example.py"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


def test_the_plugins_settings_are_checked_at_their_line(venv: Venv, tmp_path: Path) -> None:
    project = write(
        tmp_path / "proj",
        {
            "podium.yaml": PODIUM_YAML.replace("ROWS", "many") + "    colour: red\n",
            "workflows/daily.yaml": WORKFLOW.replace("top: 2", "top: -1"),
            "notes/today.txt": NOTES,
        },
    )
    done = venv.podium(project, "validate")
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "podium.yaml:5: connections: numbers.rows: must be a whole number" in said, said
    assert "podium.yaml:7: connections: numbers.colour: unknown setting" in said, said
    assert "workflows/daily.yaml:7: task 'words': top must be 0 or more, got -1" in said, said


def test_a_broken_plugin_is_a_problem_at_the_line_that_uses_it(
    venv: Venv, tmp_path_factory: pytest.TempPathFactory
) -> None:
    broken = write(
        tmp_path_factory.mktemp("broken-src") / "podium-broken-plugin",
        {
            "pyproject.toml": """
                [build-system]
                requires = ["setuptools>=61"]
                build-backend = "setuptools.build_meta"
                [project]
                name = "podium-broken-plugin"
                version = "0.1.0"
                [project.entry-points."podium.sources"]
                broken = "podium_broken_plugin:SOURCE"
                files = "podium_broken_plugin:SOURCE"
                [project.entry-points."podium.kinds"]
                notebook = "podium_broken_plugin:KIND"
                [tool.setuptools]
                packages = ["podium_broken_plugin"]
            """,
            "podium_broken_plugin/__init__.py": "import a_module_nobody_has\n",
        },
    )
    venv.pip_install(broken, tmp_path_factory.mktemp("broken-build"))
    project = write(
        tmp_path_factory.mktemp("broken-proj"),
        {
            "podium.yaml": "connections:\n  feed:\n    dataset: raw_feed\n    type: broken\n",
            "workflows/w.yaml": (
                "name: w\ntasks:\n  - id: t\n    extract: feed\n"
                "  - id: n\n    notebook: report.ipynb\n"
            ),
        },
    )
    done = venv.podium(project, "validate")
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    source, kind = [x for x in done.stderr.splitlines() if "cannot be loaded" in x]
    assert source.startswith("podium.yaml:4: connections: feed.type: plugin source type 'broken'")
    assert "cannot be loaded: ModuleNotFoundError" in source and "reinstall it" in source, source
    assert kind.startswith("workflows/w.yaml:6: task 'n': plugin kind 'notebook'"), kind

    listed = json.loads(venv.podium(project, "plugins", "--json").stdout)
    assert "ModuleNotFoundError" in listed["podium.sources"]["problems"]["broken"]
    assert "podium already has" in listed["podium.sources"]["problems"]["files"]
    assert "ModuleNotFoundError" in listed["podium.kinds"]["problems"]["notebook"]
    assert "notebook" not in listed["podium.kinds"]["podium"]

    (project / "podium.yaml").write_text(
        "connections:\n  feed:\n    type: files\n    path: inbox\n    streams: {a: {}}\n"
    )
    (project / "workflows/w.yaml").write_text("name: w\ntasks:\n  - id: t\n    extract: feed\n")
    assert venv.podium(project, "validate").returncode == 0  # files is podium's own still


def test_the_plugin_imports_only_what_podium_publishes() -> None:
    used = set()
    for path in (PLUGIN / "podium_example_plugin").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used.update(alias.name for alias in node.names)
    podium_modules = {m for m in used if m == "podium" or m.startswith("podium.")}
    assert podium_modules and podium_modules <= PUBLIC, podium_modules - PUBLIC


def _run(venv: Venv, project: Path) -> dict[str, object]:
    done = venv.podium(project, "run", "daily", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def _task(run: Mapping[str, object], task_id: str) -> dict[str, object]:
    tasks = run["tasks"]
    assert isinstance(tasks, list)
    return next(t for t in tasks if t["id"] == task_id)


def _table(project: Path) -> list[int]:
    with duckdb.connect(str(project / ".podium" / "warehouse.duckdb"), read_only=True) as db:
        return [
            r[0] for r in db.execute("SELECT id FROM raw_numbers.numbers ORDER BY id").fetchall()
        ]


def test_podium_schema_describes_the_plugins_kind_and_source(venv: Venv, tmp_path: Path) -> None:
    """The JSON Schemas come from the same descriptions: a plugin's kind and source type
    are in them, with the options the plugin describes."""
    project = write(tmp_path / "proj", {"podium.yaml": PODIUM_YAML.replace("ROWS", "5")})
    workflow = json.loads(venv.podium(project, "schema", "workflow").stdout)
    config = json.loads(venv.podium(project, "schema", "project").stdout)
    assert '"word_count"' in json.dumps(workflow)
    assert '"counter"' in json.dumps(config)


def test_podium_plugins_lists_what_the_plugin_adds(venv: Venv, tmp_path: Path) -> None:
    listed = json.loads(venv.podium(tmp_path, "plugins", "--json").stdout)
    kinds, sources = listed["podium.kinds"], listed["podium.sources"]
    assert kinds["plugins"]["word_count"] == "podium_example_plugin.word_count"
    assert sources["plugins"]["counter"] == "podium_example_plugin.counter"
    assert "run" in kinds["podium"] and "word_count" not in kinds["podium"]
    shown = venv.podium(tmp_path, "plugins").stdout
    assert "word_count  (podium_example_plugin.word_count)" in shown, shown
