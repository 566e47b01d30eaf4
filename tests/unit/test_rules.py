"""Trigger rules: every rule against the same table of upstream outcomes.

Each case names what two upstreams did so far: ``s`` succeeded, ``f`` failed, ``k`` skipped
(or cancelled: done, neither succeeded nor failed), ``p`` still pending.
"""

from __future__ import annotations

import pytest

from podium.core.rules import Upstream, decide
from podium.core.status import TriggerRule

R = TriggerRule


def upstream(outcomes: str) -> Upstream:
    return Upstream(
        total=len(outcomes),
        pending=outcomes.count("p"),
        succeeded=outcomes.count("s"),
        failed=outcomes.count("f"),
    )


#: outcomes → decision per rule (columns in the order of COLUMNS)
COLUMNS = (R.ALL_SUCCESS, R.ALL_DONE, R.ALL_FAILED, R.ONE_SUCCESS, R.ONE_FAILED, R.NONE_FAILED)
W, RUN, UF, SK = "wait", "run", "upstream_failed", "skipped"
TABLE: dict[str, tuple[str, str, str, str, str, str]] = {
    #        all_success all_done all_failed one_success one_failed none_failed
    "pp": (W, W, W, W, W, W),
    "sp": (W, W, SK, RUN, W, W),
    "fp": (UF, W, W, W, RUN, UF),
    "kp": (W, W, W, W, W, W),
    "ss": (RUN, RUN, SK, RUN, SK, RUN),
    "ff": (UF, RUN, RUN, UF, RUN, UF),
    "sf": (UF, RUN, SK, RUN, RUN, UF),
    "sk": (SK, RUN, SK, RUN, SK, RUN),
    "fk": (UF, RUN, SK, UF, RUN, UF),
    "kk": (SK, RUN, SK, SK, SK, RUN),
    # three upstreams
    "ssp": (W, W, SK, RUN, W, W),
    "ffp": (UF, W, W, W, RUN, UF),
    "fff": (UF, RUN, RUN, UF, RUN, UF),
    "sss": (RUN, RUN, SK, RUN, SK, RUN),
}

CASES = [
    pytest.param(
        rule,
        outcomes,
        row[index],
        id=f"{rule}-{outcomes}",
    )
    for outcomes, row in TABLE.items()
    for index, rule in enumerate(COLUMNS)
]


@pytest.mark.parametrize(("rule", "outcomes", "expected"), CASES)
def test_decide(rule: TriggerRule, outcomes: str, expected: str) -> None:
    assert decide(rule, upstream(outcomes)) == expected


def test_the_table_covers_every_rule() -> None:
    assert set(COLUMNS) == set(TriggerRule)


@pytest.mark.parametrize("rule", [R.ALL_SUCCESS, R.ALL_DONE, R.ALL_FAILED, R.NONE_FAILED])
def test_a_task_without_upstreams_runs(rule: TriggerRule) -> None:
    assert decide(rule, Upstream(0, 0, 0, 0)) == "run"


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_nothing_but_wait_while_every_upstream_is_pending(rule: TriggerRule) -> None:
    assert decide(rule, upstream("ppp")) == "wait"
