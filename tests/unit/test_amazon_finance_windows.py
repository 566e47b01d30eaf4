"""The connector's listFinancialEvents windows never span more than 180 days.

financesV0.json: "If `PostedAfter` and `PostedBefore` are more than 180 days apart, the
response is empty", and PostedBefore defaults to "Two minutes before the time of the
request" — so the last window, left open, counts up to Amazon's now, which may be ahead
of podium's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podium.connectors.sources.amazon.source import AmazonSource, iso

NOW = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
LIMIT = timedelta(days=180)


def windows(start: datetime) -> list[tuple[datetime, datetime | None]]:
    none: Any = None
    source = AmazonSource("amazon", none, none, none, (), lambda: NOW)
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return [(parse(a), parse(b) if b else None) for a, b in source._finance_windows(iso(start))]


@pytest.mark.parametrize(
    "back",
    [
        timedelta(days=3),
        LIMIT - timedelta(hours=2),
        LIMIT - timedelta(days=2),
        LIMIT + timedelta(minutes=5),  # the old loop left this one open: 180 d + 3 min
        LIMIT + timedelta(minutes=9),
        LIMIT * 2 + timedelta(minutes=5),
        timedelta(days=800),
    ],
)
def test_every_window_is_180_days_at_most_even_with_a_fast_amazon_clock(back: timedelta) -> None:
    found = windows(NOW - back)
    assert found[0][0] == NOW - back
    for (_, end), (start, _) in zip(found, found[1:], strict=False):
        assert end == start  # contiguous: PostedBefore is exclusive, PostedAfter inclusive
    amazon_now = NOW + timedelta(days=3)  # a sandbox clock moved days ahead of ours
    for start, end in found:
        before = end if end is not None else amazon_now - timedelta(minutes=2)
        assert timedelta(0) < before - start <= LIMIT
        if end is not None:
            assert end <= amazon_now - timedelta(minutes=2)  # never in Amazon's future
    assert found[-1][1] is None
