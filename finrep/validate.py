"""Data checks → findings: every problem in a data folder, collected in one run.

`validate(data_dir)` inspects the nine files (`sources.inspect_source`), then checks them with
DuckDB queries over the files in place, whatever engine measures run on. Each table is read in
one scan that counts every rule at once (Parquet statistics first rule out what they can: nulls,
ranges, dates); only a rule that found something gets a listing query (``ORDER BY row LIMIT
n``). Nothing but counts and the listed rows leaves the database, and DuckDB works within
`[validate] memory_limit` (spilling beyond), so memory is bounded however many rows are bad:
millions of bad rows fill the limit (their checks sort every balance row), clean data stays
well below it.

Keys are proven unique when they strictly increase in file order (checked in the scan), else
by a bitmap of id numbers, else by grouping. Balances are checked in file order when the scan
shows each position's rows together and by date (finrep's layout and the published one), else
sorted per position.

The checks are split by subject, each a mixin of the run here: `validate_values` (row-level value
rules), `validate_keys` (primary and foreign keys), `validate_balances` (positions and the balance
scan); `validate_table` holds one table's checked view and the helpers they all share.

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
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import ibis.backends.duckdb  # noqa: F401  (validation always runs on DuckDB: load it with us)

from finrep import engine
from finrep.config import Config, load_config
from finrep.errors import DataError
from finrep.schema import TABLES
from finrep.sources import (
    Source,
    ambiguous_date_message,
    detect_date_formats,
    inspect_source,
    mask_pii,
    raw_select_sql,
)
from finrep.validate_balances import _BalanceChecks, _Positions
from finrep.validate_balances import _Balances as _Balances  # tests patch it here
from finrep.validate_keys import _key_disorder, _key_order_columns, _KeyChecks, _not_null
from finrep.validate_table import (
    _chk_sql,
    _id,
    _mask_column,
    _parquet_stats,
    _show,
    _Table,
    _view_ids,
)
from finrep.validate_values import SOFT_ENUMS as SOFT_ENUMS
from finrep.validate_values import _quick_any, _ValueChecks

Progress = Callable[[str, int, int], None]

# Tables without which no pack makes sense: a header-only file is an error, not a warning.
CORE_TABLES = ("customers", "products", "enrollments", "account_balances")


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


_PARALLEL_CSV_BYTES = 32 << 20
_SPLIT_ROWS = 1_000_000  # tables from this size are scanned in parallel record ranges


def _size(source: Source) -> int:
    try:
        return source.path.stat().st_size if source.path is not None else 0
    except OSError:
        return 0


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


class _Run(_KeyChecks, _ValueChecks, _BalanceChecks):
    """One validation run over a data folder: its DuckDB connection, the tables read so far
    and the findings. The checks of values, keys and balances come from the mixins."""

    def __init__(self, data_dir: Path, config: Config, progress: Progress):
        self.data_dir = data_dir
        self.config = config
        self.limit = max(0, config.validate.max_rows_per_rule)
        self.tolerance = float(config.validate.identity_tolerance)
        self.today = date.today()
        self.progress = progress
        self.con = engine.connect(engine="duckdb")
        # Memory stays flat whatever the data size: beyond `[validate] memory_limit` (default
        # 1GB) DuckDB spills to disk, and a query that cannot spill may have up to the engine's
        # memory_limit_max. Measured 2026-11-29 (RSS of the whole process; ~200 MB of it is
        # Python, the libraries and the connection): clean data peaks at 244 MB at 100k
        # customers, ~350 MB at 1M and ~480 MB at 2M under 1GB (the joins hash parent keys and
        # positions, ~70 MB per million customers). 256MB gives the same at 1M and ~460 MB at
        # 2M; 128MB holds 2M to ~350 MB but costs 10% at 1M, and with it the "2x one read" time
        # target. Millions of bad rows (the sorted path: a window over every balance row) fill
        # the limit: the bad 100k copy of bench_validate.py peaks at ~890 MB in 5.7 s under
        # 1GB, ~470 MB in 9 s under 256MB.
        limit = config.validate.memory_limit.strip()
        if limit:
            engine.limit_memory(self.con, limit, config.engine.memory_limit_max, "validate")
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
        """Records of `table` (Parquet: counted from the footers by `inspect_source`)."""
        if table.rows is None:
            table.rows = table.source.rows
        if table.rows is None:
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
        aggregates = ["count_if(qbad)", "0", "count_if(x_kd)"]
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
            aggregates.append(f"count_if(orphan{i})")
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


class _CallableModule(types.ModuleType):
    """`finrep.validate` is both this module and the public function (DESIGN.md: the public API
    has ``finrep.validate``); once the module is imported, Python binds the package attribute to
    the module, so the module itself calls `validate`."""

    def __call__(
        self, data_dir: str | Path, config: Config | None = None, progress: Progress | None = None
    ) -> list[Finding]:
        return validate(data_dir, config, progress)


sys.modules[__name__].__class__ = _CallableModule
