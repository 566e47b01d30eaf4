"""The ``klaviyo`` destination: a sync's rows as Klaviyo profiles and list members.

.. code-block:: yaml

    syncs:
      vip_profiles:
        from: marts.customers
        to: klaviyo                 # a connection of type klaviyo (the source's settings;
        object: profiles            # its api_key needs profiles:write, lists:write)
        key: customer_id
        mode: upsert                # or insert
        fields: {external_id: customer_id, email: email, first_name: first_name,
                 properties.lifetime_value: ltv}
      vip_list:
        from: marts.vip
        to: klaviyo
        object: list_members
        list: VIP                   # a list's name (looked up once a run) or id
        key: customer_id
        mode: mirror                # rows that leave the model leave the list
        fields: {external_id: customer_id, email: email}

    profiles      upsert a profile's attributes (email, phone_number, external_id,
                  first_name, last_name, organization, locale, title, image, location.*)
                  and custom properties (properties.*). No mirror: Klaviyo has no API to
                  delete a profile, and nothing short of deleting is a sound "removal".
    list_members  the same upsert, joining the list; mirror removes records that left.

Consent is never set: ``subscriptions`` is refused as a field, as subscribing lifts
unsubscribes and spam suppressions (reverse-etl-apis.md §1.6); adding to a list grants
none. How each batch travels, and why removals look profiles up when they happen: see
``klaviyo_writer``. The requests themselves and their pacing: ``klaviyo_http``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from podium.connectors.source import misconfigured
from podium.connectors.sources.klaviyo import klaviyo_problems
from podium.connectors.sources.klaviyo.config import parse_klaviyo_settings
from podium.errors import TerminalTaskError
from podium.settings.describe import Option, Settings
from podium.syncs.destination import DestinationObject, SyncTarget, Writer, WriterEnv
from podium.syncs.destinations.klaviyo_http import KlaviyoWriteApi
from podium.syncs.destinations.klaviyo_payload import IDENTIFIERS
from podium.syncs.destinations.klaviyo_writer import DEFAULT_POLL, KlaviyoWriter, Poll
from podium.syncs.diff import Mode

ATTRIBUTES = frozenset(
    {*IDENTIFIERS, "first_name", "last_name", "organization", "locale", "title", "image"}
)
LOCATION = frozenset({"address1", "address2", "city", "country", "latitude", "longitude",
                      "region", "zip", "timezone", "ip"})  # fmt: skip
_NEEDS_IDENTIFIER = "needs an identifier field: email, phone_number or external_id"


def _field_problems(object_name: str, fields: Mapping[str, str]) -> list[str]:
    problems = []
    if not any(name in fields for name in IDENTIFIERS):
        problems.append(f"fields: {object_name} {_NEEDS_IDENTIFIER}")
    for name in fields:
        head, _, rest = name.partition(".")
        if head == "subscriptions":
            problems.append(
                f"fields.{name}: a sync never sets consent: subscribing in Klaviyo lifts"
                " unsubscribes and spam suppressions. Record consent in Klaviyo's own forms,"
                " and drop this field"
            )
        elif (head == "properties" and rest) or (head == "location" and rest in LOCATION):
            continue
        elif rest or head not in ATTRIBUTES:
            known = ", ".join(sorted(ATTRIBUTES))
            problems.append(
                f"fields.{name}: not a Klaviyo profile attribute; use one of {known},"
                f" location.<{'|'.join(sorted(LOCATION))}> or properties.<name> for a custom"
                " property"
            )
    return problems


def _check_profiles(fields: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    return _field_problems("profiles", fields)


def _check_list_members(fields: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    problems = _field_problems("list_members", fields)
    wanted = options.get("list")
    if not isinstance(wanted, str) or not wanted.strip():
        problems.append(
            f"list: list_members needs list: the name (VIP) or id of a Klaviyo list, got {wanted!r}"
        )
    return problems


OBJECTS: dict[str, DestinationObject] = {
    "profiles": DestinationObject(
        "profiles",
        "upsert Klaviyo profiles (attributes and properties.*), found by email, phone_number"
        " or external_id; modes upsert and insert (Klaviyo cannot delete a profile, so no"
        " mirror)",
        frozenset({Mode.UPSERT, Mode.INSERT}),
        Settings((), doc="profiles takes no options besides fields."),
        _check_profiles,
    ),
    "list_members": DestinationObject(
        "list_members",
        "upsert profiles and keep them on a Klaviyo list; mirror takes records that left"
        " the model off the list (their profiles stay)",
        frozenset({Mode.UPSERT, Mode.INSERT, Mode.MIRROR}),
        Settings(
            (
                Option(
                    "list",
                    {"type": "string", "minLength": 1},
                    "the Klaviyo list: its name (VIP), looked up once a run, or its id",
                    required=True,
                ),
            ),
            doc="list_members needs list.",
        ),  # fmt: skip
        _check_list_members,
    ),
}


class KlaviyoDestination:
    """``DESTINATION``; ``sleep``, ``windows`` (Klaviyo's rate windows, seconds) and
    ``poll`` are for tests, which make another with shorter ones."""

    objects = OBJECTS

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        windows: tuple[float, float] = (1.0, 60.0),
        poll: Poll = DEFAULT_POLL,
    ) -> None:
        self._sleep, self._windows, self._poll = sleep, windows, poll

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        return klaviyo_problems(settings)

    def open(
        self, connection: str, settings: Mapping[str, Any], target: SyncTarget, env: WriterEnv
    ) -> Writer:
        config, problems = parse_klaviyo_settings(settings)
        if config is None or problems:
            raise misconfigured(connection, problems, env.secrets)
        found = OBJECTS.get(target.object)
        if found is None:
            raise TerminalTaskError(
                f"sync {target.sync}: Klaviyo has no object {target.object!r}; use one of"
                f" {', '.join(OBJECTS)}"
            )
        if target.mode not in found.modes:
            raise TerminalTaskError(
                f"sync {target.sync}: mode {target.mode} is not possible for Klaviyo"
                f" {target.object}: Klaviyo has no API to delete a profile; use upsert"
            )
        problems = found.check(dict.fromkeys(target.fields, ""), target.options)
        if problems:
            raise TerminalTaskError(f"sync {target.sync}: {'; '.join(problems)}")
        api = KlaviyoWriteApi(connection, config, env, sleep=self._sleep, windows=self._windows)
        list_name = str(target.options["list"]) if target.object == "list_members" else None
        return KlaviyoWriter(
            api, target, env, list_name=list_name, poll=self._poll, sleep=self._sleep
        )


DESTINATION = KlaviyoDestination()

__all__ = ["DESTINATION", "OBJECTS", "KlaviyoDestination"]
