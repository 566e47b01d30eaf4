"""A ``klaviyo`` connection's settings, checked with every problem under its key path.

.. code-block:: yaml

    connections:
      klaviyo:
        type: klaviyo
        api_key: "${KLAVIYO_API_KEY}"   # a private key, pk_…, with read scopes (secret)
        revision: "2026-07-15"          # the API revision sent with every request: one of
                                        # REVISIONS, whose differences podium knows
        base_url: https://a.klaviyo.com # default; tests point it at the simulator
        streams: [profiles, events]     # default: every stream
        timeout: 30s
        retries: 5
        rate_limits:                    # override an endpoint's limits (Klaviyo changes them)
          events: {burst: 350, steady: 3500}   # per second, per minute
          profile_import: {burst: 75, steady: 700}  # a sync's writes (endpoints.WRITE_ENDPOINTS)

Messages never quote the key: they say what is wrong with it, not what it is.

``REVISIONS`` are the revisions podium has been checked against (Klaviyo's OpenAPI of
2026-07-15 and, for the older ones, which parameters each operation lacked then): any
other, including a beta ``….pre``, is refused here rather than sent to Klaviyo, which
would answer a retired revision with a 400 and might change shapes in a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from podium.connectors.settings import (
    duration_setting,
    retries_setting,
    stream_selection,
    unknown_keys,
)
from podium.connectors.sources.klaviyo.endpoints import (
    ENDPOINTS,
    STREAM_NAMES,
    WRITE_ENDPOINTS,
    Limit,
)
from podium.settings.describe import DURATION, Option, Settings

DEFAULT_BASE_URL = "https://a.klaviyo.com"
DEFAULT_REVISION = "2026-07-15"
REVISIONS = ("2025-10-15", "2026-01-15", "2026-04-15", "2026-07-15")
_LIMIT = {
    "type": "object",
    "properties": {
        "burst": {"type": "integer", "minimum": 1, "description": "requests per second"},
        "steady": {"type": "integer", "minimum": 1, "description": "requests per minute"},
    },
    "required": ["burst", "steady"],
    "additionalProperties": False,
}
SETTINGS = Settings(
    (
        Option("api_key", {"type": "string", "pattern": "^pk_"},
               "a private API key (pk_…) with read scopes, a secret: ${KLAVIYO_API_KEY}",
               required=True),
        Option("revision", {"type": "string", "enum": list(REVISIONS)},
               f"the API revision sent with every request (default {DEFAULT_REVISION})"),
        Option("base_url", {"type": "string", "pattern": "^https?://"},
               f"default {DEFAULT_BASE_URL}"),
        Option("streams", {"type": "array", "minItems": 1, "items": {"enum": list(STREAM_NAMES)}},
               "the streams to read (default: every stream)"),
        Option("timeout", DURATION, "per request (30s)"),
        Option("retries", {"type": "integer", "minimum": 0}, "tries after a failure (5)"),
        Option("rate_limits", {"type": "object",
                               "propertyNames": {"enum": [*ENDPOINTS, *WRITE_ENDPOINTS]},
                               "additionalProperties": _LIMIT},
               "override an endpoint's limits: events: {burst: 350, steady: 3500}"),
    ),
    doc="A klaviyo connection: api_key is needed.",
)  # fmt: skip
KEYS = SETTINGS.names
JSON_API = "application/vnd.api+json"


@dataclass(frozen=True)
class KlaviyoConfig:
    api_key: str
    revision: str = DEFAULT_REVISION
    base_url: str = DEFAULT_BASE_URL
    streams: tuple[str, ...] = STREAM_NAMES
    timeout: float = 30.0
    retries: int = 5
    limits: Mapping[str, Limit] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """What every request of this connection sends: the key, the revision, JSON:API."""
        return {
            "Authorization": f"Klaviyo-API-Key {self.api_key}",
            "revision": self.revision,
            "accept": JSON_API,
        }


def parse_klaviyo_settings(settings: Any) -> tuple[KlaviyoConfig | None, list[str]]:
    """The typed config and every problem in ``settings`` (without ``type``/``dataset``)."""
    if not isinstance(settings, Mapping):
        return None, [f"expected a mapping of settings (api_key:, revision: …), got {settings!r}"]
    problems = unknown_keys({k: v for k, v in settings.items() if k != "type"}, KEYS)
    config = KlaviyoConfig(
        api_key=_api_key(settings.get("api_key"), problems),
        revision=_revision(settings.get("revision", DEFAULT_REVISION), problems),
        base_url=_base_url(settings.get("base_url", DEFAULT_BASE_URL), problems),
        streams=stream_selection(settings.get("streams"), STREAM_NAMES, problems),
        timeout=duration_setting(settings, "timeout", 30.0, problems),
        retries=retries_setting(settings, problems),
        limits=_limits(settings.get("rate_limits"), problems),
    )
    return config, problems


def _api_key(value: Any, problems: list[str]) -> str:
    if value is None or value == "":
        problems.append(
            "api_key: is required: a Klaviyo private API key (pk_…), e.g. "
            '"${KLAVIYO_API_KEY}" from the project\'s secrets'
        )
        return ""
    if not isinstance(value, str):
        problems.append(
            f"api_key: expected a string (a private key pk_…), got a {type(value).__name__}"
        )
        return ""
    if not value.startswith("pk_"):
        problems.append(
            f"api_key: expected a private API key starting with pk_, got {len(value)} "
            "characters that do not (a public site id or an OAuth token will not work)"
        )
    return value


def _revision(value: Any, problems: list[str]) -> str:
    text = value.isoformat() if isinstance(value, date) else value
    if text not in REVISIONS:
        problems.append(
            f"revision: expected one of the Klaviyo API revisions podium supports "
            f"({', '.join(REVISIONS)}), got {value!r}; podium has not been checked against "
            "other revisions (older ones are retired or unchecked, beta .pre ones change)"
        )
        return DEFAULT_REVISION
    return str(text)


def _base_url(value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        problems.append(f"base_url: expected an http:// or https:// URL, got {value!r}")
        return DEFAULT_BASE_URL
    return value.rstrip("/")


def _limits(value: Any, problems: list[str]) -> dict[str, Limit]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(
            f"rate_limits: expected a mapping of endpoint: {{burst, steady}}, got {value!r}"
        )
        return {}
    limits = {}
    for endpoint, spec in value.items():
        where = f"rate_limits.{endpoint}"
        if endpoint not in ENDPOINTS and endpoint not in WRITE_ENDPOINTS:
            known = ", ".join([*ENDPOINTS, *WRITE_ENDPOINTS])
            problems.append(f"{where}: unknown endpoint; expected one of {known}")
            continue
        burst = spec.get("burst") if isinstance(spec, Mapping) else None
        steady = spec.get("steady") if isinstance(spec, Mapping) else None
        if not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in (burst, steady)
        ):
            problems.append(
                f"{where}: expected {{burst: requests per second, steady: requests per "
                f"minute}}, both integers >= 1, got {spec!r}"
            )
            continue
        limits[str(endpoint)] = Limit(int(burst), int(steady))  # type: ignore[arg-type]
    return limits
