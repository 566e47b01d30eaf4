"""Pure parts of notifications: which events are alerts, their keys, and the words."""

from __future__ import annotations

from typing import Any

import pytest
from apprise.plugins.slack import NotifySlack

from podium.core.masking import Masker
from podium.notify.facts import Facts
from podium.notify.feed import StoredEvent
from podium.notify.messages import compose
from podium.notify.rules import AlertRef, classify, parse_key


def event(kind: str, run: str | None = "r1", task: str | None = "t", **payload: Any) -> StoredEvent:
    return StoredEvent(7, kind, 0.0, run, task, payload)


@pytest.mark.parametrize(
    ("stored", "state"),
    [
        (event("TaskFinished", status="failed"), "failed"),
        (event("TaskFinished", status="timed_out"), "failed"),
        (event("TaskFinished", status="upstream_failed"), None),
        (event("TaskFinished", status="succeeded"), None),
        (event("AttemptFinished", status="failed", attempt=1), None),
        (event("TaskLate", attempt=1, late_after=60, on_late="continue"), "late"),
        (event("CheckEvaluated", check="c", passed=False), "check_failed"),
        (event("CheckEvaluated", check="c", passed=True), None),
        (event("RunFinished", task=None, workflow="daily", status="succeeded"), "recovered"),
        (event("RunFinished", task=None, workflow="daily", status="failed"), None),
        (event("SlaMissed", None, None, workflow="daily", date="2026-03-02"), "sla_missed"),
        (event("orders_dropped", None, None), None),
    ],
)
def test_which_events_are_alerts(stored: StoredEvent, state: str | None) -> None:
    found = classify(stored)
    assert (found.state if found else None) == state


def test_keys_name_the_alert_and_read_back() -> None:
    task = AlertRef("team", "failed", "abc123", "models.commerce.orders", 2, "daily")
    run = AlertRef("team", "recovered", "abc123", None, 0, "daily")
    sla = AlertRef("team", "sla_missed", workflow="daily", date="2026-03-02")
    assert task.key == "notify:team:failed:abc123:models.commerce.orders:2"
    assert run.key == "notify:team:recovered:abc123:-:0"
    assert sla.key == "notify:team:sla_missed:daily:2026-03-02"
    assert [parse_key(r.key).key for r in (task, run, sla)] == [task.key, run.key, sla.key]
    with pytest.raises(ValueError):
        parse_key("webhook:abc")


def failed_facts(error: str) -> Facts:
    return Facts(
        "failed",
        "daily",
        "abc123",
        "https://podium.example.com/runs/abc123",
        run_status="failed",
        trigger="schedule",
        task_id="shopify",
        task_kind="extract",
        task_status="failed",
        source="shopify (shopify)",
        not_run=["models.commerce.orders", "vip_audience"],
        rows=["raw_shop.orders: 1,200 inserted"],
        rows_note="last good update, 2026-03-01 05:12 UTC by run xyz",
        revenue=["commerce.orders: 48,210.50 (as of 2026-03-01 05:14 UTC)"],
        error=error,
        attempts=3,
    )


def test_an_email_is_plain_text_with_the_subject_podium_sends() -> None:
    message = compose(failed_facts("HTTP 401 from Shopify"), "email", Masker())
    assert message.title == "[podium] daily failed: shopify" and not message.markdown
    assert message.body == (
        "Task shopify of daily failed after 3 attempts.\n"
        "\n"
        "Workflow: daily\n"
        "Run: abc123 (schedule, failed)\n"
        "Task: shopify (extract)\n"
        "Source: shopify (shopify)\n"
        "Did not run (upstream failed): models.commerce.orders, vip_audience\n"
        "Data (last good update, 2026-03-01 05:12 UTC by run xyz): raw_shop.orders: 1,200"
        " inserted\n"
        "Revenue: commerce.orders: 48,210.50 (as of 2026-03-01 05:14 UTC)\n"
        "\n"
        "Error:\n"
        "    HTTP 401 from Shopify\n"
        "\n"
        "Open the run in podium: https://podium.example.com/runs/abc123\n"
    )


def test_a_slack_message_is_mrkdwn_and_data_in_it_stays_inert() -> None:
    message = compose(failed_facts("401 <!channel> & `x` ```y```"), "slack", Masker())
    assert message.markdown
    mrkdwn = NotifySlack._commonmark_to_slack(message.body)  # what apprise posts to Slack
    assert mrkdwn.splitlines()[:4] == [
        "Task `shopify` of `daily` failed after 3 attempts.",
        "",
        "*Workflow:* `daily`",
        "*Run:* `abc123` (schedule, failed)",
    ]
    assert "*Did not run (upstream failed):* `models.commerce.orders`, `vip_audience`" in mrkdwn
    assert "401 &lt;!channel&gt; &amp; `x` ʼʼʼyʼʼʼ" in mrkdwn
    assert "<!channel>" not in mrkdwn
    assert mrkdwn.endswith("<https://podium.example.com/runs/abc123|Open the run in podium>")


def test_secrets_are_masked_in_the_title_and_every_part() -> None:
    facts = failed_facts("token=tok-SECRET-99 refused")
    facts.not_run = ["tok-SECRET-99"]
    for style in ("slack", "email"):
        message = compose(facts, style, Masker({"tok-SECRET-99"}))
        assert "SECRET" not in message.title + message.body


def test_late_check_recovered_and_sla_messages() -> None:
    mask = Masker()
    late = Facts("late", "daily", "r1", "L", task_id="amazon", late_after=3 * 3600, on_late="wait")
    assert "is still running after 3h00m; the tasks after it wait for it." in (
        compose(late, "text", mask).body
    )
    check = Facts("check_failed", "daily", "r1", "L", task_id="orders", task_status="succeeded")
    check.checks = [{"check": "rev", "severity": "warn", "message": "revenue 120.00 vs 193.55"}]
    body = compose(check, "text", mask).body
    assert "1 check failed in task orders of daily. They are warnings: the task succeeded." in body
    assert "Check (warn): rev: revenue 120.00 vs 193.55" in body
    back = Facts("recovered", "daily", "r2", "L", recovered_from="r1", run_status="succeeded")
    assert compose(back, "text", mask).title == "[podium] daily recovered"
    sla = Facts(
        "sla_missed", "daily", date="2026-03-02", deadline="07:00 UTC (2026-03-02 07:00 UTC)"
    )
    sla.last_run = {
        "id": "r3",
        "status": "running",
        "created": "2026-03-02 06:40 UTC",
        "link": "L3",
    }
    message = compose(sla, "text", mask)
    assert message.title == "[podium] daily missed its deadline (07:00 UTC)"
    assert "No run of daily succeeded on 2026-03-02 by its deadline, 07:00 UTC" in message.body
    assert "Latest run: r3 running, started 2026-03-02 06:40 UTC" in message.body
    assert "Open the latest run in podium: L3" in message.body
