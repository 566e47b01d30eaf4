"""The ``podium`` parser itself: every flag explained, completion scripts, --version, and
finding the project from a subfolder. (The commands' behaviour is tested in tests/e2e.)"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from podium.cli import completion
from podium.cli.main import build_parser, find_project, main
from podium.version import __version__


def _walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                if not helps.get(name) and not child.description:
                    found.append((f"{path} {name}", action))
                found += _walk(child, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            found.append((path, action))
    return found


def test_every_command_argument_and_flag_has_help() -> None:
    missing = [
        f"{where}: {'/'.join(a.option_strings) or a.dest}"
        for where, a in _walk(build_parser(), "podium")
    ]
    assert not missing, "add help= to: " + "; ".join(missing)


def test_the_help_walk_notices_a_flag_without_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["runs"].add_argument("--undocumented")
    assert [a.dest for _, a in _walk(parser, "podium")] == ["undocumented"]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"podium {__version__}"


def test_runs_refuses_an_unknown_status_listing_the_valid_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["runs", "--status", "sucess"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'sucess'" in err
    for status in ("queued", "running", "succeeded", "failed", "cancelled"):
        assert status in err


def test_the_project_is_found_from_a_subfolder_like_git(tmp_path: Path) -> None:
    (tmp_path / "podium.yaml").write_text("store: sqlite:///.podium/state.db\n")
    deep = tmp_path / "models" / "marts"
    deep.mkdir(parents=True)
    assert find_project(None, walk_up=True, start=deep) == str(tmp_path.resolve())
    assert find_project("elsewhere", walk_up=True, start=deep) == "elsewhere"
    assert find_project(None, walk_up=False, start=deep) == str(deep.resolve())
    lonely = tmp_path.parent / f"{tmp_path.name}-none"
    lonely.mkdir()
    assert find_project(None, walk_up=True, start=lonely) == str(lonely.resolve())


def test_completion_lists_commands_flags_and_fixed_values() -> None:
    commands = {c.name: c for c in completion.describe(build_parser())}
    assert {"run", "runs", "logs", "sync", "completion"} <= set(commands)
    assert commands["runs"].values["--status"] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]
    assert "--follow" in commands["logs"].flags
    assert commands["sync"].positional == ["list", "preview", "run"]
    script = completion.bash(list(commands.values()))
    assert "complete -o default -F _podium podium" in script
    assert "queued running succeeded failed cancelled" in script
    fish = completion.fish(list(commands.values()))
    assert "__fish_seen_subcommand_from logs' -l follow" in fish
    assert "#compdef podium" in completion.zsh(list(commands.values()))


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash here")
def test_the_bash_script_completes_in_bash(tmp_path: Path) -> None:
    script = tmp_path / "podium.bash"
    script.write_text(completion.bash(completion.describe(build_parser())))
    probe = (
        f"source {script}\n"
        'COMP_WORDS=(podium ru); COMP_CWORD=1; _podium; echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(podium runs --status f); COMP_CWORD=3; _podium; echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(podium logs --fo); COMP_CWORD=2; _podium; echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(podium runs --limit ""); COMP_CWORD=3; _podium; echo "[${COMPREPLY[*]}]"\n'
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["run runs", "failed", "--follow", "[]"]


def test_the_demos_next_steps_work_as_typed_without_podium_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium.cli.demo import podium_command

    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("")
    (venv / "bin" / "podium").write_text("")
    monkeypatch.chdir(tmp_path)  # `make demo` runs from the repository
    # `make demo` runs .venv/bin/podium: not on PATH, so the steps activate the venv first
    podium, setup = podium_command({"PATH": "/nowhere"}, prefix=str(venv))
    assert (podium, [step for step, _ in setup]) == ("podium", ["source .venv/bin/activate"])
    # podium on PATH (an activated venv, pipx): nothing to add
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "podium").write_text("#!/bin/sh\n")
    (on_path / "podium").chmod(0o755)
    assert podium_command({"PATH": str(on_path)}, prefix=str(venv)) == ("podium", ())
    # neither: the interpreter's own form
    podium, setup = podium_command({"PATH": "/nowhere"}, prefix=str(tmp_path / "none"))
    assert podium.endswith(" -m podium.cli.main") and setup == ()
