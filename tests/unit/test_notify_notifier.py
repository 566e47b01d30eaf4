"""The notifier on a real (in-memory) store, fed by the engine: one alert per (run, task,
state), recovery, delivery retries, at-most-once sending and masking."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from podium.core.alerts import NotifyRule
from podium.core.masking import Masker
from podium.core.status import OnLate
from podium.core.workflow import RetryPolicy, Task, Workflow
from podium.engine import services
from podium.execution.base import JobResult
from podium.kinds.base import CheckOutcome
from podium.notify.feed import EventFeed
from podium.notify.notifier import BACKOFF, MAX_TRIES, Notifier
from podium.notify.runner import Subscribers
from podium.testing import RecordingDestination

ALL = ("failed", "late", "recovered", "check_failed", "sla_missed")


def daily(retries: int = 0) -> Workflow:
    return Workflow(
        "daily",
        (
            Task("shopify", "extract", "shopify", retry=RetryPolicy(retries=retries)),
            Task("orders", "model", "commerce.orders", ("shopify",), produces=("commerce.orders",)),
            Task("audience", "run", "tasks:audience", ("orders",)),
        ),
    )


def weekly() -> Workflow:
    return Workflow("weekly", (Task("report", "run", "tasks:report"),))


@dataclass
class Alerts:
    """An engine harness with one notifier reading its events."""

    h: Any
    notifier: Notifier
    dest: RecordingDestination
    subs: Subscribers

    def pump(self) -> None:
        self.h.engine.poke()
        self.h.step()
        self.subs.step(self.h.clock())

    @property
    def titles(self) -> list[str]:
        return [m.title for m in self.dest.sent]

    def rows(self) -> list[tuple[str, str, int]]:
        return [
            (str(k), str(s), int(a))
            for k, s, a in self.h.db.read().fetchall(
                "SELECT key, status, attempts FROM notifications_sent ORDER BY key"
            )
        ]


@pytest.fixture
def alerts(make_harness: Any) -> Any:
    def make(
        *workflows: Workflow,
        on: tuple[str, ...] = ALL,
        only: tuple[str, ...] | None = None,
        mask: Masker | None = None,
        refuse: int = 0,
    ) -> Alerts:
        h = make_harness(*(workflows or (daily(),)))
        rule = NotifyRule("team", on, "json://127.0.0.1:9/hook", only)
        dest = RecordingDestination(refuse=refuse)
        shop = {"shopify": {"type": "shopify", "shop": "demo"}}  # the extract's connection
        h.project = replace(h.project, connections=shop)
        notifier = Notifier(rule, h.project, h.db, dest, clock=h.clock, mask=mask)
        return Alerts(h, notifier, dest, Subscribers(h.db, [notifier]))

    return make


def fail_for_good(a: Alerts, task_id: str, error: str = "boom", tries: int = 1) -> None:
    for _ in range(tries):
        a.pump()
        a.h.ex.fail(task_id, error)
    a.pump()
    a.pump()


def succeed_all(a: Alerts) -> None:
    for _ in range(10):
        a.pump()
        if not a.h.ex.pending:
            return
        for task_id in a.h.ex.running():
            a.h.ex.succeed(task_id, {})
    raise AssertionError("the run did not settle")


def test_a_task_failing_every_retry_is_alerted_once(alerts: Any) -> None:
    a = alerts(daily(retries=2))
    run = a.h.start("daily")
    fail_for_good(a, "shopify", "HTTP 503 from shopify", tries=3)
    assert a.h.attempts(run, "shopify") == [("shopify", n, "failed") for n in (1, 2, 3)]
    assert a.h.status(run) == "failed"
    assert a.titles == ["[podium] daily failed: shopify"]
    body = a.dest.sent[0].body
    assert "failed after 3 attempts" in body
    assert "Did not run (upstream failed): orders, audience" in body
    assert "HTTP 503 from shopify" in body
    assert f"Open the run in podium: http://127.0.0.1:8642/runs/{run}" in body
    assert a.rows() == [(f"notify:team:failed:{run}:shopify:0", "sent", 1)]


def test_a_redelivered_batch_sends_nothing_again(alerts: Any) -> None:
    a = alerts()
    a.h.start("daily")
    fail_for_good(a, "shopify")
    assert len(a.dest.sent) == 1
    EventFeed(a.h.db, "subscriber:notify.team").advance(0)  # as after a crash: all again
    a.subs.step(a.h.clock())
    twin = Notifier(a.notifier.rule, a.h.project, a.h.db, a.dest, clock=a.h.clock)
    Subscribers(a.h.db, [twin]).step(a.h.clock())  # another podium up, same store
    assert len(a.dest.sent) == 1


def test_recovered_follows_an_alerted_failure_once(alerts: Any) -> None:
    a = alerts()
    failed = a.h.start("daily")
    fail_for_good(a, "shopify")
    a.h.clock.advance(60)
    fixed = a.h.start("daily")
    succeed_all(a)
    a.h.clock.advance(60)
    a.h.start("daily")
    succeed_all(a)
    assert a.titles == ["[podium] daily failed: shopify", "[podium] daily recovered"]
    assert f"succeeded again in run {fixed}. The run before, {failed}, had failed." in (
        a.dest.sent[1].body
    )


def test_no_recovered_without_an_alerted_failure(alerts: Any) -> None:
    a = alerts(on=("recovered",))
    a.h.start("daily")
    fail_for_good(a, "shopify")
    a.h.start("daily")
    succeed_all(a)
    assert a.titles == []


def test_a_run_retried_after_failing_is_alerted_again_then_recovers(alerts: Any) -> None:
    a = alerts()
    run = a.h.start("daily")
    fail_for_good(a, "shopify", "first")
    services.retry_run(a.h.db, a.h.project, run, failed_only=True)
    fail_for_good(a, "shopify", "second")
    services.retry_run(a.h.db, a.h.project, run, failed_only=True)
    succeed_all(a)
    assert a.titles == [
        "[podium] daily failed: shopify",
        "[podium] daily failed: shopify",
        "[podium] daily recovered",
    ]
    assert ["first" in m.body for m in a.dest.sent[:2]] == [True, False]
    assert [key for key, _, _ in a.rows()] == [
        f"notify:team:failed:{run}:shopify:0",
        f"notify:team:failed:{run}:shopify:1",
        f"notify:team:recovered:{run}:-:2",
    ]


def test_rules_for_other_workflows_or_states_stay_quiet(alerts: Any) -> None:
    a = alerts(daily(), weekly(), only=("daily",), on=("failed",))
    a.h.start("weekly")
    fail_for_good(a, "report")
    a.h.start("daily")
    a.pump()
    a.h.ex.succeed("shopify", {})
    a.pump()
    a.h.ex.succeed("orders", checks=[CheckOutcome("c", False, "warn")])
    a.pump()
    assert a.titles == []


def test_a_late_task_is_alerted_once(alerts: Any) -> None:
    wf = Workflow(
        "daily",
        (
            Task("amazon", "extract", "amazon_us", late_after=60, on_late=OnLate.CONTINUE),
            Task("orders", "model", "commerce.orders", ("amazon",)),
        ),
    )
    a = alerts(wf)
    run = a.h.start("daily")
    a.pump()
    a.h.clock.advance(61)
    a.pump()
    a.pump()
    assert a.titles == ["[podium] daily late: amazon"]
    body = a.dest.sent[0].body
    assert "still running after 1m00s" in body and "marked incomplete" in body
    assert f"Run: {run} (manual, running)" in body


def test_failed_checks_of_a_warn_and_an_error_severity(alerts: Any) -> None:
    a = alerts(on=("failed", "check_failed"))
    run = a.h.start("daily")
    a.pump()
    a.h.ex.succeed("shopify", assets={"raw_shop.orders": {"inserted": 120, "updated": 3}})
    a.pump()
    checks = (
        CheckOutcome("orders_total_not_null", False, "error", 3, "3 nulls"),
        CheckOutcome("orders_rows", False, "warn", 0, "few rows"),
        CheckOutcome("orders_unique", True, "error"),
    )
    job, done = a.h.ex.pending.pop(a.h.ex.key_of("orders"))
    done(JobResult(job.key, False, None, "1 check(s) failed: 3 nulls", False, checks=checks))
    a.pump()
    a.pump()
    checks = a.h.events("CheckEvaluated", run)
    assert [(c["check"], c["passed"]) for c in checks] == [
        ("orders_total_not_null", False),
        ("orders_rows", False),
        ("orders_unique", True),
    ]
    assert a.titles == ["[podium] daily failed: orders", "[podium] daily check failed: orders"]
    failed, checked = (m.body for m in a.dest.sent)
    assert "Produces: commerce.orders" in failed and "Did not run (upstream failed): audience"
    assert "Check (error): orders_total_not_null: 3 nulls" in checked
    assert "Check (warn): orders_rows: few rows" in checked
    assert "orders_unique" not in checked
    assert "The task failed: nothing downstream reads what it built." in checked


def test_rows_of_the_last_good_load_are_in_a_failure(alerts: Any) -> None:
    a = alerts(on=("failed",))
    good = a.h.start("daily")
    a.pump()
    a.h.ex.succeed("shopify", assets={"raw_shop.orders": {"inserted": 1200, "updated": 3}})
    succeed_all(a)
    a.h.start("daily")
    fail_for_good(a, "shopify")
    body = a.dest.sent[0].body
    assert f"by run {good}): raw_shop.orders: 1,200 inserted, 3 updated" in body
    assert "Source: shopify" in body


def test_delivery_is_retried_with_backoff_then_given_up(alerts: Any) -> None:
    a = alerts(refuse=MAX_TRIES + 1)
    a.h.start("daily")
    fail_for_good(a, "shopify")
    ((key, status, tries),) = a.rows()
    assert (status, tries, a.dest.tries) == ("pending", 1, 1)
    for wait in BACKOFF:
        a.h.clock.advance(wait - 1)
        a.subs.step(a.h.clock())
        assert a.dest.tries == tries, "retried before its backoff"
        a.h.clock.advance(1)
        a.subs.step(a.h.clock())
        tries += 1
        assert a.dest.tries == tries
    assert a.rows() == [(key, "failed", MAX_TRIES)]
    a.h.clock.advance(3600)
    a.subs.step(a.h.clock())
    assert a.dest.tries == MAX_TRIES and a.dest.sent == []
    error = a.h.db.read().fetchone("SELECT error FROM notifications_sent")[0]
    assert error == "refused by the test destination"


def test_a_refused_delivery_succeeds_on_a_later_try(alerts: Any) -> None:
    a = alerts(refuse=1)
    a.h.start("daily")
    fail_for_good(a, "shopify")
    a.h.clock.advance(BACKOFF[0])
    a.subs.step(a.h.clock())
    assert a.titles == ["[podium] daily failed: shopify"]
    assert [status for _, status, _ in a.rows()] == ["sent"]


class Crash(BaseException):
    """The process dies while the message is on its way."""


class CrashingDestination:
    style = "text"

    def send(self, message: Any) -> str | None:
        raise Crash()


def test_an_alert_whose_sending_was_interrupted_is_not_sent_again(alerts: Any) -> None:
    a = alerts()
    a.h.start("daily")
    fail_for_good(a, "shopify")  # sent once, through the first notifier
    run = a.h.start("daily")
    a.pump()
    a.h.ex.fail("shopify")
    a.h.step()
    a.h.step()
    crashing = Notifier(a.notifier.rule, a.h.project, a.h.db, CrashingDestination())
    batch = EventFeed(a.h.db, "subscriber:notify.team").next_batch()
    with pytest.raises(Crash):
        crashing.handle(batch)
    a.subs.step(a.h.clock())  # the restarted process: same batch, same rule
    assert len(a.dest.sent) == 1
    assert (f"notify:team:failed:{run}:shopify:0", "sending", 1) in a.rows()


def test_secrets_are_masked_in_every_message(alerts: Any) -> None:
    secret = "xoxb-S3CRET-token-123"
    a = alerts(mask=Masker({secret}))
    a.h.start("daily")
    fail_for_good(a, "shopify", f"401 Unauthorized: token {secret} rejected")
    (message,) = a.dest.sent
    assert secret not in message.body + message.title
    assert "token *** rejected" in message.body


def test_long_errors_are_cut_after_masking(alerts: Any) -> None:
    secret = "p" * 30 + "SECRET"
    a = alerts(mask=Masker({secret}))
    a.h.start("daily")
    fail_for_good(a, "shopify", "x" * 590 + secret)
    body = a.dest.sent[0].body
    assert "pppp" not in body and "SECRET" not in body
    assert len(max(body.splitlines(), key=len)) <= 610
