"""The Klaviyo write requests a sync makes, each endpoint paced at its own published limit.

    import_profile(resource)        POST /api/profile-import (409 → PATCH the holder, §1.3)
    submit_job(resources, list_id)  POST /api/profile-bulk-import-jobs
    job(id)                         GET  /api/profile-bulk-import-jobs/{id}
    job_errors(id)                  GET  …/{id}/import-errors, every page (100 a page)
    list_id(name_or_id)             GET  /api/lists?filter=equals(name|id,"…")
    profile_ids(field, values)      GET  /api/profiles?filter=any(field,[…]) (100 a request)
    remove_members(list_id, ids)    DELETE /api/lists/{id}/relationships/profiles (≤ 1,000)

Each operation has its own ``HttpClient`` (Klaviyo budgets every endpoint separately) paced
at the endpoint's limit (``endpoints.WRITE_ENDPOINTS``, or the connection's ``rate_limits``
override) by a limiter shared by every sync on the connection in this process: for an
endpoint the source reads too, the source's ``WindowPacer`` (``pacing.py``); for one only written,
``SlidingWindows`` over both of Klaviyo's windows, which lets a batch's ten job creates (or
polls) go out in one burst. The client retries 429 (after ``Retry-After`` when given, else backing off), 5xx,
resets and truncated bodies within the attempt; a 4xx that is about one record (400, 404,
409, 413, 422) comes back as a ``Rejection`` with Klaviyo's detail and field, and any other
(401, 403) fails the batch at once naming the connection's key. Every request, 429 and
retry is counted in the writer's counters (``requests``, ``throttled``, ``retries``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from podium.connectors.http import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    HttpRetry,
    UnparsableBodyError,
)
from podium.connectors.ratelimit import Observed, RateLimiter, shared_limiter
from podium.connectors.sources.klaviyo.config import JSON_API, KlaviyoConfig
from podium.connectors.sources.klaviyo.endpoints import ENDPOINTS, write_limit
from podium.connectors.sources.klaviyo.pacing import window_pacer
from podium.errors import TerminalTaskError
from podium.syncs.destination import WriterEnv
from podium.syncs.destinations.pacing import SlidingWindows

RECORD_STATUSES = (400, 404, 409, 413, 422)  # answers about the record sent, not the call
PAGE = 100  # import-errors and profile lookups: Klaviyo's largest page
REMOVE_MOST = 1000  # profile ids per list-relationship request
_LIST_ID = re.compile(r"[A-Za-z0-9]{6}")

# operation → (the limit it spends, as rate_limits names it; method; path template)
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "profile_import": ("profile_import", "POST", "/api/profile-import/"),
    "update_profile": ("profile_import", "PATCH", "/api/profiles/{}/"),
    "submit_job": ("profile_bulk_import_jobs", "POST", "/api/profile-bulk-import-jobs/"),
    "job": ("profile_bulk_import_jobs", "GET", "/api/profile-bulk-import-jobs/{}/"),
    "job_errors": ("profile_bulk_import_jobs", "GET",
                   "/api/profile-bulk-import-jobs/{}/import-errors/"),
    "remove_members": ("list_relationships", "DELETE", "/api/lists/{}/relationships/profiles/"),
    "lists": ("lists", "GET", "/api/lists/"),
    "profiles": ("profiles", "GET", "/api/profiles/"),
}  # fmt: skip


@dataclass(frozen=True)
class Rejection:
    """Klaviyo refused one record: its reason (detail, code and field) and, for a 409
    ``duplicate_profile``, the id of the profile already holding an identifier."""

    reason: str
    holder: str | None = None


class _Counted:
    """A limiter that counts, in the writer's counters, each attempt and each 429."""

    def __init__(self, inner: RateLimiter, env: WriterEnv) -> None:
        self.inner, self.env = inner, env

    def acquire(self) -> None:
        self.env.count("requests")
        self.inner.acquire()

    def observe(self, response: Observed) -> None:
        if response.status == 429:
            self.env.count("throttled")
        self.inner.observe(response)


class KlaviyoWriteApi:
    """The requests above for connection ``name``; ``windows`` (Klaviyo's burst and steady
    windows, in seconds) and ``sleep`` are for tests, which shrink and record them."""

    def __init__(
        self,
        name: str,
        config: KlaviyoConfig,
        env: WriterEnv,
        *,
        sleep: Callable[[float], None] = time.sleep,
        windows: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.name, self.config, self.env = name, config, env
        self._sleep, self._windows = sleep, windows
        self._clients: dict[str, HttpClient] = {}

    # -- profiles ----------------------------------------------------------------------
    def import_profile(self, resource: Mapping[str, Any]) -> str | Rejection:
        """The profile's id once upserted (201 created, 200 updated), or the rejection."""
        answer = self._send("profile_import", json={"data": resource})
        if not isinstance(answer, Rejection):
            return str(answer["data"]["id"])
        if answer.holder is None:
            return answer
        # 409 duplicate_profile: PATCH the holder by id (reverse-etl-apis.md §1.3, §1.8)
        patch = {"data": {**resource, "id": answer.holder}}
        patched = self._send("update_profile", answer.holder, json=patch)
        if isinstance(patched, Rejection):
            return Rejection(
                f"{answer.reason}; updating that profile ({answer.holder}) by id was refused"
                f" too: {patched.reason}. Its identifiers belong to different Klaviyo"
                " profiles: merge them in Klaviyo or correct the model"
            )
        return str(patched["data"]["id"])

    def profile_ids(self, field: str, values: Sequence[str]) -> dict[str, str]:
        """value → profile id for the profiles whose ``field`` is one of ``values``."""
        found: dict[str, str] = {}
        for start in range(0, len(values), PAGE):
            chunk = values[start : start + PAGE]
            quoted = ",".join(_quoted(v) for v in chunk)
            params = {"filter": f"any({field},[{quoted}])", "page[size]": str(PAGE)}
            for item in self._pages("profiles", params):
                value = (item.get("attributes") or {}).get(field)
                if value is not None:
                    found[str(value)] = str(item["id"])
        return found

    # -- bulk import jobs ----------------------------------------------------------------
    def submit_job(self, resources: Sequence[Mapping[str, Any]], list_id: str | None) -> str:
        """The id of a new bulk import job upserting ``resources`` (joining ``list_id``)."""
        data: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": list(resources)}},
        }
        if list_id is not None:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
        answer = self._send("submit_job", json={"data": data})
        if isinstance(answer, Rejection):
            raise TerminalTaskError(
                f"connection {self.name!r}: Klaviyo refused a bulk profile import job:"
                f" {answer.reason}; check the sync's fields and list"
            )
        return str(answer["data"]["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        """The job's attributes (``status``, ``failed_count`` …)."""
        answer = self._send("job", job_id)
        if isinstance(answer, Rejection):
            raise TerminalTaskError(
                f"connection {self.name!r}: bulk import job {job_id} vanished: {answer.reason}"
            )
        attributes: dict[str, Any] = answer["data"]["attributes"]
        return attributes

    def job_errors(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Each import error's attributes (``detail``, ``original_payload`` …)."""
        for item in self._pages("job_errors", {"page[size]": str(PAGE)}, job_id):
            yield item.get("attributes") or {}

    # -- lists ---------------------------------------------------------------------------
    def list_id(self, wanted: str) -> str | None:
        """The id of the list named ``wanted`` or with id ``wanted``; None when neither.
        What looks like an id (six letters and digits) is tried as one first: one request
        either way when the guess is right."""
        fields = ("id", "name") if _LIST_ID.fullmatch(wanted) else ("name", "id")
        for field in fields:
            params = {"filter": f"equals({field},{_quoted(wanted)})"}
            for item in self._pages("lists", params):
                return str(item["id"])
        return None

    def remove_members(self, list_id: str, profile_ids: Sequence[str]) -> None:
        for start in range(0, len(profile_ids), REMOVE_MOST):
            chunk = profile_ids[start : start + REMOVE_MOST]
            body = {"data": [{"type": "profile", "id": pid} for pid in chunk]}
            answer = self._send("remove_members", list_id, json=body, parse=False)
            if isinstance(answer, Rejection):
                raise TerminalTaskError(
                    f"connection {self.name!r}: Klaviyo refused removing {len(chunk)} profiles"
                    f" from list {list_id}: {answer.reason}"
                )

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- sending -------------------------------------------------------------------------
    def _pages(self, op: str, params: Mapping[str, str], *ids: str) -> Iterator[dict[str, Any]]:
        request: HttpRequest | None = HttpRequest("GET", _path(op, ids), params)
        while request is not None:
            response = self._call(op, request, parse=True)
            if response.status in RECORD_STATUSES:
                refused = _rejection(response, self._client(op).mask)
                raise TerminalTaskError(
                    f"connection {self.name!r}: Klaviyo refused GET {response.url}:"
                    f" {refused.reason}; check the connection's revision and the sync's options"
                )
            body = self._json(response)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise TerminalTaskError(
                    f"connection {self.name!r}: {request.url} answered without a JSON:API"
                    " data list; check base_url (is it Klaviyo's API?)"
                )
            yield from body["data"]
            following = (body.get("links") or {}).get("next")
            request = HttpRequest("GET", str(following)) if following else None

    def _send(
        self, op: str, *ids: str, json: Any = None, parse: bool = True
    ) -> dict[str, Any] | Rejection:
        method, path = OPERATIONS[op][1], _path(op, ids)
        response = self._call(op, HttpRequest(method, path, None, json), parse=parse)
        if response.status in RECORD_STATUSES:
            return _rejection(response, self._client(op).mask)
        if not parse:
            return {}
        body = self._json(response)
        return body if isinstance(body, dict) else {}

    def _call(self, op: str, request: HttpRequest, *, parse: bool) -> HttpResponse:
        before = self.env.counters.get("requests", 0)
        try:
            return self._client(op).send(
                request, headers={"content-type": JSON_API} if request.json else None,
                parse_json=parse,
            )  # fmt: skip
        finally:
            extra = self.env.counters.get("requests", 0) - before - 1
            if extra > 0:
                self.env.count("retries", extra)

    def _json(self, response: HttpResponse) -> Any:
        return response.json() if response.content else {}

    def _client(self, op: str) -> HttpClient:
        client = self._clients.get(op)
        if client is None:
            limit_name = OPERATIONS[op][0]
            limit = self.config.limits.get(limit_name) or (
                ENDPOINTS[limit_name].limit
                if limit_name in ENDPOINTS
                else write_limit(limit_name, self.config.revision)
            )
            if limit_name in ENDPOINTS:
                # the source's pacer for an endpoint it reads too: an extract and a sync
                # share it, whichever makes it first
                key = f"klaviyo:{self.name}:{ENDPOINTS[limit_name].path}:{limit}:{self._windows}"
                factory: Callable[[], RateLimiter] = partial(
                    window_pacer, limit, self._windows, sleep=self._sleep
                )
            else:
                # written only: both of Klaviyo's windows kept exactly (pacing.py), so a
                # batch's jobs are created, and polled, in one burst
                key = f"klaviyo-write:{self.name}:{op}:{limit}:{self._windows}"
                short, long = self._windows
                factory = partial(
                    SlidingWindows,
                    ((limit.burst, short), (limit.steady, long)),
                    sleep=self._sleep,
                )
            limiter = shared_limiter(key, factory)
            client = self._clients[op] = HttpClient(
                self.config.base_url,
                headers=self.config.headers(),
                secrets=(*self.env.secrets, self.config.api_key),
                timeout=self.config.timeout,
                retry=HttpRetry(attempts=self.config.retries + 1),
                limiter=_Counted(limiter, self.env),
                name=self.name,
                logger=self.env.log,
                sleep=self._sleep,
                accept=RECORD_STATUSES,
            )
        return client


def _path(op: str, ids: Sequence[str]) -> str:
    return OPERATIONS[op][2].format(*ids)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rejection(response: HttpResponse, mask: Callable[[str], str]) -> Rejection:
    """Klaviyo's first error as a reason: ``Klaviyo: detail [code at field]``."""
    try:
        body = response.json()
    except UnparsableBodyError:  # a 4xx whose body is not JSON: its status is the reason
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    holder = (first.get("meta") or {}).get("duplicate_profile_id")
    code = first.get("code") or str(response.status)
    detail = first.get("detail") or first.get("title") or f"HTTP {response.status}"
    field = field_of(((first.get("source") or {}).get("pointer")) or "")
    where = f" at {field}" if field else ""
    reason = f"Klaviyo: {detail} [{code}{where}]"
    duplicate = response.status == 409 and code == "duplicate_profile"
    return Rejection(mask(reason), str(holder) if duplicate and holder else None)


def field_of(pointer: str) -> str:
    """``/data/attributes/profiles/data/3/attributes/email`` → ``email``."""
    head, found, tail = pointer.rpartition("/attributes/")
    return tail if found else ""
