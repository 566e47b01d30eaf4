"""The amazon connection's settings: defaults, and problems that name the key first."""

from __future__ import annotations

from typing import Any

import pytest

from podium.connectors.registry import connection_problems
from podium.connectors.sources.amazon import amazon_problems, open_amazon_source
from podium.connectors.sources.amazon.config import parse_amazon_settings
from podium.errors import TerminalTaskError

SECRET = "Atzr|very-secret-refresh-token"
GOOD: dict[str, Any] = {
    "refresh_token": SECRET,
    "client_id": "amzn1.application-oa2-client.x",
    "client_secret": "amzn1.oa2-cs.v1.secret",
}


def test_defaults_point_at_the_real_north_american_api() -> None:
    config, problems = parse_amazon_settings(GOOD)
    assert problems == [] and config is not None
    assert config.base_url == "https://sellingpartnerapi-na.amazon.com"
    assert config.token_url == "https://api.amazon.com/auth/o2/token"
    assert config.marketplace_ids == ("ATVPDKIKX0DER",)
    assert config.start_date is None and config.report_wait == 900.0


def test_region_picks_both_urls() -> None:
    config, _ = parse_amazon_settings({**GOOD, "region": "eu"})
    assert config is not None
    assert config.base_url == "https://sellingpartnerapi-eu.amazon.com"
    assert config.token_url == "https://api.amazon.co.uk/auth/o2/token"


def test_the_registry_knows_the_type() -> None:
    assert connection_problems({"type": "amazon", **GOOD}) == []


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "refresh_token: required"),
        ({**GOOD, "client_id": 12}, "client_id: expected a string (a secret), got a int"),
        ({**GOOD, "marketplace_ids": []}, "marketplace_ids: expected a list of marketplace ids"),
        ({**GOOD, "region": "mars"}, "region: expected one of na, eu, fe, got 'mars'"),
        ({**GOOD, "base_url": "ftp://x"}, "base_url: expected an http(s) URL, got 'ftp://x'"),
        ({**GOOD, "start_date": "yesterday"}, "start_date: expected an ISO date"),
        ({**GOOD, "report_wait": "soon"}, "report_wait: 'soon' is not a duration"),
        ({**GOOD, "retries": -1}, "retries: expected an integer >= 0, got -1"),
        ({**GOOD, "sellerid": "x"}, "sellerid: unknown key; expected one of"),
    ],
)
def test_problems_start_with_the_key(settings: dict[str, Any], problem: str) -> None:
    problems = amazon_problems(settings)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_secret_is_never_quoted() -> None:
    problems = amazon_problems({**GOOD, "client_secret": ["oops", SECRET]})
    assert problems == ["client_secret: expected a string (a secret), got a list"]
    with pytest.raises(TerminalTaskError) as failure:
        open_amazon_source("amz", {**GOOD, "region": SECRET}, secrets=[SECRET])
    assert SECRET not in str(failure.value) and "region" in str(failure.value)
