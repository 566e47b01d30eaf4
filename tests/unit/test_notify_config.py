"""``notifications:`` in podium.yaml, ``notify:`` and ``deadline:`` in a workflow file: what
they become, and every mistake at its file:line without showing a URL."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping
from pathlib import Path

import apprise
import pytest

from podium.core.alerts import NotifyRule
from podium.core.deadline import Deadline
from podium.core.workflow import Project
from podium.errors import ProjectError
from podium.project import load_project

SLACK = "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/abcdefghijklmnopqrstuvwx"
MAIL = (
    "mailto://alerts:mail-Passw0rd@127.0.0.1:2525?smtp=127.0.0.1&mode=insecure"
    "&from=podium@example.com&to=team@example.com"
)
HOOK = "json://127.0.0.1:9/hook"
DAILY = textwrap.dedent("""
    name: daily
    triggers:
      - schedule: "0 5 * * *"
        timezone: America/New_York
    tasks:
      - id: a
        shell: "true"
""").lstrip()


def write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def load(root: Path, files: Mapping[str, str], env: Mapping[str, str] | None = None) -> Project:
    write(root, {"podium.yaml": "", **files})
    return load_project(root, environ=env or {})


def problems(
    root: Path, files: Mapping[str, str], env: Mapping[str, str] | None = None
) -> list[str]:
    with pytest.raises(ProjectError) as info:
        load(root, files, env)
    return [str(p) for p in info.value.problems]


def test_rules_are_read_named_and_their_urls_kept_secret(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        {
            "podium.yaml": """
                notifications:
                  - name: data-team-slack
                    on: [failed, late, recovered, check_failed, sla_missed]
                    to: ${SLACK_WEBHOOK_URL}
                    workflows: [daily]
                  - on: failed
                    to: ${ALERT_MAIL}
                  - {on: [failed], to: "json://127.0.0.1:9/hook"}
                  - {on: [late], to: "json://127.0.0.1:9/other"}
            """,
            "workflows/daily.yaml": DAILY + 'deadline: "07:00"\n',
        },
        {"SLACK_WEBHOOK_URL": SLACK, "ALERT_MAIL": MAIL},
    )
    slack, mail, hook, other = loaded.notifications
    assert slack == NotifyRule(
        "data-team-slack",
        ("failed", "late", "recovered", "check_failed", "sla_missed"),
        SLACK,
        ("daily",),
        "podium.yaml",
        2,
    )
    assert (mail.name, mail.on, mail.workflows) == ("email", ("failed",), None)
    assert (hook.name, other.name) == ("webhook", "webhook-2")
    assert {SLACK, MAIL, HOOK, "mail-Passw0rd", "abcdefghijklmnopqrstuvwx"} <= loaded.secrets
    assert SLACK not in repr(slack)


def test_a_workflow_notify_list_covers_that_workflow_only(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        {
            "workflows/daily.yaml": DAILY
            + 'deadline: "07:00"\nnotify:\n  - on: [failed, sla_missed]\n    to: '
            + HOOK
            + "\n"
        },
    )
    wf = loaded.workflow("daily")
    (rule,) = wf.notify
    assert (rule.name, rule.workflows, rule.file, rule.line) == (
        "daily.webhook",
        ("daily",),
        "workflows/daily.yaml",
        10,
    )
    assert HOOK in loaded.secrets
    assert wf.deadline == Deadline("07:00", "America/New_York")


def test_deadline_forms_and_their_time_zone(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        {
            "workflows/a.yaml": DAILY.replace("daily", "a") + 'deadline: "7:30"\n',
            "workflows/b.yaml": "name: b\ntasks: [{id: x, shell: 'true'}]\ndeadline: '23:59'\n",
            "workflows/c.yaml": "name: c\ntasks: [{id: x, shell: 'true'}]\n"
            "deadline: {at: '06:00', timezone: Europe/Paris}\n",
        },
    )
    deadlines = {name: wf.deadline for name, wf in loaded.workflows.items()}
    assert deadlines == {
        "a": Deadline("7:30", "America/New_York"),
        "b": Deadline("23:59", "UTC"),
        "c": Deadline("06:00", "Europe/Paris"),
    }


def test_deadline_mistakes_name_their_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/a.yaml": "name: a\ntasks: [{id: x, shell: 'true'}]\ndeadline: 7:30\n",
            "workflows/ok.yaml": "name: ok\ntasks: [{id: x, shell: 'true'}]\ndeadline: 07:00\n",
            "workflows/b.yaml": "name: b\ntasks: [{id: x, shell: 'true'}]\ndeadline: '25:00'\n",
            "workflows/c.yaml": "name: c\ntasks: [{id: x, shell: 'true'}]\n"
            "deadline:\n  at: '06:00'\n  timezone: Mars/Olympus\n  by: 1\n",
        },
    )
    assert found == [
        'workflows/a.yaml:3: write the time in quotes, deadline: "07:30" (YAML reads an unquoted'
        " 7:30 as the number 450)",
        "workflows/b.yaml:3: deadline: '25:00' is not a time of day; write it HH:MM on a 24-hour"
        ' clock, e.g. "07:00"',
        "workflows/c.yaml:5: deadline: unknown time zone 'Mars/Olympus'; use an IANA name such as"
        " America/New_York",
        "workflows/c.yaml:6: deadline: unknown key 'by'; allowed: at, timezone",
    ]


def test_rule_mistakes_name_their_line_and_never_the_url(tmp_path: Path) -> None:
    bad_url = "slack://T1JJ3T3L2/s3cr3t!!B/C4"
    found = problems(
        tmp_path,
        {
            "podium.yaml": f"""
                notifications:
                  - on: [failed, sla_mised]
                    to: "{bad_url}"
                  - name: has space
                    on: [recoverd]
                    to: "not a url"
                  - to: "{HOOK}"
                    workflows: [daly]
                    channel: x
                  - on: [late]
                  - just text
            """,
            "workflows/daily.yaml": DAILY,
        },
    )
    assert found == [
        "podium.yaml:2: notifications entry 1: unknown state 'sla_mised' in on:;"
        " did you mean 'sla_missed'?",
        "podium.yaml:3: notifications entry 1: to is not a notification URL apprise can send to"
        " (scheme 'slack') (the URL is not shown: it is a secret); write an apprise URL such as"
        " https://hooks.slack.com/services/T…/B…/…, mailto://USER:PASSWORD@smtp.example.com"
        "?to=team@example.com or json://HOST/PATH",
        "podium.yaml:4: notifications 'has space': name 'has space' may hold only letters,"
        " digits, '_', '.' and '-'",
        "podium.yaml:5: notifications 'has space': unknown state 'recoverd' in on:;"
        " did you mean 'recovered'?",
        "podium.yaml:6: notifications 'has space': to is not a URL (the URL is not shown:"
        " it is a secret); write an apprise URL such as https://hooks.slack.com/services/T…/B…/…,"
        " mailto://USER:PASSWORD@smtp.example.com?to=team@example.com or json://HOST/PATH",
        "podium.yaml:7: notifications entry 3: say which states to alert on:"
        " on: [failed, late, recovered, check_failed, sla_missed]",
        "podium.yaml:9: notifications entry 3: unknown key 'channel'; allowed: name, on, to,"
        " workflows",
        "podium.yaml:10: notifications entry 4: say where to send alerts with to:"
        " (write an apprise URL such as https://hooks.slack.com/services/T…/B…/…,"
        " mailto://USER:PASSWORD@smtp.example.com?to=team@example.com or json://HOST/PATH)",
        "podium.yaml:11: each notifications entry must be a mapping:"
        " - {on: [failed, recovered], to: ${SLACK_WEBHOOK_URL}}",
    ]
    assert not any("s3cr3t" in line for line in found)


def test_project_wide_rule_mistakes(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "podium.yaml": f"""
                notifications:
                  - {{name: team, on: [failed], to: "{HOOK}", workflows: [daly, daily]}}
                  - {{name: team, on: [sla_missed], to: "{HOOK}", workflows: [daily]}}
            """,
            "workflows/daily.yaml": DAILY + f"notify:\n  - {{on: [sla_missed], to: '{HOOK}'}}\n",
        },
    )
    assert found == [
        "podium.yaml:2: notification 'team' names unknown workflow 'daly'; did you mean 'daily'?",
        "podium.yaml:3: notification 'team' alerts on sla_missed, but none of its workflows has"
        ' a deadline; add deadline: "07:00" to the workflow',
        "podium.yaml:3: notification name 'team' is taken (first at podium.yaml:2);"
        " give this one another name:",
        "workflows/daily.yaml:9: notification 'daily.webhook' alerts on sla_missed, but none of"
        ' its workflows has a deadline; add deadline: "07:00" to the workflow',
    ]


def test_a_workflow_notify_may_not_name_workflows(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/daily.yaml": DAILY
            + f"notify:\n  - {{on: [failed], to: '{HOOK}', workflows: [x]}}\n"
        },
    )
    assert found == [
        "workflows/daily.yaml:9: notify entry 1: unknown key 'workflows'; allowed: name, on, to"
    ]


def test_an_unset_variable_is_reported_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {"podium.yaml": "notifications:\n  - on: [failed]\n    to: ${SLACK_WEBHOOK_URL}\n"},
    )
    assert found == [
        "podium.yaml:3: environment variable SLACK_WEBHOOK_URL is not set;"
        " export it or give a default with ${SLACK_WEBHOOK_URL:-…}"
    ]


def test_checking_a_bad_url_logs_no_part_of_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = "slack://T1JJ3T3L2/s3cr3t!!B/C4"
    caplog.set_level(logging.DEBUG)
    problems(tmp_path, {"podium.yaml": f'notifications:\n  - {{on: [failed], to: "{url}"}}\n'})
    assert not any("s3cr3t" in r.getMessage() for r in caplog.records)
    caplog.clear()
    apprise.Apprise.instantiate(url)  # the same check without podium's guard around it
    assert any("s3cr3t" in r.getMessage() for r in caplog.records), "apprise quotes the token"


def test_the_python_api_takes_a_deadline_and_notify(tmp_path: Path) -> None:
    source = f"""
        import podium

        wf = podium.Workflow(
            "pydaily",
            deadline={{"at": "06:30", "timezone": "Europe/Paris"}},
            notify=[{{"on": ["failed", "sla_missed"], "to": "{HOOK}"}}],
        )
        wf.shell("a", "true")
        bad = podium.Workflow("pybad", notify=[{{"on": ["faild"], "to": "{HOOK}"}}])
        bad.shell("a", "true")
    """
    found = problems(tmp_path, {"workflows/flows.py": source})
    assert found == [
        "workflows/flows.py:9: notify entry 1: unknown state 'faild' in on:; did you mean 'failed'?"
    ]
    write(tmp_path, {"workflows/flows.py": source.replace('"faild"', '"failed"')})
    wf = load_project(tmp_path, environ={}).workflow("pydaily")
    assert wf.deadline == Deadline("06:30", "Europe/Paris")
    assert [(r.name, r.on, r.workflows) for r in wf.notify] == [
        ("pydaily.webhook", ("failed", "sla_missed"), ("pydaily",))
    ]
