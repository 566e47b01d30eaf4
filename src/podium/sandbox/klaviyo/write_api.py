"""The write operations a reverse-ETL sync uses, keyed by Klaviyo's operation id:

    POST   /api/profiles/                                   create_profile       201 / 409
    PATCH  /api/profiles/{id}/                              update_profile       200
    GET    /api/profiles/{id}/                              get_profile (reads writes back)
    POST   /api/profile-import/                             create_or_update_profile 201/200
    POST   /api/profile-bulk-import-jobs/                   bulk_import_profiles 202
    GET    /api/profile-bulk-import-jobs/{id}/              get_bulk_import_profiles_job
    GET    /api/profile-bulk-import-jobs/{id}/import-errors/
    GET    /api/profile-bulk-import-jobs/{id}/relationships/profiles/
    GET    /api/profile-bulk-import-jobs/{id}/relationships/lists/
    POST   /api/lists/{id}/relationships/profiles/          add_profiles_to_list 204
    DELETE /api/lists/{id}/relationships/profiles/          remove_profiles_from_list 204
    GET    /api/lists/{id}/relationships/profiles/          get_profile_ids_for_list

A bulk import job moves on when it is polled, not with time: the first poll finds it
``processing``, the second ``complete`` (its profiles written, its list joined, its
per-profile errors listed) — so a test or a sync needs no sleeps. Sizes are Klaviyo's:
100 KB per profile request, 10,000 profiles and 5 MB per bulk job, 1,000 ids per list
request; relationship pages hold 20 by default, 100 at most.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from podium.sandbox.klaviyo.bodies import invalid, linkage, parse, profile_body, resource
from podium.sandbox.klaviyo.errors import ApiError
from podium.sandbox.klaviyo.model import hashed_id, iso
from podium.sandbox.klaviyo.store import AccountState, Record
from podium.sandbox.paging import Request

PROFILE_BYTES = 100 * 1024
BULK_BYTES = 5 * 1024 * 1024
BULK_PROFILES = 10_000
LIST_IDS = 1000
PAGE_DEFAULT, PAGE_MAX = 20, 100

_ID = r"(?P<id>[^/]+)"
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(f"^/api/{pattern}/?$"), op)
    for method, pattern, op in (
        ("POST", "profiles", "create_profile"),
        ("PATCH", f"profiles/{_ID}", "update_profile"),
        ("GET", f"profiles/{_ID}", "get_profile"),
        ("POST", "profile-import", "create_or_update_profile"),
        ("POST", "profile-bulk-import-jobs", "bulk_import_profiles"),
        ("GET", f"profile-bulk-import-jobs/{_ID}", "get_bulk_import_profiles_job"),
        ("GET", f"profile-bulk-import-jobs/{_ID}/import-errors",
         "get_errors_for_bulk_import_profiles_job"),
        ("GET", f"profile-bulk-import-jobs/{_ID}/relationships/profiles",
         "get_profile_ids_for_bulk_import_profiles_job"),
        ("GET", f"profile-bulk-import-jobs/{_ID}/relationships/lists",
         "get_list_ids_for_bulk_import_profiles_job"),
        ("POST", f"lists/{_ID}/relationships/profiles", "add_profiles_to_list"),
        ("DELETE", f"lists/{_ID}/relationships/profiles", "remove_profiles_from_list"),
        ("GET", f"lists/{_ID}/relationships/profiles", "get_profile_ids_for_list"),
    )
)  # fmt: skip


def route(method: str, path: str) -> tuple[str, str] | None:
    """(operation id, path id) of a write-side request, or None."""
    for verb, pattern, op in ROUTES:
        match = pattern.match(path)
        if match and verb == method:
            return op, match.groupdict().get("id") or ""
    return None


@dataclass
class Job:
    id: str
    profiles: list[dict[str, Any]]  # the submitted profile resources
    lists: list[str]
    created: datetime
    status: str = "queued"
    started: datetime | None = None
    completed: datetime | None = None
    touched: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


Reply = tuple[int, dict[str, Any] | None]


class WriteApi:
    """Answers the operations above over ``state``; ``base`` gives the URL prefix."""

    def __init__(self, state: AccountState, base: Callable[[], str]) -> None:
        self.state, self.base = state, base
        self.jobs: dict[str, Job] = {}

    def answer(self, op: str, rid: str, request: Request, now: datetime) -> Reply:
        handler: Callable[[str, Request, datetime], Reply] = getattr(self, "_" + op)
        return handler(rid, request, now)

    # -- profiles --------------------------------------------------------------------
    def _create_profile(self, rid: str, request: Request, now: datetime) -> Reply:
        document = parse(request.body, PROFILE_BYTES)
        _, attributes, _ = profile_body(_data(document), "/data", needs_identifier=True)
        return 201, self._profile(self.state.create(attributes, now))

    def _update_profile(self, rid: str, request: Request, now: datetime) -> Reply:
        document = parse(request.body, PROFILE_BYTES)
        pid, attributes, meta = profile_body(_data(document), "/data", needs_identifier=False)
        if pid != rid:
            raise ApiError(409, "conflict", "Conflict.",
                           f"/data/id ({pid!r}) must equal the id in the path ({rid!r}).",
                           {"pointer": "/data/id"})  # fmt: skip
        return 200, self._profile(self.state.update(rid, attributes, meta, now))

    def _get_profile(self, rid: str, request: Request, now: datetime) -> Reply:
        record = self.state.profile(rid, now)
        if record is None:
            raise ApiError(404, "not_found", "Not found.",
                           f"A profile with id {rid} does not exist.", {"parameter": "id"})  # fmt: skip
        return 200, self._profile(record)

    def _create_or_update_profile(self, rid: str, request: Request, now: datetime) -> Reply:
        document = parse(request.body, PROFILE_BYTES)
        pid, attributes, meta = profile_body(_data(document), "/data", needs_identifier=pid_free(
            document))  # fmt: skip
        outcome = self.state.upsert(attributes, meta, now, pid=pid)
        return (201 if outcome.created else 200), self._profile(outcome.record)

    def _profile(self, record: Record) -> dict[str, Any]:
        link = f"{self.base()}/api/profiles/{record.id}/"
        data = {"type": "profile", "id": record.id, "attributes": record.render(),
                "links": {"self": link}}  # fmt: skip
        return {"data": data, "links": {"self": link}}

    # -- bulk import jobs --------------------------------------------------------------
    def _bulk_import_profiles(self, rid: str, request: Request, now: datetime) -> Reply:
        document = parse(request.body, BULK_BYTES)
        data = resource(_data(document), "profile-bulk-import-job")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        pointer = "/data/attributes/profiles/data"
        if not isinstance(profiles, list) or not profiles:
            raise invalid("A bulk import job needs a non-empty list of profiles.", pointer)
        if len(profiles) > BULK_PROFILES:
            raise invalid(f"At most {BULK_PROFILES} profiles can be imported in one job; got "
                          f"{len(profiles)}.", pointer)  # fmt: skip
        lists = (data.get("relationships") or {}).get("lists") or {"data": []}
        list_ids = linkage(lists, "list", 1)
        for n, lid in enumerate(list_ids):
            if lid not in self.state.list_ids():
                raise invalid(f"List {lid} does not exist.", f"/data/relationships/lists/data/{n}")
        jid = hashed_id("profile-bulk-import-job", len(self.jobs) + 1, 26)
        self.jobs[jid] = Job(jid, profiles, list_ids, now)
        return 202, self._job(self.jobs[jid])

    def _get_bulk_import_profiles_job(self, rid: str, request: Request, now: datetime) -> Reply:
        job = self._find(rid)
        if job.status == "queued":
            job.status, job.started = "processing", now
        elif job.status == "processing":
            self._run(job, now)
        return 200, self._job(job)

    def _run(self, job: Job, now: datetime) -> None:
        for n, item in enumerate(job.profiles):
            pointer = f"/data/attributes/profiles/data/{n}"
            try:
                if len(orjson.dumps(item)) > PROFILE_BYTES:
                    raise invalid("A profile may be at most 100 KB.", pointer)
                pid, attributes, meta = profile_body(item, pointer, needs_identifier=True)
                outcome = self.state.upsert(attributes, meta, now, pid=pid, clear=False)
            except ApiError as error:
                job.errors.append({"code": error.code, "title": error.title,
                                   "detail": error.detail, "pointer": error.source.get(
                                       "pointer", pointer), "payload": item})  # fmt: skip
                continue
            job.touched.append(outcome.record.id)
        for lid in job.lists:
            self.state.add_members(lid, job.touched)
        job.status, job.completed = "complete", now

    def _job(self, job: Job) -> dict[str, Any]:
        link = f"{self.base()}/api/profile-bulk-import-jobs/{job.id}/"
        done = job.status == "complete"
        attributes = {
            "status": job.status,
            "created_at": iso(job.created),
            "total_count": len(job.profiles),
            "completed_count": len(job.touched),
            "failed_count": len(job.errors),
            "started_at": iso(job.started) if job.started else None,
            "completed_at": iso(job.completed) if job.completed and done else None,
        }
        relationships = {
            "lists": {"data": [{"type": "list", "id": lid} for lid in job.lists],
                      "links": {"self": f"{link}relationships/lists/", "related": f"{link}lists/"}},
            "profiles": {"links": {"self": f"{link}relationships/profiles/",
                                   "related": f"{link}profiles/"}},
            "import-errors": {"links": {"related": f"{link}import-errors/"}},
        }  # fmt: skip
        data = {"type": "profile-bulk-import-job", "id": job.id, "attributes": attributes,
                "relationships": relationships, "links": {"self": link}}  # fmt: skip
        return {"data": data, "links": {"self": link}}

    def _get_errors_for_bulk_import_profiles_job(
        self, rid: str, request: Request, now: datetime
    ) -> Reply:
        job = self._find(rid)
        items = [
            {"type": "import-error", "id": hashed_id("import-error", f"{job.id}:{n}", 26),
             "attributes": {"code": e["code"], "title": e["title"], "detail": e["detail"],
                            "source": {"pointer": e["pointer"]},
                            "original_payload": e["payload"]}}
            for n, e in enumerate(job.errors)
        ]  # fmt: skip
        return 200, self._page(items, request)

    def _get_profile_ids_for_bulk_import_profiles_job(
        self, rid: str, request: Request, now: datetime
    ) -> Reply:
        touched = self._find(rid).touched
        return 200, self._page([{"type": "profile", "id": p} for p in touched], request)

    def _get_list_ids_for_bulk_import_profiles_job(
        self, rid: str, request: Request, now: datetime
    ) -> Reply:
        lists = [{"type": "list", "id": lid} for lid in self._find(rid).lists]
        return 200, {"data": lists, "links": {"self": f"{request.base}{request.path}"}}

    def _find(self, jid: str) -> Job:
        job = self.jobs.get(jid)
        if job is None:
            raise ApiError(404, "not_found", "Not found.",
                           f"No profile bulk import job with id {jid}.",
                           {"parameter": "id"})  # fmt: skip
        return job

    # -- list membership ---------------------------------------------------------------
    def _add_profiles_to_list(self, rid: str, request: Request, now: datetime) -> Reply:
        self.state.add_members(rid, self._members_body(rid, request, now))
        return 204, None

    def _remove_profiles_from_list(self, rid: str, request: Request, now: datetime) -> Reply:
        self.state.remove_members(rid, self._members_body(rid, request, now))
        return 204, None

    def _get_profile_ids_for_list(self, rid: str, request: Request, now: datetime) -> Reply:
        self._list(rid)
        for name in ("filter", "sort"):
            if name in request.params:
                raise ApiError(400, "invalid", "Invalid input.",
                               f"'{name}' is a valid parameter for this endpoint but the "
                               "simulator does not simulate it.", {"parameter": name})  # fmt: skip
        members = [{"type": "profile", "id": p} for p in self.state.members(rid, now)]
        return 200, self._page(members, request)

    def _members_body(self, rid: str, request: Request, now: datetime) -> list[str]:
        self._list(rid)
        ids = linkage(parse(request.body, PROFILE_BYTES * 10), "profile", LIST_IDS)
        for n, pid in enumerate(ids):
            if self.state.profile(pid, now) is None:
                raise invalid(f"Profile {pid} does not exist.", f"/data/{n}/id")
        return ids

    def _list(self, rid: str) -> None:
        if rid not in self.state.list_ids():
            raise ApiError(404, "not_found", "Not found.", f"A list with id {rid} does not exist.",
                           {"parameter": "id"})  # fmt: skip

    # -- paging ------------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        raw = request.params.get("page[size]", str(PAGE_DEFAULT))
        if not raw.isdigit() or not 1 <= int(raw) <= PAGE_MAX:
            raise ApiError(400, "invalid", "Invalid input.",
                           f"page[size] must be an integer between 1 and {PAGE_MAX}.",
                           {"parameter": "page[size]"})  # fmt: skip
        size, start = int(raw), _offset(request.params.get("page[cursor]"))
        links = {"self": f"{request.base}{request.path}"}
        if start + size < len(items):
            cursor = base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")
            query = urlencode({**request.params, "page[cursor]": cursor})
            links["next"] = f"{request.base}{request.path}?{query}"
        return {"data": items[start : start + size], "links": links}


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise ApiError(400, "invalid", "Invalid input.", "Invalid page cursor.",
                       {"parameter": "page[cursor]"}) from None  # fmt: skip


def _data(document: Any) -> Any:
    return document.get("data") if isinstance(document, dict) else None


def pid_free(document: Any) -> bool:
    """profile-import needs an identifier unless it names the profile's ``id``."""
    data = _data(document)
    return not (isinstance(data, dict) and data.get("id"))
