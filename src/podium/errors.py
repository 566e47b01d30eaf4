"""Every error podium raises on purpose, and where each is defined when not here.

    PodiumError                      root: catch this to catch everything podium means
    ├── ProjectError                 a project (podium.yaml, workflows) is invalid
    │                                carries every Problem found, each with file:line
    ├── UsageError                   bad CLI flags or API input (bad param, bad date)
    │   ├── NotFoundError            no such run, workflow or task
    │   ├── ConflictError            not now: the run's state does not allow it (still
    │   │                            running, nothing failed to retry)
    │   └── CompileError             a model cannot be written in the warehouse's dialect
    │                                (transforms.compile)
    ├── StoreError                   the store cannot be opened or migrated
    │   ├── EngineLockedError        another engine holds this SQLite store
    │   └── StoreUnavailableError    transient: the store is away (restarting, locked,
    │                                disk full); the engine waits, the API answers 503
    ├── StaleLeaseError              a write was refused: the attempt's lease moved on
    ├── WebhookRejected              a delivery the receiver refuses (webhooks.verify)
    │   ├── BodyTooLarge             413: the body is over the size limit
    │   ├── MalformedDelivery        400: the body or a header cannot be read
    │   └── BadSignature             401: the signature does not verify
    ├── PayloadError                 a delivery a trigger cannot evaluate (webhooks.match)
    ├── RemoteError                  the remote `podium up` failed or is away (cli.remote)
    └── TaskError                    raised inside a task; decides retry (is_retryable)
        ├── TransientTaskError       retried while retries remain (the default)
        │   ├── UnparsableBodyError  a response that is not the JSON it should be
        │   │                        (connectors.http)
        │   └── SyncCancelled        a sync stopped between batches; what landed is
        │                            recorded (syncs.run)
        └── TerminalTaskError        never retried (bad credentials, bad input)
            ├── NetSuiteRefusal      a 4xx NetSuite will answer again
            │                        (connectors.sources.netsuite.answers)
            ├── SchemaFrozenError    a frozen stream's data no longer fits its tables
            │                        (connectors.normalize.contract)
            └── ChecksFailed         error-severity checks failed; every outcome is still
                                     reported (kinds.base)

Messages say what failed, which ids, and what to do next. Each edge translates once:
the CLI into a message and an exit code, the API into JSON and a status, the engine into
an AttemptFailed event.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class PodiumError(Exception):
    """Root of podium's errors."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project, located in its file (line 0: the whole file)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ProjectError(PodiumError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(PodiumError):
    """The caller asked for something that cannot be done as asked."""


class NotFoundError(UsageError):
    """The caller named a run, workflow or task that does not exist."""


class ConflictError(UsageError):
    """The request is well formed but the current state refuses it (the API answers 409)."""


class StoreError(PodiumError):
    """The store cannot be opened, migrated or reached."""


class EngineLockedError(StoreError):
    """A second engine tried to open a SQLite store another engine holds."""

    def __init__(self, message: str, holder: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}


class StoreUnavailableError(StoreError):
    """The store cannot be reached or written right now: the connection was lost, the
    server is restarting, another process holds the lock too long, the disk is full.

    Transient: nothing was committed by the failed statement's transaction, and the same
    work may be tried again once the store is back (the engine does; the API answers 503
    with a ``Retry-After``)."""


class StaleLeaseError(PodiumError):
    """A state change was refused because the attempt's lease is no longer ours."""


class TaskError(PodiumError):
    """Raised by task code to say how its failure should be treated."""


class TransientTaskError(TaskError):
    """A failure worth retrying (a timeout, a 5xx, a reset connection)."""


class TerminalTaskError(TaskError):
    """A failure retrying cannot fix (a 401, a missing file): no retry."""


def is_retryable(exc: BaseException) -> bool:
    """The one rule for what a failed attempt does next, the same for every task kind.

    Terminal (the attempt fails for good, whatever ``retries`` says):
        TerminalTaskError        bad credentials, a refused request, checks that failed
        UsageError, ProjectError bad settings, unknown names: the same try fails the same way
        StoreError but not StoreUnavailableError
    Retried while retries remain:
        TransientTaskError, StoreUnavailableError, and any other exception (a reset
        connection, a timeout, a bug in user code that may depend on the data)
    """
    if isinstance(exc, TransientTaskError | StoreUnavailableError):
        return True
    return not isinstance(exc, TerminalTaskError | UsageError | ProjectError | StoreError)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'shopify'?"`` when one of ``known`` is close to ``name``, else ``""``
    (for the end of a message that names something unknown)."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of ``exc``'s message (its type's name when it has none), cut at
    ``limit`` characters: for messages that quote another library's error."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]
