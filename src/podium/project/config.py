"""Reading ``podium.yaml``: the store, pools, engine settings, connections, syncs and
notifications.

Every key is optional; an empty file gives an embedded SQLite store in ``.podium/``. The
environment variable ``PODIUM_STORE_URL``, when set, overrides ``store`` (tests and CI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.connectors.registry import connection_problems, is_source
from podium.connectors.warehouse import warehouse_problems
from podium.core.alerts import NotifyRule
from podium.core.workflow import DaskSettings, EngineSettings
from podium.notify.settings import read_rules, rule_secrets
from podium.settings.describe import DURATION, POSITIVE_DURATION, Option
from podium.settings.describe import Settings as Described
from podium.settings.secrets import Interpolator, connection_secrets, url_secrets
from podium.settings.yaml_lines import Fields, LineDict, LineList, Problems, load_yaml, to_plain
from podium.store.retention import RetentionPolicy
from podium.syncs.config import SyncConfig, read_syncs
from podium.syncs.destination import destination_type
from podium.webhooks.settings import webhook_config_problems

CONFIG_FILE = "podium.yaml"
DEFAULT_STORE = "sqlite:///.podium/state.db"
STORE_ENV = "PODIUM_STORE_URL"
TOP_KEYS = (
    "store",
    "pools",
    "engine",
    "connections",
    "notifications",
    "warehouse",
    "server",
    "outgoing_webhooks",
    "syncs",
    "retention",
    "lineage",
)
EXECUTORS = ("threads", "processes", "dask")
SHIP_MODES = ("auto", "always", "never")
AUTH_MODES = ("auto", "required", "off")
_STORE_HINT = "use sqlite:///PATH (relative to the project) or postgresql://USER@HOST:5432/DB"
_DEFAULTS = EngineSettings()

# What each section holds; podium.project.schema assembles them with the connections',
# the warehouse's, the notifications' and the outgoing webhooks' (described beside their
# readers) into the JSON Schema of podium.yaml.
STORE = Option(
    "store",
    {"type": "string", "pattern": "^(postgres(ql)?://|sqlite://)"},
    f"where runs, attempts and events are kept: {_STORE_HINT} (default {DEFAULT_STORE});"
    f" {STORE_ENV} overrides it",
)
POOLS = Option(
    "pools",
    {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
    "pools of concurrent slots shared by tasks: {extractors: 2}",
)


def _ship(fields: Fields, key: str) -> str:
    value = fields.mapping[key]
    if isinstance(value, bool):  # ship: true / false, as one would write it
        return "always" if value else "never"
    return fields.choice(key, SHIP_MODES, "auto")


_DASK = DaskSettings()
_RESOURCES = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}}
DASK = Described(
    (
        Option("type", {"const": "dask"}, "dask", required=True),
        Option("address", {"type": "string", "pattern": "^(tcp|tls|inproc|ucx)://"},
               "an existing cluster's scheduler (tcp://scheduler:8786); without it the engine"
               " starts a distributed.LocalCluster on this machine"),
        Option("workers", {"type": "integer", "minimum": 1},
               f"the LocalCluster's worker processes ({_DASK.workers})"),
        Option("threads_per_worker", {"type": "integer", "minimum": 1},
               f"attempts one LocalCluster worker runs at once ({_DASK.threads_per_worker})"),
        Option("ship", {"anyOf": [{"enum": list(SHIP_MODES)}, {"type": "boolean"}]},
               "how the project's code reaches the workers, per project version so a changed"
               " project runs its new code without restarting them: auto (the project's folder"
               " where a worker sees it at the same path, else a copy the engine sends), always"
               " (the copy), never (the folder: a shared disk or image)", read=_ship),
        Option("stop_grace", POSITIVE_DURATION,
               "a timed-out or cancelled attempt is interrupted at once; one still running this"
               f" long after is stopped with its worker process ({_DASK.stop_grace:g}s)"),
        Option("resources", {"type": "object", "additionalProperties": _RESOURCES},
               "Dask resources a pool's attempts need: {gpu_jobs: {GPU: 1}}"),
        Option("worker_resources", _RESOURCES,
               "the resources each LocalCluster worker has: {GPU: 1}"),
    ),
    doc="Attempts run on a Dask cluster.",
)  # fmt: skip
ENGINE = Described(
    (
        Option("lease_timeout", POSITIVE_DURATION, "an attempt whose worker is silent this long is "
               f"taken over ({_DEFAULTS.lease_timeout:g}s)"),
        Option("executor", {"anyOf": [{"type": "string", "enum": list(EXECUTORS)},
                                      DASK.json_schema()]},
               "where attempts run: threads (the default), processes, or dask"
               " ({type: dask, address: tcp://scheduler:8786} or {type: dask, workers: 4})"),
        Option("workers", {"type": "integer", "minimum": 1},
               f"attempts running at once in this engine ({_DEFAULTS.workers}; on dask: at most"
               " twice the cluster's threads)"),
        Option("poll_interval", POSITIVE_DURATION, "how often the engine looks for work when nothing "
               f"wakes it ({_DEFAULTS.poll_interval:g}s)"),
    ),
    doc="The engine's settings.",
)  # fmt: skip
ENGINE_KEYS = ENGINE.names
_KEEP = {"anyOf": [DURATION, {"const": "never"}]}
RETENTION = Described(
    (
        Option("runs", _KEEP, "finished run trees, with their tasks, attempts, logs and events"
               " (30d; never keeps them)"),
        Option("events", _KEEP, "events every subscriber has read (30d)"),
        Option("logs", _KEEP, "task log lines (30d)"),
        Option("webhooks", _KEEP, "processed or dead webhook deliveries (30d)"),
        Option("every", POSITIVE_DURATION, "how often podium up prunes (1h)"),
    ),
    doc="What the store forgets, and when: podium up prunes in small batches; podium prune"
        " --dry-run shows what would go.",
)  # fmt: skip
LINEAGE = Described(
    (
        Option("url", {"type": "string", "pattern": "^https?://"},
               "an OpenLineage HTTP endpoint (Marquez: http://host:5000); events are POSTed"
               " to its endpoint path"),
        Option("endpoint", {"type": "string", "minLength": 1},
               "the path under url that takes events (api/v1/lineage)"),
        Option("api_key", {"type": "string", "minLength": 1},
               "sent as 'Authorization: Bearer …'; write it as ${VAR}, it is a secret"),
        Option("timeout", POSITIVE_DURATION, "how long one POST may take (5s)"),
        Option("file", {"type": "string", "minLength": 1},
               "instead of url: a file (relative to the project) that gets one JSON event a"
               " line"),
        Option("namespace", {"type": "string", "minLength": 1},
               "the OpenLineage namespace of podium's jobs (podium)"),
    ),
    doc="OpenLineage events for extract, model, check and sync tasks: set url or file.",
)  # fmt: skip
SERVER = Described(
    (
        Option("url", {"type": "string", "pattern": "^https?://"},
               "the UI's public URL, for the links in messages"),
        Option("auth", {"anyOf": [{"type": "string", "enum": list(AUTH_MODES)},
                                  {"type": "boolean", "enum": [False]}]},
               "auto (access control once a user exists, the default), required, or off "
               "(local use only)"),
    ),
    doc="The HTTP server (podium up): its public URL and access control.",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """What podium.yaml says, checked and with defaults filled in."""

    store_url: str
    pools: Mapping[str, int]
    engine: EngineSettings
    connections: Mapping[str, Mapping[str, Any]]
    notifications: tuple[NotifyRule, ...]
    secrets: frozenset[str]
    warehouse: Mapping[str, Any]
    server: Mapping[str, Any]
    outgoing_webhooks: tuple[Mapping[str, Any], ...]
    syncs: Mapping[str, SyncConfig | None] = field(default_factory=dict)  # None: has problems
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    lineage: Mapping[str, Any] = field(default_factory=dict)  # empty: no lineage events


def read_settings(
    root: Path,
    text: str,
    environ: Mapping[str, str],
    interpolator: Interpolator,
    problems: Problems,
) -> Settings:
    """Settings from podium.yaml's ``text``; problems go to ``problems`` (file podium.yaml)."""
    document, syntax = load_yaml(text, problems.file)
    problems.found.extend(syntax)
    if document is None:
        document = LineDict(line=1)
    if not isinstance(document, LineDict):
        problems.add(1, "podium.yaml must be a mapping of settings (store:, pools:, engine: …)")
        document = LineDict(line=1)
    interpolator.document(document, problems)
    fields = Fields(document, problems)
    fields.unknown_keys(TOP_KEYS)
    store_url = _store_url(fields, root, environ)
    connections = _connections(fields)
    warehouse = _warehouse(fields)
    secrets = interpolator.secrets | connection_secrets(connections) | url_secrets(store_url)
    notifications = _notifications(fields)
    secrets |= rule_secrets(notifications)
    lineage = _lineage(fields)
    if lineage.get("api_key"):
        secrets |= {str(lineage["api_key"])}
    secrets |= connection_secrets({"warehouse": warehouse}) | url_secrets(
        str(warehouse.get("url", ""))
    )
    return Settings(
        store_url=store_url,
        pools=_pools(fields),
        engine=_engine(fields),
        connections=connections,
        notifications=notifications,
        secrets=frozenset(secrets | _outgoing_secrets(fields)),
        warehouse=warehouse,
        server=_server(fields),
        outgoing_webhooks=_outgoing_webhooks(fields),
        syncs=read_syncs(fields, connections),
        retention=_retention(fields),
        lineage=lineage,
    )


def resolve_store_url(url: str, root: Path) -> str:
    """``url`` with a relative SQLite path made absolute against the project ``root``."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((root / url[len(prefix) :]).resolve())
    return url


def store_url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a store, or None."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return None
    if scheme == "sqlite":
        ok = url.startswith("sqlite:///") and len(url) > len("sqlite:///") or url == "sqlite://"
        return None if ok else f"a SQLite store URL needs a path; {_STORE_HINT}"
    if scheme:
        return f"store URL scheme {scheme!r} is not supported; {_STORE_HINT}"
    return f"the store must be a URL; {_STORE_HINT}"


def _store_url(fields: Fields, root: Path, environ: Mapping[str, str]) -> str:
    override = environ.get(STORE_ENV, "").strip()
    if override:
        problem = store_url_problem(override)
        if problem:
            fields.problem("store" if fields.has("store") else None, f"{STORE_ENV}: {problem}")
        return resolve_store_url(override, root)
    url = fields.text("store", DEFAULT_STORE) or DEFAULT_STORE
    problem = store_url_problem(url)
    if problem:
        fields.problem("store", problem)
        url = DEFAULT_STORE
    return resolve_store_url(url, root)


def _retention(fields: Fields) -> RetentionPolicy:
    """``retention:``: a duration per kind (``30d``) or ``never``."""
    section = fields.mapping_of("retention")
    if section is None:
        return RetentionPolicy()
    read = Fields(section, fields.problems, "retention")
    read.unknown_keys(RETENTION.names)
    default = RetentionPolicy()
    kept: dict[str, float | None] = {}
    for name in ("runs", "events", "logs", "webhooks"):
        if read.mapping.get(name) == "never":
            kept[name] = None
        else:
            kept[name] = read.duration(name, getattr(default, name), positive=True)
    return RetentionPolicy(**kept, every=read.duration("every", default.every, positive=True))


def _lineage(fields: Fields) -> dict[str, Any]:
    """``lineage:``: where OpenLineage events go, a ``url`` or a ``file`` (not both)."""
    section = fields.mapping_of("lineage")
    if section is None:
        return {}
    read = Fields(section, fields.problems, "lineage")
    read.unknown_keys(LINEAGE.names)
    found = LINEAGE.read(read)
    if "timeout" in section:
        found["timeout"] = read.duration("timeout", 5.0, positive=True)
    if ("url" in found) == ("file" in found):
        given = "both" if "url" in found else "neither"
        read.problem(
            None,
            f"set one of url (an OpenLineage endpoint, e.g. http://localhost:5000) or file (a"
            f" path, e.g. .podium/lineage.jsonl); {given} is set",
        )
        return {}
    if "file" in found and ("api_key" in found or "endpoint" in found):
        read.problem("file", "api_key and endpoint go with url, not with file; remove them")
    return found


def _pools(fields: Fields) -> dict[str, int]:
    pools = fields.mapping_of("pools")
    if pools is None:
        return {}
    slots = Fields(pools, fields.problems, "pools")
    return {name: slots.integer(name, 1, minimum=1) for name in pools}


def _engine(fields: Fields) -> EngineSettings:
    engine = fields.mapping_of("engine")
    if engine is None:
        return EngineSettings()
    read = Fields(engine, fields.problems, "engine")
    read.unknown_keys(ENGINE_KEYS)
    default = EngineSettings()
    executor, dask = _executor(read, default.executor)
    return EngineSettings(
        lease_timeout=read.duration("lease_timeout", default.lease_timeout, positive=True),
        executor=executor,
        workers=read.integer("workers", default.workers, minimum=1),
        poll_interval=read.duration("poll_interval", default.poll_interval, positive=True),
        dask=dask,
    )


def _executor(read: Fields, default: str) -> tuple[str, DaskSettings | None]:
    """``executor: threads`` or a mapping ``{type: dask, ...}``."""
    written = (
        read.mapping_of("executor") if isinstance(read.mapping.get("executor"), dict) else None
    )
    if written is None:
        name = read.choice("executor", EXECUTORS, default)
        return name, DaskSettings() if name == "dask" else None
    fields = Fields(written, read.problems, "engine: executor")
    fields.unknown_keys(DASK.names)
    kind = written.get("type")
    if kind != "dask":
        others = " or ".join(repr(e) for e in EXECUTORS if e != "dask")
        fields.problem(
            "type" if "type" in written else None,
            f"a mapping sets up a Dask cluster and needs type: dask, got {kind!r};"
            f" write executor: {others} for the others",
        )
        return default, None
    values = DASK.read(fields, [n for n in DASK.names if n not in ("stop_grace", "type")])
    return "dask", DaskSettings(
        address=values.get("address"),
        workers=values.get("workers", _DASK.workers),
        threads_per_worker=values.get("threads_per_worker", _DASK.threads_per_worker),
        ship=values.get("ship", _DASK.ship),
        stop_grace=fields.duration("stop_grace", _DASK.stop_grace, positive=True),
        resources=values.get("resources", {}),
        worker_resources=values.get("worker_resources", {}),
    )


def _connections(fields: Fields) -> dict[str, dict[str, Any]]:
    connections = fields.mapping_of("connections")
    if connections is None:
        return {}
    result: dict[str, dict[str, Any]] = {}
    for name, settings in connections.items():
        if isinstance(settings, Mapping):
            result[name] = to_plain(settings)
            for problem in webhook_config_problems(result[name]):
                fields.problems.add(_line_of(settings, problem), f"connections: {name}.{problem}")
            if not is_source(result[name]):
                for problem in _destination_problems(result[name]):
                    fields.problems.add(
                        _line_of(settings, problem), f"connections: {name}.{problem}"
                    )
                continue  # a connection for something else (a sync, notifications) than extract
            for problem in connection_problems(result[name]):
                fields.problems.add(_line_of(settings, problem), f"connections: {name}.{problem}")
        else:
            fields.problems.add(
                connections.line_of(name),
                f"connections: {name!r} must be a mapping of settings (type:, token: …)",
            )
    return result


def _destination_problems(settings: Mapping[str, Any]) -> list[str]:
    """A connection only syncs write to (``type: threepl``): its type checks it."""
    kind = settings.get("type")
    found = destination_type(kind) if isinstance(kind, str) else None
    if found is None:
        return []
    own = {k: v for k, v in settings.items() if k not in ("type", "concurrency", "webhooks")}
    concurrency = settings.get("concurrency", 1)
    problems = list(found.problems(own))
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        problems.append(f"concurrency: expected a whole number of at least 1, got {concurrency!r}")
    return problems


def _line_of(settings: Any, problem: str) -> int:
    """The line of the setting a problem (``streams.orders.cursor: …``) is about."""
    node, line = settings, getattr(settings, "line", 1)
    for part in problem.split(":", 1)[0].split("."):
        if not isinstance(node, LineDict) or part not in node:
            break
        line, node = node.line_of(part), node[part]
    return line


def _warehouse(fields: Fields) -> dict[str, Any]:
    section = fields.mapping_of("warehouse")
    if section is None:
        return {}
    settings = to_plain(section)
    for problem in warehouse_problems(settings):
        fields.problems.add(_line_of(section, problem), f"warehouse: {problem}")
    return dict(settings)


def _notifications(fields: Fields) -> tuple[NotifyRule, ...]:
    """``notifications:``, checked by podium.notify.settings."""
    if fields.mapping.get("notifications") is None:
        return ()
    value, line = fields.mapping["notifications"], fields.line("notifications")
    return read_rules(value, line, fields.problems, section="notifications")


def _server(fields: Fields) -> dict[str, Any]:
    """``server:`` (the UI's public ``url``, access control), checked by its description."""
    section = fields.mapping_of("server")
    if section is None:
        return {}
    read = Fields(section, fields.problems, "server")
    read.unknown_keys(SERVER.names)
    return SERVER.read(read)


def _outgoing_webhooks(fields: Fields) -> tuple[dict[str, Any], ...]:
    """``outgoing_webhooks:``, a list of mappings; checked by podium.outgoing.hooks_config."""
    items = fields.mapping.get("outgoing_webhooks")
    if items is None:
        return ()
    if not isinstance(items, LineList):
        fields.problem("outgoing_webhooks", "outgoing_webhooks must be a list of mappings")
        return ()
    result = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            result.append(to_plain(item))
        else:
            fields.problems.add(items.line_at(index), "each outgoing webhook must be a mapping")
    from podium.outgoing.hooks_config import check_outgoing_webhooks

    check_outgoing_webhooks(items, fields.problems)
    return tuple(result)


def _outgoing_secrets(fields: Fields) -> set[str]:
    from podium.outgoing.hooks_config import outgoing_secrets

    return outgoing_secrets(fields.mapping.get("outgoing_webhooks"))
