"""Hashing emails and phone numbers in models: ``pii_email(x)`` and ``pii_phone(x)``.

Both normalise the value, then return the hex HMAC-SHA256 of it keyed by the warehouse's
``pii_key`` (a secret in podium.yaml), so a person can be joined across sources by the
hash while the raw value never leaves the raw layer::

    select pii_email(email) as email_hash, pii_phone(phone) as phone_hash
    from raw_shopify.customers

- email: surrounding spaces removed, lower-cased (``" Ada@Example.COM"`` → ``ada@example.com``).
- phone: digits only; ten digits are taken as a North American number and get the ``1``
  country code (``(512) 555-0101`` and ``+1 512 555 0101`` hash alike).
- Empty or null values give null.

Both warehouses compute the HMAC in SQL from its two pads (derived from the key in Python
and handed over as session variables with bound parameters when podium connects), so the
key is never written into a query, a function body or a log. DuckDB gets temporary macros
on the connection; PostgreSQL gets SQL functions in podium's bookkeeping schema (created on
first use; models are compiled to call them there). Without ``pii_key`` a model that uses
them is refused before it runs, saying how to set it.
"""

from __future__ import annotations

import hashlib
from typing import Any

FUNCTIONS = ("pii_email", "pii_phone")
_BLOCK = 64  # SHA-256's block size, for the HMAC pads
MISSING_KEY = (
    "pii_email()/pii_phone() need a key: set warehouse.pii_key in podium.yaml, "
    "e.g. pii_key: ${PODIUM_PII_KEY}, and export PODIUM_PII_KEY"
)


def pads(key: str) -> tuple[str, str]:
    """The HMAC inner and outer pads of ``key``, in hex (what PostgreSQL's function reads)."""
    raw = key.encode()
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw).hex(), bytes(b ^ 0x5C for b in raw).hex()


def register_duckdb(db: Any, key: str | None) -> None:
    """Adds ``pii_email`` and ``pii_phone`` to a DuckDB connection: temporary macros that
    read the pads from session variables (set only when there is a key)."""
    if key is not None:
        inner, outer = pads(key)
        db.execute("SET VARIABLE podium_pii_ipad = ?", [inner])
        db.execute("SET VARIABLE podium_pii_opad = ?", [outer])
    missing = MISSING_KEY.replace("'", "''")
    hmac_sql = (
        "sha256(unhex(getvariable('podium_pii_opad')) || "
        "unhex(sha256(unhex(getvariable('podium_pii_ipad')) || encode(v))))"
    )
    phone = "regexp_replace(value, '[^0-9]', '', 'g')"
    for statement in (
        "CREATE OR REPLACE TEMP MACRO pii_hmac(v) AS CASE WHEN v IS NULL OR v = '' THEN NULL "
        f"WHEN getvariable('podium_pii_ipad') IS NULL THEN error('{missing}') ELSE {hmac_sql} END",
        "CREATE OR REPLACE TEMP MACRO pii_email(value) AS pii_hmac(lower(trim(value)))",
        "CREATE OR REPLACE TEMP MACRO pii_phone(value) AS pii_hmac(CASE "
        f"WHEN length({phone}) = 10 THEN '1' || {phone} ELSE {phone} END)",
    ):
        db.execute(statement)


def postgres_functions(schema: str) -> list[str]:
    """SQL that creates the functions in ``schema`` (a quoted name)."""
    hmac_sql = (
        "encode(sha256(decode(current_setting('podium.pii_opad'), 'hex') || "
        "sha256(decode(current_setting('podium.pii_ipad'), 'hex') || convert_to(v, 'UTF8'))),"
        " 'hex')"
    )
    phone = "regexp_replace(value, '[^0-9]', '', 'g')"
    return [
        f"CREATE OR REPLACE FUNCTION {schema}.pii_hmac(v text) RETURNS text "
        f"LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT CASE WHEN v IS NULL OR v = '' "
        f"THEN NULL ELSE {hmac_sql} END $$",
        f"CREATE OR REPLACE FUNCTION {schema}.pii_email(value text) RETURNS text "
        f"LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT {schema}.pii_hmac(lower(btrim(value))) $$",
        f"CREATE OR REPLACE FUNCTION {schema}.pii_phone(value text) RETURNS text "
        f"LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT {schema}.pii_hmac(CASE "
        f"WHEN length({phone}) = 10 THEN '1' || {phone} ELSE {phone} END) $$",
    ]
