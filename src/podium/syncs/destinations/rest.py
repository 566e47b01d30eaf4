"""The ``rest`` destination: records sent to any JSON API, one request per record or batch.

.. code-block:: yaml

    connections:
      crm:                             # a rest connection (podium.connectors.sources.rest):
        type: rest                     # base_url, headers (auth), rate_limit, timeout and
        base_url: https://crm.example  # retries; streams only if it is also read
        headers: {Authorization: "Bearer ${CRM_TOKEN}"}
    syncs:
      customers_to_crm:
        from: marts.customers
        to: crm
        object: records
        key: customer_id
        mode: mirror
        path: /customers/{key}         # {key}: the record's key, URL-encoded
        method: PUT                    # for adds and updates: POST (default), PUT, PATCH
        delete: DELETE /customers/{key}   # removals (mirror needs it); {remote_id} too
        batch: 1                       # > 1: that many records as one JSON array body
        id_field: id                   # the answer's id for the record, kept as remote_id
        fields: {email: email, traits.ltv: ltv}

Answers: 2xx → landed; 4xx (not 429) → the records are rejected with the server's
message (and retried next run); 401 and 403 fail the batch (check the headers); 429 and
5xx are retried by the connection's ``HttpClient`` with backoff (``Retry-After`` honoured),
and exhausting the retries fails the batch, retryably. A lost answer is retried too, so
the endpoint must take a resend of the same record safely: a PUT to the key's path or an
upsert by key, not a POST that creates a row per request (see design-and-limitations).
A removal answered 404 has nothing left to remove and lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from podium.connectors.http import HttpClient, HttpResponse, HttpRetry
from podium.connectors.pagination import read_path
from podium.connectors.ratelimit import Observed, RateLimiter
from podium.connectors.registry import own_settings
from podium.connectors.sources.rest import rest_limiter
from podium.connectors.sources.rest_config import parse_rest_settings
from podium.errors import TerminalTaskError
from podium.settings.describe import Option, Settings
from podium.syncs.destination import DestinationObject, SyncTarget, WriterEnv, nest
from podium.syncs.destinations.payload import json_value
from podium.syncs.diff import Mode
from podium.syncs.plan import Change
from podium.syncs.state import Op, Outcome

METHODS = ("POST", "PUT", "PATCH")
DELETE_METHODS = ("DELETE", "POST", "PUT", "PATCH")
_PLACEHOLDERS = ("{key}", "{remote_id}")
_REFUSED = frozenset(range(400, 500)) - {401, 403, 407, 408, 429}  # answers, not failures
_MESSAGE_KEYS = ("message", "error", "errors", "detail", "title", "error_description")

OPTIONS = Settings(
    (
        Option("path", {"type": "string", "pattern": "^/"},
               "where records go, under base_url: /customers or /customers/{key}",
               required=True),
        Option("method", {"type": "string", "enum": list(METHODS)},
               "for adds and updates (default POST)"),
        Option("delete", {"type": "string", "pattern": f"^({'|'.join(DELETE_METHODS)}) /"},
               "the request that removes a record, e.g. DELETE /customers/{key} (mirror)"),
        Option("batch", {"type": "integer", "minimum": 1},
               "records per request, as one JSON array body (default 1: one object)"),
        Option("id_field", {"type": "string"},
               "the dotted path of the record's id in the answer, kept to remove it later"),
    )
)  # fmt: skip


def check_records(fields: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    """The options' shapes, and the placeholders a path may use."""
    problems = OPTIONS.problems(options)
    path, delete = str(options.get("path", "")), str(options.get("delete", ""))
    batch = options.get("batch", 1)
    if isinstance(batch, int) and batch > 1 and "{" in path:
        problems.append("path: a batch of records goes to one path; remove {key} or set batch: 1")
    if "{remote_id}" in path:
        problems.append("path: {remote_id} is known only for removals; use {key}")
    for name, text in (("path", path), ("delete", delete)):
        rest = text
        for placeholder in _PLACEHOLDERS:
            rest = rest.replace(placeholder, "")
        if "{" in rest or "}" in rest:
            problems.append(f"{name}: the only placeholders are {{key}} and {{remote_id}}")
    if not fields:
        problems.append("fields: map at least one source column to a body field")
    return problems


RECORDS = DestinationObject(
    name="records",
    doc="one JSON object per record (or a JSON array of batch records) to path",
    modes=frozenset(Mode),
    options=OPTIONS,
    check=check_records,
)


@dataclass(frozen=True)
class Endpoint:
    """What one sync sends: ``path``/``method`` for records, ``delete`` for removals."""

    path: str
    method: str = "POST"
    delete: tuple[str, str] | None = None
    batch: int = 1
    id_field: str | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Endpoint:
        delete = str(options["delete"]).split(" ", 1) if options.get("delete") else None
        return cls(
            path=str(options["path"]),
            method=str(options.get("method", "POST")),
            delete=(delete[0], delete[1].strip()) if delete else None,
            batch=int(options.get("batch", 1)),
            id_field=options.get("id_field"),
        )


class RestDestination:
    """``sleep`` waits out backoffs and the connection's rate limit (tests pass their own)."""

    objects = {"records": RECORDS}

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        """A rest connection is also a source: its own check covers what syncs use."""
        return []

    def open(
        self, connection: str, settings: Mapping[str, Any], target: SyncTarget, env: WriterEnv
    ) -> RestWriter:
        config, problems = parse_rest_settings(own_settings(settings))
        problems += check_records(dict.fromkeys(target.fields, ""), target.options)
        if target.mode is Mode.MIRROR and not target.options.get("delete"):
            problems.append("delete: mirror removes records: say how (DELETE /path/{key})")
        if config is None or problems:
            raise TerminalTaskError(
                f"sync {target.sync}: connection {connection!r} cannot take records: "
                f"{'; '.join(problems)}; fix podium.yaml"
            )
        limiter = Counted(rest_limiter(connection, config.rate_limit, self.sleep), env)
        client = HttpClient(
            config.base_url,
            headers=config.headers,
            secrets=env.secrets,
            timeout=config.timeout,
            retry=HttpRetry(attempts=config.retries + 1),
            limiter=limiter,
            name=connection,
            logger=env.log,
            sleep=self.sleep,
            accept=_REFUSED,
        )
        return RestWriter(client, Endpoint.of(target.options))


class Counted:
    """The connection's limiter (if any), counting each attempt in the run's counters."""

    def __init__(self, inner: RateLimiter | None, env: WriterEnv) -> None:
        self.inner, self.env = inner, env

    def acquire(self) -> None:
        self.env.count("requests")
        if self.inner is not None:
            self.inner.acquire()

    def observe(self, response: Observed) -> None:
        if response.status == 429:
            self.env.count("throttled")
        elif response.status >= 500:
            self.env.count("retries")
        if self.inner is not None:
            self.inner.observe(response)


class RestWriter:
    def __init__(self, client: HttpClient, endpoint: Endpoint) -> None:
        self.client, self.endpoint = client, endpoint
        self.batch_size = endpoint.batch

    def send(self, changes: Sequence[Change]) -> list[Outcome]:
        if not changes:
            return []
        if changes[0].op is Op.REMOVE:
            return [self._remove(c) for c in changes]
        if self.endpoint.batch == 1:
            return [self._put(c) for c in changes]
        return self._put_many(changes)

    def close(self) -> None:
        self.client.close()

    def _put(self, change: Change) -> Outcome:
        path = _fill(self.endpoint.path, change)
        answer = self.client.request(self.endpoint.method, path, json=_body(change))
        if answer.status >= 400:
            return _outcome(change, False, self._refusal(answer))
        return _outcome(change, True, None, self._id(_parsed(answer)))

    def _put_many(self, changes: Sequence[Change]) -> list[Outcome]:
        body = [_body(c) for c in changes]
        answer = self.client.request(self.endpoint.method, self.endpoint.path, json=body)
        if answer.status >= 400:
            reason = self._refusal(answer)
            return [_outcome(c, False, reason) for c in changes]
        items = _parsed(answer)
        ids = items if isinstance(items, list) and len(items) == len(changes) else []
        return [
            _outcome(c, True, None, self._id(ids[n] if ids else None))
            for n, c in enumerate(changes)
        ]

    def _remove(self, change: Change) -> Outcome:
        assert self.endpoint.delete is not None  # open() refuses mirror without delete
        method, path = self.endpoint.delete
        if "{remote_id}" in path and change.remote_id is None:
            why = "no id was recorded for it, and delete names {remote_id}; remove it by hand"
            return _outcome(change, False, why)
        answer = self.client.request(method, _fill(path, change))
        if answer.status >= 400 and answer.status != 404:
            return _outcome(change, False, self._refusal(answer))
        return _outcome(change, True, None, change.remote_id)

    def _id(self, item: Any) -> str | None:
        if self.endpoint.id_field is None or not isinstance(item, dict):
            return None
        found = read_path(item, self.endpoint.id_field)
        return None if found is None or isinstance(found, dict | list) else str(found)

    def _refusal(self, answer: HttpResponse) -> str:
        return self.client.mask(f"the API answered {answer.status}: {_message(answer.content)}")


def _fill(path: str, change: Change) -> str:
    return path.replace("{key}", quote(change.key, safe="")).replace(
        "{remote_id}", quote(change.remote_id or "", safe="")
    )


def _body(change: Change) -> dict[str, Any]:
    return nest({name: json_value(value) for name, value in change.values.items()})


def _parsed(answer: HttpResponse) -> Any:
    try:
        return orjson.loads(answer.content) if answer.content else None
    except orjson.JSONDecodeError:
        return None  # landed all the same: only the id is unknown


def _message(content: bytes) -> str:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content[:200].decode("utf-8", "replace").strip() or "(no message)"
    if isinstance(body, dict):
        for key in _MESSAGE_KEYS:
            if body.get(key):
                value = body[key]
                return value if isinstance(value, str) else orjson.dumps(value).decode()[:200]
    return orjson.dumps(body).decode()[:200]


def _outcome(
    change: Change, landed: bool, reason: str | None, remote_id: str | None = None
) -> Outcome:
    return Outcome(change.key, change.op, change.hash, landed, reason, remote_id)


DESTINATION = RestDestination()
