"""Which API revisions the simulator serves, and which query parameters each has.

Klaviyo's OpenAPI for revision 2026-07-15 (vendored in ``tests/specs/klaviyo/stable.json``)
declares every parameter of the operations simulated here. Older revisions are not
vendored; where a parameter came later, the revision it came in is written beside it,
as Klaviyo's own SDKs, generated from each revision's OpenAPI, show it:

    page[size] on GET /api/events/       2026-01-15  (klaviyo-api-node 21.0.1, "revision
                                                      2026-01-15: added pageSize to get_events")
    fields[push-token] on profiles       2026-04-15  (klaviyo-api 23.0.0, revision 2026-04-15)
    page[size] on campaigns and lists,   2026-07-15  (klaviyo-api 24.0.0; absent from 23.0.0
    fields[conversation] on profiles,                 and klaviyo-api-node 22.0.1, both for
    fields[attribution] on events,                    revision 2026-04-15)
    fields[...-values-report]

A request naming a parameter its revision does not have, or one the operation does not
declare at all, is a 400 in Klaviyo's error shape. Revisions outside ``REVISIONS`` are
refused: the simulator knows nothing of what changed before or after them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from podium.sandbox.klaviyo.errors import ApiError

REVISIONS = ("2025-10-15", "2026-01-15", "2026-04-15", "2026-07-15")
FIRST = REVISIONS[0]
_REVISION = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.pre)?$")


# The query parameters each simulated operation declares in revision 2026-07-15,
# with the revision each first appeared in.
PARAMETERS: dict[str, dict[str, str]] = {
    "profiles": {
        **dict.fromkeys(("additional-fields[profile]", "fields[profile]", "filter", "include",
                         "page[cursor]", "page[size]", "sort"), FIRST),
        "fields[push-token]": "2026-04-15",
        "fields[conversation]": "2026-07-15",
    },
    "events": {
        **dict.fromkeys(("fields[event]", "fields[metric]", "fields[profile]", "filter",
                         "include", "page[cursor]", "sort"), FIRST),
        "page[size]": "2026-01-15",
        "fields[attribution]": "2026-07-15",
    },
    "metrics": dict.fromkeys(
        ("fields[flow]", "fields[metric]", "filter", "include", "page[cursor]"), FIRST
    ),
    "lists": {
        **dict.fromkeys(("fields[flow]", "fields[list]", "fields[tag]", "filter", "include",
                         "page[cursor]", "sort"), FIRST),
        "page[size]": "2026-07-15",
    },
    "campaigns": {
        **dict.fromkeys(("fields[campaign-message]", "fields[campaign]", "fields[tag]", "filter",
                         "include", "page[cursor]", "sort"), FIRST),
        "page[size]": "2026-07-15",
    },
    "flows": dict.fromkeys(
        ("fields[flow-action]", "fields[flow]", "fields[tag]", "filter", "include",
         "page[cursor]", "page[size]", "sort"), FIRST,
    ),
    "campaign-values-reports": {"page_cursor": FIRST,
                                "fields[campaign-values-report]": "2026-07-15"},
    "flow-values-reports": {"page_cursor": FIRST, "fields[flow-values-report]": "2026-07-15"},
}  # fmt: skip

# The same for the write side (write_api.py), keyed by operation id; all came before
# the oldest revision served.
WRITE_PARAMETERS: dict[str, dict[str, str]] = {
    "create_profile": dict.fromkeys(("additional-fields[profile]", "fields[profile]"), FIRST),
    "update_profile": dict.fromkeys(("additional-fields[profile]", "fields[profile]"), FIRST),
    "get_profile": {
        **dict.fromkeys(("additional-fields[profile]", "fields[list]", "fields[profile]",
                         "fields[segment]", "include"), FIRST),
        "fields[push-token]": "2026-04-15",
        "fields[conversation]": "2026-07-15",
    },
    "create_or_update_profile": dict.fromkeys(
        ("additional-fields[profile]", "fields[profile]"), FIRST
    ),
    "bulk_import_profiles": {"fields[profile-bulk-import-job]": FIRST},
    "get_bulk_import_profiles_job": dict.fromkeys(
        ("fields[list]", "fields[profile-bulk-import-job]", "include"), FIRST
    ),
    "get_errors_for_bulk_import_profiles_job": dict.fromkeys(
        ("fields[import-error]", "page[cursor]", "page[size]"), FIRST
    ),
    "get_profile_ids_for_bulk_import_profiles_job": dict.fromkeys(
        ("page[cursor]", "page[size]"), FIRST
    ),
    "get_list_ids_for_bulk_import_profiles_job": {},
    "add_profiles_to_list": {},
    "remove_profiles_from_list": {},
    "get_profile_ids_for_list": dict.fromkeys(
        ("filter", "page[cursor]", "page[size]", "sort"), FIRST
    ),
}  # fmt: skip

# Parameters declared but not simulated: a request naming them is refused as such, so a
# test never passes on a parameter the simulator silently ignored.
NOT_SIMULATED = frozenset(
    {"additional-fields[profile]", "include", "page_cursor"}
    | {name for names in PARAMETERS.values() for name in names if name.startswith("fields[")}
    | {n for names in WRITE_PARAMETERS.values() for n in names if n.startswith("fields[")}
)


def revision_of(headers: Mapping[str, str]) -> str:
    """The request's ``revision`` header, if it is one the simulator serves."""
    value = headers.get("revision", "")
    match = _REVISION.match(value)
    if match is None or not _is_date(match.group(1)):
        raise ApiError(400, "invalid", "Invalid input.",
                       "Missing or invalid revision header. Send `revision: YYYY-MM-DD`, "
                       f"e.g. {REVISIONS[-1]}.", {"parameter": "revision"})  # fmt: skip
    if value not in REVISIONS:
        raise ApiError(400, "invalid", "Invalid input.",
                       f"Revision {value} is not served by this simulator; it serves "
                       f"{', '.join(REVISIONS)}.", {"parameter": "revision"})  # fmt: skip
    return value


def check_parameters(
    resource: str, params: Mapping[str, str], revision: str, where: str | None = None
) -> None:
    """A 400 for the first parameter ``resource`` (a listed resource, or a write
    operation's id) does not take under ``revision``; ``where`` names it in the detail."""
    declared = PARAMETERS[resource] if resource in PARAMETERS else WRITE_PARAMETERS[resource]
    where = where or f"/api/{resource}/"
    for name in params:
        since = declared.get(name)
        if since is None:
            raise ApiError(400, "invalid", "Invalid input.",
                           f"'{name}' is not a valid parameter for {where}.",
                           {"parameter": name})  # fmt: skip
        if revision < since:
            raise ApiError(400, "invalid", "Invalid input.",
                           f"'{name}' is not a valid parameter for {where} in "
                           f"revision {revision} (it exists from revision {since}).",
                           {"parameter": name})  # fmt: skip
        if name in NOT_SIMULATED:
            raise ApiError(400, "invalid", "Invalid input.",
                           f"'{name}' is a valid parameter for {where} but the "
                           "simulator does not simulate it.", {"parameter": name})  # fmt: skip


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
