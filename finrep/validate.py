"""Data checks → findings: every problem in a data folder, collected in one run.

`validate(data_dir)` inspects the nine files (`sources.inspect_source`), then checks them with
DuckDB queries over the files in place, whatever engine measures run on. Each table is read in
one scan that counts every rule at once (Parquet statistics first rule out what they can: nulls,
ranges, dates); only a rule that found something gets a listing query (``ORDER BY row LIMIT
n``). Nothing but counts and the listed rows leaves the database, and DuckDB works within
`MEMORY_LIMIT` (spilling beyond), so a million bad rows cost no more memory than ten.

Keys are proven unique when they strictly increase in file order (checked in the scan), else
by a bitmap of id numbers, else by grouping. Balances are checked in file order when the scan
shows each position's rows together and by date (finrep's layout and the published one), else
sorted per position.

Rules (severity: structural problems are errors, accounting and consistency problems warnings):

| rule | severity | what |
|---|---|---|
| missing-file, empty-file, unreadable-file | error | the table's file is absent, 0 bytes or unreadable |
| missing-header, wrong-delimiter | error | the first row is not the header / one column only |
| missing-column, duplicate-column, wrong-type | error | the header lacks, repeats or mistypes a column |
| extra-column, several-files, encoding | warning | ignored column; ignored file; read as Latin-1 |
| no-rows | error (customers, products, enrollments, account_balances), else warning | header only |
| malformed-row | error | a record with fewer or more fields than the header |
| missing-value | error | a blank in a required column |
| invalid-value | error | not a number / whole number / date in the column's format |
| mixed-date-formats, ambiguous-date | error | dates in several formats; DD/MM vs MM/DD undecidable |
| unknown-value | error (``device_type``: warning) | a value outside the column's domain |
| duplicate-key | error | a primary key seen on an earlier row |
| orphan-key | error | a foreign key with no row in the table it points to |
| out-of-range, future-date, date-before-1900 | warning | negative amounts, scores outside 1–5, … |
| balance-identity | warning | ``balance ≠ previous balance + contributions − withdrawals + returns − fees`` by more than ``validate.identity_tolerance`` |
| balance-before-open | warning | a balance row dated before the position's first enrollment |
| balance-after-close | warning | a balance row after the position's close date (unrecovered churn) |
| month-gap | warning | a month without a balance row inside a position's history |
| status-contradiction | warning | an ``Active`` enrollment whose position churned unrecovered |

Rows are record numbers in the file (header = row 1, as a spreadsheet shows them; Parquet rows
are numbered the same way). Each rule lists its first ``validate.max_rows_per_rule`` rows per
column, then one ``+X more`` finding. E-mail addresses and phone numbers are masked in every value
and message.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import ibis
import ibis.backends.duckdb  # noqa: F401  (validation always runs on DuckDB: load it with us)

from finrep import engine
from finrep.config import Config, load_config
from finrep.errors import DataError
from finrep.schema import TABLES, Column
from finrep.sources import (
    BLANK_TOKENS,
    DATE_FORMATS,
    ISO,
    DateColumn,
    Source,
    ambiguous_date_message,
    detect_date_formats,
    inspect_source,
    mask_email,
    mask_phone,
    mask_pii,
    raw_select_sql,
    typed_columns,
)

Progress = Callable[[str, int, int], None]

# DuckDB's working memory for validation (it spills beyond). Measured at 1M customers
# (2026-11-29, RSS of the whole process, positions kept in a Parquet file): clean data peaks at
# ~485 MB under 1GB in 6.8-7.1 s, ~410 MB under 192MB and ~342 MB under 128MB (1.36x the 100k
# peak) but 5-10% slower, which costs the "2x one read" time target; the bad copy of
# bench_validate.py (millions of bad rows: the sorted path) at 1.29 GB under 1GB in 87 s, 0.81 GB
# under 512MB but in 132 s.
MEMORY_LIMIT = "1GB"
# Tables without which no pack makes sense: a header-only file is an error, not a warning.
CORE_TABLES = ("customers", "products", "enrollments", "account_balances")
# Enum columns whose unknown values are only a warning (MEASURES.md already expects device
# names beyond the list: "any device_type containing Mobile").
SOFT_ENUMS = {("engagement", "device_type")}
RULE_ORDER = (
    "missing-file",
    "several-files",
    "unreadable-file",
    "empty-file",
    "encoding",
    "missing-header",
    "wrong-delimiter",
    "missing-column",
    "duplicate-column",
    "wrong-type",
    "extra-column",
    "no-rows",
    "ambiguous-date",
    "malformed-row",
    "missing-value",
    "invalid-value",
    "mixed-date-formats",
    "unknown-value",
    "duplicate-key",
    "orphan-key",
    "out-of-range",
    "future-date",
    "date-before-1900",
    "balance-identity",
    "balance-before-open",
    "balance-after-close",
    "month-gap",
    "status-contradiction",
)


class _Positions(NamedTuple):
    """One run's positions (see `_Run._make_positions`)."""

    table: str
    last_id: int  # ids run from 1 to this (bitmaps of positions span them)
    distinct_hashes: bool  # no two positions share a (customer, product) hash
    closes: str = ""  # table of close dates by ``pos_id`` (`_Run._positions_with_closes`)


@dataclass(frozen=True)
class Finding:
    """One problem: in `file` (relative to the data folder), at record `row` (header = 1; None
    for a whole file or column, and for a ``+X more`` line), in `column`, with `value` as found.
    `severity` is ``error`` or ``warning``; `message` says what, where and how to fix it."""

    file: str
    rule: str
    severity: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding is an error (`report` refuses to run then, unless told otherwise)."""
    return any(f.severity == "error" for f in findings)


def validate(
    data_dir: str | Path, config: Config | None = None, progress: Progress | None = None
) -> list[Finding]:
    """Every finding for the nine tables in `data_dir`, errors and warnings, in file order.

    Runs on an embedded DuckDB connection of its own. Raises DataError only when `data_dir` is not
    a folder; everything wrong inside it is a finding. `progress(step, done, total)` is called
    once per table checked.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: data folder not found; pass --data DIR, or run `finrep generate` to "
            "make sample data"
        )
    config = config or load_config()
    run = _Run(data_dir, config, progress or (lambda step, done, total: None))
    return run.all()


# ---- helpers ------------------------------------------------------------------------------


_q = engine.sql_text
_id = engine.sql_ident


def _show(value: Any) -> str:
    """A value as shown in a message: floats with two decimals, dates ISO, text as is."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


_view_ids = itertools.count(1)
_PARALLEL_CSV_BYTES = 32 << 20
_SPLIT_ROWS = 1_000_000  # tables from this size are scanned in parallel record ranges


def _size(source: Source) -> int:
    try:
        return source.path.stat().st_size if source.path is not None else 0
    except OSError:
        return 0


@dataclass
class _Table:
    """One readable table during a run: its source and the views the checks query.

    `chk` has, per schema column ``c``, the typed value ``c`` and the stored value ``r__c``, plus
    ``_row``, ``_file`` and ``_bad`` (a malformed record, skipped by value checks).
    """

    source: Source
    dates: dict[str, DateColumn]
    raw_view: str
    chk: str
    parallel: bool = True
    stats: dict[str, _ColumnStats] = field(default_factory=dict)
    enum_proofs: set[str] | None = None
    rows: int | None = None  # records, once counted (`_Run.row_count`)

    @property
    def name(self) -> str:
        return self.source.table


# Tables are checked parents first, so foreign keys can be checked as each child is read;
# account_balances last, as its checks use enrollments and retention.
CHECK_ORDER = (
    "customers",
    "products",
    "advisors",
    "market_data",
    "enrollments",
    "retention",
    "service_interactions",
    "engagement",
    "account_balances",
)


class _Run:
    def __init__(self, data_dir: Path, config: Config, progress: Progress):
        self.data_dir = data_dir
        self.config = config
        self.limit = max(0, config.validate.max_rows_per_rule)
        self.tolerance = float(config.validate.identity_tolerance)
        self.today = date.today()
        self.progress = progress
        self.con = engine.connect(engine="duckdb")
        # Memory stays flat whatever the data size: beyond this DuckDB spills to disk (and a
        # query that cannot spill may have up to the engine's memory_limit_max).
        engine.limit_memory(self.con, MEMORY_LIMIT, config.engine.memory_limit_max)
        with contextlib.suppress(duckdb.Error):  # DuckDB ≥ 1.3
            # Every file is read about once: keeping its blocks cached would only grow memory
            # with the data size (up to the limit above).
            engine.fetch(self.con, "SET enable_external_file_cache = false")
        self.findings: list[Finding] = []
        self.tables: dict[str, _Table] = {}
        self.sources: dict[str, Source] = {}
        self._parent_keys: dict[tuple[str, tuple[str, ...]], str] = {}
        self._key_counts: dict[str, int] = {}
        # Rows whose foreign key found no parent, by (child, parent) table.
        self.orphans: dict[tuple[str, str], int] = {}
        self.positions: _Positions | None = None
        self.late_money: str | None = None
        self.files: list[Path] = []  # of `parquet_table`, deleted when the run ends

    # ---- orchestration ----------------------------------------------------------------
    def all(self) -> list[Finding]:
        total = len(CHECK_ORDER) + 1
        try:
            for done, name in enumerate(CHECK_ORDER):
                self.progress("validate", done, total)
                self._check_table(name)
            self.progress("validate", total - 1, total)
            self._status_checks()
            self.progress("validate", total, total)
        finally:
            self.con.disconnect()
            for file in self.files:
                file.unlink(missing_ok=True)
        order = {rule: i for i, rule in enumerate(RULE_ORDER)}
        tables = {name: i for i, name in enumerate(TABLES)}
        # Stable sort: by table (file order of schema.py), then rule; rows stay in listing order.
        keyed = sorted(
            enumerate(self.findings),
            key=lambda item: (
                tables.get(self._table_of(item[1]), 99),
                order.get(item[1].rule, 99),
                item[0],
            ),
        )
        return [f for _, f in keyed]

    def _table_of(self, finding: Finding) -> str:
        for name, source in self.sources.items():
            if source.path is not None and (
                finding.file == source.display or finding.file.startswith(source.display + "/")
            ):
                return name
        head = finding.file.split("/")[0]
        return (head.rsplit(".", 1)[0] if "." in head else head).casefold()

    # ---- findings ---------------------------------------------------------------------
    def add(
        self,
        file: str,
        rule: str,
        severity: str,
        message: str,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        table: str | None = None,
    ) -> None:
        shown = None if value is None else _show(value)
        if shown is not None and table is not None and column is not None:
            shown = _mask_column(table, column, shown)
        if shown is not None:
            shown = mask_pii(shown)
        self.findings.append(Finding(file, rule, severity, row, column, shown, mask_pii(message)))

    def add_more(
        self, file: str, rule: str, severity: str, column: str | None, total: int, listed: int
    ) -> None:
        if total > listed:
            self.add(file, rule, severity, f"+{total - listed:,} more", column=column)

    def fetch(self, table: _Table | None, sql: str) -> list[tuple[Any, ...]]:
        """Run a query; a big CSV with quoted line breaks is re-read single-threaded (DuckDB
        cannot pad short rows in parallel across quoted line breaks)."""
        try:
            return engine.fetch(self.con, sql)
        except duckdb.Error as exc:
            if table is None or not table.parallel or "quoted new lines" not in str(exc):
                raise
            table.parallel = False
            engine.fetch(
                self.con,
                f"CREATE OR REPLACE TEMP VIEW {_id(table.raw_view)} AS "
                + raw_select_sql(table.source, validating=True, parallel=False),
            )
            return engine.fetch(self.con, sql)

    def temp_table(self, table: _Table | None, prefix: str, sql: str) -> str:
        name = f"finrep_t_{prefix}_{next(_view_ids)}"
        self.fetch(table, f"CREATE TEMP TABLE {_id(name)} AS {sql}")
        return name

    def parquet_table(self, prefix: str, sql: str) -> str:
        """Like `temp_table`, but the rows are kept in a Parquet file read through a view
        (`engine.parquet_view`): out of DuckDB's working memory."""
        name = f"finrep_t_{prefix}_{next(_view_ids)}"
        self.files.append(engine.parquet_view(self.con, name, sql))
        return name

    def ranges(self, table: _Table) -> list[tuple[int, int]]:
        """Record-number ranges to scan side by side, one per DuckDB thread (large tables in one
        file only; a scan in file order otherwise runs on one core)."""
        if table.source.format == "parquet" and len(table.source.parts) != 1:
            return []
        n = self.row_count(table)
        if n < _SPLIT_ROWS:
            return []
        k = self.threads()
        bounds = [2 + i * n // k for i in range(k)] + [n + 2]
        return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]

    def row_count(self, table: _Table) -> int:
        """Records of `table` (Parquet: from the files' footers)."""
        if table.rows is None:
            source = table.source
            if source.format == "parquet":
                import pyarrow.parquet as pq

                table.rows = sum(pq.ParquetFile(p).metadata.num_rows for p in source.parts)
            else:
                (n,) = self.fetch(table, f"SELECT count(*) FROM {_id(table.chk)}")[0]
                table.rows = int(n)
        return table.rows

    def threads(self) -> int:
        (threads,) = self.fetch(None, "SELECT current_setting('threads')")[0]
        return max(1, int(threads))

    def scan(
        self,
        table: _Table,
        aggregates: list[str],
        rows: Callable[[str], str],
        post: Callable[[str], str] | None = None,
    ) -> tuple[Any, ...]:
        """``SELECT aggregates FROM rows(where)`` in file order, where `rows` computes its
        window functions (previous row, next row) over the rows `where` selects. Large tables
        are cut into record ranges scanned in parallel (a window over the file order would
        otherwise run on one core): each range reads one more row on each side, for its first
        row's previous row and its last row's next row, but counts only its own rows. Counts
        are summed, bitmaps (``bit_count(bitstring_agg(…))``) or-ed."""
        ranges = self.ranges(table)
        if post is not None:
            # Rows of every range first, then `post` (a join) once, then the aggregates.
            if len(ranges) < 2:
                union = rows("")
            else:
                union = " UNION ALL ".join(
                    f"SELECT * FROM ({rows(f' WHERE _row >= {lo - 1} AND _row <= {hi}')}) "
                    f"WHERE _row >= {lo} AND _row < {hi}"
                    for lo, hi in ranges
                )
            return self.fetch(table, f"SELECT {', '.join(aggregates)} FROM ({post(union)})")[0]
        if len(ranges) < 2:
            return self.fetch(table, f"SELECT {', '.join(aggregates)} FROM ({rows('')})")[0]
        inner, outer = [], []
        for i, a in enumerate(aggregates):
            if a.startswith("bit_count(bitstring_agg("):
                inner.append(f"{a[len('bit_count(') : -1]} AS a{i}")
                outer.append(f"bit_count(bit_or(a{i}))")
            else:
                inner.append(f"{a} AS a{i}")
                outer.append(f"sum(a{i})")
        branches = [
            f"SELECT {', '.join(inner)} FROM ({rows(f' WHERE _row >= {lo - 1} AND _row <= {hi}')}) "
            f"WHERE _row >= {lo} AND _row < {hi}"
            for lo, hi in ranges
        ]
        sql = f"SELECT {', '.join(outer)} FROM ({' UNION ALL '.join(branches)})"
        return self.fetch(table, sql)[0]

    # ---- one table --------------------------------------------------------------------
    def _check_table(self, name: str) -> None:
        source = inspect_source(self.data_dir, name)
        self.sources[name] = source
        for p in source.problems:
            self.add(source.display, p.rule, p.severity, p.message, p.row, p.column, p.value, name)
        if not source.readable:
            return
        if not source.has_rows:
            severity = "error" if name in CORE_TABLES else "warning"
            self.add(
                source.display,
                "no-rows",
                severity,
                f"{source.display}: the file has a header but no rows"
                + ("; finrep needs them to build a pack" if severity == "error" else ""),
            )
        try:
            table = self._open(source)
            self._checks(table)
        except duckdb.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.add(
                source.display,
                "unreadable-file",
                "error",
                f"{source.display}: could not be read ({reason}); check that it is a "
                f"well-formed {source.format.upper()} file",
            )
            self.tables.pop(name, None)

    def _open(self, source: Source) -> _Table:
        name = source.table
        uid = next(_view_ids)
        raw_view = f"finrep_v_raw_{name}_{uid}"
        # Small CSV files are read single-threaded from the start (see `fetch`).
        parallel = source.format != "csv" or _size(source) > _PARALLEL_CSV_BYTES
        raw = engine.create_view(
            self.con, raw_view, raw_select_sql(source, validating=True, parallel=parallel)
        )
        table = _Table(source, {}, raw_view, f"finrep_v_chk_{name}_{uid}", parallel)
        if source.format == "parquet":
            table.stats = _parquet_stats(source)
        if source.format == "csv":
            # Parse the text once: every check then reads DuckDB's own columnar copy (spilled to
            # disk beyond the memory limit), not the CSV again.
            copy = self.temp_table(table, f"raw_{name}", f"SELECT * FROM {_id(raw_view)}")
            raw = self.con.table(copy)
        dates = detect_date_formats(raw, source)
        table.dates = dates
        sql = _chk_sql(raw, source, dates)
        if source.format == "csv":
            # Typed once, too: the checks then only read plain columns.
            engine.fetch(self.con, f"CREATE TEMP TABLE {_id(table.chk)} AS {sql}")
            engine.fetch(self.con, f"DROP TABLE {_id(raw.get_name())}")
        else:
            engine.fetch(self.con, f"CREATE OR REPLACE TEMP VIEW {_id(table.chk)} AS {sql}")
        self.tables[name] = table
        for d in dates.values():
            if d.ambiguous:
                self.add(
                    source.display,
                    "ambiguous-date",
                    "error",
                    ambiguous_date_message(source, d),
                    column=d.column,
                )
        return table

    def _checks(self, table: _Table) -> None:
        """One scan per table counts every row-level problem that file statistics do not rule
        out, checks the primary key's order and the foreign keys; rules that found something
        are then broken down and listed. Balances do it with the checks between consecutive rows
        (`_balances`)."""
        if table.name == "account_balances":
            self._balances(table)
            return
        rules = self._value_rules(table)
        keys = table.source.spec.primary_key
        fks = [fk for fk in table.source.spec.foreign_keys if fk.table in self.tables]
        # Only rows some aggregate counts go on to the foreign-key joins (see `post`), so the
        # count of rows with a key is left to `_check_keys` (0: "count them if needed").
        aggregates = ["count(*) FILTER (WHERE qbad)", "0", "count(*) FILTER (WHERE x_kd)"]
        joins, flags, fresh = [], [], []
        for i, fk in enumerate(fks):
            # The join hashes the smaller side: the parent's keys (an IN: a mark join), or the
            # child's screened rows (a left join, which DuckDB builds on them when it expects
            # fewer: retention's 0.2M rows against 1.8M positions at 1M customers). A left join
            # to customers built on 1.8M enrollment rows (134 MB) where the keys take 38 MB.
            if self.key_count(fk) <= self.row_count(table):
                found = self._has_parent(fk, "b")
            else:
                join, _ = self._fk_join(fk, f"j{i}", "b")
                joins.append(join)
                found = f"j{i}._m IS NOT NULL"
            # A row whose key equals the previous row's has the same parent, so only the first
            # row of each run of equal keys is looked up (files are mostly grouped by customer:
            # 38M engagement rows are 0.8M runs). Bad rows are looked up too: a run may start
            # on one. No first row of a run without a parent proves there are no orphans;
            # otherwise they are counted exactly (`_count_orphans`).
            fresh.append(
                "("
                + " OR ".join(
                    f"{_id(c)} IS DISTINCT FROM lag({_id(c)}) OVER ()" for c in fk.columns
                )
                + f") AS fresh{i}"
            )
            flags.append(
                f"(b.fresh{i} AND {_not_null(fk.columns, 'b.')} AND NOT {found}) AS orphan{i}"
            )
            aggregates.append(f"count(*) FILTER (WHERE orphan{i})")
        fk_cols = list(dict.fromkeys(c for fk in fks for c in fk.columns))
        inner = ", ".join(
            [
                "_bad",
                f"({_quick_any(rules)}) AS qbad",
                *_key_order_columns(keys, len(table.source.parts) <= 1),
                *(_id(c) for c in fk_cols),
                *fresh,
            ]
        )

        def rows(where: str) -> str:
            return (
                f"SELECT *, ({_key_disorder()}) AS x_kd FROM "
                f"(SELECT {inner} FROM (SELECT * FROM {_id(table.chk)}{where}))"
            )

        def post(union: str) -> str:
            # Foreign keys joined once, after the parallel ranges are put together, on the rows
            # the aggregates count: a value rule may flag them, they break the key order, or
            # they start a run of equal foreign keys.
            keep = " OR ".join(["qbad", "x_kd", *(f"fresh{i}" for i in range(len(fks)))])
            return (
                f"SELECT b.*{''.join(', ' + f for f in flags)} FROM "
                f"(SELECT * FROM ({union}) WHERE {keep}) b " + " ".join(joins)
            )

        row = self.scan(table, aggregates, rows, post=post)
        n_bad = int(row[0] or 0)
        if n_bad:
            self._value_details(table, rules)
        self._check_keys(table, keys, int(row[1] or 0), int(row[2] or 0))
        for fk, screened in zip(fks, row[3:], strict=True):
            count = self._count_orphans(table, fk) if screened else 0
            self.orphans[(table.name, fk.table)] = count
            if count:
                self._list_orphans(table, fk, count)
        if table.name == "enrollments":
            self._make_positions()

    def _check_keys(self, table: _Table, keys: tuple[str, ...], n_keys: int, disorder: int) -> None:
        """Keys strictly increasing in file order are unique (finrep writes them so, as do most
        exports): proven by the main scan when `disorder` is 0. Otherwise a bitmap of id numbers
        (ids like ``BAL00000042``), else grouping by key (exact, slower)."""
        if not disorder:
            return
        if not n_keys:
            (n_keys,) = self.fetch(
                table, f"SELECT count(*) FROM {_id(table.chk)} WHERE {_not_null(keys)}"
            )[0]
            if not n_keys:
                return
        number = self._key_number(table, keys)
        bounds = self._key_bounds(table, keys, number)
        if not number.startswith("NULL"):
            aggregates = self.fetch(
                table,
                f"SELECT {', '.join(_key_aggregates(bounds))} FROM (SELECT {number} AS n FROM "
                f"{_id(table.chk)})",
            )[0]
            if self._keys_unique(table, number, n_keys, bounds, aggregates):
                return
        self._duplicate_keys(table, keys)

    def _key_number(self, table: _Table, keys: tuple[str, ...]) -> str:
        """SQL of a whole number standing for the key, for the fast uniqueness check: the digits
        after the prefix of ids like ``BAL00000042`` (prefix length taken from one key). Equal
        keys give equal numbers, so distinct numbers prove distinct keys. ``NULL`` when the key
        is not of that kind (composite, or no digits)."""
        if len(keys) != 1:
            return "NULL::BIGINT"
        k = _id(keys[0])
        rows = self.fetch(table, f"SELECT {k} FROM {_id(table.chk)} WHERE {k} IS NOT NULL LIMIT 1")
        if not rows or not isinstance(rows[0][0], str):
            return "NULL::BIGINT"
        sample = rows[0][0]
        digits = len(sample) - len(sample.rstrip("0123456789"))
        if not digits or digits > 18:
            return "NULL::BIGINT"
        return f"try_cast(substr({k}, {len(sample) - digits + 1}) AS BIGINT)"

    def _key_bounds(
        self, table: _Table, keys: tuple[str, ...], number: str
    ) -> tuple[int, int] | None:
        """The key numbers' range from the Parquet statistics (no scan), when they give it."""
        if number.startswith("NULL") or len(keys) != 1:
            return None
        stats = table.stats.get(keys[0])
        if stats is None or not isinstance(stats.min, str) or not isinstance(stats.max, str):
            return None
        start = int(number.rsplit(", ", 1)[1].split(")")[0]) - 1  # substr's 1-based start
        a, b = stats.min[start:], stats.max[start:]
        if not (a.isdigit() and b.isdigit()):
            return None
        lo, hi = int(a), int(b)
        # Keys outside the range (another width or prefix) fail the count and go exact.
        if hi < lo or hi - lo > 1 << 32:
            return None
        return lo, hi

    def _keys_unique(
        self,
        table: _Table,
        number: str,
        n_keys: int,
        bounds: tuple[int, int] | None,
        aggregates: tuple[Any, ...],
    ) -> bool:
        """True when the keys are proven unique without grouping: every key maps to a whole
        number and a bitmap of the numbers has as many bits set as there are keys (with the
        range known from statistics, counted in the main scan; else one more scan). Anything
        else is left to the exact check."""
        n_numbers, a, b, c = aggregates
        if bounds is not None:
            return int(a or 0) == n_keys and int(b or 0) == n_keys
        lo, hi = a, b
        if int(n_numbers or 0) != n_keys or lo is None or hi is None or hi - lo > 1 << 32:
            return False
        (bits,) = self.fetch(
            table,
            f"SELECT bit_count(bitstring_agg(n, {int(lo)}, {int(hi)})) FROM "
            f"(SELECT {number} AS n FROM {_id(table.chk)}) WHERE n IS NOT NULL",
        )[0]
        del c
        return int(bits or 0) == n_keys

    # ---- value checks ------------------------------------------------------------------
    def _value_rules(self, table: _Table) -> list[_Rule]:
        """Every row-level rule of the table: its exact condition (on typed values), a cheap
        condition that finds at least the same rows (on stored Parquet values, which need no
        cleaning), and whether the file's statistics already prove it holds nowhere."""
        source = table.source
        name = table.name
        rules: list[_Rule] = []
        parquet = source.format == "parquet"
        today = self.today.isoformat()
        clean_enums = self._clean_enums(table)
        for col in source.spec.columns:
            c, r = _id(col.name), _id(f"r__{col.name}")
            kind = source.kind(col.name) if parquet else "string"
            native = parquet and kind != "string"  # stored with a type: no text to clean
            st = table.stats.get(col.name) if parquet else None
            if kind == "string":
                tokens = ", ".join(_q(t) for t in BLANK_TOKENS)
                if col.dtype == "string":
                    blank = f"({r} IS NULL OR trim({r}) = '')"
                else:
                    blank = f"({r} IS NULL OR lower(trim({r})) IN ({tokens}))"
            elif kind == "float":
                blank = f"({r} IS NULL OR isnan({r}::DOUBLE))"
            else:
                blank = f"{r} IS NULL"
            ok = "NOT _bad"
            no_nulls = st is not None and st.null_count == 0
            if not col.nullable:
                where = f"{ok} AND {c} IS NULL AND {blank}"
                quick, proven, nan_of = where, False, ""
                if parquet and kind == "string" and col.dtype == "string" and not col.enum:
                    quick = f"{r} IS NULL OR {r} = ''"
                    proven = no_nulls and isinstance(st.min, str) and st.min != ""
                elif parquet and kind == "string" and col.enum:
                    # Blank after trimming is never exactly a listed value.
                    values = ", ".join(_q(v) for v in col.enum)
                    quick = f"{r} IS NULL OR {r} NOT IN ({values})"
                    proven = col.name in clean_enums
                elif native and kind == "float":
                    quick = f"{r} IS NULL OR isnan({r})" if not no_nulls else f"isnan({r})"
                    nan_of = r if no_nulls else ""
                elif native and kind != "null":
                    quick, proven = f"{r} IS NULL", no_nulls
                rules.append(
                    _Rule(
                        "missing-value",
                        "error",
                        col,
                        where,
                        quick=quick,
                        proven=proven,
                        nan_of=nan_of,
                    )
                )
            if col.dtype != "string":
                invalid = f"{ok} AND {c} IS NULL AND NOT {blank}"
                date_col = table.dates.get(col.name)
                if col.dtype == "date" and date_col is not None and date_col.failures:
                    other = _other_date_formats_sql(r, date_col.format)
                    rules.append(
                        _Rule("mixed-date-formats", "error", col, f"{invalid} AND {other}")
                    )
                    rules.append(_Rule("invalid-value", "error", col, f"{invalid} AND NOT {other}"))
                elif native and kind in ("int", "date", "timestamp"):
                    pass  # stored as numbers or dates: nothing to misread
                elif native and kind == "float":
                    quick = f"isinf({r})"
                    if col.dtype == "int64":
                        quick += f" OR {r} <> floor({r})"
                    finite = (
                        st is not None
                        and isinstance(st.min, float)
                        and -math.inf < st.min
                        and st.max < math.inf
                    )
                    proven = col.dtype == "float64" and finite
                    rules.append(
                        _Rule("invalid-value", "error", col, invalid, quick=quick, proven=proven)
                    )
                else:
                    rules.append(_Rule("invalid-value", "error", col, invalid))
            if col.enum:
                values = ", ".join(_q(v) for v in col.enum)
                severity = "warning" if (name, col.name) in SOFT_ENUMS else "error"
                where = f"{c} IS NOT NULL AND {c} NOT IN ({values})"
                # Stored values that are exactly in the list need no cleaning to pass.
                quick = f"{r} NOT IN ({values})" if parquet and kind == "string" else where
                rules.append(
                    _Rule(
                        "unknown-value",
                        severity,
                        col,
                        where,
                        quick=quick,
                        proven=col.name in clean_enums,
                    )
                )
            for bound, op, detail in ((col.min_value, "<", "below"), (col.max_value, ">", "above")):
                if bound is None:
                    continue
                where = f"{c} {op} {bound!r}"
                quick, proven = where, False
                if native and kind in ("int", "float"):
                    quick = f"{r} {op} {bound!r}"
                    if st is not None and isinstance(st.min, int | float):
                        proven = st.min >= bound if op == "<" else st.max <= bound
                rules.append(
                    _Rule("out-of-range", "warning", col, where, detail, quick=quick, proven=proven)
                )
            if col.dtype == "date":
                for rule, op, limit in (
                    ("future-date", ">", today),
                    ("date-before-1900", "<", "1900-01-01"),
                ):
                    where = f"{c} {op} DATE {_q(limit)}"
                    quick, proven = where, False
                    if native and kind == "date":
                        quick = f"{r} {op} DATE {_q(limit)}"
                        if st is not None and isinstance(st.min, date):
                            lim = date.fromisoformat(limit)
                            proven = st.max <= lim if op == ">" else st.min >= lim
                    rules.append(_Rule(rule, "warning", col, where, quick=quick, proven=proven))
        return rules

    def _clean_enums(self, table: _Table) -> set[str]:
        """Enum columns of a Parquet file whose stored values are all exactly listed values (no
        blanks): one grouping query over their distinct values, far cheaper than testing every
        row. Empty for CSV (its checks read a typed copy) and when there are too many distinct
        values to be worth listing."""
        if table.enum_proofs is not None:
            return table.enum_proofs
        source = table.source
        cols = [
            c
            for c in source.spec.columns
            if c.enum and source.format == "parquet" and source.kind(c.name) == "string"
        ]
        table.enum_proofs = set()
        if not cols:
            return table.enum_proofs
        raw = [_id(f"r__{c.name}") for c in cols]
        limit = 10_000
        rows = self.fetch(
            table,
            f"SELECT {', '.join(f'grouping({r})' for r in raw)}, {', '.join(raw)} "
            f"FROM {_id(table.chk)} GROUP BY GROUPING SETS ({', '.join(f'({r})' for r in raw)}) "
            f"LIMIT {limit + 1}",
        )
        if len(rows) > limit:
            return table.enum_proofs
        n = len(cols)
        seen: dict[str, set[Any]] = {c.name: set() for c in cols}
        for row in rows:
            for i, col in enumerate(cols):
                if row[i] == 0:  # grouped by this column
                    seen[col.name].add(row[n + i])
        table.enum_proofs = {
            c.name for c in cols if seen[c.name] and seen[c.name] <= set(c.enum or ())
        }
        return table.enum_proofs

    def _value_details(self, table: _Table, rules: list[_Rule]) -> None:
        source = table.source
        chk = _id(table.chk)
        counts = [f"count(*) FILTER (WHERE {rule.where})" for rule in rules]
        structural = [
            "count(*) FILTER (WHERE _bad AND _short)",
            "count(*) FILTER (WHERE _bad AND NOT _short)",
        ]
        row = self.fetch(table, f"SELECT {', '.join(structural + counts)} FROM {chk}")[0]
        n_fields = len(source.header)
        malformed = int(row[0] or 0) + int(row[1] or 0)
        if malformed:
            listed = self.fetch(
                table,
                f"SELECT _file, _row, _short FROM {chk} WHERE _bad ORDER BY _file, _row "
                f"LIMIT {self.limit}",
            )
            for file, r, short in listed:
                words = "fewer fields than" if short else "more fields than"
                self.add(
                    file,
                    "malformed-row",
                    "error",
                    f"{file} row {r}: the record has {words} the {n_fields} columns of the "
                    "header; check for a missing or extra delimiter or an unbalanced quote",
                    row=r,
                )
            self.add_more(source.display, "malformed-row", "error", None, malformed, len(listed))
        for rule, count in zip(rules, row[2:], strict=True):
            count = int(count or 0)
            if not count:
                continue
            c, r = _id(rule.column.name), _id(f"r__{rule.column.name}")
            listed = self.fetch(
                table,
                f"SELECT _file, _row, {r}, {c} FROM {chk} WHERE {rule.where} "
                f"ORDER BY _file, _row LIMIT {self.limit}",
            )
            for file, rownum, stored, typed in listed:
                self.add(
                    file,
                    rule.rule,
                    rule.severity,
                    self._value_message(table, rule, file, rownum, stored, typed),
                    row=rownum,
                    column=rule.column.name,
                    value=stored if stored is not None else typed,
                    table=table.name,
                )
            self.add_more(
                source.display, rule.rule, rule.severity, rule.column.name, count, len(listed)
            )

    def _value_message(
        self, table: _Table, rule: _Rule, file: str, row: int, stored: Any, typed: Any
    ) -> str:
        col = rule.column
        where = f"{file} row {row}: `{col.name}`"
        shown = _mask_column(table.name, col.name, _show(stored if stored is not None else typed))
        if rule.rule == "missing-value":
            return f"{where} is blank; it is required ({col.description.rstrip('.')})"
        if rule.rule == "invalid-value":
            if col.dtype == "date":
                fmt = table.dates.get(col.name, DateColumn(col.name, ISO)).format
                return f"{where} = `{shown}` is not a date in the column's format {fmt}"
            if col.dtype == "int64":
                return f"{where} = `{shown}` is not a whole number"
            return f"{where} = `{shown}` is not a number (write plain numbers like 1234.56)"
        if rule.rule == "mixed-date-formats":
            fmt = table.dates[col.name].format
            return (
                f"{where} = `{shown}` is not {fmt} like the rest of the column; write every date "
                "of a column in one format (YYYY-MM-DD is safest)"
            )
        if rule.rule == "unknown-value":
            return f"{where} = `{shown}` is not one of: {', '.join(col.enum or ())}"
        if rule.rule == "out-of-range":
            bound = col.min_value if rule.detail == "below" else col.max_value
            return f"{where} = {_show(typed)} is {rule.detail} {_show_bound(bound)}"
        if rule.rule == "future-date":
            return f"{where} = {_show(typed)} is in the future (today is {self.today.isoformat()})"
        if rule.rule == "date-before-1900":
            return f"{where} = {_show(typed)} is before 1900"
        return f"{where} = `{shown}`"

    # ---- keys -------------------------------------------------------------------------
    def _duplicate_keys(self, table: _Table, keys: tuple[str, ...]) -> None:
        """Exact check, run only when the keys are not strictly increasing in file order."""
        source = table.source
        chk = _id(table.chk)
        not_null = " AND ".join(f"{_id(k)} IS NOT NULL" for k in keys)
        cols = ", ".join(_id(k) for k in keys)
        dups = self.temp_table(
            table,
            "dups",
            f"SELECT {cols}, min(_row) AS first_row, count(*) AS n FROM {chk} "
            f"WHERE NOT _bad AND {not_null} GROUP BY {cols} HAVING count(*) > 1",
        )
        (count,) = self.fetch(table, f"SELECT coalesce(sum(n - 1), 0) FROM {_id(dups)}")[0]
        if not count:
            return
        join = " AND ".join(f"t.{_id(k)} = d.{_id(k)}" for k in keys)
        listed = self.fetch(
            table,
            f"SELECT t._file, t._row, d.first_row, {', '.join('t.' + _id(k) for k in keys)} "
            f"FROM {chk} t JOIN {_id(dups)} d ON {join} WHERE NOT t._bad AND t._row > d.first_row "
            f"ORDER BY t._file, t._row LIMIT {self.limit}",
        )
        label = ", ".join(keys)
        column = keys[0] if len(keys) == 1 else label
        for file, row, first, *values in listed:
            shown = ", ".join(_show(v) for v in values)
            self.add(
                file,
                "duplicate-key",
                "error",
                f"{file} row {row}: {label} `{shown}` is already on row {first}; each row needs "
                "its own key (remove or renumber the duplicate)",
                row=row,
                column=column,
                value=shown,
                table=table.name,
            )
        self.add_more(source.display, "duplicate-key", "error", column, int(count), len(listed))

    def parent_keys(self, parent: str, columns: tuple[str, ...]) -> str:
        """A temporary table of the distinct keys of `parent`, with a marker column ``_m``
        (made once per run), for left joins that find orphans."""
        key = (parent, columns)
        if key not in self._parent_keys:
            cols = ", ".join(_id(c) for c in columns)
            self._parent_keys[key] = self.temp_table(
                self.tables[parent],
                f"pk_{parent}",
                f"SELECT DISTINCT {cols}, TRUE AS _m FROM {_id(self.tables[parent].chk)} "
                f"WHERE NOT _bad AND {_not_null(columns)}",
            )
        return self._parent_keys[key]

    def _fk_join(self, fk: Any, alias: str, child: str) -> tuple[str, str]:
        """(LEFT JOIN clause, condition true on rows whose key `fk` has no parent row). The
        parent's key columns are renamed so they never clash with the child's."""
        parent = self.parent_keys(fk.table, fk.ref_columns)
        renamed = ", ".join(f"{_id(pc)} AS {alias}_k{i}" for i, pc in enumerate(fk.ref_columns))
        on = " AND ".join(
            f"{child}.{_id(c)} = {alias}.{alias}_k{i}" for i, c in enumerate(fk.columns)
        )
        join = f"LEFT JOIN (SELECT {renamed}, _m FROM {_id(parent)}) {alias} ON {on}"
        missing = (
            f"{_not_null(fk.columns, child + '.')} AND NOT {child}._bad AND {alias}._m IS NULL"
        )
        return join, missing

    def key_count(self, fk: Any) -> int:
        """Distinct keys in the parent of foreign key `fk` (its `parent_keys` table)."""
        parent = self.parent_keys(fk.table, fk.ref_columns)
        if parent not in self._key_counts:
            (n,) = self.fetch(None, f"SELECT count(*) FROM {_id(parent)}")[0]
            self._key_counts[parent] = int(n)
        return self._key_counts[parent]

    def _has_parent(self, fk: Any, child: str) -> str:
        """Condition true on rows of `child` whose key `fk` (not null) has a row in its
        parent. An IN over the parent's keys is a mark join, which hashes the parent's keys; a
        left join may hash the child's rows instead (1.8M enrollments, 134 MB at 1M customers)."""
        parent = self.parent_keys(fk.table, fk.ref_columns)
        cols = ", ".join(f"{child}.{_id(c)}" for c in fk.columns)
        refs = ", ".join(_id(c) for c in fk.ref_columns)
        return f"({cols}) IN (SELECT {refs} FROM {_id(parent)})"

    def _count_orphans(self, table: _Table, fk: Any) -> int:
        """Rows of `table` whose foreign key `fk` has no row in its parent (exact)."""
        parent = self.parent_keys(fk.table, fk.ref_columns)
        on = " AND ".join(
            f"t.{_id(c)} = p.{_id(pc)}" for c, pc in zip(fk.columns, fk.ref_columns, strict=True)
        )
        (count,) = self.fetch(
            table,
            f"SELECT count(*) FROM {_id(table.chk)} t ANTI JOIN {_id(parent)} p ON {on} "
            f"WHERE NOT t._bad AND {_not_null(fk.columns, 't.')}",
        )[0]
        return int(count or 0)

    def _list_orphans(self, table: _Table, fk: Any, count: int) -> None:
        """List the first rows of `table` whose foreign key `fk` has no row in its parent."""
        parent = self.parent_keys(fk.table, fk.ref_columns)
        on = " AND ".join(
            f"t.{_id(c)} = p.{_id(pc)}" for c, pc in zip(fk.columns, fk.ref_columns, strict=True)
        )
        listed = self.fetch(
            table,
            f"SELECT t._file, t._row, {', '.join('t.' + _id(c) for c in fk.columns)} "
            f"FROM {_id(table.chk)} t ANTI JOIN {_id(parent)} p ON {on} "
            f"WHERE NOT t._bad AND {_not_null(fk.columns, 't.')} "
            f"ORDER BY t._file, t._row LIMIT {self.limit}",
        )
        label = ", ".join(fk.columns)
        column = fk.columns[0] if len(fk.columns) == 1 else label
        target = self.sources[fk.table].display
        for file, row, *values in listed:
            shown = ", ".join(_show(v) for v in values)
            self.add(
                file,
                "orphan-key",
                "error",
                f"{file} row {row}: {label} `{shown}` is not in {target}; add it there or "
                "correct the key",
                row=row,
                column=column,
                value=shown,
                table=table.name,
            )
        self.add_more(table.source.display, "orphan-key", "error", column, count, len(listed))

    # ---- balances ---------------------------------------------------------------------
    def _make_positions(self) -> None:
        """After enrollments are checked: per enrollment pair, an id 1…n, the (customer, product)
        hash, open date, new money of its opening month, and whether its customer and product
        exist. It also serves as the parent keys of the (customer, product) foreign keys."""
        enrollments = self.tables.get("enrollments")
        if enrollments is None:
            return
        exists = {}
        for parent in ("customers", "products"):
            column = "customer_id" if parent == "customers" else "product_id"
            known_clean = self.orphans.get(("enrollments", parent)) == 0
            if parent in self.tables and not known_clean:
                keys = self.parent_keys(parent, (column,))
                exists[parent] = (
                    f"LEFT JOIN {_id(keys)} x_{parent} ON e.{column} = x_{parent}.{column}",
                    f"x_{parent}._m IS NOT NULL",
                )
            else:  # already proven (or nothing to check against)
                exists[parent] = ("", "TRUE")
        month = "year(e.enrollment_date) * 12 + month(e.enrollment_date)"
        keyed = "NOT e._bad AND e.customer_id IS NOT NULL AND e.product_id IS NOT NULL"
        rows, pairs, last = self.fetch(
            enrollments,
            "SELECT count(*), count(DISTINCT hash(customer_id, product_id)), max(_row) "
            f"FROM {_id(enrollments.chk)} e WHERE {keyed}",
        )[0]
        joins = f"{exists['customers'][0]} {exists['products'][0]}"
        once = rows == pairs and len(enrollments.source.parts) <= 1
        if once:
            # Each pair enrolled once (distinct hashes, so distinct pairs): a position is its
            # row, numbered by its record (no grouping by two texts over every enrollment, and
            # no numbering pass on one core).
            positions = (
                "SELECT e._row - 1 AS pos_id, e.customer_id AS c, e.product_id AS p, "
                "e.enrollment_date AS open_date, "
                f"e.initial_investment AS money, {month} AS open_m, FALSE AS multi, "
                f"{exists['customers'][1]} AS c_ok, {exists['products'][1]} AS p_ok "
                f"FROM {_id(enrollments.chk)} e {joins} WHERE {keyed}"
            )
        else:
            positions = (
                "SELECT e.customer_id AS c, e.product_id AS p, min(e.enrollment_date) AS "
                f"open_date, sum(e.initial_investment) AS money, min({month}) AS open_m, "
                f"min({month}) < max({month}) AS multi, "
                f"bool_and({exists['customers'][1]}) AS c_ok, "
                f"bool_and({exists['products'][1]}) AS p_ok "
                f"FROM {_id(enrollments.chk)} e {joins} WHERE {keyed} "
                "GROUP BY e.customer_id, e.product_id"
            )
        numbered = "" if once else "row_number() OVER () AS pos_id, "
        select = f"SELECT {numbered}hash(c, p) AS h, * FROM ({positions})"
        if once:
            # Read again by the balance scan only: kept in a file, not in DuckDB's memory. In
            # any order: kept in order, the rows waited in memory for the file (90 MB at 1M).
            with engine.joins_as_written(self.con):
                name = self.parquet_table("positions", select)
        else:  # money is corrected below: a table
            name = self.temp_table(enrollments, "positions", select)
        if once:  # one position per counted row, none enrolled twice, hashes distinct
            n, multi, hashes = rows, 0, rows
        else:
            n, multi, hashes = self.fetch(
                enrollments,
                "SELECT count(*), count(*) FILTER (WHERE multi), count(DISTINCT h) "
                f"FROM {_id(name)}",
            )[0]
        late = None
        if multi:
            # Enrolled again in a later month (rare): that new money enters the identity in its
            # month, and only the opening month's counts for the first balance.
            late = self.temp_table(
                enrollments,
                "late_money",
                f"SELECT e.customer_id AS lm_c, e.product_id AS lm_p, {month} AS lm_m, "
                f"sum(e.initial_investment) AS lm_money FROM {_id(enrollments.chk)} e JOIN "
                f"{_id(name)} pos ON e.customer_id = pos.c AND e.product_id = pos.p "
                f"WHERE pos.multi AND NOT e._bad AND {month} > pos.open_m GROUP BY ALL",
            )
            engine.fetch(
                self.con,
                f"UPDATE {_id(name)} SET money = money - (SELECT coalesce(sum(lm_money), 0) "
                f"FROM {_id(late)} WHERE lm_c = c AND lm_p = p) WHERE multi",
            )
        # Ids run from 1 to n (numbered) or to the last record number - 1 (records).
        self.positions = _Positions(name, int(last) - 1 if once and n else int(n), hashes == n)
        self.late_money = late
        # The pairs are the parent keys of foreign keys to enrollments (retention, balances).
        keys = f"finrep_v_pairs_{next(_view_ids)}"
        engine.fetch(
            self.con,
            f"CREATE TEMP VIEW {_id(keys)} AS SELECT c AS customer_id, p AS product_id, "
            f"TRUE AS _m FROM {_id(name)}",
        )
        self._parent_keys[("enrollments", ("customer_id", "product_id"))] = keys

    def _positions_with_closes(self) -> _Positions | None:
        """The positions with a table of their close dates by ``pos_id`` (``cl_id``; earliest
        unrecovered churn in retention; a position never closed has no row). The close dates
        are a few rows, joined after the positions: copying the positions to add the column
        cost a second table of every position."""
        if self.positions is None:
            return None
        name = self.positions.table
        retention = self.tables.get("retention")
        if retention is None:
            closes = "SELECT NULL::BIGINT AS cl_id, NULL::DATE AS close_date WHERE FALSE"
        else:
            closes = (
                f"SELECT pos.pos_id AS cl_id, cl.close_date FROM {_id(name)} pos JOIN ("
                "SELECT customer_id AS cc, product_id AS cp, min(churn_date) AS close_date FROM "
                f"{_id(retention.chk)} WHERE NOT _bad AND recovered_flag = 'No' AND churn_date "
                "IS NOT NULL GROUP BY ALL) cl ON pos.c = cl.cc AND pos.p = cl.cp"
            )
        closed = self.temp_table(None, "closes", closes)
        # The foreign keys that needed the pairs are checked by now.
        pairs = self._parent_keys.pop(("enrollments", ("customer_id", "product_id")), None)
        if pairs is not None:
            engine.fetch(self.con, f"DROP VIEW IF EXISTS {_id(pairs)}")
        return self.positions._replace(closes=closed)

    def _release_parent_keys(self) -> None:
        """Drop the parent key tables made so far (the balance checks use the positions; a
        table needed again, to list orphans, is made again): memory for the balance scan."""
        for table in self._parent_keys.values():
            engine.fetch(self.con, f"DROP TABLE IF EXISTS {_id(table)}")
        self._parent_keys.clear()

    def _balances(self, table: _Table) -> None:
        """Balance rows in one scan: value rules, key order, and, between consecutive rows of a
        position, the identity and month gaps; each position's first and last rows are matched
        with its enrollment (foreign key, opening balance, open and close dates). Anything that
        screen finds at a position's edge is then counted row by row.

        Consecutive rows come from the file order when each position's rows sit together by
        date (finrep's position-major layout, the published data), checked by the scan itself;
        else from sorting every position's rows (exact, slower: month-major files)."""
        rules = self._value_rules(table)
        keys = table.source.spec.primary_key
        positions = self._positions_with_closes()
        if positions is not None:
            self._release_parent_keys()
        b = _Balances(table, self.tolerance, rules, positions, self.late_money)
        fks = [fk for fk in table.source.spec.foreign_keys if fk.table in self.tables]
        extra, joins = [], []
        if positions is None:
            # Without enrollments, each foreign key is checked on its own.
            for i, fk in enumerate(fks):
                join, missing = self._fk_join(fk, f"j{i}", "s")
                joins.append(join)
                extra.append(f"count(*) FILTER (WHERE {missing})")
        exact = positions is None or not self._grouped_by_position(table)
        select = [*b.head_counts(), *b.counts(exact=exact), *extra]
        kept = None  # the sorted path's counted rows (see `_Balances.sorted_rows_sql`)
        if exact and positions is not None:
            kept = self.temp_table(table, "sorted", b.sorted_rows_sql())
            # Head counts come from `_stream_head` below.
            row = (0, 0, 0, 0, *self._count_sorted(b, kept))
        elif exact:
            # Head counts come from `_stream_head` below: only the counts' rows are kept.
            edges = b.join_flagged(b.sql(True, wide=False))  # every row: foreign keys need them
            row = self.fetch(
                table, f"SELECT {', '.join(select)} FROM ({edges}) s " + " ".join(joins)
            )[0]
        else:
            # The ranges' counted rows (a position's first and last rows on clean data) are
            # joined once, after the ranges, with the positions hashed: 1.8M narrow rows at 1M
            # customers (~70 MB). Left to itself DuckDB hashed the 3.5M counted rows instead
            # (~170 MB, validate's peak growing ×1.9 from 100k to 1M customers), and with the
            # positions hashed but order kept, it ran the ranges one after another.
            with engine.joins_as_written(self.con):
                row = self.scan(
                    table,
                    select,
                    lambda where: b.sql(False, wide=False, where=where, screen=b.SCREEN),
                    post=b.join_flagged,
                )
        n_bad, n_keys, disorder, malformed = (int(v or 0) for v in row[:4])
        counts = dict(zip(b.COUNTS, (int(v or 0) for v in row[4 : 4 + len(b.COUNTS)]), strict=True))
        if exact:
            # The sorted scan carries no value rules or file order: one more scan, in file order.
            n_bad, n_keys, disorder, malformed = self._stream_head(table, rules, keys)
        if n_bad:
            self._value_details(table, rules)
        self._check_keys(table, keys, n_keys, disorder)
        if positions is None:
            for fk, count in zip(fks, row[4 + len(b.COUNTS) :], strict=True):
                if count:
                    self._list_orphans(table, fk, int(count))
        if not exact and not (
            counts["runs"] == counts["run_positions"]
            and counts["unordered"] == 0
            and counts["orphans"] == 0
            and not malformed
        ):
            exact = True
            kept = self.temp_table(table, "sorted", b.sorted_rows_sql())
            counts = dict(zip(b.COUNTS, self._count_sorted(b, kept), strict=True))
        if kept is not None:
            self._list_balance_rules(table, b, _id(kept), counts, b.SEQUENCE, kept=True)
            engine.fetch(self.con, f"DROP TABLE IF EXISTS {_id(kept)}")
        else:
            self._list_balance_rules(table, b, f"({b.sql(exact=exact)})", counts, b.SEQUENCE)
        if positions is None:
            return
        if sum(counts[k] for k in b.ROWS):
            # Found at a position's first or last row: count and list every row.
            row = self.fetch(table, f"SELECT {', '.join(b.row_counts())} FROM ({b.rows_sql()})")[0]
            counts = dict(zip(b.ROWS, (int(v or 0) for v in row), strict=True))
            self._balance_keys(table, b, counts, b.rows_sql())
            self._list_balance_rules(table, b, f"({b.rows_sql()})", counts, b.ROW_RULES)

    def _count_sorted(self, b: _Balances, kept: str) -> list[int]:
        """`counts(exact=True)` over the table of `sorted_rows_sql`."""
        row = self.fetch(None, f"SELECT {', '.join(b.counts(exact=True))} FROM {_id(kept)}")[0]
        return [int(v or 0) for v in row]

    def _grouped_by_position(self, table: _Table, sample: int = 20_000) -> bool:
        """Whether the file seems to list each position's rows together (judged on its first
        rows: no more runs of a position than positions). Only picks the faster scan; that scan
        then proves the order for the whole file."""
        runs, distinct, n = self.fetch(
            table,
            "SELECT count(*) FILTER (WHERE h IS DISTINCT FROM p_h), count(DISTINCT h), count(*) "
            "FROM (SELECT h, lag(h) OVER () AS p_h FROM (SELECT hash(customer_id, product_id) AS "
            f"h FROM {_id(table.chk)} LIMIT {sample}))",
        )[0]
        # A sample where no row follows one of its own position (every row starts a run) is the
        # first month of a month-major file, not evidence of grouping: sort instead.
        return int(runs or 0) <= int(distinct or 0) + 1 and (runs < n or n < sample)

    def _stream_head(
        self, table: _Table, rules: list[_Rule], keys: tuple[str, ...]
    ) -> tuple[int, int, int, int]:
        """In file order: (rows some value rule may flag, rows with a key, rows breaking
        "strictly increasing keys", malformed rows)."""

        def rows(where: str) -> str:
            return (
                f"SELECT _bad, ({_quick_any(rules)}) AS qbad, "
                f"{', '.join(_key_order_columns(keys, len(table.source.parts) <= 1))} FROM "
                f"(SELECT * FROM {_id(table.chk)}{where})"
            )

        aggregates = [
            "count(*) FILTER (WHERE qbad)",
            *_key_order_aggregates(),
            "count(*) FILTER (WHERE _bad)",
        ]
        row = self.scan(table, aggregates, rows)
        return tuple(int(v or 0) for v in row)  # type: ignore[return-value]

    def _balance_keys(self, table: _Table, b: _Balances, counts: dict[str, int], rows: str) -> None:
        """Foreign keys of balance rows, from the join with the positions: a pair with no
        enrollment, or an enrollment whose customer or product does not exist."""
        spec = {fk.table: fk for fk in table.source.spec.foreign_keys}
        if counts["orphans"]:
            self._list_orphans(table, spec["enrollments"], counts["orphans"])
            # Their customer and product may be missing too: check those pairs directly.
            for parent in ("customers", "products"):
                if parent in self.tables:
                    fk = spec[parent]
                    keys = self.parent_keys(parent, fk.ref_columns)
                    col = _id(fk.columns[0])
                    (n,) = self.fetch(
                        table,
                        f"SELECT count(*) FROM ({rows}) s ANTI JOIN {_id(keys)} k "
                        f"ON s.{col} = k.{col} WHERE s.pos_id IS NULL AND s.{col} IS NOT NULL "
                        "AND NOT s._bad",
                    )[0]
                    if n:
                        self._list_orphans(table, fk, int(n))
        for parent, key in (("customers", "bad_customer"), ("products", "bad_product")):
            if counts[key] and parent in self.tables:
                self._list_orphans(table, spec[parent], counts[key])

    def _list_balance_rules(
        self,
        table: _Table,
        b: _Balances,
        source: str,
        counts: dict[str, int],
        which: tuple[str, ...],
        kept: bool = False,
    ) -> None:
        """List the rows of each rule in `which` that `counts` found, from `source`: a
        parenthesised query of `_Balances.sql` or `rows_sql` rows, or (`kept`) the table of
        `_Balances.sorted_rows_sql`."""
        file = table.source.display
        enr = self.sources["enrollments"].display if "enrollments" in self.sources else ""
        ret = self.sources["retention"].display if "retention" in self.sources else ""
        specs = [
            ("breaks", "balance-identity", "balance"),
            ("first_breaks", "balance-identity", "balance"),
            ("gaps", "month-gap", "date"),
            ("before_open", "balance-before-open", "date"),
            ("after_close", "balance-after-close", "date"),
        ]
        columns = b.listed(kept)
        keys = [key for key, _, _ in specs if key in which and counts[key]]
        condition = b.condition
        listed_table = None
        if kept:
            condition = b.count_conditions().__getitem__
        elif len(keys) > 1:
            # Every listed rule's rows in one pass, kept in a table the listings then read: each
            # pass over `source` reads (and on the sorted path sorts) every balance row.
            flags = ", ".join(f"({b.condition(k)}) IS TRUE AS {_id('is_' + k)}" for k in keys)
            flagged = " OR ".join(f"({b.condition(k)})" for k in keys)
            listed_table = self.temp_table(
                table, "listed", f"SELECT {columns}, {flags} FROM {source} WHERE {flagged}"
            )
            source, columns = _id(listed_table), b.listed(kept=True)

            def condition(key: str) -> str:
                return _id("is_" + key)

        for key, rule, column in specs:
            if key not in keys:
                continue
            total = counts[key]
            listed = self.fetch(
                table,
                f"SELECT {columns} FROM {source} WHERE {condition(key)} "
                f"ORDER BY _file, _row LIMIT {self.limit}",
            )
            for (
                f,
                row,
                c,
                p,
                d,
                bal,
                pb,
                prow,
                expected,
                first,
                money,
                pd_,
                md,
                opened,
                closed,
            ) in listed:
                where = f"{f} row {row}: {c}/{p}"
                if key == "breaks":
                    message = (
                        f"{where}: balance {_show(bal)} should be {_show(expected)} (balance "
                        f"{_show(pb)} on row {prow} + contributions − withdrawals + returns − fees "
                        f"of this row); off by {_show(abs(bal - expected))}"
                    )
                elif key == "first_breaks":
                    message = (
                        f"{where}: first balance {_show(bal)} should be {_show(first)} (initial "
                        f"investment {_show(money)} + contributions − withdrawals + returns − fees "
                        f"of this row); off by {_show(abs(bal - first))}"
                    )
                elif key == "gaps":
                    message = (
                        f"{where}: no balance row for {_plural(int(md) - 1, 'month')} between "
                        f"{_show(pd_)} (row {prow}) and {_show(d)}; one row per month is expected"
                    )
                elif key == "before_open":
                    message = (
                        f"{where}: a balance on {_show(d)}, before the position opened on "
                        f"{_show(opened)} ({enr})"
                    )
                else:
                    message = (
                        f"{where}: a balance on {_show(d)}, after the position closed on "
                        f"{_show(closed)} (unrecovered churn in {ret}); measures ignore rows "
                        "after the close date"
                    )
                value = bal if column == "balance" else d
                self.add(f, rule, "warning", message, row=row, column=column, value=value)
            self.add_more(file, rule, "warning", column, total, len(listed))
        if listed_table is not None:
            engine.fetch(self.con, f"DROP TABLE IF EXISTS {_id(listed_table)}")

    # ---- enrollments vs retention ---------------------------------------------------------
    def _status_checks(self) -> None:
        enrollments = self.tables.get("enrollments")
        retention = self.tables.get("retention")
        if enrollments is None or retention is None:
            return
        try:
            self._status(enrollments, retention)
        except duckdb.Error as exc:  # the files were read before: report, do not crash
            self.add(
                enrollments.source.display,
                "unreadable-file",
                "error",
                f"{enrollments.source.display}: could not be compared with "
                f"{retention.source.display} ({str(exc).strip().splitlines()[0]})",
            )

    def _status(self, enrollments: _Table, retention: _Table) -> None:
        closes = (
            "SELECT customer_id, product_id, min(churn_date) AS close_date FROM "
            f"{_id(retention.chk)} WHERE NOT _bad AND recovered_flag = 'No' GROUP BY ALL"
        )
        rows = (
            f"SELECT e._file, e._row, e.customer_id, e.product_id, cl.close_date FROM "
            f"{_id(enrollments.chk)} e JOIN ({closes}) cl ON e.customer_id = cl.customer_id AND "
            "e.product_id = cl.product_id WHERE NOT e._bad AND e.status = 'Active'"
        )
        (count,) = self.fetch(enrollments, f"SELECT count(*) FROM ({rows})")[0]
        if not count:
            return
        listed = self.fetch(enrollments, f"{rows} ORDER BY e._file, e._row LIMIT {self.limit}")
        ret = retention.source.display
        for f, row, c, p, closed in listed:
            self.add(
                f,
                "status-contradiction",
                "warning",
                f"{f} row {row}: status is Active, but {ret} records an unrecovered churn of "
                f"{c}/{p} on {_show(closed)}; measures treat the position as closed from then",
                row=row,
                column="status",
                value="Active",
            )
        self.add_more(
            enrollments.source.display,
            "status-contradiction",
            "warning",
            "status",
            int(count),
            len(listed),
        )


_FLOW = "(contributions_mtd - withdrawals_mtd + investment_returns_mtd - fees_mtd)"


def _key_sql(keys: tuple[str, ...]) -> str:
    """The primary key as one comparable value (null when any part is null)."""
    if len(keys) == 1:
        return _id(keys[0])
    return " || chr(31) || ".join(f"{_id(k)}::VARCHAR" for k in keys)


def _not_null(columns: Iterable[str], prefix: str = "") -> str:
    return " AND ".join(f"{prefix}{_id(c)} IS NOT NULL" for c in columns)


def _quick_any(rules: list[_Rule]) -> str:
    """A condition true on every row some rule (not already proven by statistics) may flag."""
    live = [r for r in rules if not r.proven]
    nans = list(dict.fromkeys(r.nan_of for r in live if r.nan_of))
    if len(nans) < 2:
        nans = []
    quick = dict.fromkeys(r.quick for r in live if not (nans and r.nan_of))
    # NaN in any of several stored floats makes their sum NaN: one test instead of one per
    # column (a sum of +inf and -inf is NaN too: a row screened in that the exact rules clear).
    if nans:
        quick[f"isnan({' + '.join(nans)})"] = None
    return " OR ".join(["_bad", *(f"({q})" for q in quick)])


def _key_order_columns(keys: tuple[str, ...], single_file: bool = False) -> list[str]:
    """Scan columns for the key-order proof: the key, and the previous row's key, record number
    and file (in scan order; one file: always the same)."""
    key = _key_sql(keys)
    return [
        f"{key} AS k",
        "_row",
        "_file",
        f"lag({key}) OVER () AS p_k",
        "lag(_row) OVER () AS p_row",
        "_file AS p_file" if single_file else "lag(_file) OVER () AS p_file",
    ]


def _key_disorder(prefix: str = "") -> str:
    """SQL over `_key_order_columns`: the row breaks "strictly increasing keys in file order"."""
    p = prefix
    return (
        f"{p}k IS NULL OR ({p}p_row IS NOT NULL AND ({p}_row <> {p}p_row + 1 OR {p}_file <> "
        f"{p}p_file OR {p}p_k IS NULL OR {p}k <= {p}p_k))"
    )


def _key_order_aggregates(prefix: str = "") -> list[str]:
    """(rows with a whole key, rows breaking "strictly increasing keys in file order")."""
    return [f"count({prefix}k)", f"count(*) FILTER (WHERE {_key_disorder(prefix)})"]


def _key_aggregates(bounds: tuple[int, int] | None, n: str = "n") -> list[str]:
    """Aggregates over the key numbers `n` for `_Run._keys_unique`: count(n), then either
    (rows in range, bits set) when the range is known, or (min, max) for a second scan."""
    if bounds is None:
        return [f"count({n})", f"min({n})", f"max({n})", "NULL"]
    lo, hi = bounds
    within = f"{n} BETWEEN {lo} AND {hi}"
    return [
        f"count({n})",
        f"count(*) FILTER (WHERE {within})",
        f"bit_count(bitstring_agg({n}, {lo}, {hi}) FILTER (WHERE {within}))",
        "NULL",
    ]


class _Balances:
    """SQL for the balance checks.

    `sql` gives every row with the previous row's position (a hash of customer and product),
    date, balance, flow, key and record number (``p_h`` … ``p__row``): the previous row in the scan
    (fast path) or in (date, row) order within the position (exact). ``same`` marks rows whose
    previous row is of the same position. The identity: ``balance = previous balance + this month's flows``
    (month-to-date flows; a second row in one month: ``previous balance − its flows + these
    flows``), plus the new money of a later enrollment in its month; a position's first row:
    ``balance = new money of the opening month + its flows``. In the fast path only a
    position's first and last rows are joined with its enrollment facts (``pos_id``,
    ``open_date``, ``money``, ``close_date``, ``c_ok``, ``p_ok``): what they show is then counted
    over every row by `rows_sql`, which needs no order.
    """

    # Rows the counting scans keep (fast path; sorted path, whose head counts come from a scan
    # in file order): the others pass no rule and are neither a position's first nor last row.
    # Every aggregate of `counts` and `head_counts` is filtered on one of these flags, so the
    # counts are the same, while the join and the aggregates see a few rows per position
    # instead of every row (on clean data about a tenth).
    SCREEN = ("edge", "unordered", "break", "gap", "bad", "kd", "malformed")
    SORTED_SCREEN = ("edge", "unordered", "break", "gap")
    # A row with a well-formed (customer, product) key: one that should have a position.
    KEYED = "NOT _bad AND customer_id IS NOT NULL AND product_id IS NOT NULL"
    SEQUENCE = ("runs", "run_positions", "unordered", "breaks", "first_breaks", "gaps")
    ROWS = ("orphans", "bad_customer", "bad_product", "before_open", "after_close")
    ROW_RULES = ("before_open", "after_close")
    COUNTS = SEQUENCE + ROWS

    def __init__(
        self,
        table: _Table,
        tolerance: float,
        rules: list[_Rule],
        positions: _Positions | None,
        late_money: str | None,
    ):
        self.table = table
        self.positions = positions
        self.rules = rules
        self.late_money = late_money
        # The counting scan looks positions up by their hash alone when no two positions share
        # one: the edge rows it keeps for that join (two per position) then carry no texts, so
        # the join's table is half the size. A balance row of an unknown pair would be matched
        # to a position only through a 64-bit collision with that position's hash.
        self.by_hash = positions is not None and positions.distinct_hashes
        self.late = "0" if late_money is None else "late_"
        self.single_file = len(table.source.parts) <= 1
        tol = repr(float(tolerance))
        self.tolerance = tol
        self.sequence = {
            "runs": "start AND pos_id IS NOT NULL AND NOT _bad",
            "unordered": "same AND date <= p_d",
            "breaks": f"same AND m - p_m <= 1 AND date > p_d AND abs(balance - expected) > {tol}",
            "first_breaks": "start AND pos_id IS NOT NULL AND NOT _bad "
            f"AND abs(balance - (money + f + {self.late})) > {tol}",
            "gaps": "same AND m - p_m > 1",
        }
        # In `sql`, the row-to-row rules are computed once as flags.
        self.flagged = {"unordered": "unordered_", "breaks": "break_", "gaps": "gap_"}
        self.rows = {
            "orphans": f"pos_id IS NULL AND {self.KEYED}",
            "bad_customer": "pos_id IS NOT NULL AND NOT c_ok",
            "bad_product": "pos_id IS NOT NULL AND NOT p_ok",
            "before_open": "pos_id IS NOT NULL AND date < open_date",
            "after_close": "pos_id IS NOT NULL AND date > close_date",
        }

    def condition(self, key: str) -> str:
        """Condition of rule `key` over the rows of `sql(wide=True)` or `rows_sql`."""
        if key in self.flagged:
            return self.flagged[key]
        return self.sequence.get(key) or self.rows[key]

    def _bit(self, name: str) -> str:
        """The counting scan's flag column `name` (see `sql(wide=False)`)."""
        return f"x_{name}"

    def head_counts(self) -> list[str]:
        """(rows with a bad value or malformed, rows with a key (counted only when the key
        order is broken), rows breaking key order, malformed rows)."""
        return [
            f"count(*) FILTER (WHERE {self._bit('bad')})",
            "0",
            f"count(*) FILTER (WHERE {self._bit('kd')})",
            f"count(*) FILTER (WHERE {self._bit('malformed')})",
        ]

    def count_conditions(self) -> dict[str, str]:
        """The condition of each count but ``run_positions``, over the flagged rows of
        `sql(wide=False)` or `sorted_rows_sql` (``orphans``: positions starting a run)."""
        b = self._bit
        runs = f"{b('start')} AND pos_id IS NOT NULL AND NOT {b('malformed')}"
        return {
            "runs": runs,
            "unordered": b("unordered"),
            "breaks": b("break"),
            "first_breaks": f"{runs} AND abs(balance - (money + f + {self.late})) > "
            f"{self.tolerance}",
            "gaps": b("gap"),
            "orphans": f"{b('keyed')} AND pos_id IS NULL AND {b('start')}",
            **{
                k: self.rows[k]
                for k in ("bad_customer", "bad_product", "before_open", "after_close")
            },
        }

    def counts(self, exact: bool) -> list[str]:
        """Aggregates, in COUNTS order, over `sql(exact, wide=False)`. In the fast path the row
        rules only screen the first and last rows."""
        n_pos = self.positions.last_id if self.positions else 0
        conditions = self.count_conditions()
        runs = conditions["runs"]
        out = []
        for key in self.COUNTS:
            if key == "run_positions":
                # Distinct positions starting a run: a bitmap of the ids 1…largest, set on run starts
                # only. (count(DISTINCT) would make DuckDB keep every row of the scan for a
                # second pass.) Bitmaps of parallel ranges are or-ed by `_Run.scan`. Sorted
                # (`exact`), each position is one run by construction: not counted.
                out.append(
                    f"bit_count(bitstring_agg(pos_id, 1, {n_pos}) FILTER (WHERE {runs}))"
                    if n_pos and not exact
                    else "0"
                )
            else:
                out.append(f"count(*) FILTER (WHERE {conditions[key]})")
        return out

    def row_counts(self) -> list[str]:
        return [f"count(*) FILTER (WHERE {self.rows[k]})" for k in self.ROWS]

    # What `_Run._list_balance_rules` shows of a row (``months``: since the row before).
    LISTED = (
        *("_file", "_row", "customer_id", "product_id", "date", "balance", "p_b", "p__row"),
        *("expected", "expected_first", "money", "p_d", "m - p_m AS months", "open_date"),
        "close_date",
    )

    @classmethod
    def listed(cls, kept: bool = False) -> str:
        """`LISTED` as a select list over `sql` or `rows_sql` rows, or (`kept`) over a table
        made of them."""
        return ", ".join(c.split(" AS ")[-1] if kept else c for c in cls.LISTED)

    def sorted_rows_sql(self) -> str:
        """The rows `counts(exact=True)` counts (a position's first and last rows, and rows a
        sequence rule flags), each position's rows sorted, with what listings show: kept in a
        table, they serve the counts and every listing after one sort of the whole file."""
        b = self._bit
        flags = {
            "start": "start",
            "malformed": "_bad",
            "unordered": "unordered_",
            "break": "break_",
            "gap": "gap_",
            "keyed": self.KEYED,
        }
        kept = ", ".join(f"({c}) IS TRUE AS {b(n)}" for n, c in flags.items())
        late = "" if self.late == "0" else ", late_"
        return (
            f"SELECT {self.listed()}, f{late}, pos_id, c_ok, p_ok, {kept} "
            f"FROM ({self.sql(exact=True, minimal=True, screen=self.SORTED_SCREEN)})"
        )

    def _source(self, column: str) -> str:
        """The column to read: for Parquet stored with its own type, the stored value (no
        cleaning expression to evaluate; values cleaning would change are errors reported by
        the value rules anyway); else the typed value."""
        source = self.table.source
        kind = source.kind(column) if source.format == "parquet" else ""
        native = {"string": ("string",), "float64": ("float", "int"), "date": ("date",)}
        if kind in native.get(source.spec.column(column).dtype, ()):
            return f"{_id('r__' + column)} AS {_id(column)}"
        return _id(column)

    def _base(self, minimal: bool = False, where: str = "") -> str:
        """The balance columns the checks read; `minimal` (the sorted scan) leaves out the key
        and the value rules, counted in file order by `_Run._stream_head` instead."""
        cols = ", ".join(
            self._source(c)
            for c in (
                "customer_id",
                "product_id",
                "date",
                "balance",
                "contributions_mtd",
                "withdrawals_mtd",
                "investment_returns_mtd",
                "fees_mtd",
            )
        )
        keys = self.table.source.spec.primary_key
        key, quick = (
            ("NULL::VARCHAR", "FALSE") if minimal else (_key_sql(keys), _quick_any(self.rules))
        )
        raw = (
            f"SELECT _file, _row, _bad, {cols}, {key} AS k, ({quick}) AS qbad "
            f"FROM {_id(self.table.chk)}{where}"
        )
        return (
            "SELECT _file, _row, _bad, customer_id, product_id, date, balance, "
            f"{_FLOW} AS f, year(date) * 12 + month(date) AS m, k, qbad FROM ({raw})"
        )

    def _join_positions(self, rows: str, key: str, texts: bool = True) -> str:
        """`rows` with their position's enrollment facts (``pos_id`` null: no enrollment),
        looked up by the (customer, product) hash `key` (null: no lookup) and, with `texts`,
        then the texts themselves."""
        if self.positions is None:
            return (
                "SELECT *, NULL::BIGINT AS pos_id, NULL::DATE AS open_date, NULL::DOUBLE AS money, "
                "NULL::DATE AS close_date, TRUE AS c_ok, TRUE AS p_ok "
                f"FROM ({rows})"
            )
        pos, closes = _id(self.positions.table), _id(self.positions.closes)
        facts = "pos.pos_id, pos.open_date, pos.money, cl.close_date, pos.c_ok, pos.p_ok"
        return (
            f"SELECT s.*, {facts} FROM ({rows}) s LEFT JOIN {pos} pos ON {key} = pos.h "
            + ("AND s.customer_id = pos.c AND s.product_id = pos.p " if texts else "")
            + f"LEFT JOIN {closes} cl ON pos.pos_id = cl.cl_id"
        )

    def sql(
        self,
        exact: bool,
        wide: bool = True,
        where: str = "",
        screen: tuple[str, ...] = (),
        minimal: bool | None = None,
    ) -> str:
        """Rows with what the sequence checks need. `exact` sorts each position's rows by
        (date, row); else the scan order is used (and checked: see `_Run._balances`). `wide`
        keeps the columns messages show; the counting scan leaves them out (fewer columns
        through the window and the join). `minimal` (by default: sorted and not `wide`) leaves
        out the key and the value rules, which the sorted path checks in file order."""
        csv = self.table.source.format == "csv"
        # Positions are told apart by a hash of (customer, product): a number sorts and travels
        # through the window cheaper than two texts. In file order a false "same position"
        # between neighbours would need a 64-bit collision; sorted, the texts are compared too.
        window = "(PARTITION BY h ORDER BY date, _row)" if exact else "()"
        base = self._base(exact and not wide if minimal is None else minimal, where)
        base = f"SELECT *, hash(customer_id, product_id) AS h FROM ({base})"
        lags = {"h": "h", "m": "m", "d": "date", "b": "balance", "f": "f", "_row": "_row", "k": "k"}
        if exact:
            lags.update(c="customer_id", p="product_id")
        if csv:
            lags["bad"] = "_bad"
        if not self.single_file:
            lags["file"] = "_file"
        if self.single_file and not exact:
            # In file order in one file the previous record is the one numbered before (records
            # are numbered 2, 3, … from the first): no need to carry it through the window.
            del lags["_row"]
        cols = [f"lag({x}) OVER {window} AS p_{n}" for n, x in lags.items()]
        if "_row" not in lags:
            cols.append("CASE WHEN _row > 2 THEN _row - 1 END AS p__row")
        cols.append(f"lead(h) OVER {window} AS n_h")
        if exact:
            cols += [
                f"lead(customer_id) OVER {window} AS n_c",
                f"lead(product_id) OVER {window} AS n_p",
            ]
        if not csv:
            cols.append("FALSE AS p_bad")
        if self.single_file:
            cols.append("_file AS p_file")
        s = f"SELECT *, {', '.join(cols)} FROM ({base})"
        texts = " AND customer_id = p_c AND product_id = p_p" if exact else ""
        next_texts = " AND customer_id = n_c AND product_id = n_p" if exact else ""
        same = (
            "(h = p_h AND NOT _bad AND NOT p_bad AND customer_id IS NOT NULL AND product_id IS NOT "
            f"NULL{texts}) IS TRUE"
        )
        s = f"SELECT *, {same} AS same FROM ({s})"
        s = (
            f"SELECT *, NOT same AS start, NOT same OR NOT (h = n_h{next_texts}) IS TRUE AS edge "
            f"FROM ({s})"
        )
        late = "0"
        if self.late_money is not None:
            s = (
                f"SELECT s.*, coalesce(lm.lm_money, 0) AS late_ FROM ({s}) s LEFT JOIN "
                f"{_id(self.late_money)} lm ON s.customer_id = lm.lm_c AND s.product_id = lm.lm_p "
                "AND s.m = lm.lm_m"
            )
            late = "late_"
        expected = f"CASE WHEN m = p_m THEN p_b - p_f + f ELSE p_b + f + {late} END"
        flags = {
            "unordered_": self.sequence["unordered"],
            "break_": self.sequence["breaks"].replace("expected", f"({expected})"),
            "gap_": self.sequence["gaps"],
        }
        if wide:
            s = (
                f"SELECT *, {', '.join(f'{c} AS {n}' for n, c in flags.items())}, "
                f"{expected} AS expected, p__row AS p_row"
                + (", 0 AS late_" if late == "0" else "")
                + f" FROM ({s})"
            )
            if screen:  # only these rows go on to the join
                named = {"edge": "edge", **{k[:-1]: k for k in flags}}
                s = f"SELECT * FROM ({s}) WHERE {' OR '.join(named[n] for n in screen)}"
            s = self._join_positions(s, "CASE WHEN s.edge THEN s.h END")
            return f"SELECT *, money + f + {late} AS expected_first FROM ({s})"
        # Counting: only what the aggregates need goes through the join.
        other_file = "" if self.single_file else " OR _file <> p_file"
        order = (
            f"k IS NULL OR (p__row IS NOT NULL AND (_row <> p__row + 1{other_file} OR "
            "p_k IS NULL OR k <= p_k))"
        )
        parts = {
            "bad": "_bad OR qbad",
            "kd": order,
            "unordered": flags["unordered_"],
            "break": flags["break_"],
            "gap": flags["gap_"],
            "start": "start",
            "keyed": self.KEYED,
            "edge": "edge",
            "malformed": "_bad",
        }
        keep = [
            "_row",
            *(() if self.by_hash else ("customer_id", "product_id")),
            "h",
            "date",
            "balance",
            "f",
            *(() if late == "0" else ("late_",)),
            *(f"({c}) IS TRUE AS x_{n}" for n, c in parts.items()),
        ]
        screened = f" WHERE {' OR '.join(f'({parts[n]})' for n in screen)}" if screen else ""
        return f"SELECT {', '.join(keep)} FROM ({s}){screened}"

    def join_flagged(self, rows: str) -> str:
        """`rows` (from `sql(wide=False)`) with the enrollment facts of its edge rows."""
        return self._join_positions(rows, "CASE WHEN s.x_edge THEN s.h END", texts=not self.by_hash)

    def rows_sql(self) -> str:
        """Every row joined with its position's facts (no order needed)."""
        s = (
            f"SELECT *, NULL::DOUBLE AS p_b, NULL::BIGINT AS p__row, NULL::DOUBLE AS expected, "
            "NULL::DOUBLE AS expected_first, NULL::DATE AS p_d, NULL::BIGINT AS p_m "
            f"FROM ({self._base()})"
        )
        return self._join_positions(
            f"SELECT *, hash(customer_id, product_id) AS h FROM ({s})", "s.h"
        )


@dataclass(frozen=True)
class _ColumnStats:
    """A Parquet column's statistics over all its row groups and files."""

    null_count: int
    min: Any
    max: Any


def _parquet_stats(source: Source) -> dict[str, _ColumnStats]:
    """Statistics of each schema column whose every row group has them (metadata only)."""
    import pyarrow.parquet as pq

    out: dict[str, _ColumnStats] = {}
    try:
        metas = [pq.ParquetFile(part).metadata for part in source.parts]
    except Exception:  # statistics are an optimisation; without them the scan decides
        return out
    for name, index in source.columns.items():
        nulls, lo, hi, ok = 0, None, None, True
        for meta in metas:
            if index >= meta.num_columns:
                ok = False
                break
            for g in range(meta.num_row_groups):
                st = meta.row_group(g).column(index).statistics
                if st is None or not st.has_null_count:
                    ok = False
                    break
                nulls += st.null_count
                if meta.row_group(g).num_rows == st.null_count:
                    continue  # all null: no min/max
                if not st.has_min_max:
                    ok = False
                    break
                try:
                    lo = st.min if lo is None else min(lo, st.min)
                    hi = st.max if hi is None else max(hi, st.max)
                except TypeError:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            out[name] = _ColumnStats(nulls, lo, hi)
    return out


_CHK_CACHE: dict[tuple[Any, ...], str] = {}
_RAW_PLACEHOLDER = "finrep_raw_placeholder"


def _chk_sql(raw: ibis.Table, source: Source, dates: dict[str, DateColumn]) -> str:
    """SQL of the checked view over `raw`: ``_row``, ``_file``, ``_bad``, ``_short``, each stored
    column as ``r__<name>`` and its typed value as ``<name>``. Compiled once per file layout (ibis
    compiles slowly) and reused with the raw table's name."""
    name = raw.get_name()
    key = (
        source.table,
        source.format,
        source.display if source.format == "csv" else "",
        source.kinds,
        tuple(sorted((c, d.format) for c, d in dates.items())),
    )
    sql = _CHK_CACHE.get(key)
    if sql is None:
        extra: dict[str, Any] = {"_row": raw["_row"]}
        if source.format == "csv":
            extra["_file"] = ibis.literal(source.display)
            extra["_bad"] = raw["_short"] | raw["_long"]
            extra["_short"] = raw["_short"]
        else:
            extra["_file"] = raw["_file"]
            extra["_bad"] = ibis.literal(False)
            extra["_short"] = ibis.literal(False)
        stored = {f"r__{c}": raw[c] for c in source.spec.column_names}
        typed = typed_columns(raw, source, {c: d.format for c, d in dates.items()})
        sql = engine.compile_sql(raw.select(**extra, **stored, **typed))
        sql = sql.replace(_id(name), _id(_RAW_PLACEHOLDER))
        _CHK_CACHE[key] = sql
    return sql.replace(_id(_RAW_PLACEHOLDER), _id(name))


@dataclass(frozen=True)
class _Rule:
    """A row-level rule: `where` is exact; `quick` finds at least the same rows, cheaper (on
    stored Parquet values); `proven` when the file's statistics show no row can break it."""

    rule: str
    severity: str
    column: Column
    where: str
    detail: str = ""
    quick: str = ""
    proven: bool = False
    # The stored float column when `quick` is just its NaN test (`_quick_any` sums them).
    nan_of: str = ""

    def __post_init__(self) -> None:
        if not self.quick:
            object.__setattr__(self, "quick", self.where)


def _show_bound(bound: float | None) -> str:
    if bound is None:
        return ""
    return f"{bound:g}"


def _other_date_formats_sql(stored: str, chosen: str) -> str:
    """SQL: the stored text reads as a date in some format other than the column's."""
    text = f"trim({stored})"
    others = [f[1] for f in DATE_FORMATS if f[0] != chosen]
    parts = []
    if chosen != ISO:
        parts.append(f"try_cast({text} AS DATE) IS NOT NULL")
    if others:
        fmts = "[" + ", ".join(_q(f) for f in others) + "]"
        parts.append(f"try_strptime({text}, {fmts}) IS NOT NULL")
    return "(" + " OR ".join(parts) + ")"


def _mask_column(table: str, column: str, value: str) -> str:
    """Values of personal-data columns are masked whatever they look like."""
    spec = TABLES.get(table)
    if spec is None or column not in spec.column_names or not spec.column(column).pii:
        return value
    if "mail" in column:
        return mask_email(value)
    return mask_phone(value)


class _CallableModule(types.ModuleType):
    """`finrep.validate` is both this module and the public function (DESIGN.md: the public API
    has ``finrep.validate``); once the module is imported, Python binds the package attribute to
    the module, so the module itself calls `validate`."""

    def __call__(
        self, data_dir: str | Path, config: Config | None = None, progress: Progress | None = None
    ) -> list[Finding]:
        return validate(data_dir, config, progress)


sys.modules[__name__].__class__ = _CallableModule
