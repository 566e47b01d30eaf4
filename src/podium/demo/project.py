"""Writing the demo project: the commerce template, pointed at the running simulators.

``prepare_folder`` makes sure the folder may be written (empty, or a previous demo, which
is replaced); ``write_project`` copies the ``commerce`` template and rewrites, in place
and keeping every comment:

    podium.yaml            the Shopify, Amazon, NetSuite, Klaviyo and 3PL connections point
                           at the simulators (their demo credentials, short poll
                           intervals, Shopify's webhook secret);
                           ``pii_key`` falls back to a key made for this demo
    .podium/demo.json      the marker: the simulators' port and brand, and the command
                           that serves them again

``set_late_after`` then gives the daily workflow's Amazon task a ``late_after`` of a few
seconds (the template's is 30m), so that the demo's slow Amazon report is late.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from podium.demo.speeds import connection_settings
from podium.errors import UsageError
from podium.project import init_project
from podium.sandbox.service import APIS, DESTINATIONS, Sandbox

MARKER = ".podium/demo.json"
TEMPLATE = "commerce"
LATE_TASK = "amazon"
_BLOCK = re.compile(r"^  (?P<name>[A-Za-z_][\w-]*):")


@dataclass(frozen=True)
class DemoMarker:
    """What ``.podium/demo.json`` records: the simulators the project points at."""

    port: int
    seed: int
    days: int
    start: str  # the brand's first day (ISO): a restart on a later date serves the same brand

    @property
    def serve_again(self) -> str:
        """The command that serves them again, as the demo left them (same brand, and the
        clock where the demo's last run left it)."""
        return (
            f"podium sandbox start --port {self.port} --fast --days {self.days} "
            f"--start {self.start}"
        )


def prepare_folder(folder: Path) -> bool:
    """Readies ``folder`` for a demo; True when a previous demo was replaced.

    Refuses (UsageError) a folder that holds anything but a previous demo."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; give `podium demo` a folder to write")
    replaced = is_demo(folder)
    if folder.exists() and any(folder.iterdir()):
        if not replaced:
            raise UsageError(
                f"{folder} is not empty and is not a podium demo; the demo writes a whole "
                "project there. Give it an empty or new folder: podium demo FOLDER"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return replaced


def is_demo(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def write_project(folder: Path, sandbox: Sandbox) -> DemoMarker:
    """Writes the demo project into the empty ``folder`` (see the module docstring). The
    marker goes first, so that a demo stopped half-way is replaced by the next one."""
    config = sandbox.brand.config
    marker = DemoMarker(
        port=sandbox.server.port,
        seed=config.seed,
        days=config.days,
        start=config.first_day.isoformat(),
    )
    path = folder / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({**asdict(marker), "serve_again": marker.serve_again}, indent=2) + "\n",
        encoding="utf-8",
    )
    init_project(folder, TEMPLATE)
    settings = folder / "podium.yaml"
    text = _point_at(settings.read_text(encoding="utf-8"), sandbox, marker.serve_again)
    settings.write_text(text, encoding="utf-8")
    return marker


def set_late_after(folder: Path, late_after: str) -> None:
    """Sets ``late_after`` of the daily workflow's Amazon task (its template value stays
    in a comment)."""
    daily = folder / "workflows" / "daily.yaml"
    daily.write_text(_late_after(daily.read_text(encoding="utf-8"), late_after), "utf-8")


# -- podium.yaml ----------------------------------------------------------------------------


def _point_at(text: str, sandbox: Sandbox, serve_again: str) -> str:
    """The template's podium.yaml with its API connections pointing at ``sandbox``."""
    connections = (yaml.safe_load(text) or {}).get("connections") or {}
    names = {s.get("type"): name for name, s in connections.items() if isinstance(s, dict)}
    missing = [api for api in APIS if api not in names]
    if missing:
        raise UsageError(f"the {TEMPLATE} template has no {', '.join(missing)} connection")
    lines = text.splitlines()
    blocks = _connection_blocks(lines)
    pointed = [*APIS, *(api for api in DESTINATIONS if api in names)]
    for api in sorted(pointed, key=lambda a: blocks[names[a]][0], reverse=True):
        start, end = blocks[names[api]]
        lines[start:end] = _block(
            names[api], {**sandbox.connection(api), **connection_settings(api)}
        )
    at = lines.index("connections:") + 1
    lines[at:at] = [
        f"  # podium demo: {', '.join(pointed)} point at the local simulators",
        f"  # ({sandbox.url}) with their made-up credentials, polling them often. Serve",
        f"  # them again with `{serve_again}`.",
        "  # For a real brand: `podium init --template commerce` and your ${VAR} secrets.",
    ]
    return _with_demo_key("\n".join(lines) + "\n")


def _connection_blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Each connection's lines, ``[start, end)``: its key line and what is indented under
    it (a comment line above the next connection belongs to that one)."""
    start = lines.index("connections:") + 1
    keys: list[tuple[str, int]] = []
    end = len(lines)
    for i in range(start, len(lines)):
        line = lines[i]
        if line and not line[0].isspace() and not line.startswith("#"):
            end = i
            break
        if match := _BLOCK.match(line):
            keys.append((match.group("name"), i))
    blocks = {}
    for n, (name, first) in enumerate(keys):
        last = keys[n + 1][1] if n + 1 < len(keys) else end
        while last - 1 > first and not lines[last - 1].startswith("    "):
            last -= 1  # blank lines and the next connection's comment stay outside
        blocks[name] = (first, last)
    return blocks


def _block(name: str, settings: Mapping[str, Any]) -> list[str]:
    return [f"  {name}:", *_mapping(settings, "    ")]


def _mapping(settings: Mapping[str, Any], indent: str) -> list[str]:
    lines = []
    for key, value in settings.items():
        flow = _flow(value)
        if isinstance(value, Mapping) and (flow is None or len(indent + key + flow) > 86):
            lines += [f"{indent}{key}:", *_mapping(value, indent + "  ")]
        else:
            lines.append(f"{indent}{key}: {flow}")
    return lines


def _flow(value: Any) -> str | None:
    """``value`` on one line (flow style), or None for a mapping holding mappings."""
    if isinstance(value, Mapping):
        items = [(k, _flow(v)) for k, v in value.items()]
        if any(f is None or f.startswith("{") for _, f in items):
            return None
        return "{" + ", ".join(f"{k}: {f}" for k, f in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    """``value`` as YAML, quoted only when a plain scalar would read as something else."""
    if not isinstance(value, str):
        return json.dumps(value)
    plain = re.fullmatch(r"[A-Za-z_][\w./:@-]*", value) and yaml.safe_load(value) == value
    return value if plain and ": " not in value else json.dumps(value)


def _with_demo_key(text: str) -> str:
    """``pii_key: ${VAR}`` falls back to a key made for this demo (one per demo folder)."""
    key = secrets.token_hex(16)

    def with_key(m: re.Match[str]) -> str:
        return f"{m.group(1)}${{{m.group('var')}:-{key}}}  # podium demo: made for this demo"

    changed, count = re.subn(
        r"^(\s*pii_key:\s*)\$\{(?P<var>[A-Za-z_]\w*)\}",
        with_key,
        text,
        count=1,
        flags=re.M,
    )
    if count != 1:
        raise UsageError(f"the {TEMPLATE} template's warehouse.pii_key is not a ${{VAR}}")
    return changed


# -- workflows/daily.yaml -------------------------------------------------------------------


def _late_after(text: str, late_after: str) -> str:
    """The daily workflow with the late task's ``late_after`` set to ``late_after``."""
    pattern = re.compile(
        rf"(^\s*- id: {LATE_TASK}\n(?:\s+(?!- )\S.*\n)*?\s+late_after:\s*)(\S+)", re.M
    )
    changed, count = pattern.subn(
        lambda m: f"{m.group(1)}{late_after}  # podium demo: {m.group(2)} in the template",
        text,
        count=1,
    )
    if count != 1:
        raise UsageError(
            f"the {TEMPLATE} template's daily workflow has no late_after on {LATE_TASK}"
        )
    return changed
