"""Which driver errors mean "the store is away for now" (retried) and which are bugs."""

from __future__ import annotations

import psycopg.errors

from podium.store.outage import transient_reason


def test_a_deadlock_or_serialization_failure_is_taken_again_not_fatal() -> None:
    # Two engines' steps can still deadlock on PostgreSQL; the loser's step is safe to take
    # again, so podium up must wait and step, not exit on it.
    for error in (psycopg.errors.DeadlockDetected("x"), psycopg.errors.SerializationFailure("x")):
        assert transient_reason(error) == (
            "the server rolled the transaction back (deadlock or serialization failure)"
        )


def test_a_lost_connection_is_transient_and_a_constraint_is_not() -> None:
    assert transient_reason(psycopg.OperationalError("gone")) is not None
    assert transient_reason(psycopg.errors.UniqueViolation("dupe")) is None
