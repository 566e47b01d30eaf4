"""Sending many Shopify mutations in few requests: aliases, cost pacing, counting.

A ``Call`` is one execution of one mutation (``tagsAdd`` of one customer, a
``metafieldsSet`` of up to 25 metafields). ``Mutations.run`` sends a list of them and
answers each one's ``userErrors``:

    up to ``ALIASES`` calls per request    ``c0: tagsAdd(…) c1: tagsAdd(…)``: Shopify
                                           charges 10 points per mutation field, so a
                                           request of 50 asks for 500 of the (smallest,
                                           Standard) bucket's 1,000 and stays within the
                                           single-query maximum of 1,000
    more than ``bulk_threshold`` calls     one bulk mutation (shopify_bulk.py)
    of one mutation

Requests go through the source's ``ShopifyGraphql`` on the connection's shared
``GraphqlCostLimit`` (reads and writes of one shop spend one budget): THROTTLED waits
for the points, INTERNAL_SERVER_ERROR backs off, 429/5xx and cut bodies are retried by
``HttpClient``. Every mutation podium sends here is idempotent (tagsAdd, tagsRemove,
metafieldsSet set a state, they do not append), so a retry after a lost or cut answer
cannot apply anything twice. ``CountingCostLimit`` counts each HTTP attempt for the
run's report: ``requests``, ``throttled`` and ``retries``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.connectors.ratelimit import Observed
from podium.connectors.sources.shopify.graphql import GraphqlCostLimit, ShopifyGraphql
from podium.syncs.destination import WriterEnv

ALIASES = 50  # mutation fields per request (500 points: see the module docstring)
_USER_ERRORS = "userErrors { field message }"
#: mutation → its arguments' GraphQL types and the payload selection podium reads
SIGNATURES: dict[str, tuple[dict[str, str], str]] = {
    "tagsAdd": ({"id": "ID!", "tags": "[String!]!"}, _USER_ERRORS),
    "tagsRemove": ({"id": "ID!", "tags": "[String!]!"}, _USER_ERRORS),
    "metafieldsSet": (
        {"metafields": "[MetafieldsSetInput!]!"},
        "userErrors { field message code elementIndex }",
    ),
}
_CUSTOMER = re.compile(r"^(?:gid://shopify/Customer/)?(\d+)$")
UserErrors = list[dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One execution of ``mutation`` with ``variables``, for the records ``keys``."""

    mutation: str
    variables: Mapping[str, Any]
    keys: tuple[str, ...]


def customer_gid(value: Any) -> str | None:
    """``544365967`` or ``gid://shopify/Customer/544365967`` → the GID; None otherwise."""
    match = _CUSTOMER.match(str(value).strip()) if value is not None else None
    return f"gid://shopify/Customer/{match.group(1)}" if match else None


def single_document(mutation: str) -> str:
    """The one-mutation document a bulk mutation runs for each line of variables."""
    arguments, selection = SIGNATURES[mutation]
    declared = ", ".join(f"${n}: {t}" for n, t in arguments.items())
    passed = ", ".join(f"{n}: ${n}" for n in arguments)
    return f"mutation({declared}) {{ {mutation}({passed}) {{ {selection} }} }}"


def aliased_document(calls: Sequence[Call]) -> tuple[str, dict[str, Any]]:
    """One document running every call under its own alias ``c0``, ``c1`` … and the
    variables, named ``c0_id``, ``c0_tags`` …"""
    declared, fields, variables = [], [], {}
    for i, call in enumerate(calls):
        arguments, selection = SIGNATURES[call.mutation]
        for name, kind in arguments.items():
            declared.append(f"$c{i}_{name}: {kind}")
            variables[f"c{i}_{name}"] = call.variables[name]
        passed = ", ".join(f"{n}: $c{i}_{n}" for n in arguments)
        fields.append(f"c{i}: {call.mutation}({passed}) {{ {selection} }}")
    return f"mutation({', '.join(declared)}) {{ {' '.join(fields)} }}", variables


class CountingCostLimit(GraphqlCostLimit):
    """The connection's shared ``GraphqlCostLimit``, counting each attempt it paces into
    the writer's counters; everything else is the shared limiter's."""

    def __init__(self, shared: GraphqlCostLimit, env: WriterEnv) -> None:
        super().__init__()
        self.shared, self.env = shared, env

    def expect(self, cost: float) -> None:
        self.shared.expect(cost)

    def acquire(self) -> None:
        self.env.count("requests")
        self.shared.acquire()

    def observe(self, response: Observed) -> None:
        if response.status == 429 or response.status >= 500:
            self.env.count("retries")
            self.env.count("throttled", int(response.status == 429))
        else:
            self._count_body(response)
        self.shared.observe(response)

    def _count_body(self, response: Observed) -> None:
        try:
            body = response.json()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a cut or garbled body: HttpClient fetches again
            self.env.count("retries")
            return
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = (errors[0].get("extensions") or {}).get("code")
            self.env.count("retries")
            self.env.count("throttled", int(code == "THROTTLED"))


class Mutations:
    """Runs calls for one writer (module docstring); ``bulk`` runs one mutation's calls
    as a bulk operation and answers each line's userErrors."""

    def __init__(
        self,
        graphql: ShopifyGraphql,
        bulk: Callable[[str, Sequence[Mapping[str, Any]]], list[UserErrors]],
        *,
        bulk_threshold: int,
    ) -> None:
        self.graphql, self.bulk, self.bulk_threshold = graphql, bulk, bulk_threshold

    def is_bulk(self, count: int) -> bool:
        return count > self.bulk_threshold

    def run(self, calls: Sequence[Call]) -> list[UserErrors]:
        """Each call's userErrors (empty: it was applied), in the order given. A mutation
        with more than ``bulk_threshold`` calls goes in bulk; the rest share requests,
        whatever their mutation."""
        answers: list[UserErrors] = [[] for _ in calls]
        by_mutation: dict[str, list[int]] = {}
        for i, call in enumerate(calls):
            by_mutation.setdefault(call.mutation, []).append(i)
        aliased: list[int] = []
        for mutation, indexes in by_mutation.items():
            if not self.is_bulk(len(indexes)):
                aliased += indexes
                continue
            found = self.bulk(mutation, [calls[i].variables for i in indexes])
            for i, errors in zip(indexes, found, strict=True):
                answers[i] = errors
        aliased.sort()
        for i, errors in zip(aliased, self._aliased([calls[i] for i in aliased]), strict=True):
            answers[i] = errors
        return answers

    def _aliased(self, calls: Sequence[Call]) -> list[UserErrors]:
        found: list[UserErrors] = []
        for start in range(0, len(calls), ALIASES):
            chunk = calls[start : start + ALIASES]
            query, variables = aliased_document(chunk)
            data = self.graphql.execute(query, variables)
            found.extend(_user_errors(data.get(f"c{i}")) for i in range(len(chunk)))
        return found


def _user_errors(payload: Any) -> UserErrors:
    if not isinstance(payload, dict):
        return [{"field": None, "message": "Shopify answered nothing for this mutation"}]
    errors = payload.get("userErrors") or []
    return [e for e in errors if isinstance(e, dict)]
