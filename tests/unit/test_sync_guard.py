"""The sync guard (max_changes) and the diff's SQL text, without a warehouse."""

from __future__ import annotations

import pytest

from podium.errors import TerminalTaskError, UsageError
from podium.syncs import Guard, Mode, SyncSpec, check_guard, guard_problem
from podium.syncs.diff import hash_expr, source_relation


def test_max_changes_reads_a_percent_or_a_count() -> None:
    assert Guard.parse("10%") == Guard(percent=10.0)
    assert Guard.parse(" 2.5% ") == Guard(percent=2.5)
    assert Guard.parse(500) == Guard(count=500)
    assert Guard.parse("500") == Guard(count=500)


@pytest.mark.parametrize("bad", ["ten", "-3", "150%", "%", "1.5"])
def test_a_bad_max_changes_says_what_it_takes(bad: str) -> None:
    with pytest.raises(UsageError, match="neither a percent .10%. nor a count .500."):
        Guard.parse(bad)


def counts(adds: int = 0, updates: int = 0, removes: int = 0, synced: int = 100) -> dict[str, int]:
    return {"adds": adds, "updates": updates, "removes": removes, "synced": synced}


def test_a_percent_guard_compares_all_changes_with_the_synced_set() -> None:
    guard = Guard(percent=10)
    assert guard_problem(guard, sync_name="s", **counts(4, 3, 3)) is None  # exactly 10 %
    problem = guard_problem(guard, sync_name="s", **counts(4, 3, 4))
    assert problem == (
        "sync s: guard max_changes 10% tripped: 11 changes (4 adds, 3 updates, 4 removes)"
        " against 100 records synced (11.0%); nothing was sent. If the change is expected,"
        " raise max_changes for sync s or run it once with the guard overridden"
    )


def test_a_percent_guard_lets_the_first_run_add_everything_but_a_count_does_not() -> None:
    assert guard_problem(Guard(percent=1), sync_name="s", **counts(5000, synced=0)) is None
    problem = guard_problem(Guard(count=1000), sync_name="s", **counts(5000, synced=0))
    assert problem is not None and "max_changes 1000 tripped: 5000 changes" in problem


def test_check_guard_raises_a_terminal_error() -> None:
    check_guard(Guard(count=3), sync_name="s", **counts(1, 1, 1))
    with pytest.raises(TerminalTaskError, match="sync s: guard max_changes 3 tripped"):
        check_guard(Guard(count=3), sync_name="s", **counts(1, 1, 2))


class _Sql:
    schema_prefix = "p_"


def test_a_table_source_is_prefixed_and_anything_else_is_a_subquery() -> None:
    assert source_relation(_Sql(), "marts.vip") == '"p_marts"."vip"'  # type: ignore[arg-type]
    query = "SELECT * FROM x WHERE a > 1;"
    assert source_relation(_Sql(), query) == "(SELECT * FROM x WHERE a > 1)"  # type: ignore[arg-type]


def test_the_hash_covers_the_mapping_so_a_new_mapping_resends() -> None:
    one = hash_expr({"email": "email"})
    assert one != hash_expr({"e_mail": "email"})
    assert one == hash_expr(SyncSpec("s", "a.b", "id", {"email": "email"}, Mode.MIRROR).fields)
