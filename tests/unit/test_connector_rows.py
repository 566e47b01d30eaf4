"""The per-record work of the NetSuite source, made cheaper for throughput
(docs/design-and-limitations.md, "Connector throughput"), still gives the same records
(Klaviyo's: tests/unit/test_klaviyo_document.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from podium.connectors.sources.netsuite.dates import parse_datetime
from podium.connectors.sources.netsuite.streams import stream_specs

LA = ZoneInfo("America/Los_Angeles")


def test_to_char_date_times_read_as_the_us_form_does_in_either_fold() -> None:
    assert parse_datetime("2025-05-02 09:14:07", LA) == "2025-05-02T16:14:07Z"
    assert parse_datetime("5/2/2025 9:14 am", LA) == "2025-05-02T16:14:00Z"
    # the hour the clocks go back: the earlier instant (PDT), as before the fast path
    assert parse_datetime("2025-11-02 01:30:00", LA) == "2025-11-02T08:30:00Z"
    with pytest.raises(ValueError, match="month must be in 1..12"):
        parse_datetime("2025-13-02 09:14:07", LA)
    with pytest.raises(ValueError, match="not a date-time"):
        parse_datetime("2025-05-02 09:14:07+02:00", LA)


def test_netsuite_line_rows_are_signed_dated_and_lose_their_links() -> None:
    spec = {s.stream.name: s for s in stream_specs(0.0)}["transaction_lines"]
    sale = {"transaction": "7", "id": "1", "quantity": "-2", "netamount": "-50.00",
            "type": "SalesOrd", "lastmodifieddate": "2025-05-02 09:14:07", "links": []}  # fmt: skip
    credit = {**sale, "quantity": "1", "netamount": "25.00", "type": "CustCred"}
    assert spec.record(sale, LA) == {
        "transaction": "7", "id": "1", "quantity": "2", "netamount": "-50.00",
        "lastmodifieddate": "2025-05-02T16:14:07Z", "amount": "50.00",
        "transaction_type": "SalesOrd",
    }  # fmt: skip
    row = spec.record(credit, LA)
    assert (row["quantity"], row["amount"], row["transaction_type"]) == ("1", "25.00", "CustCred")
    with pytest.raises(ValueError, match="field 'lastmodifieddate'"):
        spec.record({**sale, "lastmodifieddate": "soon"}, LA)
