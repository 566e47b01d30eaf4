"""The public surface: every exported name exists, every CLI command is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

import podium
from podium.cli.main import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_exported_name_exists() -> None:
    missing = [name for name in podium.__all__ if not hasattr(podium, name)]
    assert missing == []


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_cli_command_is_in_the_readme() -> None:
    text = README.read_text()
    undocumented = [c for c in _commands() if f"podium {c}" not in text]
    assert undocumented == []


def test_every_cli_command_takes_project() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lacking = [
        name
        for name, p in sub.choices.items()
        if not any("--project" in a.option_strings for a in p._actions)
    ]
    assert lacking == []
