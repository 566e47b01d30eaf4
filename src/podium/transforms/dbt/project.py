"""A dbt project as podium reads it: where it is, which profile it runs with, and its
nodes (models, seeds, snapshots, tests) and sources, read once with ``dbt parse``.

Parsing costs seconds, so what it finds is kept under the podium project's
``.podium/dbt/<fingerprint>/``: the manifest (pickled, for dbt's runner) and a small JSON
graph per selection (for loading the project, which then never imports dbt). The
fingerprint covers the dbt project's files, the profile and the target; change any and
the project is parsed again.

The profile: without ``target:`` (or with ``target: podium``) podium writes one into
``.podium/dbt/profiles/`` from podium.yaml's warehouse (the DuckDB file, or the PostgreSQL
url with its schema prefix), so one setting drives loads, podium's models and dbt. Any other
target is read from the project's own ``profiles.yml`` (the dbt project folder, then
``DBT_PROFILES_DIR``, then ``~/.dbt``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from podium.connectors.warehouse import DEFAULT_PATH
from podium.errors import UsageError

GENERATED_TARGET = "podium"
#: the schema dbt builds into with a generated target (prefixed on PostgreSQL)
GENERATED_SCHEMA = "dbt"
STATE_DIR = ".podium/dbt"
INSTALL_HINT = "dbt is not installed; install podium with it: pip install 'podium[dbt]'"
_SKIPPED_DIRS = {"target", "logs", "dbt_packages", "dbt_modules", ".git", "__pycache__"}
BUILT = ("model", "seed", "snapshot")
#: the var a generated target passes dbt: PostgreSQL's schema_prefix ("" on DuckDB), for a
#: project's generate_schema_name
PREFIX_VAR = "podium_schema_prefix"
#: where warehouse.pii_key is, for a DuckDB generated target, while dbt runs (read by
#: ``duckdb_pii``, podium's dbt-duckdb plugin)
PII_KEY_VARIABLE = "PODIUM_DBT_PII_KEY"
DUCKDB_PLUGIN = "podium.transforms.dbt.duckdb_pii"


@dataclass(frozen=True)
class DbtSetup:
    """How to run one dbt project: resolved, picklable."""

    root: str  # the podium project
    project_dir: str
    profiles_dir: str | None
    target: str | None
    fingerprint: str
    #: dbt source unique id → the schema podium loads it into (its connection's dataset)
    source_schemas: Mapping[str, str]
    #: podium's PostgreSQL schema prefix (a generated target's): left out of asset names
    schema_prefix: str = ""

    @property
    def state_dir(self) -> Path:
        return Path(self.root) / STATE_DIR / self.fingerprint

    def cli_args(self) -> list[str]:
        args = ["--project-dir", self.project_dir]
        if self.profiles_dir:
            args += ["--profiles-dir", self.profiles_dir]
        if self.target:
            args += ["--target", self.target]
        if self.target == GENERATED_TARGET:
            args += ["--vars", json.dumps({PREFIX_VAR: self.schema_prefix})]
        state = str(self.state_dir)
        return [*args, "--target-path", f"{state}/target", "--log-path", f"{state}/logs"]


def has_dbt() -> bool:
    """Whether dbt-core is installed (without importing it: that takes a second or two)."""
    return _dbt_version() != "none"


def require_dbt() -> None:
    if not has_dbt():
        raise UsageError(INSTALL_HINT)


def project_dir(root: Path, target: str) -> Path:
    """The dbt project folder ``target`` names (relative to the podium project)."""
    path = Path(target).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_dir():
        raise UsageError(f"dbt project folder {target!r} does not exist (looked in {path})")
    if not (path / "dbt_project.yml").is_file():
        raise UsageError(
            f"{target!r} is not a dbt project: it has no dbt_project.yml; point dbt: at the"
            " folder that holds it"
        )
    return path.resolve()


def resolve(
    root: Path,
    target: str,
    dbt_target: str | None,
    warehouse: Mapping[str, Any],
    connections: Mapping[str, Mapping[str, Any]],
) -> DbtSetup:
    """The dbt project ``target`` names and the profile it runs with (UsageError: why not)."""
    folder = project_dir(root, target)
    profile_name = _profile_name(folder)
    if dbt_target in (None, GENERATED_TARGET):
        profiles_dir: str | None = str(write_profile(root, profile_name, warehouse))
        dbt_target = GENERATED_TARGET
        profile_text = (Path(profiles_dir) / "profiles.yml").read_text()  # type: ignore[arg-type]
    else:
        profiles_dir = _own_profiles_dir(folder)
        found = Path(profiles_dir or "~/.dbt").expanduser() / "profiles.yml"
        profile_text = found.read_text() if found.is_file() else ""
    fingerprint = _fingerprint(folder, profile_text, dbt_target)
    prefix = str(warehouse.get("schema_prefix", "")) if _is_postgres(warehouse) else ""
    datasets = _datasets(connections, prefix)
    generated = dbt_target == GENERATED_TARGET
    setup = DbtSetup(
        str(root),
        str(folder),
        profiles_dir,
        dbt_target,
        fingerprint,
        {},
        prefix if generated else "",
    )
    return setup if not datasets else _with_sources(setup, datasets)


def _with_sources(setup: DbtSetup, datasets: Mapping[str, str]) -> DbtSetup:
    graph_sources = read_sources(setup)
    schemas = {
        uid: datasets[s["connection"]]
        for uid, s in graph_sources.items()
        if s["connection"] in datasets
    }
    return DbtSetup(
        setup.root,
        setup.project_dir,
        setup.profiles_dir,
        setup.target,
        setup.fingerprint,
        schemas,
        setup.schema_prefix,
    )


def _datasets(connections: Mapping[str, Mapping[str, Any]], prefix: str) -> dict[str, str]:
    from podium.connectors.registry import dataset_for

    return {name: prefix + dataset_for(name, settings) for name, settings in connections.items()}


def _profile_name(folder: Path) -> str:
    try:
        data = yaml.safe_load((folder / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read {folder / 'dbt_project.yml'}: {exc}") from exc
    name = data.get("profile") or data.get("name")
    if not isinstance(name, str):
        raise UsageError(f"{folder / 'dbt_project.yml'} names no profile: add profile: NAME")
    return name


def _own_profiles_dir(folder: Path) -> str | None:
    if (folder / "profiles.yml").is_file():
        return str(folder)
    return os.environ.get("DBT_PROFILES_DIR") or None


def _is_postgres(warehouse: Mapping[str, Any]) -> bool:
    return str(warehouse.get("type", "duckdb")) in ("postgres", "postgresql")


def write_profile(root: Path, profile: str, warehouse: Mapping[str, Any]) -> Path:
    """Writes ``profiles.yml`` for podium's warehouse under .podium/dbt/profiles/; its folder."""
    output: dict[str, Any]
    if _is_postgres(warehouse):
        url = urlsplit(str(warehouse["url"]))
        output = {
            "type": "postgres",
            "host": url.hostname or "localhost",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": "{{ env_var('PODIUM_DBT_PASSWORD', '') }}",
            "dbname": url.path.lstrip("/") or "postgres",
            "schema": str(warehouse.get("schema_prefix", "")) + GENERATED_SCHEMA,
            "threads": 4,
        }
        if url.password:  # kept out of the file: passed in the environment of the run
            os.environ["PODIUM_DBT_PASSWORD"] = unquote(url.password)
    elif str(warehouse.get("type", "duckdb")) == "duckdb":
        path = Path(str(warehouse.get("path", DEFAULT_PATH)))
        path = path if path.is_absolute() else root / path
        output = {
            "type": "duckdb",
            "path": str(path),
            "schema": GENERATED_SCHEMA,
            "threads": 4,
            "plugins": [{"module": DUCKDB_PLUGIN}],  # podium's pii_email()/pii_phone()
        }
    else:
        raise UsageError(
            f"podium cannot generate a dbt target for a {warehouse.get('type')!r} warehouse;"
            " give the dbt task a target: from the project's profiles.yml"
        )
    folder = root / STATE_DIR / "profiles" / profile
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        {profile: {"target": GENERATED_TARGET, "outputs": {GENERATED_TARGET: output}}}
    )
    file = folder / "profiles.yml"
    if not file.is_file() or file.read_text() != text:
        file.write_text(text)
    return folder


def _fingerprint(folder: Path, profile_text: str, target: str | None) -> str:
    digest = hashlib.sha256(f"{_dbt_version()}\0{target}\0{profile_text}".encode())
    for path in sorted(_project_files(folder)):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _project_files(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith(".")]
        found += [Path(dirpath) / f for f in filenames]
    return found


def _dbt_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbt-core")
    except PackageNotFoundError:
        return "none"


# -- the manifest and the graph --------------------------------------------------------------

_manifests: dict[str, Any] = {}
_manifest_lock = threading.Lock()


def manifest(setup: DbtSetup) -> Any:
    """dbt's parsed Manifest for ``setup`` (kept in this process, and on disk), with the
    sources podium loads pointed at the schemas it loads them into."""
    key = f"{setup.fingerprint}:{sorted(setup.source_schemas.items())}"
    with _manifest_lock:
        if key not in _manifests:
            _manifests[key] = _point_sources(_parsed(setup), setup.source_schemas)
        return _manifests[key]


def _parsed(setup: DbtSetup) -> Any:
    file = setup.state_dir / "manifest.pickle"
    if file.is_file():
        try:
            return _fresh_lookups(pickle.loads(file.read_bytes()))
        except Exception:  # noqa: BLE001 - a stale or torn cache: parse again
            pass
    require_dbt()
    from dbt.cli.main import dbtRunner

    from podium.transforms.dbt.session import invoke_lock

    with invoke_lock:
        result = dbtRunner().invoke(
            ["parse", *setup.cli_args(), "--log-level", "none", "--no-use-colors"]
        )
    if not result.success or result.result is None:
        raise UsageError(f"dbt cannot parse {setup.project_dir}: {_first_lines(result.exception)}")
    setup.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(result.result))
    tmp.replace(file)
    return result.result


def _fresh_lookups(parsed: Any) -> Any:
    """dbt's Manifest pickles its lookup caches into the wrong slots; they are rebuilt on
    first use when unset."""
    for name in list(vars(parsed)):
        if name.endswith("_lookup") or name in ("_macros_by_name", "_macros_by_package"):
            setattr(parsed, name, None)
    return parsed


def _first_lines(exc: Any) -> str:
    text = str(exc or "see dbt's log").strip()
    return " ".join(line.strip() for line in text.splitlines()[:6] if line.strip())


def _point_sources(parsed: Any, schemas: Mapping[str, str]) -> Any:
    for uid, schema in schemas.items():
        source = parsed.sources.get(uid)
        if source is None:
            continue
        source.schema = schema
        parts = [source.database, schema, source.identifier]
        source.relation_name = ".".join(f'"{p}"' for p in parts if p)
    return parsed


def read_sources(setup: DbtSetup) -> dict[str, dict[str, str]]:
    """Source unique id → its source name, table and the podium connection it reads."""
    cached = setup.state_dir / "sources.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text()))
    parsed = _parsed(setup)
    found = {}
    for uid, source in parsed.sources.items():
        meta = {**(source.source_meta or {}), **(source.meta or {})}
        mapping = meta.get("podium")
        podium: Mapping[str, Any] = mapping if isinstance(mapping, Mapping) else {}
        connection = str(podium.get("connection") or source.source_name)
        found[uid] = {"source": source.source_name, "table": source.name, "connection": connection}
    _write_json(cached, found)
    return found


def graph(setup: DbtSetup, select: str | None, exclude: str | None) -> dict[str, Any]:
    """The nodes ``select``/``exclude`` choose, as a JSON graph (kept on disk):

    ``nodes``: unique id → name, type, fqn, file, relation, parents (nodes), sources;
    ``tests``: unique id → name, kind, severity, file, parents, attached (the node it checks);
    ``selected``: the chosen models, seeds and snapshots."""
    key = hashlib.sha256(f"{select}\0{exclude}".encode()).hexdigest()[:12]
    cached = setup.state_dir / f"graph-{key}.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text()))
    found = _graph(manifest(setup), _select(setup, select, exclude), setup.schema_prefix)
    _write_json(cached, found)
    return found


def _select(setup: DbtSetup, select: str | None, exclude: str | None) -> list[str]:
    from dbt.cli.main import dbtRunner

    from podium.transforms.dbt.session import invoke_lock

    args = ["ls", *setup.cli_args(), "--log-level", "none", "--no-use-colors", "--output", "json"]
    args += ["--output-keys", "unique_id", "--resource-types", *BUILT]
    args += ["--select", select] if select else []
    args += ["--exclude", exclude] if exclude else []
    with invoke_lock:
        result = dbtRunner(manifest=manifest(setup)).invoke(args)
    if not result.success:
        raise UsageError(f"dbt cannot select {select!r}: {_first_lines(result.exception)}")
    lines: Any = result.result or ()
    chosen = [json.loads(line)["unique_id"] for line in lines]
    if not chosen:
        what = f"select: {select!r}" + (f", exclude: {exclude!r}" if exclude else "")
        raise UsageError(f"{what} chooses no dbt model, seed or snapshot; check the selection")
    return chosen


def _graph(parsed: Any, chosen: list[str], prefix: str) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    tests: dict[str, Any] = {}
    for uid, node in parsed.nodes.items():
        if node.resource_type not in (*BUILT, "test"):
            continue
        depends = list(getattr(node.depends_on, "nodes", None) or ())
        parents = [p for p in depends if not p.startswith("source.")]
        sources = [p for p in depends if p.startswith("source.")]
        common = {"name": node.name, "file": node.original_file_path, "parents": parents}
        if node.resource_type in BUILT:
            schema = str(node.schema)
            schema = schema[len(prefix) :] if prefix and schema.startswith(prefix) else schema
            relation = f"{schema}.{node.alias or node.name}"
            nodes[uid] = {
                **common,
                "type": str(node.resource_type),
                "fqn": ".".join(node.fqn),
                "relation": relation,
                "sources": sources,
            }
        elif node.resource_type == "test":
            metadata = getattr(node, "test_metadata", None)
            tests[uid] = {
                **common,
                "fqn": ".".join(node.fqn),
                "kind": metadata.name if metadata else "singular",
                "severity": str(node.config.severity).lower(),
                "attached": getattr(node, "attached_node", None),
            }
    for uid in nodes:
        nodes[uid]["type"] = nodes[uid]["type"].split(".")[-1].lower()
    return {"nodes": nodes, "tests": tests, "selected": chosen}


def _write_json(file: Path, data: Any) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    tmp.replace(file)
