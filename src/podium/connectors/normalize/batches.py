"""The batch reader: complete spool files read into DuckDB tables, in a thread of its own."""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor

import duckdb

from podium.connectors.normalize.names import literal
from podium.connectors.normalize.shape import Shape, duckdb_columns


class BatchReader:
    """Reads complete spool files into tables, one batch at a time, in a thread of its own:
    with the reading thread fetching pages and the main thread staging, DuckDB's parse of
    the next batch (the largest single cost of staging) no longer waits for either. The
    columns are the pages' shape, without detection: a batch that does not read so (an
    integer beyond 64 bits, keys differing only in case, a text that is not the time its
    first values were…) gives None, and the main thread reads it with detection."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self._db = db.cursor()  # the same database; its own connection
        self._db.execute("USE stage")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podium-batch")
        self._numbers = itertools.count()

    def read(self, files: list[str], shape: Shape) -> Future[str | None]:
        return self._executor.submit(self._read, files, shape, next(self._numbers))

    def _read(self, files: list[str], shape: Shape, number: int) -> str | None:
        """The table now holding the files' records; None if they do not read with
        ``shape``."""
        table = f"_batch_{number}"
        source = (
            f"read_json({sql_files(files)}, format='array', "
            f"auto_detect=false, columns={duckdb_columns(shape)})"
        )
        try:
            self._db.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
        except duckdb.Error:
            return None
        return table

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._db.close()


def sql_files(files: list[str]) -> str:
    return "[" + ", ".join(literal(f) for f in files) + "]"
