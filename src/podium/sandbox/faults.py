"""Faults a sandbox server injects, decided per request number (or by a seeded RNG).

``When`` says which requests (numbered from 1) a fault hits; ``Faults`` holds one ``When``
per fault class and its knobs; ``FaultPlan`` turns them into a decision per request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson

_REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}


@dataclass(frozen=True)
class When:
    """Which requests (numbered from 1) a fault hits: listed numbers, every ``period``-th,
    or each with ``probability`` drawn from the server's seeded RNG."""

    numbers: frozenset[int] = frozenset()
    period: int = 0
    probability: float = 0.0

    @classmethod
    def at(cls, *numbers: int) -> When:
        return cls(numbers=frozenset(numbers))

    @classmethod
    def every(cls, period: int) -> When:
        return cls(period=period)

    @classmethod
    def chance(cls, probability: float) -> When:
        return cls(probability=probability)

    def hits(self, number: int, rng: random.Random) -> bool:
        if number in self.numbers or (self.period > 0 and number % self.period == 0):
            return True
        return self.probability > 0 and rng.random() < self.probability


NEVER = When()
ALWAYS = When(period=1)


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and when. A throttle or error hit starts a burst: that request and
    the next ``*_burst - 1`` get the same treatment before the plan is consulted again.
    ``error_statuses`` cycle across error answers; ``retry_after`` may be fractional so
    tests stay fast."""

    throttle: When = NEVER
    throttle_burst: int = 1  # requests answered 429 from each throttle hit
    retry_after: float = 1.0  # seconds sent in Retry-After (fractions allowed)
    errors: When = NEVER
    error_burst: int = 1
    error_statuses: tuple[int, ...] = (500, 502, 503)
    reset: When = NEVER
    truncate: When = NEVER
    slow: When = NEVER
    slow_seconds: float = 1.0
    status: int | None = None  # a fixed code (401/403/404) answered on ``status_when``
    status_when: When = ALWAYS
    seed: int = 0


@dataclass
class Answer:
    """A response decided before it is written."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class FaultPlan:
    """Decides each request's fault; callers hold the server's lock."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.throttle_left = 0
        self.error_left = 0
        self.error_count = 0

    def decide(self, number: int) -> Answer | str | None:
        """An error to answer instead, ``"reset"``/``"truncate"`` to spoil the real answer,
        or None to answer normally."""
        f = self.faults
        if f.status is not None and f.status_when.hits(number, self.rng):
            return error_answer(f.status, _REASONS.get(f.status, "Error"))
        if self.throttle_left > 0 or f.throttle.hits(number, self.rng):
            self.throttle_left = (self.throttle_left or f.throttle_burst) - 1
            answer = error_answer(429, "Exceeded call limit. Reduce request rates.")
            answer.headers["Retry-After"] = f"{f.retry_after:g}"
            return answer
        if self.error_left > 0 or f.errors.hits(number, self.rng):
            self.error_left = (self.error_left or f.error_burst) - 1
            self.error_count += 1
            code = f.error_statuses[(self.error_count - 1) % len(f.error_statuses)]
            return error_answer(code, "Internal error, please retry")
        if f.reset.hits(number, self.rng):
            return "reset"
        if f.truncate.hits(number, self.rng):
            return "truncate"
        return None


def error_answer(status: int, message: str) -> Answer:
    return Answer(status, orjson.dumps({"errors": message}))
