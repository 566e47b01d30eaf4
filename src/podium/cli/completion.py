"""``podium completion bash|zsh|fish``: a shell completion script, made from the parser.

The script completes command names, each command's flags and the values of flags and
arguments that have a fixed set (``--status``, ``--format``, ``sync ACTION``, …). Install:

    bash   podium completion bash > ~/.local/share/bash-completion/completions/podium
    zsh    podium completion zsh > "${fpath[1]}/_podium"   (then: compinit)
    fish   podium completion fish > ~/.config/fish/completions/podium.fish
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in: bash, zsh or fish")


def cmd_completion(args: argparse.Namespace) -> int:
    from podium.cli.main import build_parser

    commands = describe(build_parser())
    print({"bash": bash, "zsh": zsh, "fish": fish}[args.shell](commands), end="")
    return 0


@dataclass
class Command:
    name: str
    help: str
    flags: dict[str, str] = field(default_factory=dict)  # --flag: its help
    values: dict[str, list[str]] = field(default_factory=dict)  # --flag: its choices
    takes: set[str] = field(default_factory=set)  # the flags followed by a value
    positional: list[str] = field(default_factory=list)  # the first argument's choices


def describe(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command of ``parser``: its flags and the fixed values it takes."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    found = []
    for name, p in sub.choices.items():
        command = Command(name, helps.get(name, ""))
        for action in p._actions:
            long_ = [o for o in action.option_strings if o.startswith("--")]
            if long_ and long_[0] != "--help":
                command.flags[long_[0]] = action.help or ""
                if action.nargs != 0:
                    command.takes.add(long_[0])
                if action.choices:
                    command.values[long_[0]] = [str(c) for c in action.choices]
            elif not action.option_strings and action.choices and not command.positional:
                command.positional = [str(c) for c in action.choices]
        found.append(command)
    return found


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def bash(commands: list[Command]) -> str:
    cases = []
    for c in commands:
        values = "".join(
            f'            {flag}) COMPREPLY=($(compgen -W {_quote(" ".join(v))} -- "$cur"));'
            " return;;\n"
            for flag, v in c.values.items()
        )
        free = sorted(c.takes - set(c.values))
        if free:  # a value of the user's own: the shell's default (file names)
            values += f"            {'|'.join(free)}) COMPREPLY=(); return;;\n"
        words = " ".join([*c.flags, *c.positional])
        cases.append(
            f"        {c.name})\n"
            f'            case "$prev" in\n{values}            esac\n'
            f'            COMPREPLY=($(compgen -W {_quote(words)} -- "$cur"));;\n'
        )
    names = " ".join(c.name for c in commands)
    return (
        "# podium completion for bash: source it, or put it in bash-completion's folder\n"
        "_podium() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"\n'
        '    if [ "$COMP_CWORD" -eq 1 ]; then\n'
        f'        COMPREPLY=($(compgen -W {_quote(names + " --version --help")} -- "$cur"))\n'
        "        return\n"
        "    fi\n"
        '    case "${COMP_WORDS[1]}" in\n' + "".join(cases) + "    esac\n"
        "}\n"
        "complete -o default -F _podium podium\n"
    )


def _zsh_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:")


def zsh(commands: list[Command]) -> str:
    listed = "\n".join(f"        '{c.name}:{_zsh_escape(c.help)}'" for c in commands)
    cases = []
    for c in commands:
        specs = []
        for flag, text in c.flags.items():
            help_ = _zsh_escape(text).replace("[", "(").replace("]", ")")
            values = c.values.get(flag)
            takes = f":value:({' '.join(values)})" if values else ""
            if not values and flag in c.takes:
                takes = ":value:_files"
            specs.append(f"'{flag}[{help_}]{takes}'")
        if c.positional:
            specs.append(f"'1:action:({' '.join(c.positional)})'")
        specs.append("'*:file:_files'")
        cases.append(f"        {c.name}) _arguments {' '.join(specs)} ;;")
    return (
        "#compdef podium\n"
        "# podium completion for zsh: put it on $fpath as _podium, then run compinit\n"
        "_podium() {\n"
        "    local -a commands\n"
        f"    commands=(\n{listed}\n    )\n"
        "    if (( CURRENT == 2 )); then\n"
        "        _describe 'command' commands\n"
        "        return\n"
        "    fi\n"
        "    shift words; (( CURRENT-- ))\n"
        '    case "${words[1]}" in\n' + "\n".join(cases) + "\n    esac\n"
        "}\n"
        'if [ "$funcstack[1]" = "_podium" ]; then _podium "$@"; else compdef _podium podium; fi\n'
    )


def fish(commands: list[Command]) -> str:
    lines = [
        "# podium completion for fish: put it in ~/.config/fish/completions/podium.fish",
        "complete -c podium -n __fish_use_subcommand -l version -d 'print the version'",
    ]
    for c in commands:
        lines.append(
            f"complete -c podium -f -n __fish_use_subcommand -a {c.name} -d {_quote(c.help)}"
        )
        seen = f"'__fish_seen_subcommand_from {c.name}'"
        for flag, text in c.flags.items():
            values = c.values.get(flag)
            takes = f" -x -a {_quote(' '.join(values))}" if values else ""
            if not values and flag in c.takes:
                takes = " -r"
            lines.append(f"complete -c podium -n {seen} -l {flag[2:]} -d {_quote(text)}{takes}")
        if c.positional:
            lines.append(f"complete -c podium -n {seen} -a {_quote(' '.join(c.positional))}")
    return "\n".join(lines) + "\n"
