"""The ``shopify`` destination: customer tags and customer metafields, written through
the Admin GraphQL API of the connection the Shopify source reads (the same settings).

.. code-block:: yaml

    syncs:
      vip_tags:
        from: marts.vip_customers      # one row per customer that must carry the tags
        to: shop
        object: customer_tags
        key: customer_id               # numeric or gid://shopify/Customer/N
        mode: mirror                   # a customer who leaves the model loses the tags
        tags: [vip, ltv-high]
      scores:
        from: marts.customer_scores
        to: shop
        object: customer_metafields
        key: customer_id
        fields: {ltv: ltv, segment: segment, scores: scores}
        namespace: warehouse
        types: {ltv: number_decimal, scores: json}   # default single_line_text_field

How the writes go (shopify_client.py, shopify_bulk.py): several records per request under
aliases, paced by the query cost Shopify reports; a batch of more than ``BULK_THRESHOLD``
records as one bulk mutation. Shopify's userErrors reject that record with Shopify's
message (retried on the next run); THROTTLED, 5xx and cut answers are retried. Every
mutation used sets a state (tagsAdd, tagsRemove, metafieldsSet), so sending a record
again, after a lost answer or a crash before its outcome was recorded (``Change.pending``),
changes nothing more: no lookup is needed before a resend.

``customer_metafields`` cannot mirror: removing a record would have to delete its
metafields, and ``metafieldsDelete`` is not in the Admin API version podium's simulator
checks writes against (2022-07, which has only ``metafieldDelete`` by metafield id), so
podium cannot test it; a customer who leaves the model keeps its metafields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from podium.connectors.http import HttpClient, HttpRetry
from podium.connectors.ratelimit import shared_limiter
from podium.connectors.source import misconfigured
from podium.connectors.sources.shopify.config import parse_shopify_settings
from podium.connectors.sources.shopify.graphql import GraphqlCostLimit, ShopifyGraphql
from podium.errors import TerminalTaskError
from podium.settings.describe import Option, Settings
from podium.syncs.destination import DestinationObject, SyncTarget, Writer, WriterEnv
from podium.syncs.destinations.shopify_bulk import BulkMutations
from podium.syncs.destinations.shopify_client import CountingCostLimit, Mutations
from podium.syncs.destinations.shopify_writers import (
    DEFAULT_TYPE,
    MAX_METAFIELDS,
    MetafieldsWriter,
    TagsWriter,
)
from podium.syncs.diff import Mode
from podium.syncs.plan import Change
from podium.syncs.state import Outcome

#: Records above which a batch goes as one bulk mutation. Aliased requests of 50
#: mutations ask for 500 points; at the Standard plan's 100 points/s, 1,000 records take
#: 20 requests and about 100 s of pacing, while a bulk mutation costs ~6 requests and no
#: points but waits for Shopify to schedule and run the job (tens of seconds at least).
#: Below 1,000 the aliased path is as fast and reports each record at once; above it, bulk
#: wins and spares the bucket other tasks of the shop share.
BULK_THRESHOLD = 1_000
METAFIELD_TYPES = (
    "single_line_text_field",
    "multi_line_text_field",
    "number_integer",
    "number_decimal",
    "boolean",
    "json",
    "date",
    "date_time",
    "url",
    "color",
    "rating",
    "money",
    "weight",
    "volume",
    "dimension",
)
_KEY = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{3,255}$")
TAGS_OPTIONS = Settings(
    (
        Option(
            "tags",
            {"type": "array", "minItems": 1, "maxItems": 250, "items": {"type": "string"}},
            "the tags every customer of the source must carry (tagsAdd; removed with"
            " tagsRemove in mirror mode); other tags on the customer are left alone",
            required=True,
        ),
    ),
    doc="customer_tags: the key (or an id field) is the Shopify customer id.",
)
METAFIELDS_OPTIONS = Settings(
    (
        Option(
            "namespace",
            {"type": "string", "pattern": _NAMESPACE.pattern},
            "the metafields' namespace (3-255 letters, digits, - or _)",
            required=True,
        ),
        Option(
            "types",
            {"type": "object", "additionalProperties": {"enum": list(METAFIELD_TYPES)}},
            f"field → Shopify metafield type (default {DEFAULT_TYPE})",
        ),
    ),
    doc="customer_metafields: each field is a metafield of the customer the key names.",
)


def tags_problems(fields: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a customer_tags sync, each problem starting with its key."""
    problems = []
    tags = options.get("tags")
    if not isinstance(tags, list) or not tags:
        problems.append("tags: required, a list of the tags to put on the customers ([vip])")
    else:
        for tag in tags:
            if not isinstance(tag, str) or not tag.strip() or "," in tag or len(tag) > 255:
                problems.append(
                    f"tags: {tag!r} is not a tag: a non-empty text of at most 255 characters"
                    " without commas (Shopify splits tags at commas)"
                )
        if len(tags) > 250:
            problems.append(f"tags: {len(tags)} tags; Shopify takes at most 250 at a time")
    extra = sorted(set(fields) - {"id"})
    if extra:
        problems.append(
            f"fields: customer_tags sends no fields but the customer's id; drop {extra}"
            " (or map the customer id as id)"
        )
    return problems


def metafields_problems(fields: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a customer_metafields sync, each starting with its key."""
    problems = []
    namespace = options.get("namespace")
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        problems.append(
            f"namespace: required, 3-255 letters, digits, - or _ (warehouse), got {namespace!r}"
        )
    names = [f for f in fields if f != "id"]
    if not names:
        problems.append("fields: map at least one field to set as a metafield")
    if len(names) > MAX_METAFIELDS:
        problems.append(
            f"fields: {len(names)} metafields per customer; at most {MAX_METAFIELDS}"
            " (Shopify's metafieldsSet limit): split the sync"
        )
    for name in names:
        if not _KEY.match(name):
            problems.append(
                f"fields: {name!r} is not a metafield key: 2-64 letters, digits, - or _"
            )
    types = options.get("types") or {}
    if not isinstance(types, Mapping):
        return [*problems, "types: expected a mapping of field → metafield type"]
    for name, kind in types.items():
        if name not in names:
            problems.append(f"types: {name!r} is not one of the sync's fields {names}")
        if kind not in METAFIELD_TYPES:
            problems.append(f"types: {name}: {kind!r} is not one of {', '.join(METAFIELD_TYPES)}")
    return problems


OBJECTS = {
    "customer_tags": DestinationObject(
        "customer_tags",
        "tags on customers: tagsAdd for each customer of the source, tagsRemove when one"
        " leaves it (mirror); other apps' tags are never touched",
        frozenset(Mode),
        TAGS_OPTIONS,
        tags_problems,
    ),
    "customer_metafields": DestinationObject(
        "customer_metafields",
        "metafields on customers (metafieldsSet), one per field; upsert or insert only:"
        " podium does not delete metafields, so it cannot mirror",
        frozenset({Mode.UPSERT, Mode.INSERT}),
        METAFIELDS_OPTIONS,
        metafields_problems,
    ),
}


class ShopifyDestination:
    """The ``shopify`` destination type (module docstring)."""

    objects = OBJECTS

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_shopify_settings(settings)[1]

    def open(
        self, connection: str, settings: Mapping[str, Any], target: SyncTarget, env: WriterEnv
    ) -> Writer:
        config, problems = parse_shopify_settings(settings)
        secrets = {*env.secrets, *([config.access_token] if config and config.access_token else [])}
        if config is None or problems:
            raise misconfigured(connection, problems, secrets)
        if target.object == "customer_metafields" and target.mode is Mode.MIRROR:
            raise TerminalTaskError(
                f"sync {target.sync}: customer_metafields cannot mirror (podium does not"
                " delete metafields); use mode: upsert"
            )
        shared = shared_limiter(f"shopify:{connection}", GraphqlCostLimit)
        assert isinstance(shared, GraphqlCostLimit)  # noqa: S101 - the source's factory too
        limiter = CountingCostLimit(shared, env)
        client = HttpClient(
            config.base_url,
            headers={"X-Shopify-Access-Token": config.access_token},
            secrets=secrets,
            timeout=config.timeout,
            retry=HttpRetry(attempts=config.retries + 1),
            limiter=limiter,
            name=connection,
            logger=env.log,
        )
        graphql = ShopifyGraphql(client, limiter, config.graphql_path, name=connection)
        bulk = BulkMutations(
            graphql,
            env,
            shop=config.base_url,
            poll_interval=config.bulk_poll_interval,
            timeout=config.bulk_timeout,
        )
        mutations = Mutations(graphql, bulk, bulk_threshold=BULK_THRESHOLD)
        if target.object == "customer_tags":
            return _Closing(TagsWriter(mutations, target.options["tags"]), client)
        if target.object == "customer_metafields":
            options = target.options
            return _Closing(
                MetafieldsWriter(mutations, options["namespace"], options.get("types") or {}),
                client,
            )
        raise TerminalTaskError(
            f"sync {target.sync}: shopify has no object {target.object!r}"
            f" (it has {', '.join(OBJECTS)})"
        )


class _Closing:
    """A writer that closes the connection's HTTP client with it."""

    def __init__(self, writer: TagsWriter | MetafieldsWriter, client: HttpClient) -> None:
        self.writer, self.client = writer, client
        self.batch_size = writer.batch_size

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        return self.writer.send(changes)

    def close(self) -> None:
        self.writer.close()
        self.client.close()


DESTINATION = ShopifyDestination()
