"""The 3PL's order endpoints, each retried only as far as it is safe to.

    find(reference_ids)   GET /order?ReferenceIds=a,b&Limit=250, every page
    create(key, body)     POST /order, exactly once per reference id (below)
    cancel(order_id)      POST /order/{id}:cancel (``/{id}/cancel`` in 1.0 and 2.0)

The ``HttpClient`` underneath tries each request once (``attempts=1``) and hands back
every status: its own retry would resend a create blindly. Here:

    429                   not processed: wait (the limiter holds every writer of the
                          connection for ``x-retry-after``) and send again
    5xx, a lost answer    a GET or a cancel (cancelling twice is cancelling once) is sent
    (timeout, reset, a    again after a backoff; a create may have committed, so after the
    truncated body)       backoff the reference id is looked up, and only when no order
                          holds it is the create sent again
    422 on a create       ShipBob's "Duplicate reference ID": looked up, that order is ours
    400                   the 3PL's field messages: the record is refused
    401, 403              the token or channel is wrong: the batch fails, terminally

Every request is counted in ``env.counters`` (``requests``, ``throttled``, ``retries``,
``lookups``); messages pass through the client's mask, so the token never shows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.connectors.http import HttpClient, HttpResponse, HttpRetry
from podium.errors import TerminalTaskError, TransientTaskError
from podium.syncs.destination import WriterEnv
from podium.syncs.destinations.threepl_config import ThreePLConfig
from podium.syncs.run import SyncCancelled

MAX_THROTTLED = 50  # 429s in a row for one request before the batch fails (retryable)
PAGE = 250  # ShipBob's largest Get Orders ``Limit``
Json = dict[str, Any]


@dataclass(frozen=True)
class Lost:
    """A request whose answer never arrived whole: it may or may not have been done."""

    reason: str


@dataclass(frozen=True)
class Placed:
    order_id: str


@dataclass(frozen=True)
class Refused:
    reason: str


class OrderApi:
    def __init__(
        self,
        client: HttpClient,
        config: ThreePLConfig,
        env: WriterEnv,
        *,
        connection: str,
        sleep: Callable[[float], None],
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.client, self.config, self.env = client, config, env
        self.connection, self._sleep, self._rand = connection, sleep, rand
        self._backoff = HttpRetry(attempts=config.retries + 1)

    # -- the three calls -----------------------------------------------------------------
    def find(self, reference_ids: Sequence[str]) -> dict[str, list[Json]]:
        """The orders holding each of ``reference_ids`` (absent: none), oldest first."""
        found: dict[str, list[Json]] = {}
        wanted = ",".join(reference_ids)
        page, pages = 1, 1
        while page <= pages:
            params = {"ReferenceIds": wanted, "Limit": str(PAGE), "Page": str(page)}
            self.env.count("lookups")
            response = self._safe("GET", "/order", params=params)
            for order in _orders(response):
                found.setdefault(str(order.get("reference_id")), []).append(order)
            pages = _whole(response.headers.get("total-pages"), 1)
            page += 1
        for orders in found.values():
            orders.sort(key=lambda o: _whole(str(o.get("id")), 0))
        return found

    def create(self, key: str, body: Json) -> Placed | Refused:
        """Creates the order ``body`` (reference id ``key``) unless one holds it already."""
        for attempt in range(1, self.config.retries + 2):
            answer = self._exchange("POST", "/order", json=body)
            if not isinstance(answer, Lost):
                placed = _placed(answer)
                if placed is not None:
                    return placed
                if answer.status == 422:
                    return self._holder(key) or Refused(_message(answer))
                if 400 <= answer.status < 500:
                    return Refused(self._refusal(answer))
            self._wait(attempt, "POST /order", answer)
            held = self._holder(key)
            if held is not None:
                return held
        raise self._gave_up("POST /order", key)

    def cancel(self, order_id: str) -> tuple[bool, str | None]:
        """Whether order ``order_id`` is cancelled now, and why not when it is not."""
        path = f"/order/{order_id}:cancel" if self.config.dated else f"/order/{order_id}/cancel"
        answer = self._safe("POST", path)
        if answer.status == 404:
            return True, None  # no such order: nothing left to cancel
        if answer.status >= 400:
            return False, self._refusal(answer)
        body = answer.json()
        results = body.get("canceled_shipment_results") or [] if isinstance(body, dict) else []
        if any(isinstance(r, dict) and r.get("is_success") for r in results):
            return True, None
        reasons = [str(r.get("reason")) for r in results if isinstance(r, dict) and r.get("reason")]
        why = "; ".join(reasons) or "the 3PL did not say why"
        return False, f"the 3PL did not cancel order {order_id}: {why}"

    # -- sending -------------------------------------------------------------------------
    def _holder(self, key: str) -> Placed | None:
        orders = self.find([key]).get(key)
        return Placed(str(orders[0]["id"])) if orders else None

    def _safe(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """A request that may be sent again: retried after a 5xx or a lost answer."""
        for attempt in range(1, self.config.retries + 2):
            answer = self._exchange(method, path, params=params)
            if not isinstance(answer, Lost) and answer.status < 500:
                if answer.status >= 400 or _parses(answer):
                    return answer
                answer = Lost(f"a truncated or garbled body ({len(answer.content)} bytes)")
            self._wait(attempt, f"{method} {path}", answer)
        raise self._gave_up(f"{method} {path}", None)

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> HttpResponse | Lost:
        """One answer that is not a 429 (those are waited out), or ``Lost``."""
        for _ in range(MAX_THROTTLED):
            if self.env.cancelled.is_set():
                raise SyncCancelled(
                    f"connection {self.connection!r}: the attempt was cancelled mid-batch;"
                    " nothing of the batch is recorded, and a resend looks orders up first"
                )
            self.env.count("requests")
            try:
                answer = self.client.request(method, path, params=params, json=json)
            except TransientTaskError as exc:
                return Lost(str(exc))
            if answer.status != 429:
                if answer.status in (401, 403):
                    raise self._denied(method, path, answer)
                return answer
            self.env.count("throttled")
        raise TransientTaskError(
            f"connection {self.connection!r}: {method} {path} was throttled (429) "
            f"{MAX_THROTTLED} times in a row; the task's retries will try again later"
        )

    def _wait(self, attempt: int, what: str, answer: HttpResponse | Lost) -> None:
        if attempt > self.config.retries:
            return
        self.env.count("retries")
        wait = self._backoff.backoff_for(attempt, self._rand())
        why = answer.reason if isinstance(answer, Lost) else f"answered {answer.status}"
        if self.env.log is not None:
            self.env.log.warning(
                self.client.mask(
                    f"connection {self.connection!r}: {what}: {why}; retry {attempt}/"
                    f"{self.config.retries} in {wait:.2f}s"
                )
            )
        self._sleep(wait)

    # -- messages ------------------------------------------------------------------------
    def _refusal(self, answer: HttpResponse) -> str:
        return self.client.mask(f"the 3PL answered {answer.status}: {_message(answer)}")

    def _denied(self, method: str, path: str, answer: HttpResponse) -> TerminalTaskError:
        return TerminalTaskError(
            self.client.mask(
                f"connection {self.connection!r}: {method} {path} answered {answer.status}: "
                f"{_message(answer)}; check the token (and channel_id) of connection "
                f"{self.connection!r}"
            )
        )

    def _gave_up(self, what: str, key: str | None) -> TransientTaskError:
        record = f" for reference id {key}" if key else ""
        return TransientTaskError(
            f"connection {self.connection!r}: {what}{record} failed after "
            f"{self.config.retries + 1} tries (5xx or lost answers); nothing of this batch is"
            " recorded, and the next attempt looks each order up before creating it"
        )


def _placed(answer: HttpResponse) -> Placed | None:
    if not 200 <= answer.status < 300 or not _parses(answer):
        return None
    body = answer.json()
    return Placed(str(body["id"])) if isinstance(body, dict) and "id" in body else None


def _parses(answer: HttpResponse) -> bool:
    try:
        answer.json()
    except TransientTaskError:
        return False
    return True


def _orders(response: HttpResponse) -> list[Json]:
    body = response.json() if response.status < 400 else []
    return [o for o in body if isinstance(o, dict)] if isinstance(body, list) else []


def _message(answer: HttpResponse) -> str:
    """ShipBob's error text: ``{"statusCode", "message"}`` or a 400's map of field name to
    messages (``recipient.address: The address field is required.``)."""
    try:
        body = answer.json()
    except TransientTaskError:
        return answer.content[:200].decode("utf-8", "replace")
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, dict):
        return "; ".join(f"{field}: {_text(messages)}" for field, messages in body.items())
    return str(body)[:200]


def _text(messages: Any) -> str:
    if isinstance(messages, list):
        return " ".join(str(m) for m in messages)
    return str(messages)


def _whole(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isdigit() else default
