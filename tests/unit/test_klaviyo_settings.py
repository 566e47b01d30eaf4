"""A klaviyo connection's settings: each problem names its key, what was expected and
what was given, and never the API key itself."""

from __future__ import annotations

import pytest

from podium.connectors.sources.klaviyo import klaviyo_problems, open_klaviyo_source
from podium.connectors.sources.klaviyo.config import (
    DEFAULT_BASE_URL,
    DEFAULT_REVISION,
    parse_klaviyo_settings,
)
from podium.connectors.sources.klaviyo.endpoints import STREAM_NAMES
from podium.errors import TerminalTaskError

KEY = "pk_live_0123456789abcdef"


def test_only_the_key_is_required_and_the_rest_defaults_to_the_real_api() -> None:
    config, problems = parse_klaviyo_settings({"api_key": KEY})
    assert problems == [] and config is not None
    assert (config.base_url, config.revision) == (DEFAULT_BASE_URL, DEFAULT_REVISION)
    assert config.streams == STREAM_NAMES


@pytest.mark.parametrize(
    ("settings", "start", "words"),
    [
        ({}, "api_key: is required", "pk_"),
        ({"api_key": 12}, "api_key: expected a string", "int"),
        ({"api_key": KEY, "revision": "2025-13-01"}, "revision: expected one of", "2025-13-01"),
        ({"api_key": KEY, "revision": 2025}, "revision: expected one of", "2025"),
        ({"api_key": KEY, "revision": "2024-10-15"}, "revision: expected one of", "2026-07-15"),
        ({"api_key": KEY, "revision": "2026-10-15"}, "revision: expected one of", "2026-10-15"),
        ({"api_key": KEY, "revision": "2026-07-15.pre"}, "revision: expected one of", ".pre"),
        ({"api_key": KEY, "base_url": "a.klaviyo.com"}, "base_url: expected an http", "a.klaviyo"),
        ({"api_key": KEY, "streams": ["events", "orders"]}, "streams: unknown orders", "profiles"),
        ({"api_key": KEY, "streams": "events"}, "streams: expected a list", "'events'"),
        ({"api_key": KEY, "timeout": "soon"}, "timeout:", "30s"),
        ({"api_key": KEY, "retries": -1}, "retries: expected an integer", "-1"),
        ({"api_key": KEY, "page": 3}, "page: unknown key", "revision"),
        ({"api_key": KEY, "rate_limits": {"events": {"burst": 0, "steady": 10}}},
         "rate_limits.events: expected {burst", "0"),
        ({"api_key": KEY, "rate_limits": {"orders": {"burst": 1, "steady": 1}}},
         "rate_limits.orders: unknown endpoint", "events"),
    ],
)  # fmt: skip
def test_each_problem_starts_with_its_key_path(
    settings: dict[str, object], start: str, words: str
) -> None:
    problems = klaviyo_problems(settings)
    assert len(problems) == 1, problems
    assert problems[0].startswith(start) and words in problems[0]


def test_a_key_that_is_not_private_is_refused_without_quoting_it() -> None:
    secret = "sk_9f8e7d6c5b4a"
    [problem] = klaviyo_problems({"api_key": secret})
    assert problem.startswith("api_key: expected a private API key starting with pk_")
    assert secret not in problem and "15 characters" in problem


def test_opening_a_misconfigured_connection_is_terminal_and_masked() -> None:
    secret = "sk_9f8e7d6c5b4a"
    with pytest.raises(TerminalTaskError) as caught:
        open_klaviyo_source("kl", {"api_key": secret, "revision": "x"}, secrets=[secret])
    assert "connection 'kl' is misconfigured" in str(caught.value)
    assert secret not in str(caught.value)


def test_not_a_mapping() -> None:
    assert klaviyo_problems("pk_x")[0].startswith("expected a mapping")
