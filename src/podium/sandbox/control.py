"""The sandbox's own endpoints, under ``/_sandbox``: its clock and its ground truth.

    GET  /_sandbox/clock                  {"now": "2026-10-31T00:00:00+00:00"}
    POST /_sandbox/clock/advance?hours=6  moves the simulated clock (minutes=, hours=, days=)
    GET  /_sandbox/truth[?channel=dtc]    DayTruth per day and channel as of now
         [&priced_only=1]                 (leaving out orders shown without prices)
    GET  /_sandbox/truth/<api>            that simulator's per-stream truth (``<api>_truth``)
                                          (a destination's, e.g. threepl: what it holds)
    GET  /_sandbox/truth/<api>-writes     what a source that accepts writes holds
                                          (shopify-writes: customers' tags, metafields)
    GET  /_sandbox/violations             rate-limit violations counted per API
    POST /_sandbox/webhooks/<api>         body {"url": …, "secret": …}: that simulator
                                          (shopify, klaviyo) signs and delivers webhooks
                                          for every change since its last delivery

These let a user, a test or the demo drive the simulators from outside the process that
runs them (``podium sandbox start``) and reconcile a warehouse to the cent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson

from podium.sandbox.brand import Brand, Channel, truth
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer, error_answer
from podium.sandbox.paging import Request

TruthFunction = Callable[[Brand, Any], Mapping[str, Any]]
Deliver = Callable[[str, str], int]  # (url, secret) → deliveries made


class SandboxControl:
    """Answers ``/_sandbox/…``; ``truths`` maps an API name to its truth function and
    ``violations`` reports each API's count (the server's, read when asked)."""

    def __init__(
        self,
        brand: Brand,
        clock: SimClock,
        truths: Mapping[str, TruthFunction],
        violations: Callable[[], Mapping[str, int]] = dict,
        deliverers: Mapping[str, Deliver] | None = None,
    ) -> None:
        self.brand, self.clock, self.truths, self._violations = brand, clock, truths, violations
        self.deliverers = dict(deliverers or {})

    def answer(self, request: Request) -> Answer:
        path = request.path.rstrip("/")
        if path == "/clock" and request.method == "GET":
            return _json({"now": self.clock.now().isoformat()})
        if path == "/clock/advance" and request.method == "POST":
            return self._advance(request.params)
        if path == "/truth" and request.method == "GET":
            priced = request.params.get("priced_only", "") in ("1", "true")
            return self._truth(request.params.get("channel"), priced)
        if path.startswith("/truth/") and request.method == "GET":
            api = path.removeprefix("/truth/")
            if api not in self.truths:
                return error_answer(404, f"no truth for {api!r}; try {', '.join(self.truths)}")
            return _json(self.truths[api](self.brand, self.clock.now()))
        if path.startswith("/webhooks/") and request.method == "POST":
            return self._deliver(path.removeprefix("/webhooks/"), request.body)
        if path == "/violations" and request.method == "GET":
            return _json(dict(self._violations()))
        return error_answer(404, f"no sandbox endpoint {request.method} {path or '/'}")

    def _advance(self, params: Mapping[str, str]) -> Answer:
        try:
            delta = timedelta(
                minutes=float(params.get("minutes", 0)),
                hours=float(params.get("hours", 0)),
                days=float(params.get("days", 0)),
            )
            now = self.clock.advance(delta)
        except ValueError as exc:
            return error_answer(400, f"minutes/hours/days must be numbers >= 0 ({exc})")
        return _json({"now": now.isoformat()})

    def _deliver(self, api: str, body: bytes) -> Answer:
        if api not in self.deliverers:
            known = ", ".join(self.deliverers) or "none"
            return error_answer(404, f"{api!r} sends no webhooks here; these do: {known}")
        try:
            wanted = orjson.loads(body or b"{}")
            url, secret = str(wanted["url"]), str(wanted["secret"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return error_answer(400, 'send a JSON body {"url": "http://…", "secret": "…"}')
        return _json({"delivered": self.deliverers[api](url, secret)})

    def _truth(self, channel: str | None, priced_only: bool = False) -> Answer:
        if channel is not None and channel not in set(Channel):
            return error_answer(400, f"channel must be one of {', '.join(Channel)}")
        channels = [Channel(channel)] if channel else list(Channel)
        days = truth(self.brand, self.clock.now(), channels, priced_only=priced_only)
        return _json({"now": self.clock.now().isoformat(), "days": [d.to_json() for d in days]})


def _json(value: Any) -> Answer:
    return Answer(200, orjson.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
