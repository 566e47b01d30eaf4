"""``{{ path }}`` references, rows made JSON-ready, and the Podium-Signature scheme."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from decimal import Decimal

import pytest

from podium.errors import TerminalTaskError
from podium.outgoing import signing
from podium.outgoing.rows import json_value, row_key
from podium.outgoing.templates import (
    UnresolvedReference,
    reference_problem,
    references,
    render,
    render_text,
)

SCOPE = {
    "row": {"order_id": 1001, "sku": "TEE/M", "note": None},
    "params": {"source": "shopify", "limit": 5},
    "upstream": {"shopify": {"rows": [{"id": 1}, {"id": 2}], "count": 2}},
    "trigger": {"payload": {"id": "evt_1"}},
}


# -- rendering -------------------------------------------------------------------------------


def test_a_whole_reference_keeps_the_type_of_what_it_names() -> None:
    body = {
        "rows": "{{ upstream.shopify.rows }}",
        "count": "{{upstream.shopify.count}}",
        "first": "{{ upstream.shopify.rows.0.id }}",
        "row": "{{ row }}",
        "fixed": [1, True, None],
    }
    assert render(body, SCOPE, "body") == {
        "rows": [{"id": 1}, {"id": 2}],
        "count": 2,
        "first": 1,
        "row": {"order_id": 1001, "sku": "TEE/M", "note": None},
        "fixed": [1, True, None],
    }


def test_references_inside_text_are_written_as_text() -> None:
    text = "order {{ row.order_id }} from {{ params.source }}{{ row.note }} {{ upstream.shopify.rows.1 }}"
    assert render_text(text, SCOPE, "headers.X") == 'order 1001 from shopify {"id":2}'


def test_url_pieces_are_percent_encoded() -> None:
    from urllib.parse import quote

    url = "https://x.example/items/{{ row.sku }}?src={{ params.source }}"
    encoded = render_text(url, SCOPE, "url", encode=lambda t: quote(t, safe=""))
    assert encoded == "https://x.example/items/TEE%2FM?src=shopify"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("upstream.shopify.rowz", "upstream.shopify has no 'rowz' (it has: count, rows)"),
        ("upstream.shopify.rows.7", "upstream.shopify.rows is a list of 2; '7' is not an index"),
        ("row.note.x", "row.note is null, which has no 'x'"),
        ("rows", "there is no 'rows' here"),
        ("params.limit.max", "params.limit is int, which has no 'max'"),
    ],
)
def test_a_reference_that_names_nothing_says_where_and_why(path: str, reason: str) -> None:
    with pytest.raises(UnresolvedReference) as info:
        render({"a": {"b": f"{{{{ {path} }}}}"}}, SCOPE, "body")
    assert info.value.where == "body.a.b"
    assert info.value.path == path
    assert str(info.value).startswith(f"body.a.b: {{{{ {path} }}}} does not resolve: ")
    assert reason in str(info.value)


def test_references_are_found_with_where_they_were_written() -> None:
    body = {"a": ["{{ row.x }}", {"b": "n={{ params.n }} {{ run.id }}"}], "c": 3}
    assert list(references(body, "body")) == [
        ("body.a.0", "row.x"),
        ("body.a.1.b", "params.n"),
        ("body.a.1.b", "run.id"),
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("row.order_id", None),
        ("upstream.t.rows.0", None),
        ("env.HOME", "starts with unknown 'env'"),
        ("row order", "is not a reference"),
        ("", "is not a reference"),
    ],
)
def test_reference_problems(path: str, expected: str | None) -> None:
    problem = reference_problem(path)
    assert problem is None if expected is None else expected in (problem or "")


# -- rows ------------------------------------------------------------------------------------


def test_database_values_become_json() -> None:
    when = dt.datetime(2026, 1, 2, 10, 0, tzinfo=dt.UTC)
    ident = uuid.UUID(int=1)
    assert json_value(Decimal("59.00")) == 59
    assert json_value(Decimal("19.99")) == 19.99
    assert json_value(when) == "2026-01-02T10:00:00+00:00"
    assert json_value(dt.date(2026, 1, 2)) == "2026-01-02"
    assert json_value(dt.timedelta(minutes=2)) == 120.0
    assert json_value(b"\x01\xff") == "01ff"
    assert json_value(ident) == str(ident)
    assert json_value({"a": [Decimal("1.5")]}) == {"a": [1.5]}


def test_row_keys() -> None:
    row = {"order_id": 1001, "region": "us", "missing": None}
    assert row_key("t", row, ["order_id"], 0) == "1001"
    assert row_key("t", row, ["region", "order_id"], 0) == '["us",1001]'
    with pytest.raises(TerminalTaskError, match="key 'orderid' is not a field of the rows"):
        row_key("t", row, ["orderid"], 0)
    with pytest.raises(TerminalTaskError, match="row 3 has no value for its key missing"):
        row_key("t", row, ["missing"], 2)
    with pytest.raises(TerminalTaskError, match="row 1 is a int, not a mapping"):
        row_key("t", 5, ["id"], 0)


# -- signing ---------------------------------------------------------------------------------


SECRET = "whsec_unit_4e1f"
BODY = b'{"id":7,"type":"RunFinished"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = signing.signature_header(SECRET, 1_800_000_000, BODY)
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={expected}"
    plain = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signing.body_signature_header(SECRET, BODY) == f"sha256={plain}"


@pytest.mark.parametrize(
    ("secret", "body", "now", "ok"),
    [
        (SECRET, BODY, 1_800_000_000, True),
        (SECRET, BODY, 1_800_000_300, True),  # at the edge of the tolerance
        (SECRET, BODY + b" ", 1_800_000_000, False),  # tampered
        ("whsec_other", BODY, 1_800_000_000, False),  # wrong secret
        (SECRET, BODY, 1_800_000_301, False),  # stale
        (SECRET, BODY, 1_799_999_000, False),  # from the future
    ],
)
def test_verify(secret: str, body: bytes, now: float, ok: bool) -> None:
    header = signing.signature_header(SECRET, 1_800_000_000, BODY)
    assert signing.verify(secret, header, body, now) is ok


def test_verify_refuses_malformed_headers_and_accepts_any_matching_v1() -> None:
    good = signing.signature(SECRET, 1_800_000_000, BODY)
    now = 1_800_000_000
    assert signing.verify(SECRET, f"t=1800000000,v1=00ff,v1={good}", BODY, now)
    for header in (None, "", f"v1={good}", "t=1800000000", f"t=abc,v1={good}"):
        assert not signing.verify(SECRET, header, BODY, now)
