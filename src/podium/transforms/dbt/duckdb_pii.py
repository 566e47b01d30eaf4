"""A dbt-duckdb plugin: podium's ``pii_email()``/``pii_phone()`` on every cursor dbt uses.

podium's generated DuckDB profile lists it (``plugins: [{module: podium.transforms.dbt
.duckdb_pii}]``), so a dbt model can hash emails and phones exactly as podium's own models
do (``podium.transforms.pii``: temporary macros, the key's HMAC pads in session
variables). The key comes from the environment of the dbt invocation (``PII_KEY_VARIABLE``,
set by podium from ``warehouse.pii_key`` while dbt runs), never from a file or the SQL.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from podium.transforms import pii
from podium.transforms.dbt.project import PII_KEY_VARIABLE


class Plugin(BasePlugin):  # type: ignore[misc]  # dbt-duckdb is untyped
    def configure_cursor(self, cursor: Any) -> None:
        pii.register_duckdb(cursor, os.environ.get(PII_KEY_VARIABLE) or None)
