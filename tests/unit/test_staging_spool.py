"""Staging's spool: JSON pages are appended to one JSON array file per batch by the reading
thread, and every staged record still knows the page it came from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

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
