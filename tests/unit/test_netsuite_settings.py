"""NetSuite settings problems and the account's date format."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from podium.connectors.sources.netsuite import netsuite_problems, open_netsuite_source
from podium.connectors.sources.netsuite.config import default_base_url, parse_netsuite_settings
from podium.connectors.sources.netsuite.dates import parse_date, parse_datetime, suiteql_timestamp
from podium.errors import TerminalTaskError

VALID: dict[str, Any] = {
    "account_id": "1234567_SB1",
    "auth": {"method": "tba", "consumer_key": "ck-value", "consumer_secret": "cs-value",
             "token_id": "tk-value", "token_secret": "ts-super-secret"},
}  # fmt: skip


def changed(**changes: Any) -> dict[str, Any]:
    settings = {**VALID, "auth": dict(VALID["auth"])}
    for key, value in changes.items():
        target = settings["auth"] if key.startswith("auth_") else settings
        name = key.removeprefix("auth_")
        if value is None:
            target.pop(name)
        else:
            target[name] = value
    return settings


def test_valid_settings_and_defaults() -> None:
    assert netsuite_problems(VALID) == []
    config, _ = parse_netsuite_settings(VALID)
    assert config is not None
    assert config.base_url == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert (config.page_size, config.max_concurrent_requests, config.max_rows) == (1000, 4, 100_000)
    assert config.timezone == ZoneInfo("America/Los_Angeles")
    assert default_base_url("TSTDRV_1") == "https://tstdrv-1.suitetalk.api.netsuite.com"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"account_id": None}, "account_id: is required"),
        ({"account_id": "12 34"}, "account_id: expected an account id like 1234567_SB1"),
        ({"auth": None}, "auth: is required"),
        ({"auth_method": "basic"}, "auth.method: expected one of tba, oauth2, got 'basic'"),
        ({"auth_method": None}, "auth.method: is required"),
        ({"auth_token_secret": None}, "auth.token_secret: is required"),
        ({"auth_password": "x"}, "auth.password: unknown key"),
        ({"page_size": 5000}, "page_size: expected at most 1000"),
        (
            {"max_concurrent_requests": 0},
            "max_concurrent_requests: expected an integer >= 1",
        ),
        ({"timezone": "Mars/Olympus"}, "timezone: expected an IANA time zone"),
        ({"start_date": "yesterday"}, "start_date: expected an ISO date"),
        ({"base_url": "ftp://x"}, "base_url: expected an http:// or https:// URL"),
        ({"lookback": "a while"}, "lookback: 'a while' is not a duration"),
        ({"stream": {}}, "stream: unknown key; expected one of type, account_id"),
    ],
)
def test_problems_start_with_the_key_path(changes: dict[str, Any], problem: str) -> None:
    problems = netsuite_problems(changed(**changes))
    assert any(p.startswith(problem) for p in problems), problems


def test_oauth2_needs_a_pem_key() -> None:
    settings = {"account_id": "1", "auth": {"method": "oauth2", "client_id": "c",
                "certificate_id": "k", "private_key": "not a key"}}  # fmt: skip
    assert netsuite_problems(settings) == [
        "auth.private_key: expected a PEM private key (-----BEGIN PRIVATE KEY-----)"
    ]


def test_opening_misconfigured_settings_is_terminal_and_masks_secrets() -> None:
    with pytest.raises(TerminalTaskError) as caught:
        open_netsuite_source("erp", changed(page_size=0, auth_token_id=None))
    message = str(caught.value)
    assert message.startswith("connection 'erp' is misconfigured: ")
    assert "auth.token_id: is required" in message and "ts-super-secret" not in message


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("5/2/2025 9:14 am", "2025-05-02T16:14:00Z"),  # PDT is UTC-7
        ("5/2/2025 12:05 am", "2025-05-02T07:05:00Z"),
        ("5/2/2025 12:05 pm", "2025-05-02T19:05:00Z"),
        ("12/31/2025 11:59 pm", "2026-01-01T07:59:00Z"),  # PST is UTC-8
        ("2025-05-02 09:14:30", "2025-05-02T16:14:30Z"),
        ("11/1/2026 1:30 am", "2026-11-01T08:30:00Z"),  # ambiguous: the earlier instant
    ],
)
def test_datetimes_are_read_in_the_account_zone(text: str, utc: str) -> None:
    assert parse_datetime(text, ZoneInfo("America/Los_Angeles")) == utc


def test_dates_and_filter_literals() -> None:
    assert parse_date("5/1/2025") == parse_date("2025-05-01") == "2025-05-01"
    with pytest.raises(ValueError, match="is not a date"):
        parse_date("1.5.2025")
    from datetime import UTC, datetime

    literal = suiteql_timestamp(
        datetime(2025, 5, 2, 16, 14, tzinfo=UTC), ZoneInfo("America/Los_Angeles")
    )
    assert literal == "TO_TIMESTAMP('2025-05-02 09:14:00', 'YYYY-MM-DD HH24:MI:SS')"
