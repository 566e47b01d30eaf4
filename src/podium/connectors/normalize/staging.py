"""The staging area of one load: pages in, flat typed tables out, in an embedded DuckDB.

Pages are written to files and read back by DuckDB in batches (``read_json`` for pages,
``read_csv``/``read_parquet`` for files), flattened by the plan from ``flatten``, checked
(primary key present, declared types convert) and appended to one staging table per output
table. Nothing here touches the warehouse: a load killed while staging leaves no trace but
its work folder, which the next load of the stream clears.

Staging tables hold, besides the data columns: root ``_seq`` (the record's number within
the load), ``_key``, ``_extracted_at`` (and ``_record_hash`` / ``_document`` when asked);
child ``_seq`` (its root record's), ``_root_key``, ``_parent_key``, ``_pos``,
``_extracted_at``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from podium.connectors.normalize import names, types
from podium.connectors.normalize.batches import BatchReader, sql_files
from podium.connectors.normalize.conform import ENCODE_EXACT, Conformer, Conforming
from podium.connectors.normalize.flatten import RootKeys, TablePlan, plan_tables
from podium.connectors.normalize.names import literal, quote
from podium.connectors.normalize.shape import (
    TEMPORAL_PATTERNS,
    Observer,
    Shape,
)
from podium.connectors.normalize.spool import OtherPage, SpooledPage, SpoolFiles
from podium.connectors.source import (
    FilePage,
    JsonBody,
    JsonPage,
    Page,
    Stream,
    UnreadablePage,
    WriteMode,
)
from podium.errors import first_line

KEY_SEPARATOR = "\x1f"
BATCH_BYTES = 48 * 1024 * 1024
# The first batch is smaller: the batch reader (and a core) waits for it, and 48 MB is a
# sixth of a 100,000-order load; later batches are read while the next one is spooled.
FIRST_BATCH_BYTES = 8 * 1024 * 1024
# DuckDB's detection for a batch the recorded shape cannot read: every record of every
# file (it would otherwise look at 32 files only and drop fields first seen after them)
_JSON_OPTIONS = (
    "format='array', sample_size=-1, maximum_sample_files=-1, "
    "map_inference_threshold=-1, field_appearance_threshold=0"
)
_READERS = {
    "jsonl": "read_json({files}, format='newline_delimited', filename='_podium_file', "
    "sample_size=-1, map_inference_threshold=-1, field_appearance_threshold=0)",
    "json": "read_json({files}, format='auto', filename='_podium_file', sample_size=-1, "
    "map_inference_threshold=-1, field_appearance_threshold=0)",
    "csv": "read_csv({files}, filename='_podium_file', sample_size=-1, all_varchar=false)",
    "parquet": "read_parquet({files}, filename='_podium_file')",
}


@dataclass
class StagedTable:
    """One output table as staged: its data columns (name → type), in first-seen order."""

    name: str
    is_root: bool
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class StageCounts:
    received: int = 0
    quarantined: int = 0
    deleted: int = 0


class Staging:
    """Stages one stream's pages; ``finish`` leaves one deduplicated table per output."""

    def __init__(
        self,
        workdir: Path,
        stream: Stream,
        load_id: str,
        *,
        now: Callable[[], datetime],
        memory_limit: str = "512MB",
        batch_bytes: int = BATCH_BYTES,
    ) -> None:
        shutil.rmtree(workdir, ignore_errors=True)
        (workdir / "pages").mkdir(parents=True)
        self.workdir, self.stream, self.load_id = workdir, stream, load_id
        self._now, self._batch_bytes = now, batch_bytes
        self._next_batch_bytes = min(batch_bytes, FIRST_BATCH_BYTES)
        # In memory: staged rows are read once, by the commit, so writing them to a file
        # first only costs time; past the memory limit DuckDB spills to temp_directory.
        self.db = duckdb.connect()
        self.db.execute("ATTACH ':memory:' AS stage; USE stage")
        self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.db.execute(f"SET temp_directory = '{workdir / 'spill'}'")
        self.db.execute("SET TimeZone = 'UTC'")
        # One thread: the reading thread and the HTTP server want the other cores, and
        # DuckDB's threads stall each other when one of them is descheduled.
        self.db.execute("SET threads = 1")
        # The staged tables live until the commit; checkpointing them as they grow (they
        # are in memory) costs as much as the inserts themselves.
        self.db.execute("SET checkpoint_threshold = '1TB'")
        self.db.execute("SET enable_progress_bar = false")  # it would print on the terminal
        self.db.execute(
            "CREATE TABLE _podium_pages (first_seq BIGINT, last_seq BIGINT, location VARCHAR);"
            "CREATE TABLE _podium_quarantine (location VARCHAR, reason VARCHAR, record VARCHAR);"
            "CREATE TABLE _podium_deleted (_key VARCHAR)"
        )
        self.tables: dict[str, StagedTable] = {}
        self.counts = StageCounts()
        self._pending: list[tuple[str, str, int]] = []  # (spool file, location, records)
        self._spool = SpoolFiles(workdir / "pages")
        # every JSON record spooled so far, seen by the reading thread (``spool``); the
        # latest snapshot of it, taken after the newest pending page, covers every batch
        self._observer = Observer()
        self._conformer = Conformer(self._observer)
        self._reading_shape: Shape | None = None  # the reading thread's latest snapshot
        self._reader = BatchReader(self.db)
        self._shape: Shape | None = None
        self._offset = 0
        self._batch_time = now()

    # -- pages in ------------------------------------------------------------------------

    def spool(self, page: Page) -> SpooledPage | OtherPage:
        """A JSON page's records appended to the current spool file, ready for ``add``;
        other pages wrapped as they are. Touches no database, so a reading thread can spool
        while a batch is staged. The spool file is closed (and the next one begun) once it
        holds a batch, and before a file page (``add`` stages the pending records first),
        so every file ``add`` reads is complete and a batch is one file."""
        refused = False  # a body the conformer refused: its records would not fit either
        if isinstance(page, JsonBody):
            conforming = self._conformer.read(page.content, page.path)
            if conforming is not None:
                return self._spool_conforming(page, conforming)
            page, refused = JsonPage(page.records, page.location), True  # observed below
        if not isinstance(page, JsonPage):
            if isinstance(page, FilePage):
                self._spool.close()
            return OtherPage(page)
        records, rejects = page.records, []
        if not all(type(r) is dict for r in records):
            for index, record in enumerate(records):
                if type(record) is not dict:
                    reason = f"record {index} is {type(record).__name__}, not an object"
                    rejects.append((reason, orjson.dumps(record).decode()))
            records = [r for r in records if type(r) is dict]
        elif type(records) is not list:  # a tuple or any sequence: encoded as one list
            records = list(records)
        spooled = SpooledPage(
            None, len(page.records), page.location, page.deleted, rejects, self._now()
        )
        if records:
            spooled.path = self._spool.write(self._encode(records, fit=not refused))
            spooled.objects = len(records)
            spooled.shape = self._reading_shape = self._observer.snapshot()
            self._end_batch(spooled)
        return spooled

    def _encode(self, records: Sequence[dict[str, Any]], *, fit: bool) -> memoryview:
        """The records as the spool holds them (the page's JSON array without brackets, in
        one ``orjson.dumps``), their shape noted: by the conformer when they add nothing to
        it (``Conformer.fits``, in C; tried when ``fit``), otherwise observed record by
        record."""
        if fit and self._conformer.fits(records):
            try:
                return memoryview(orjson.dumps(records, option=ENCODE_EXACT))[1:-1]
            except TypeError:  # a subclass of a JSON type, a date…: a kind of its own
                pass
        self._observer.observe(records)
        return memoryview(orjson.dumps(records))[1:-1]

    def _spool_conforming(self, page: JsonBody, records: Conforming) -> SpooledPage:
        """A page whose records add nothing to the shape: copied as the body holds them."""
        page.count = records.count
        spooled = SpooledPage(None, records.count, page.location, (), [], self._now())
        if records.count:
            spooled.path = self._spool.write(records.elements)
            spooled.objects = records.count
            self._end_batch(spooled)
        return spooled

    def _end_batch(self, spooled: SpooledPage) -> None:
        """Closes the spool file once it holds a batch, and has the batch reader start
        reading it into a table while this thread reads on and the main thread stages the
        batch before."""
        spooled.ends_batch = self._spool.rotate_after(self._next_batch_bytes)
        if spooled.ends_batch:
            self._next_batch_bytes = self._batch_bytes
        if spooled.ends_batch and spooled.path is not None and self._reading_shape is not None:
            spooled.read_ahead = self._reader.read([str(spooled.path)], self._reading_shape)

    def add(self, page: Page | SpooledPage | OtherPage) -> None:
        if isinstance(page, JsonPage | JsonBody | FilePage | UnreadablePage):
            page = self.spool(page)  # no reading thread: spool here
        if isinstance(page, SpooledPage):
            self._add_spooled(page)
            return
        page = page.page
        if isinstance(page, FilePage):
            self.flush()
            self._read_batch(_READERS[page.format], [str(page.path)], page.location)
        elif isinstance(page, UnreadablePage):
            self.counts.received += 1  # the whole page, as one record
            self._quarantine_whole(page.location, page.reason, page.content)

    def _add_spooled(self, page: SpooledPage) -> None:
        self.counts.received += page.records
        for reason, content in page.rejects:
            self._quarantine_whole(page.location, reason, content)
        if page.deleted:
            self._add_deleted(page.deleted)
        if page.path is None:
            return
        if not self._pending:
            self._batch_time = page.spooled_at
        self._pending.append((str(page.path), page.location, page.objects))
        if page.shape is not None:
            self._shape = page.shape
        if page.ends_batch:
            self.flush(page.read_ahead)

    def _add_deleted(self, deleted: Sequence[Mapping[str, Any]]) -> None:
        keys = [(record_key(d, self.stream.primary_key),) for d in deleted]
        self.db.executemany("INSERT INTO _podium_deleted VALUES (?)", keys)
        self.counts.deleted += len(keys)

    def _quarantine_whole(self, location: str, reason: str, content: str) -> None:
        self.db.execute(
            "INSERT INTO _podium_quarantine VALUES (?, ?, ?)", [location, reason, content or None]
        )
        self.counts.quarantined += 1

    def flush(self, read_ahead: Future[str | None] | None = None) -> None:
        """Stages the pending JSON pages. Called only when their spool file is complete
        (closed by the reading thread, or by ``finish``): the spool's open file belongs to
        the reading thread, which may be writing to it now. ``read_ahead``: that file,
        already being read into a table by the batch reader."""
        if not self._pending:
            return
        pending, shape = self._pending, self._shape
        self._pending = []
        files = list(dict.fromkeys(file for file, _, _ in pending))
        self._note_pages([(location, objects) for _, location, objects in pending])
        if read_ahead is None and shape is not None:
            read_ahead = self._reader.read(files, shape)
        table = read_ahead.result() if read_ahead is not None else None
        if table is not None:
            self._flatten_batch(shape, table)
        else:  # no shape yet, or the batch does not read with it
            self._read_batch("read_json({files}, " + _JSON_OPTIONS + ")", files, None)
        for name in files:
            Path(name).unlink(missing_ok=True)

    def _note_pages(self, pages: Sequence[tuple[str, int]]) -> None:
        """Where each record of the next batch came from: pages hold consecutive ``_seq``s."""
        starts, ends, locations, first = [], [], [], self._offset
        for location, objects in pages:
            starts.append(first)
            ends.append(first + objects - 1)
            locations.append(location)
            first += objects
        self.db.execute(
            "INSERT INTO _podium_pages SELECT unnest(?), unnest(?), unnest(?)",
            [starts, ends, locations],
        )

    # -- one batch -------------------------------------------------------------------------

    def _read_batch(self, reader: str, files: list[str], file_location: str | None) -> None:
        source = reader.format(files=sql_files(files))
        try:
            self.db.execute(f"CREATE OR REPLACE TEMP TABLE _batch AS SELECT * FROM {source}")
        except duckdb.Error as exc:
            if file_location is None:
                raise
            self.counts.received += 1  # the whole file, as one record
            self._quarantine_whole(file_location, f"cannot be read: {first_line(exc)}", "")
            return
        if file_location is not None:
            self._note_pages([(file_location, int(self._one("SELECT count(*) FROM _batch")))])
        rows = self._flatten_batch(None)
        if file_location is not None:
            self.counts.received += rows

    def _flatten_batch(self, shape: Shape | None, batch: str = "_batch") -> int:
        """Flattens the table ``batch`` into the staged tables and drops it; returns its
        row count."""
        rows = int(self._one(f"SELECT count(*) FROM {batch}"))
        if rows:
            _BatchFlattener(self, self._offset, shape, batch).run()
        self._offset += rows
        self.db.execute(f"DROP TABLE IF EXISTS {batch}")
        return rows

    def _one(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.db.execute(sql, params or []).fetchone()
        return row[0] if row else None

    # -- the end ---------------------------------------------------------------------------

    def finish(self) -> None:
        """Flushes the last batch and keeps one version per key, as the write mode says.
        Called once the pages have ended (no reading thread writes to the spool any more)."""
        self._spool.close()
        self.flush()
        root = self.root
        if root is None or not self.stream.primary_key:
            return
        if self.stream.write_mode is WriteMode.REPLACE and not self.stream.cursor:
            order = "_seq DESC"
        elif self.stream.write_mode is WriteMode.APPEND:
            order = "_seq ASC"
        else:
            cursor = self.cursor_column
            order = (f"{quote(cursor)} DESC NULLS LAST, " if cursor else "") + "_seq DESC"
        table = quote(root.name)
        duplicates = self._one(f"SELECT count(*) - count(DISTINCT _key) FROM {table}")
        if not duplicates:
            return
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE _losers AS SELECT _seq FROM (SELECT _seq, row_number() "
            f"OVER (PARTITION BY _key ORDER BY {order}) AS _n FROM {table}) WHERE _n > 1"
        )
        for staged in self.tables.values():
            self.db.execute(
                f"DELETE FROM {quote(staged.name)} WHERE _seq IN (SELECT _seq FROM _losers)"
            )

    @property
    def root(self) -> StagedTable | None:
        return next((t for t in self.tables.values() if t.is_root), None)

    @property
    def root_name(self) -> str:
        """The root table's name, whether or not this load staged any rows for it."""
        return names.identifier(self.stream.table_name)

    @property
    def cursor_column(self) -> str | None:
        if not self.stream.cursor:
            return None
        return field_column(self.stream.cursor)

    def max_cursor(self) -> Any:
        root, column = self.root, self.cursor_column
        if root is None or column is None or column not in root.columns:
            return None
        return self._one(f"SELECT max({quote(column)}) FROM {quote(root.name)}")

    def row_count(self, table: str) -> int:
        return int(self._one(f"SELECT count(*) FROM {quote(table)}"))

    def before_commit(self) -> None:
        """Back to DuckDB's defaults for the commit, which writes the warehouse's files, but
        without keeping the staged rows' order: an insert into DuckDB that keeps it
        compresses the rows on one thread (13 s for 1,000,000 orders, against 7 s on two),
        and a COPY to a file for PostgreSQL buffers the whole table. A warehouse table has
        no order a reader may rely on, the staged tables hold one row per key by now, and
        nothing in the commit depends on the order of its inserts."""
        self.db.execute("RESET threads")
        self.db.execute("RESET checkpoint_threshold")
        self.db.execute("SET preserve_insertion_order = false")

    def close(self) -> None:
        self._spool.close()
        self._reader.close()
        self.db.close()


def field_column(path: str) -> str:
    """The column a record field (``customer.id``, ``AmazonOrderId``) lands in."""
    return names.join(*(names.identifier(part) for part in path.split(".")))


def record_key(record: Any, primary_key: tuple[str, ...]) -> str:
    """The key text of a record, the same as staging computes in SQL."""
    values = []
    for part in primary_key:
        value: Any = record
        for step in part.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        values.append(_key_text(value))
    return KEY_SEPARATOR.join(values)


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class _BatchFlattener:
    """Flattens the batch in the table ``batch`` and appends it to the staging tables."""

    def __init__(self, staging: Staging, offset: int, shape: Shape | None, batch: str) -> None:
        self.s, self.db, self.stream = staging, staging.db, staging.stream
        self.offset, self.shape, self.batch = offset, shape, batch
        self.bad: list[tuple[str, str, str]] = []  # (seq SQL source, reason SQL, where)

    def run(self) -> None:
        relation = self.db.sql(f"SELECT * FROM {self.batch}")
        fields = [
            (name, kind)
            for name, kind in zip(relation.columns, relation.dtypes, strict=True)
            if name != "_podium_file"
        ]
        plan, keys = plan_tables(
            names.identifier(self.stream.table_name),
            self.batch,
            fields,
            keys=self._root_keys,
            is_json_object=self._is_json_object,
            create_level=self._create_level,
            refine_text=self._refine_text if self.shape is not None else None,
        )
        flats = [self._flatten(table, keys) for table in plan.walk()]
        self._quarantine_bad()
        for table, flat in zip(plan.walk(), flats, strict=True):
            self._append(table, flat)
            if table.level_sql:
                self.db.execute(f"DROP TABLE IF EXISTS {table.level}")
        self.db.execute("DROP TABLE IF EXISTS _bad")

    def _refine_text(self, level: str, expr: str, path: tuple[str, ...]) -> tuple[str, str]:
        """A text field's type: the date/time type its pages' first values suggest, when
        every value in the batch has that form; otherwise text."""
        assert self.shape is not None
        found = self.shape.find(path)
        guess = found.temporal if found is not None else None
        if not guess:
            return types.TEXT, expr
        pattern = literal(TEMPORAL_PATTERNS[guess])
        sql = f"SELECT bool_and(regexp_full_match({expr}, {pattern})) FROM {level} l"
        if self.s._one(sql) is False:
            return types.TEXT, expr
        return guess, f"CAST({expr} AS {types.to_duckdb(guess)})"

    def _create_level(self, sql: str) -> None:
        self.db.execute(sql)

    def _is_json_object(self, level: str, expr: str) -> bool:
        sql = f"SELECT bool_or(json_type({expr}) IN ('OBJECT', 'ARRAY')) FROM {level} l"
        return bool(self.s._one(sql))

    def _root_keys(self, root: TablePlan) -> RootKeys:
        seq = f"(l.rowid + {self.offset})"
        if not self.stream.primary_key:
            return RootKeys(seq, f"('{self.s.load_id}:' || {seq})")
        by_name = {c.name: c for c in root.columns}
        parts = []
        for name in self.stream.primary_key:
            column = by_name.get(field_column(name))
            if column is None:
                self.bad.append((self.batch, f"'primary key field {name} is missing'", "true"))
                parts.append("NULL")
                continue
            parts.append(f"CAST({column.expr} AS VARCHAR)")
            missing = f"'primary key field {name} is missing'"
            self.bad.append((self.batch, missing, f"{column.expr} IS NULL"))
        key = parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"
        return RootKeys(seq, key)

    def _flatten(self, table: TablePlan, keys: RootKeys) -> str:
        selected = []
        for column in table.columns:
            declared = self._declared(table, column.name)
            if declared is not None:
                expr = self._declared_expr(table, column.expr, column.name, declared)
                column.kind = declared
            else:
                expr = column.expr
            if column.kind is not None:
                selected.append(f"{expr} AS {quote(column.name)}")
        extracted = f"TIMESTAMPTZ '{self.s._batch_time.isoformat()}' AS _extracted_at"
        if table.level_sql is None:
            system = [f"{keys.seq} AS _seq", f"{keys.key} AS _key", extracted]
            system += self._whole_record_columns()
        else:
            system = ["l._seq", "l._root_key", "l._parent_key", "l._pos", extracted]
        columns = ", ".join(system + selected)
        return f"(SELECT {columns} FROM {table.level} l) AS _flat"

    def _whole_record_columns(self) -> list[str]:
        extra = []
        if self.stream.keep_document or not self.stream.cursor:
            record = self._record_json()
            if not self.stream.cursor:
                extra.append(f"md5({record}) AS _record_hash")
            if self.stream.keep_document:
                extra.append(f"{record}::JSON AS _document")
        return extra

    def _record_json(self) -> str:
        batch = self.db.sql(f"SELECT * FROM {self.batch}")
        fields = [c for c in batch.columns if c != "_podium_file"]
        packed = ", ".join(f"{quote(f)} := l.{quote(f)}" for f in fields)
        return f"to_json(struct_pack({packed}))"

    def _declared(self, table: TablePlan, column: str) -> str | None:
        root = names.identifier(self.stream.table_name)
        suffix = table.name[len(root) + 2 :] if table.name != root else ""
        for name, kind in self.stream.columns.items():
            *path, field_name = name.split(".")
            wanted_table = names.join(*(names.identifier(p) for p in path)) if path else ""
            if field_column(field_name) == column and wanted_table == suffix:
                return types.parse_declared(kind)
        return None

    def _declared_expr(self, table: TablePlan, expr: str, name: str, kind: str) -> str:
        cast = f"TRY_CAST({expr} AS {types.to_duckdb(kind)})"
        reason = f"'field {name}: ' || CAST({expr} AS VARCHAR) || ' is not a {kind}'"
        self.bad.append((table.level, reason, f"{expr} IS NOT NULL AND {cast} IS NULL"))
        return cast

    def _quarantine_bad(self) -> None:
        self.db.execute("CREATE OR REPLACE TEMP TABLE _bad (_seq BIGINT, reason VARCHAR)")
        for level, reason, where in self.bad:
            seq = f"(l.rowid + {self.offset})" if level == self.batch else "l._seq"
            self.db.execute(f"INSERT INTO _bad SELECT {seq}, {reason} FROM {level} l WHERE {where}")
        found = self.s._one("SELECT count(DISTINCT _seq) FROM _bad")
        if not found:
            return
        self.db.execute(
            "INSERT INTO _podium_quarantine SELECT p.location, b.reason, "
            f"{self._record_json()} FROM {self.batch} l "
            f"JOIN (SELECT _seq, min(reason) AS reason FROM _bad GROUP BY _seq) b "
            f"ON b._seq = l.rowid + {self.offset} "
            f"LEFT JOIN _podium_pages p ON l.rowid + {self.offset} "
            "BETWEEN p.first_seq AND p.last_seq"
        )
        self.s.counts.quarantined += int(found)

    def _append(self, table: TablePlan, flat: str) -> None:
        columns = {c.name: c.kind for c in table.columns if c.kind is not None}
        staged = self.s.tables.get(table.name)
        target = quote(table.name)
        if staged is None:
            staged = StagedTable(table.name, table.level_sql is None)
            self.s.tables[table.name] = staged
            self.db.execute(f"CREATE TABLE {target} AS SELECT * FROM {flat} LIMIT 0")
            staged.columns.update(columns)
        else:
            self._align(staged, columns)
        selected = ", ".join(
            f"CAST({quote(n)} AS {types.to_duckdb(staged.columns[n])}) AS {quote(n)}"
            if staged.columns[n] != kind
            else quote(n)
            for n, kind in columns.items()
        )
        system = (
            "_seq, _key, _extracted_at"
            if staged.is_root
            else ("_seq, _root_key, _parent_key, _pos, _extracted_at")
        )
        extra = [c for c in ("_record_hash", "_document") if staged.is_root and self._has(flat, c)]
        parts = ", ".join([system, *extra] + ([selected] if selected else []))
        skip = (
            " WHERE _seq NOT IN (SELECT _seq FROM _bad)"
            if self.s._one("SELECT count(*) FROM _bad")
            else ""
        )
        self.db.execute(f"INSERT INTO {target} BY NAME SELECT {parts} FROM {flat}{skip}")

    def _has(self, table: str, column: str) -> bool:
        return column in self.db.sql(f"SELECT * FROM {table}").columns

    def _align(self, staged: StagedTable, columns: dict[str, str]) -> None:
        target = quote(staged.name)
        for name, kind in columns.items():
            old = staged.columns.get(name)
            if old is None:
                self.db.execute(
                    f"ALTER TABLE {target} ADD COLUMN {quote(name)} {types.to_duckdb(kind)}"
                )
                staged.columns[name] = kind
            elif not types.holds(old, kind):
                wide = types.supertype(old, kind)
                self.db.execute(
                    f"ALTER TABLE {target} ALTER {quote(name)} TYPE {types.to_duckdb(wide)}"
                )
                staged.columns[name] = wide
