"""Reading notification rules and deadlines, with every mistake at its file:line.

``notifications:`` in podium.yaml and ``notify:`` in a workflow file are lists of rules::

    - name: data-team-slack            # optional; derived from the URL's kind
      on: [failed, late, recovered, check_failed, sla_missed]
      to: ${SLACK_WEBHOOK_URL}         # an apprise URL; a secret, never shown
      workflows: [daily]               # podium.yaml only; default: every workflow

``deadline: "07:00"`` (or ``{at: "07:00", timezone: America/New_York}``; the time zone
defaults to that of the workflow's first schedule, else UTC) is read here too.

A ``to`` URL is checked with apprise when the project loads; the message says what is
wrong without printing the URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from podium.core.alerts import ALERT_STATES, NotifyRule
from podium.core.deadline import Deadline, time_problem, zone_problem
from podium.core.workflow import ScheduleTrigger, Trigger, Workflow
from podium.errors import Problem
from podium.settings.describe import NAME, NAMES, Option, Settings
from podium.settings.secrets import url_secrets
from podium.settings.yaml_lines import (
    Fields,
    LineDict,
    LineList,
    Problems,
    did_you_mean,
    located,
)

_STATES = {"type": "string", "enum": list(ALERT_STATES)}
RULE = Settings(
    (
        Option("name", NAME, "default: from the URL's kind (slack, email, webhook)"),
        Option("on", {"anyOf": [_STATES, {"type": "array", "items": _STATES}]},
               f"the states to alert on: {', '.join(ALERT_STATES)}", required=True),
        Option("to", {"type": "string", "minLength": 1},
               "an apprise URL (Slack, mailto://, json://…), a secret: ${SLACK_WEBHOOK_URL}",
               required=True),
        Option("workflows", NAMES, "only these workflows (default: every workflow)"),
    ),
    doc="One notification rule: which states, sent where.",
)  # fmt: skip
RULE_KEYS = RULE.names
#: the same, in a workflow file (``notify:``), where a rule covers that workflow only
WORKFLOW_RULE = Settings(tuple(RULE.by_name[k] for k in RULE_KEYS[:3]), RULE.doc)
_TIME = {"type": "string", "pattern": r"^\s*([01]?\d|2[0-3]):[0-5]\d\s*$"}
DEADLINE_AT = Settings(
    (
        Option("at", _TIME, 'the time of day, "HH:MM" on a 24-hour clock', required=True),
        Option("timezone", {"type": "string"}, "an IANA time zone (default: the first "
               "schedule's, else UTC)"),
    )
)  # fmt: skip
DEADLINE: dict[str, Any] = {
    "anyOf": [_TIME, DEADLINE_AT.json_schema()],
    "description": 'a run must have succeeded by this time each day: "07:00" (quoted) or '
    '{at: "07:00", timezone: America/New_York}',
}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_EXAMPLE = "- {on: [failed, recovered], to: ${SLACK_WEBHOOK_URL}}"
_URL_HINT = (
    "write an apprise URL such as https://hooks.slack.com/services/T…/B…/…,"
    " mailto://USER:PASSWORD@smtp.example.com?to=team@example.com or json://HOST/PATH"
)


def read_rules(
    value: Any, line: int, problems: Problems, *, section: str, workflow: str | None = None
) -> tuple[NotifyRule, ...]:
    """The rules of a ``notifications:`` (podium.yaml) or, with ``workflow``, a ``notify:``
    list; each rule of a workflow's list covers that workflow only."""
    items = located(value, line)
    if not isinstance(items, LineList):
        problems.add(line, f"{section} must be a list of rules, e.g. {_EXAMPLE}")
        return ()
    rules: list[NotifyRule] = []
    for index, item in enumerate(items):
        item = located(item, items.line_at(index))
        if not isinstance(item, LineDict):
            problems.add(
                items.line_at(index), f"each {section} entry must be a mapping: {_EXAMPLE}"
            )
            continue
        rule = _rule(item, index, problems, section, workflow)
        if rule is not None:
            rules.append(rule)
    return tuple(_named(rules, prefix=f"{workflow}." if workflow else ""))


def _rule(
    item: LineDict, index: int, problems: Problems, section: str, workflow: str | None
) -> NotifyRule | None:
    given = item.get("name")
    what = f"{section} {given!r}" if isinstance(given, str) else f"{section} entry {index + 1}"
    read = Fields(item, problems, what)
    read.unknown_keys(RULE_KEYS if workflow is None else WORKFLOW_RULE.names)
    name = read.text("name") or ""
    if name and not _NAME.fullmatch(name):
        read.problem("name", f"name {name!r} may hold only letters, digits, '_', '.' and '-'")
    states = _states(read)
    to = _destination(read)
    workflows = read.names("workflows") if workflow is None and read.has("workflows") else None
    if workflow is not None:
        workflows = (workflow,)
    if not states or not to:
        return None
    return NotifyRule(
        name=name,
        on=states,
        to=to,
        workflows=workflows,
        file=read.problems.file,
        line=item.line,
        workflows_line=read.line("workflows"),
    )


def _states(read: Fields) -> tuple[str, ...]:
    if not read.has("on"):
        read.problem(None, f"say which states to alert on: on: [{', '.join(ALERT_STATES)}]")
        return ()
    states = read.names("on")
    for state in states:
        if state not in ALERT_STATES:
            hint = did_you_mean(state, ALERT_STATES) or f" (states: {', '.join(ALERT_STATES)})"
            read.problem("on", f"unknown state {state!r} in on:{hint}")
    return tuple(s for s in states if s in ALERT_STATES)


def _destination(read: Fields) -> str:
    """The ``to`` URL, checked with apprise; never quoted back (it is a secret)."""
    if not read.has("to"):
        read.problem(None, f"say where to send alerts with to: ({_URL_HINT})")
        return ""
    value = read.mapping["to"]
    if not isinstance(value, str) or not value.strip():
        line = read.line("to")
        if not any(p.line == line and p.file == read.problems.file for p in read.problems.found):
            read.problem("to", f"to must be a notification URL; {_URL_HINT}")
        return ""
    from podium.notify.delivery import url_problem

    problem = url_problem(value.strip())
    if problem:
        read.problem("to", f"to {problem} (the URL is not shown: it is a secret); {_URL_HINT}")
        return ""
    return value.strip()


def _named(rules: list[NotifyRule], prefix: str) -> list[NotifyRule]:
    """Rules without a ``name`` get one from their URL's kind: ``slack``, ``email-2``."""
    taken = {r.name for r in rules if r.name}
    named = []
    for rule in rules:
        if not rule.name:
            base, number = prefix + url_kind(rule.to), 1
            name = base
            while name in taken:
                number += 1
                name = f"{base}-{number}"
            taken.add(name)
            rule = NotifyRule(
                name, rule.on, rule.to, rule.workflows, rule.file, rule.line, rule.workflows_line
            )
        named.append(rule)
    return named


def url_kind(url: str) -> str:
    """``slack``, ``email``, ``webhook`` or the URL's scheme: what a default name says."""
    scheme = url.partition("://")[0].lower()
    if scheme == "slack" or url.lower().startswith("https://hooks.slack.com/"):
        return "slack"
    if scheme in ("mailto", "mailtos"):
        return "email"
    if scheme in ("json", "jsons", "form", "forms", "xml", "xmls"):
        return "webhook"
    return re.sub(r"[^a-z0-9_-]", "", scheme) or "notify"


# -- project-wide checks and secrets ---------------------------------------------------------


def rule_problems(rules: Sequence[NotifyRule], workflows: Mapping[str, Workflow]) -> list[Problem]:
    """What no single file shows: duplicate names, unknown workflows, ``sla_missed`` for
    workflows without a deadline."""
    found: list[Problem] = []
    first: dict[str, NotifyRule] = {}
    for rule in all_rules(rules, workflows):
        if rule.name in first:
            message = (
                f"notification name {rule.name!r} is taken (first at {first[rule.name].where});"
                " give this one another name:"
            )
            found.append(Problem(rule.file, rule.line, message))
        first.setdefault(rule.name, rule)
    for rule in all_rules(rules, workflows):
        found.extend(_workflow_problems(rule, workflows))
    return found


def _workflow_problems(rule: NotifyRule, workflows: Mapping[str, Workflow]) -> list[Problem]:
    if rule.workflows is None:
        return []
    found = []
    for name in rule.workflows:
        if name not in workflows:
            hint = did_you_mean(name, workflows)
            message = f"notification {rule.name!r} names unknown workflow {name!r}{hint}"
            found.append(Problem(rule.file, rule.workflows_line, message))
    known = [workflows[n] for n in rule.workflows if n in workflows]
    if "sla_missed" in rule.on and known and all(w.deadline is None for w in known):
        message = (
            f"notification {rule.name!r} alerts on sla_missed, but none of its workflows has"
            ' a deadline; add deadline: "07:00" to the workflow'
        )
        found.append(Problem(rule.file, rule.line, message))
    return found


def all_rules(rules: Iterable[NotifyRule], workflows: Mapping[str, Workflow]) -> list[NotifyRule]:
    """The project's rules, then each workflow's own."""
    return [*rules, *(rule for wf in workflows.values() for rule in wf.notify)]


def rule_secrets(rules: Iterable[NotifyRule]) -> set[str]:
    """Each ``to`` URL, its password and the parts of it that look like tokens (so that an
    error quoting part of the URL, a Slack hook's path say, is masked too)."""
    found: set[str] = set()
    for rule in rules:
        found |= url_parts(rule.to)
    return found


def url_parts(url: str) -> set[str]:
    parts = {url} | url_secrets(url)
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    words = [unquote(p) for p in split.path.split("/")]
    words += [value for _, value in parse_qsl(split.query)]
    if split.username:
        words.append(unquote(split.username))
    return parts | {word for word in words if _is_token(word)}


def _is_token(word: str) -> bool:
    """Long enough and mixing letters with digits, or very long: a token, not a word."""
    has_both = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    return len(word) >= 20 or (len(word) >= 8 and has_both)


# -- deadline ------------------------------------------------------------------------------


def read_deadline(read: Fields, triggers: Sequence[Trigger]) -> Deadline | None:
    """The workflow's ``deadline:``; its time zone defaults to the first schedule's."""
    if read.mapping.get("deadline") is None:
        return None
    value = located(read.mapping["deadline"], read.line("deadline"))
    default = next((t.timezone for t in triggers if isinstance(t, ScheduleTrigger)), "UTC")
    if isinstance(value, LineDict):
        inner = Fields(value, read.problems, "deadline")
        inner.unknown_keys(DEADLINE_AT.names)
        if not inner.has("at"):
            inner.problem(None, 'say when with at: "07:00"')
        at, zone = inner.text("at", "") or "", inner.text("timezone", default) or default
        zone_line = inner.line("timezone")
    elif isinstance(value, str):
        at, zone, zone_line = value, default, read.line("deadline")
    else:
        read.problem("deadline", _deadline_type_problem(value))
        return None
    return _checked_deadline(read, at, zone, zone_line)


def _checked_deadline(read: Fields, at: str, zone: str, zone_line: int) -> Deadline | None:
    problem = time_problem(at) if at else None
    if problem:
        read.problem("deadline", f"deadline: {problem}")
    zone_error = zone_problem(zone)
    if zone_error:
        read.problems.add(zone_line, f"deadline: {zone_error}")
    return Deadline(at.strip(), zone) if at and not problem and not zone_error else None


def _deadline_type_problem(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        hours, minutes = divmod(value, 60)
        return (
            f'write the time in quotes, deadline: "{hours:02d}:{minutes:02d}" (YAML reads an'
            f" unquoted {hours}:{minutes:02d} as the number {value})"
        )
    return 'deadline must be a time "HH:MM" or a mapping {at: "07:00", timezone: …}'
