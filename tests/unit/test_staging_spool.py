"""Staging's spool: JSON pages are appended to one JSON array file per batch by the reading
thread, and every staged record still knows the page it came from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from podium.connectors.normalize.shape import Observer, duckdb_columns
from podium.connectors.normalize.staging import Staging
from podium.connectors.prefetch import Prefetcher
from podium.connectors.source import JsonBody, JsonPage, Page, Stream, UnreadablePage


def _pages() -> list[Page]:
    pages: list[Page] = []
    for number in range(6):
        records: list[object] = [{"id": number * 10 + i, "qty": i} for i in range(3)]
        if number == 4:
            records.append({"qty": 1})  # no primary key: quarantined with page 4's location
        if number == 2:
            records.append({"id": 999, "qty": "x"})  # a type the declared column refuses
        pages.append(JsonPage(records, f"page {number}"))
        if number == 3:
            pages.append(UnreadablePage("page 3b", "the body is not JSON", "<html>"))
    return pages


def _staging(tmp_path: Path) -> Staging:
    stream = Stream("orders", primary_key=("id",), columns={"qty": "bigint"})
    now = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
    # a batch of about two pages: the spool rotates files while staging reads earlier ones
    return Staging(tmp_path / "load", stream, "L1", now=now, batch_bytes=60)


def _check(staging: Staging) -> None:
    staging.finish()
    assert staging.row_count("orders") == 18
    rows = staging.db.execute(
        "SELECT location, reason FROM _podium_quarantine ORDER BY location"
    ).fetchall()
    assert rows == [
        ("page 2", "field qty: x is not a bigint"),
        ("page 3b", "the body is not JSON"),
        ("page 4", "primary key field id is missing"),
    ]
    seqs = staging.db.execute("SELECT min(_seq), max(_seq) FROM orders").fetchone()
    assert seqs == (0, 19)  # one number per object record, in page order
    assert staging.counts.received == 6 * 3 + 2 + 1  # the unreadable page counts as one


def test_pages_added_directly_keep_their_locations(tmp_path: Path) -> None:
    staging = _staging(tmp_path)
    try:
        for page in _pages():
            staging.add(page)
        _check(staging)
    finally:
        staging.close()


@pytest.mark.parametrize("depth", [1, 256])
def test_pages_spooled_by_a_reading_thread_keep_their_locations(tmp_path: Path, depth: int) -> None:
    staging = _staging(tmp_path)
    try:
        with Prefetcher(_pages(), staging.spool, depth=depth) as ahead:
            for page in ahead:
                staging.add(page)
        _check(staging)
        assert not list((tmp_path / "load" / "pages").iterdir())  # staged files are removed
    finally:
        staging.close()


def _stage_through_a_reading_thread(tmp_path: Path, pages: list[Page], batch: int) -> Staging:
    """A finished staging of ``pages`` spooled by a reading thread, in batches of about
    ``batch`` bytes; the caller closes it."""
    stream = Stream("orders", primary_key=("id",))
    now = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
    staging = Staging(tmp_path / "load", stream, "L1", now=now, batch_bytes=batch)
    try:
        with Prefetcher(pages, staging.spool, depth=256) as ahead:
            for page in ahead:
                staging.add(page)
        staging.finish()
    except BaseException:
        staging.close()
        raise
    return staging


def test_staging_batches_while_the_reading_thread_writes_the_next_file(tmp_path: Path) -> None:
    pages: list[Page] = [
        JsonPage([{"id": n * 50 + i, "note": "x" * 20} for i in range(50)], f"page {n}")
        for n in range(300)
    ]
    staging = _stage_through_a_reading_thread(tmp_path, pages, 2_000)
    try:
        assert staging.row_count("orders") == 15_000
        assert staging.db.execute("SELECT count(DISTINCT _seq) FROM orders").fetchone() == (15_000,)
    finally:
        staging.close()


def _body(records: list[dict[str, object]], location: str) -> JsonBody:
    content = orjson.dumps({"orders": records})
    return JsonBody(content, ["orders"], location, lambda: records)


def test_a_batch_that_does_not_read_with_the_shape_is_read_again_by_detection(
    tmp_path: Path,
) -> None:
    # "at" looks like a time on the first pages, so batches are read with a TIMESTAMPTZ
    # column; a later page's text still fits the pages' shape (a string) but not that
    # column: the batch read ahead fails, and the main thread reads it with detection
    pages: list[Page] = [
        _body(
            [
                {"id": n * 20 + i, "at": "soon" if (n, i) == (30, 7) else "2026-01-02T03:04:05Z"}
                for i in range(20)
            ],
            f"page {n}",
        )
        for n in range(40)
    ]
    staging = _stage_through_a_reading_thread(tmp_path, pages, 1_000)
    try:
        assert staging.row_count("orders") == 800
        assert staging.db.execute('SELECT "at" FROM orders WHERE id = 607').fetchone() == ("soon",)
        batches = staging.db.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_batch%' ESCAPE '\\'"
        ).fetchone()
        assert batches == (0,)  # every batch read ahead was staged and dropped
    finally:
        staging.close()


class _Code(str):
    """A str subclass: the observer notes it as a kind of its own."""


def test_parsed_pages_that_fit_the_shape_miss_nothing_that_comes_late(tmp_path: Path) -> None:
    # 16 pages of 800 records alike, so pages are taken by the conformer's check
    # (Conformer.fits) instead of observed; later pages each bring one thing new, deep in
    # the page: each must still reach the shape and the staged rows
    records: list[dict[str, object]] = [
        {"id": n, "qty": n % 7, "customer": {"id": n % 13}, "lines": [{"sku": "A"}]}
        for n in range(12_800)
    ]
    records[7_300]["region"] = "US"  # page 9
    records[8_790]["region"] = _Code("EU")  # page 10: a str subclass, a kind of its own
    records[10_000]["coupon"] = "LATE"  # page 12: a field first seen in record 10,000
    records[10_950]["qty"] = "many"  # page 13: a type change
    records[11_900]["customer"] = {"id": 3, "vip": True}  # page 14: a new nested field
    records[12_700]["lines"] = [{"sku": "B", "gift": 1.5}]  # page 15: new in a list's objects
    pages: list[Page] = [
        JsonPage(records[n : n + 800], f"page {n // 800}") for n in range(0, 12_800, 800)
    ]
    pages.append(JsonPage([{"id": 12_800}, "not an object", {"id": 12_801}], "page 16"))
    staging = _stage_through_a_reading_thread(tmp_path, pages, 64_000)
    try:
        assert staging._conformer.taken >= 8  # the fast path ran (pages fitting the shape)
        expected = Observer()
        expected.observe(records)
        assert duckdb_columns(staging._observer.shape) == duckdb_columns(expected.shape)
        assert staging._observer.shape.fields["region"].kinds == {str, _Code}
        assert staging.row_count("orders") == 12_802
        one = staging.db.execute
        assert one("SELECT coupon FROM orders WHERE id = 10000").fetchone() == ("LATE",)
        assert one("SELECT count(coupon) FROM orders").fetchone() == (1,)
        assert one("SELECT qty FROM orders WHERE id = 10950").fetchone() == ("many",)
        assert one("SELECT customer__vip FROM orders WHERE id = 11900").fetchone() == (True,)
        gift = "SELECT gift FROM orders__lines WHERE _root_key = '12700'"
        assert one(gift).fetchone() == (1.5,)
        quarantined = "SELECT location, reason FROM _podium_quarantine"
        assert one(quarantined).fetchall() == [("page 16", "record 1 is str, not an object")]
    finally:
        staging.close()


def test_records_in_any_sequence_are_spooled(tmp_path: Path) -> None:
    from collections import deque

    pages: list[Page] = [
        JsonPage(deque([{"id": 1}, {"id": 2}]), "page 0"),
        JsonPage(({"id": 3},), "page 1"),
        JsonPage(deque([{"id": 4, "new": "x"}]), "page 2"),
    ]
    staging = _stage_through_a_reading_thread(tmp_path, pages, 64_000)
    try:
        assert staging.row_count("orders") == 4
        assert staging.db.execute("SELECT new FROM orders WHERE id = 4").fetchone() == ("x",)
    finally:
        staging.close()
