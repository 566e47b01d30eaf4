"""KlaviyoWriter: one run of one sync's writes to Klaviyo, a batch at a time.

Adds and updates (both objects) are upserts:

    a batch of more than SMALL profiles   Bulk Profile Import jobs of at most 10,000 profiles
                                          and 5 MB each (with the list relationship for
                                          list_members): submitted together, polled until
                                          complete, their import-errors read and mapped back
                                          to records by the identifiers in each error's
                                          ``original_payload``
    SMALL profiles or fewer (profiles)    one POST /api/profile-import each: fewer requests
                                          than a job's create + polls
    an update that clears an attribute    profile-import, which clears on ``null`` (bulk
                                          import ignores it)

A job resubmitted after a lost answer is safe: it upserts the same profiles again. A job
Klaviyo cancels, or one still running after ``Poll.patience``, fails the batch
(retryable); nothing of it is recorded, so the next attempt sends it again.

Removals (list_members in mirror mode) need Klaviyo profile ids, which only a lookup
gives. Each record's ``remote_id`` is its identity (``external_id:…``, else ``email:…``,
else ``phone_number:…``), resolved at removal time with ``GET /api/profiles?filter=
any(field,[…])``, 100 a request, then ``DELETE …/relationships/profiles``, 1,000 a request.
Resolving when a record is added instead would cost one lookup per 100 records on every
add (20 for the first 2,000), where removals are usually few: resolving at removal costs
requests only for what leaves. It also survives Klaviyo merging profiles (the id changes,
the identity does not). A removed record whose profile no longer exists has left the list.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson

from podium.errors import TerminalTaskError, TransientTaskError
from podium.syncs.destination import SyncTarget, WriterEnv
from podium.syncs.destinations.klaviyo_http import KlaviyoWriteApi, Rejection, field_of
from podium.syncs.destinations.klaviyo_payload import (
    Profile,
    identifiers_of,
    profile_of,
    split_identity,
)
from podium.syncs.plan import Change
from podium.syncs.state import Op, Outcome

JOB_PROFILES = 10_000  # one bulk import job's most
#: changes per send: ten jobs, the create endpoint's burst, created back to back and then
#: polled together, so a batch waits for Klaviyo once rather than once per job (100,000
#: profiles: one poll schedule of ~2.5 s instead of ten)
BATCH = 10 * JOB_PROFILES
JOB_BYTES = 5 * 1024 * 1024 - 64 * 1024  # 5 MB, less room for the job's envelope
SMALL = 3  # a job costs a create and at least two polls: this many profile-imports or fewer


@dataclass(frozen=True)
class Poll:
    """How a bulk import job is awaited: the first wait, its growth, its cap, and how long
    in all before the batch is given up (for the next attempt).

    Doubling from a quarter second finds a job that is done within a second after two
    polls (0.25 s, 0.75 s) and one that takes half a minute after seven (…, 15.75 s,
    30.75 s), as many as growing by half from a second took (1 s, 2.5 s, …, 32.2 s). A
    round of polls of a batch's ten jobs is one burst of the poll endpoint (10/s), and
    rounds 15 s apart stay far inside its 150/min."""

    first: float = 0.25
    factor: float = 2.0
    most: float = 15.0
    patience: float = 1800.0


DEFAULT_POLL = Poll()


class KlaviyoWriter:
    """Writes ``target``'s changes; ``list_name`` is list_members' ``list`` option."""

    batch_size = BATCH

    def __init__(
        self,
        api: KlaviyoWriteApi,
        target: SyncTarget,
        env: WriterEnv,
        *,
        list_name: str | None = None,
        poll: Poll = DEFAULT_POLL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api, self.target, self.env = api, target, env
        self.list_name, self.poll, self._sleep = list_name, poll, sleep
        self._list_id: str | None = None

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        outcomes: dict[str, Outcome] = {}
        removes = [c for c in changes if c.op is Op.REMOVE]
        if removes:
            outcomes.update(self._remove(removes))
        profiles: list[Profile] = []
        for change in changes:
            if change.op is Op.REMOVE:
                continue
            made = profile_of(change)
            if isinstance(made, str):
                outcomes[change.key] = _rejected(change, made)
            else:
                profiles.append(made)
        one_by_one = [p for p in profiles if p.clears]
        bulk = [p for p in profiles if not p.clears]
        if self.list_name is None and len(bulk) <= SMALL:
            one_by_one, bulk = one_by_one + bulk, []
        for profile in one_by_one:
            outcomes[profile.change.key] = self._import_one(profile)
        if bulk:
            outcomes.update(self._import_bulk(bulk))
        return [outcomes[c.key] for c in changes]

    def close(self) -> None:
        self.api.close()

    # -- upserts -------------------------------------------------------------------------
    def _import_one(self, profile: Profile) -> Outcome:
        answer = self.api.import_profile(profile.resource(nulls=True))
        if isinstance(answer, Rejection):
            return _rejected(profile.change, answer.reason)
        return _landed(profile)

    def _import_bulk(self, profiles: Sequence[Profile]) -> dict[str, Outcome]:
        list_id = self._list() if self.list_name is not None else None
        jobs = [self.api.submit_job([p.resource(nulls=False) for p in chunk], list_id)
                for chunk in _chunks(profiles)]  # fmt: skip
        failed = self._await(jobs)
        rejected: dict[str, str] = {}
        for job_id in failed:
            rejected.update(self._job_rejections(job_id, profiles))
        return {
            p.change.key: _rejected(p.change, rejected[p.change.key])
            if p.change.key in rejected
            else _landed(p)
            for p in profiles
        }

    def _await(self, jobs: Sequence[str]) -> list[str]:
        """Polls ``jobs`` until each is complete; the ids of those with failures."""
        pending, failed = list(jobs), []
        wait, waited = self.poll.first, 0.0
        while pending:
            if self.env.cancelled.is_set():
                raise TransientTaskError(
                    f"sync {self.target.sync}: cancelled while Klaviyo imported the batch"
                    f" (jobs {', '.join(pending)}); the next attempt sends it again"
                )
            if waited > self.poll.patience:
                raise TransientTaskError(
                    f"sync {self.target.sync}: Klaviyo bulk import jobs {', '.join(pending)}"
                    f" still running after {waited:.0f}s; nothing of the batch was recorded and"
                    " the next attempt sends it again (an upsert, so no profile is doubled)"
                )
            self._sleep(wait)
            waited, wait = waited + wait, min(self.poll.most, wait * self.poll.factor)
            for job_id in list(pending):
                attributes = self.api.job(job_id)
                status = attributes.get("status")
                if status in ("cancelled", "failed"):
                    raise TransientTaskError(
                        f"sync {self.target.sync}: Klaviyo {status} bulk import job {job_id};"
                        " nothing of the batch was recorded and the next attempt sends it again"
                    )
                if status == "complete":
                    pending.remove(job_id)
                    if attributes.get("failed_count"):
                        failed.append(job_id)
        return failed

    def _job_rejections(self, job_id: str, profiles: Sequence[Profile]) -> dict[str, str]:
        """key → reason for the job's import errors, mapped back by identifier. An error
        naming no record sent rejects every record of the job (each is retried next run,
        when a smaller batch names the culprit) rather than call one landed wrongly."""
        by_identity: dict[str, list[str]] = defaultdict(list)
        for p in profiles:
            for identity in identifiers_of(p.attributes):
                by_identity[identity].append(p.change.key)
        rejected: dict[str, str] = {}
        for error in self.api.job_errors(job_id):
            payload = error.get("original_payload") or {}
            attributes = payload.get("attributes") if isinstance(payload, dict) else None
            reason = _error_reason(error)
            keys = next(
                (by_identity[i] for i in identifiers_of(attributes or {}) if i in by_identity),
                None,
            )
            if keys is None:
                unnamed = f"Klaviyo rejected a record of bulk import job {job_id} it did not name"
                return {p.change.key: f"{unnamed}: {reason}" for p in profiles}
            rejected.update(dict.fromkeys(keys, reason))
        return rejected

    # -- removals ------------------------------------------------------------------------
    def _remove(self, removes: Sequence[Change]) -> dict[str, Outcome]:
        if self.list_name is None:
            raise TerminalTaskError(
                f"sync {self.target.sync}: Klaviyo has no API to delete profiles, so"
                f" {self.target.object} cannot remove records; use mode upsert"
            )
        outcomes: dict[str, Outcome] = {}
        by_field: dict[str, dict[str, list[Change]]] = defaultdict(lambda: defaultdict(list))
        for change in removes:
            if not change.remote_id or ":" not in change.remote_id:
                outcomes[change.key] = _rejected(change, _NO_IDENTITY)
                continue
            field, value = split_identity(change.remote_id)
            by_field[field][value].append(change)
        ids: list[str] = []
        for field, changes in by_field.items():
            ids.extend(self.api.profile_ids(field, sorted(changes)).values())
        if ids:
            self.api.remove_members(self._list(), sorted(set(ids)))
        for changes in by_field.values():
            for group in changes.values():
                outcomes.update((c.key, Outcome(c.key, c.op, c.hash, True)) for c in group)
        return outcomes

    def _list(self) -> str:
        if self._list_id is None:
            wanted = str(self.list_name)
            found = self.api.list_id(wanted)
            if found is None:
                raise TerminalTaskError(
                    f"sync {self.target.sync}: list: Klaviyo has no list named or with id"
                    f" {wanted!r} (connection {self.target.connection!r}); create it in Klaviyo"
                    " or correct the sync's list"
                )
            self._list_id = found
        return self._list_id


_NO_IDENTITY = (
    "no identifier was recorded for this record when it was added, so it cannot be found"
    " in Klaviyo to leave the list; remove it from the list in Klaviyo"
)


def _chunks(profiles: Sequence[Profile]) -> Iterable[list[Profile]]:
    """Runs of profiles within one job's count and size limits."""
    chunk: list[Profile] = []
    size = 0
    for p in profiles:
        n = len(orjson.dumps(p.resource(nulls=False))) + 1
        if chunk and (len(chunk) >= JOB_PROFILES or size + n > JOB_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        yield chunk


def _error_reason(error: dict[str, object]) -> str:
    source = error.get("source")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    field = field_of(str(pointer or ""))
    where = f" at {field}" if field else ""
    detail = error.get("detail") or error.get("title") or "rejected"
    return f"Klaviyo: {detail} [{error.get('code') or 'invalid'}{where}]"


def _landed(profile: Profile) -> Outcome:
    c = profile.change
    return Outcome(c.key, c.op, c.hash, True, remote_id=profile.identity)


def _rejected(change: Change, reason: str) -> Outcome:
    return Outcome(change.key, change.op, change.hash, False, reason)
