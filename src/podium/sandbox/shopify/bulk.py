"""Bulk operations as Shopify runs them: one query job at a time per shop, its status
moving ``CREATED → RUNNING → COMPLETED`` (or ``FAILED``) over the polls of
``currentBulkOperation``, and a JSONL file at a signed URL that expires.

A query job writes its file while it runs, as Shopify's do: a thread renders it from the
job's creation, and the job is COMPLETED at the first poll that finds both ``polls``
polls made and the file written (a large export takes more polls than a small one). So
the time to produce the file is the job's, before completion, not a delay inside the
poll that completes it. ``BulkJob.created``/``finished`` hold the job's span by the
injected ``clock`` (finished: when the file was ready or the ``polls``-th poll came,
whichever was later), which the connector benchmark leaves out of podium's time. A
mutation job still applies its writes at the poll that completes it (the syncs' tests
count the polls of a mutation job).

The file holds what the query selected (the simulator executes it, app.py) and flattens
every connection: a node inside ``{"edges": [{"node": …}]}`` becomes its own
line carrying ``__parentId`` (its parent's id). Children come after their parent but not
straight after it: each batch of ``BATCH`` parents is written first, then their children,
the last parent's first, as Shopify's own files mix them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from podium.sandbox.faults import Answer
from podium.sandbox.shopify.render import Node

BATCH = 10
IN_PROGRESS = ("CREATED", "RUNNING")
_EXPIRED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code>"
    b"<Message>The provided token has expired.</Message></Error>"
)
_MISSING = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code>"
    b"<Message>The specified key does not exist.</Message></Error>"
)


@dataclass
class BulkJob:
    number: int
    query: str
    nodes: Callable[[], Iterable[Node]]  # the matching root nodes, as they are rendered
    created_at: str
    polls: int = 0
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: str | None = None
    object_count: int = 0
    file_size: int = 0
    token: str | None = None
    fail: bool = False
    kind: str = "QUERY"  # or MUTATION: ``nodes`` gives the result lines as they are
    created: float = 0.0  # BulkJobs.clock() when it was created
    finished: float | None = None  # … when it was done (module docstring)
    render: _Render | None = None  # a query job's file, being written

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"


@dataclass
class _File:
    body: bytes
    expires_at: float


class _Render:
    """A job's file written in a thread from the job's creation (``done`` once written);
    a render that raised keeps its ``error`` and the job FAILs, as Shopify's do."""

    def __init__(self, job: BulkJob, clock: Callable[[], float]) -> None:
        self.body: bytes | None = None
        self.error: Exception | None = None
        self.count = 0
        self.at = 0.0  # clock() when done
        self.done = threading.Event()
        self._clock = clock
        threading.Thread(
            target=self._run, args=(job,), name=f"bulk-render-{job.number}", daemon=True
        ).start()

    def _run(self, job: BulkJob) -> None:
        try:
            self.body, self.count = file_of(job)
        except Exception as error:  # noqa: BLE001 - the job FAILs; the error is kept
            self.error = error
        finally:
            self.at = self._clock()
            self.done.set()


@dataclass
class BulkJobs:
    """The shop's bulk query jobs and their files; ``polls`` polls to finish a job."""

    polls: int = 3
    url_ttl: float = 7 * 86_400.0
    clock: Callable[[], float] = time.monotonic
    current: BulkJob | None = None
    current_mutation: BulkJob | None = None
    fail_next: str | None = None  # errorCode the next job FAILs with
    expire_next: bool = False  # the next file's URL is expired as soon as it exists
    _files: dict[str, _File] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def start(
        self, query: str, nodes: Callable[[], Iterable[Node]], now: str, kind: str = "QUERY"
    ) -> dict[str, Any]:
        """The ``bulkOperationRunQuery`` (or ``…RunMutation``) payload: a new job, or the
        userError Shopify gives while another of its kind is running (one query and one
        mutation at a time per shop, before API 2026-01)."""
        with self._lock:
            running = self.current if kind == "QUERY" else self.current_mutation
            if running is not None and running.status in IN_PROGRESS:
                message = (
                    f"A bulk {kind.lower()} operation for this app and shop is already in "
                    f"progress: {running.gid}."
                )
                error = {"field": None, "message": message, "code": "OPERATION_IN_PROGRESS"}
                return {"bulkOperation": None, "userErrors": [error]}
            self._count += 1
            job = BulkJob(4_100_000_000 + self._count, query, nodes, now, kind=kind)
            job.created = self.clock()
            job.fail, self.fail_next = self.fail_next is not None, None
            job.error_code = "INTERNAL_SERVER_ERROR" if job.fail else None
            if kind == "QUERY" and not job.fail:
                job.render = _Render(job, self.clock)
            if kind == "QUERY":
                self.current = job
            else:
                self.current_mutation = job
            return {"bulkOperation": _brief(job), "userErrors": []}

    def poll(self, base: str, now: str, kind: str = "QUERY") -> dict[str, Any] | None:
        """The ``currentBulkOperation(type:)`` payload; each poll moves the job along."""
        with self._lock:
            job = self.current if kind == "QUERY" else self.current_mutation
            return self._advance(job, base, now)

    def by_id(self, node_id: str, base: str, now: str) -> dict[str, Any] | None:
        """``node(id:)`` of a bulk operation: polls it as ``currentBulkOperation`` does."""
        with self._lock:
            for job in (self.current, self.current_mutation):
                if job is not None and job.gid == node_id:
                    return self._advance(job, base, now)
            return None

    def _advance(self, job: BulkJob | None, base: str, now: str) -> dict[str, Any] | None:
        if job is None:
            return None
        if job.status in IN_PROGRESS:
            job.polls += 1
            job.status = "RUNNING"
            if job.polls == self.polls:
                job.finished = self.clock()  # the polls are done; the file may not be
            if job.polls >= self.polls and (job.render is None or job.render.done.is_set()):
                self._finish(job, now)
        return self._describe(job, base)

    def download(self, token: str) -> Answer:
        with self._lock:
            found = self._files.get(token)
        if found is None:
            return Answer(404, _MISSING, content_type="application/xml")
        if self.clock() >= found.expires_at:
            return Answer(403, _EXPIRED, content_type="application/xml")
        return Answer(200, found.body, content_type="application/jsonl")

    def _finish(self, job: BulkJob, now: str) -> None:
        job.completed_at = now
        if job.render is not None:
            job.finished = max(job.finished or 0.0, job.render.at)
            body, job.object_count = job.render.body, job.render.count
            job.render = None  # the file is kept once, in _files
        else:
            body, job.object_count = (None, 0) if job.fail else file_of(job)
            job.finished = self.clock()
        if body is None:
            job.status, job.error_code = "FAILED", job.error_code or "INTERNAL_SERVER_ERROR"
            return
        job.file_size = len(body)
        job.token = secrets.token_urlsafe(12)
        expires = self.clock() - 1 if self.expire_next else self.clock() + self.url_ttl
        self.expire_next = False
        self._files[job.token] = _File(body, expires)
        job.status = "COMPLETED"

    def _describe(self, job: BulkJob, base: str) -> dict[str, Any]:
        url = f"{base}/bulk/{job.token}.jsonl" if job.token else None
        return {
            **_brief(job),
            "errorCode": job.error_code,
            "createdAt": job.created_at,
            "completedAt": job.completed_at,
            "objectCount": str(job.object_count),
            "fileSize": str(job.file_size) if job.token else None,
            "url": url,
            "partialDataUrl": None,
            "query": job.query,
            "type": job.kind,
            "__typename": "BulkOperation",
        }


def file_of(job: BulkJob) -> tuple[bytes, int]:
    """The job's JSONL file and its number of lines."""
    made = job.nodes() if job.kind == "MUTATION" else jsonl_lines(job.nodes())
    lines = [orjson.dumps(line) for line in made]
    return b"\n".join(lines) + (b"\n" if lines else b""), len(lines)


def _brief(job: BulkJob) -> dict[str, Any]:
    return {"id": job.gid, "status": job.status}


def jsonl_lines(roots: Iterable[Node]) -> Iterator[Node]:
    """Every root node and, after its batch, every connection node with ``__parentId``
    (``roots`` are taken a batch at a time, so a generator's are never all alive)."""
    each = iter(roots)
    while batch := list(islice(each, BATCH)):
        groups: list[list[Node]] = []
        for root in batch:
            groups.append([])
            yield _split(root, None, groups[-1])
        for group in reversed(groups):
            yield from group


def _split(node: Node, parent: str | None, children: list[Node]) -> Node:
    """``node`` without its connections (their nodes go to ``children``, recursively);
    objects inside plain lists keep their place but lose their connections too."""
    own: Node = {}
    for key, value in node.items():
        members = _members(value)
        if members is not None:
            for child in members:
                children.append({})  # its place: before its own children
                slot = len(children) - 1
                children[slot] = _split(child, node["id"], children)
        elif isinstance(value, list) and value and isinstance(value[0], dict) and "id" in value[0]:
            own[key] = [_split(item, None, children) for item in value]
        else:
            own[key] = value
    if parent is not None:
        own["__parentId"] = parent
    return own


def _members(value: Any) -> list[Node] | None:
    """The nodes of a connection in an answer (``edges { node }`` or ``nodes``), or None."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("edges"), list):
        return [edge["node"] for edge in value["edges"]]
    if isinstance(value.get("nodes"), list):
        return list(value["nodes"])
    return None
