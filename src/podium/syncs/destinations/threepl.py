"""The ``threepl`` destination: orders sent to a ShipBob-shaped fulfilment API, once each.

.. code-block:: yaml

    syncs:
      forward_orders:
        from: marts.orders_to_ship
        to: warehouse_3pl           # a connection of type threepl (see threepl_config)
        object: orders
        key: order_ref              # the order's reference_id: the 3PL's idempotency key
        mode: insert                # or mirror: a record gone from the source is cancelled
        fields:
          shipping_method: ship_option
          recipient.name: customer_name
          recipient.address.address1: address1
          recipient.address.city: city
          recipient.address.country: country
          products: products_json   # a JSON array (text or a list): [{reference_id, quantity}]

One source row is one order. The key is sent as ``reference_id``, which the 3PL keeps
unique. The orders of a batch an earlier attempt handed over without recording the answer
(``Change.pending``: the attempt died, a SIGKILL) are first looked up by reference id (one
request per batch), so an order created but not recorded is found, not created again,
whatever the 3PL's duplicate policy; ``threepl_api`` resolves the creates whose answer was
lost within an attempt the same way. Orders never handed over go straight to a create. The order's id is kept as the record's ``remote_id``.

Modes: ``insert`` (adds only) and ``mirror`` (a removal cancels the order; one already
picked, packed or shipped is not, and the record is reported rejected with the 3PL's
reason). ``upsert`` is refused: ShipBob has no endpoint that changes an order's fields.
For the same reason a changed row in ``mirror`` is reported rejected, not sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podium.connectors.http import HttpClient, HttpRetry
from podium.connectors.ratelimit import RateLimiter, shared_limiter
from podium.errors import TerminalTaskError
from podium.settings.describe import Settings
from podium.syncs.destination import DestinationObject, SyncTarget, WriterEnv, nest
from podium.syncs.destinations.pacing import SlidingWindowLimit
from podium.syncs.destinations.payload import body_values
from podium.syncs.destinations.threepl_api import OrderApi, Placed
from podium.syncs.destinations.threepl_config import (
    SETTINGS,
    ThreePLConfig,
    parse_threepl_settings,
    threepl_problems,
)
from podium.syncs.diff import Mode
from podium.syncs.plan import Change
from podium.syncs.state import Op, Outcome

BATCH = 100  # orders per batch: one lookup covers them all
REQUIRED = (
    "shipping_method",
    "recipient.name",
    "recipient.address.address1",
    "recipient.address.city",
    "recipient.address.country",
    "products",
)
STRUCTURED = frozenset({"products", "tags"})  # sent as JSON arrays
UNCHANGEABLE = (
    "the 3PL cannot change an order it holds (there is no order update); cancel it and "
    "send the changed order under a new reference id"
)


def check_orders(fields: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    """An order needs ShipBob's required fields; its reference id is the sync's key."""
    problems = []
    if "reference_id" in fields:
        problems.append(
            "fields.reference_id: the sync's key is sent as the order's reference_id;"
            " remove it from fields (set key: to the column instead)"
        )
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        problems.append(f"fields: an order needs {', '.join(missing)}; map a source column to each")
    for name in fields:
        if any(other.startswith(name + ".") for other in fields):
            problems.append(f"fields.{name}: is also the parent of nested fields; use one")
    return problems


ORDERS = DestinationObject(
    name="orders",
    doc="one order per source row; the key is its reference_id (insert, or mirror: cancel)",
    modes=frozenset({Mode.INSERT, Mode.MIRROR}),
    options=Settings(()),
    check=check_orders,
)


class ThreePLDestination:
    """``clock`` and ``sleep`` pace the connection's requests (tests pass simulated ones)."""

    objects = {"orders": ORDERS}
    settings = SETTINGS  # a destination only: the schema describes its connections by it

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock, self.sleep = clock, sleep

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        return threepl_problems({k: v for k, v in settings.items() if k != "type"})

    def open(
        self,
        connection: str,
        settings: Mapping[str, Any],
        target: SyncTarget,
        env: WriterEnv,
    ) -> ThreePLWriter:
        config, problems = parse_threepl_settings(
            {k: v for k, v in settings.items() if k != "type"}
        )
        if problems:
            raise TerminalTaskError(
                f"sync {target.sync}: connection {connection!r} is misconfigured: "
                f"{'; '.join(problems)}"
            )
        if target.mode not in ORDERS.modes:
            raise TerminalTaskError(
                f"sync {target.sync}: mode {target.mode} is not possible for 3PL orders"
                " (no order update); use insert or mirror"
            )
        client = HttpClient(
            f"{config.base_url}/{config.version}",
            headers={
                "Authorization": f"Bearer {config.token}",
                "shipbob_channel_id": config.channel_id,
            },
            secrets=(*env.secrets, config.token),
            timeout=config.timeout,
            retry=HttpRetry(attempts=1),
            limiter=self._limiter(connection, config),
            name=connection,
            logger=env.log,
            sleep=self.sleep,
            accept=range(400, 600),
        )
        api = OrderApi(client, config, env, connection=connection, sleep=self.sleep)
        return ThreePLWriter(api, client, target)

    def _limiter(self, connection: str, config: ThreePLConfig) -> RateLimiter:
        window = (config.limit, config.window)
        # one limiter per connection and clock: every sync of the connection in this
        # process shares it (podium's clock is one), while a test's simulated clock gets
        # its own, never an earlier test's window when a port is reused. The limiter holds
        # its clock, so no other clock can take that id while the key is in use.
        return shared_limiter(
            f"threepl:{id(self.clock)}:{connection}:{config.base_url}:{window}",
            lambda: SlidingWindowLimit(*window, clock=self.clock, sleep=self.sleep),
        )


class ThreePLWriter:
    """Sends one sync's batches: creates (after one lookup a batch for the orders that
    may have been created before) or cancels."""

    batch_size = BATCH

    def __init__(self, api: OrderApi, client: HttpClient, target: SyncTarget) -> None:
        self.api, self.client, self.target = api, client, target

    def send(self, changes: Sequence[Change]) -> list[Outcome]:
        # Only an order an earlier attempt may have created (handed over and not answered:
        # ``pending``; or tried and refused before) can be held already: look those up,
        # and send the rest straight away (a webhook's order: one request, not two).
        maybe_held = [c.key for c in changes if c.op is Op.ADD and (c.pending or c.retry)]
        held = self.api.find(maybe_held) if maybe_held else {}
        return [self._one(change, held.get(change.key, [])) for change in changes]

    def close(self) -> None:
        self.client.close()

    def _one(self, change: Change, held: list[dict[str, Any]]) -> Outcome:
        if change.op is Op.REMOVE:
            return self._cancel(change)
        if change.op is Op.UPDATE:
            return _outcome(change, False, UNCHANGEABLE, change.remote_id)
        live = [o for o in held if o.get("status") != "cancelled"]
        if live:
            return _outcome(change, True, None, str(live[0]["id"]))
        if held:
            return _outcome(
                change,
                False,
                f"reference id {change.key} is held by cancelled order {held[0]['id']}; the"
                " 3PL keeps reference ids unique: send the order under a new one",
                str(held[0]["id"]),
            )
        values = {k: v for k, v in change.values.items() if v is not None}  # absent, not null
        body = nest(body_values(values, STRUCTURED))
        body["reference_id"] = change.key
        made = self.api.create(change.key, body)
        if isinstance(made, Placed):
            return _outcome(change, True, None, made.order_id)
        return _outcome(change, False, made.reason, None)

    def _cancel(self, change: Change) -> Outcome:
        order_id = change.remote_id
        if order_id is None:
            held = self.api.find([change.key]).get(change.key)
            if not held:
                return _outcome(change, True, None, None)  # never created: nothing to cancel
            order_id = str(held[0]["id"])
        cancelled, reason = self.api.cancel(order_id)
        return _outcome(change, cancelled, reason, order_id)


def _outcome(change: Change, landed: bool, reason: str | None, remote_id: str | None) -> Outcome:
    return Outcome(change.key, change.op, change.hash, landed, reason, remote_id)


DESTINATION = ThreePLDestination()
