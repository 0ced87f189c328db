"""Data checks → findings: every problem in a data folder, collected in one run.

`validate(data_dir)` inspects the nine files (`sources.inspect_source`), then runs its checks as
DuckDB queries over the files in place, whatever engine measures run on: one counting query per
table and check family, and a listing query (``ORDER BY row LIMIT n``) only for the rules that
found something. Nothing but counts and the listed rows leaves the database, so a million bad rows
cost no more memory than ten.

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

import itertools
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import ibis

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


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _id(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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

    @property
    def name(self) -> str:
        return self.source.table


class _Run:
    def __init__(self, data_dir: Path, config: Config, progress: Progress):
        self.data_dir = data_dir
        self.config = config
        self.limit = max(0, config.validate.max_rows_per_rule)
        self.tolerance = config.validate.identity_tolerance
        self.today = date.today()
        self.progress = progress
        self.con = engine.connect(engine="duckdb")
        self.findings: list[Finding] = []
        self.tables: dict[str, _Table] = {}
        self.sources: dict[str, Source] = {}

    # ---- orchestration ----------------------------------------------------------------
    def all(self) -> list[Finding]:
        steps: list[tuple[str, Callable[[], None]]] = []
        for name in TABLES:
            steps.append((name, lambda name=name: self._table_checks(name)))
        steps.append(("keys", self._key_checks))
        steps.append(("balances", self._balance_checks))
        steps.append(("enrollments", self._status_checks))
        total = len(steps)
        for done, (_label, step) in enumerate(steps):
            self.progress("validate", done, total)
            step()
        self.progress("validate", total, total)
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
        head = finding.file.split("/")[0]
        stem = head.rsplit(".", 1)[0] if "." in head else head
        return stem.casefold()

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
        """Run a query; a CSV with quoted line breaks is re-read single-threaded (DuckDB cannot
        pad short rows in parallel across quoted line breaks)."""
        try:
            return engine.fetch(self.con, sql)
        except duckdb.Error as exc:
            if table is None or not table.parallel or "quoted new lines" not in str(exc):
                raise
            table.parallel = False
            engine.fetch(
                self.con,
                f'CREATE OR REPLACE TEMP VIEW "{table.raw_view}" AS '
                + raw_select_sql(table.source, validating=True, parallel=False),
            )
            return engine.fetch(self.con, sql)

    def guarded(self, table: _Table | Source, what: Callable[[], None]) -> None:
        """Run checks; a file DuckDB cannot read after all becomes a finding, not a traceback."""
        source = table.source if isinstance(table, _Table) else table
        try:
            what()
        except duckdb.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.add(
                source.display,
                "unreadable-file",
                "error",
                f"{source.display}: could not be read ({reason}); check that it is a "
                f"{source.format.upper()} file in the layout described by `finrep validate --help`",
            )
            self.tables.pop(source.table, None)

    # ---- per table ----------------------------------------------------------------------
    def _table_checks(self, name: str) -> None:
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
        self.guarded(source, lambda: self._open_and_check(source))

    def _open_and_check(self, source: Source) -> None:
        name = source.table
        uid = next(_view_ids)
        raw_view = f"finrep_v_raw_{name}_{uid}"
        # Small CSV files are read single-threaded from the start (see `fetch`).
        parallel = source.format != "csv" or _size(source) > _PARALLEL_CSV_BYTES
        raw = engine.create_view(
            self.con, raw_view, raw_select_sql(source, validating=True, parallel=parallel)
        )
        table = _Table(source, {}, raw_view, f"finrep_v_chk_{name}_{uid}", parallel)
        self.tables[name] = table
        if source.format == "csv":
            # Parse the text once: every check then reads DuckDB's own columnar copy (spilled to
            # disk beyond the memory limit), not the CSV again.
            copy = f"finrep_t_raw_{name}_{uid}"
            self.fetch(table, f"CREATE TEMP TABLE {_id(copy)} AS SELECT * FROM {_id(raw_view)}")
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
        for d in dates.values():
            if d.ambiguous:
                self.add(
                    source.display,
                    "ambiguous-date",
                    "error",
                    ambiguous_date_message(source, d),
                    column=d.column,
                )
        self._value_checks(table)

    # ---- value checks (one counting query, listings for what it found) -------------------
    def _value_rules(self, table: _Table) -> list[_Rule]:
        source = table.source
        name = table.name
        rules: list[_Rule] = []
        parquet = source.format == "parquet"
        for col in source.spec.columns:
            c, r = _id(col.name), _id(f"r__{col.name}")
            kind = source.kind(col.name) if parquet else "string"
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
            if not col.nullable:
                rules.append(
                    _Rule("missing-value", "error", col, f"{ok} AND {c} IS NULL AND {blank}")
                )
            if col.dtype != "string":
                invalid = f"{ok} AND {c} IS NULL AND NOT {blank}"
                date = table.dates.get(col.name)
                if col.dtype == "date" and date is not None and date.failures:
                    other = _other_date_formats_sql(r, date.format)
                    rules.append(
                        _Rule("mixed-date-formats", "error", col, f"{invalid} AND {other}")
                    )
                    rules.append(_Rule("invalid-value", "error", col, f"{invalid} AND NOT {other}"))
                else:
                    rules.append(_Rule("invalid-value", "error", col, invalid))
            if col.enum:
                values = ", ".join(_q(v) for v in col.enum)
                severity = "warning" if (name, col.name) in SOFT_ENUMS else "error"
                rules.append(
                    _Rule(
                        "unknown-value", severity, col, f"{c} IS NOT NULL AND {c} NOT IN ({values})"
                    )
                )
            if col.min_value is not None:
                rules.append(
                    _Rule("out-of-range", "warning", col, f"{c} < {col.min_value!r}", "below")
                )
            if col.max_value is not None:
                rules.append(
                    _Rule("out-of-range", "warning", col, f"{c} > {col.max_value!r}", "above")
                )
            if col.dtype == "date":
                rules.append(
                    _Rule("future-date", "warning", col, f"{c} > DATE {_q(self.today.isoformat())}")
                )
                rules.append(_Rule("date-before-1900", "warning", col, f"{c} < DATE '1900-01-01'"))
        return rules

    def _value_checks(self, table: _Table) -> None:
        source = table.source
        rules = self._value_rules(table)
        counts = [f"count(*) FILTER (WHERE {rule.where})" for rule in rules]
        structural = []
        if source.format == "csv":
            structural = [
                "count(*) FILTER (WHERE _bad AND _short)",
                "count(*) FILTER (WHERE _bad AND NOT _short)",
            ]
        row = self.fetch(table, f"SELECT {', '.join(structural + counts)} FROM {_id(table.chk)}")[0]
        if structural:
            short, long = int(row[0]), int(row[1])
            n_fields = len(source.header)
            for count, where, words in (
                (short, "_bad AND _short", "fewer fields than"),
                (long, "_bad AND NOT _short", "more fields than"),
            ):
                if count:
                    listed = self.fetch(
                        table,
                        f"SELECT _row FROM {_id(table.chk)} WHERE {where} ORDER BY _row LIMIT {self.limit}",
                    )
                    for (r,) in listed:
                        self.add(
                            source.display,
                            "malformed-row",
                            "error",
                            f"{source.display} row {r}: the record has {words} the {n_fields} "
                            "columns of the header; check for a missing or extra delimiter or an "
                            "unbalanced quote",
                            row=r,
                        )
                    self.add_more(
                        source.display, "malformed-row", "error", None, count, len(listed)
                    )
            row = row[len(structural) :]
        for rule, count in zip(rules, row, strict=True):
            count = int(count or 0)
            if not count:
                continue
            c, r = _id(rule.column.name), _id(f"r__{rule.column.name}")
            listed = self.fetch(
                table,
                f"SELECT _file, _row, {r}, {c} FROM {_id(table.chk)} WHERE {rule.where} "
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
                f"of a column in one format (YYYY-MM-DD is safest)"
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
    def _key_checks(self) -> None:
        for table in list(self.tables.values()):
            self.guarded(table, lambda table=table: self._duplicate_keys(table))
        for table in list(self.tables.values()):
            self.guarded(table, lambda table=table: self._orphan_keys(table))

    def _duplicate_keys(self, table: _Table) -> None:
        source = table.source
        keys = source.spec.primary_key
        chk = _id(table.chk)
        not_null = " AND ".join(f"{_id(k)} IS NOT NULL" for k in keys)
        if len(keys) == 1:
            key = _id(keys[0])
        else:
            key = "concat_ws(chr(31), " + ", ".join(f"{_id(k)}::VARCHAR" for k in keys) + ")"
        # Fast path: keys strictly increasing in file order are unique (finrep's files, and most
        # exports, are written in key order). Otherwise group by the key (exact, spills to disk).
        (unordered,) = self.fetch(
            table,
            f"SELECT count(*) FILTER (WHERE k <= pk) FROM (SELECT k, lag(k) OVER () AS pk FROM "
            f"(SELECT {key} AS k FROM {chk} WHERE NOT _bad AND {not_null}))",
        )[0]
        if not unordered:
            return
        cols = ", ".join(_id(k) for k in keys)
        dups = (
            f"SELECT {cols}, min(_row) AS first_row, count(*) AS n FROM {chk} "
            f"WHERE NOT _bad AND {not_null} GROUP BY {cols} HAVING count(*) > 1"
        )
        (count,) = self.fetch(table, f"SELECT coalesce(sum(n - 1), 0) FROM ({dups})")[0]
        if not count:
            return
        join = " AND ".join(f"t.{_id(k)} = d.{_id(k)}" for k in keys)
        listed = self.fetch(
            table,
            f"SELECT t._file, t._row, d.first_row, {', '.join('t.' + _id(k) for k in keys)} "
            f"FROM {chk} t JOIN ({dups}) d ON {join} WHERE t._row > d.first_row "
            f"ORDER BY t._file, t._row LIMIT {self.limit}",
        )
        label = ", ".join(keys)
        for file, row, first, *values in listed:
            shown = ", ".join(_show(v) for v in values)
            self.add(
                file,
                "duplicate-key",
                "error",
                f"{file} row {row}: {label} `{shown}` is already on row {first}; each row needs "
                "its own key (remove or renumber the duplicate)",
                row=row,
                column=keys[0] if len(keys) == 1 else label,
                value=shown,
                table=table.name,
            )
        self.add_more(
            source.display,
            "duplicate-key",
            "error",
            keys[0] if len(keys) == 1 else label,
            count,
            len(listed),
        )

    def _orphan_keys(self, table: _Table) -> None:
        source = table.source
        fks = [fk for fk in source.spec.foreign_keys if fk.table in self.tables]
        if not fks:
            return
        chk = _id(table.chk)
        # Distinct key combinations first: account_balances has tens of rows per position.
        key_cols = list(dict.fromkeys(c for fk in fks for c in fk.columns))
        cols = ", ".join(_id(c) for c in key_cols)
        combos = f"SELECT {cols}, count(*) AS n FROM {chk} WHERE NOT _bad GROUP BY {cols}"
        view = f"finrep_t_keys_{table.name}_{next(_view_ids)}"
        self.fetch(table, f"CREATE OR REPLACE TEMP TABLE {_id(view)} AS {combos}")
        try:
            for fk in fks:
                parent = self.tables[fk.table]
                cond = " AND ".join(
                    f"k.{_id(c)} = p.{_id(pc)}"
                    for c, pc in zip(fk.columns, fk.ref_columns, strict=True)
                )
                not_null = " AND ".join(f"k.{_id(c)} IS NOT NULL" for c in fk.columns)
                parent_keys = (
                    f"SELECT DISTINCT {', '.join(_id(pc) for pc in fk.ref_columns)} FROM "
                    f"{_id(parent.chk)} WHERE NOT _bad"
                )
                orphans = f"SELECT k.* FROM {_id(view)} k ANTI JOIN ({parent_keys}) p ON {cond} WHERE {not_null}"
                (count,) = self.fetch(table, f"SELECT coalesce(sum(n), 0) FROM ({orphans})")[0]
                if not count:
                    continue
                join = " AND ".join(f"t.{_id(c)} = o.{_id(c)}" for c in fk.columns)
                listed = self.fetch(
                    table,
                    f"SELECT t._file, t._row, {', '.join('t.' + _id(c) for c in fk.columns)} "
                    f"FROM {chk} t SEMI JOIN ({orphans}) o ON {join} WHERE NOT t._bad "
                    f"ORDER BY t._file, t._row LIMIT {self.limit}",
                )
                label = ", ".join(fk.columns)
                target = self.sources[fk.table].display
                for file, row, *values in listed:
                    shown = ", ".join(_show(v) for v in values)
                    self.add(
                        file,
                        "orphan-key",
                        "error",
                        f"{file} row {row}: {label} `{shown}` is not in {target}; add it there "
                        "or correct the key",
                        row=row,
                        column=fk.columns[0] if len(fk.columns) == 1 else label,
                        value=shown,
                        table=table.name,
                    )
                self.add_more(
                    source.display,
                    "orphan-key",
                    "error",
                    fk.columns[0] if len(fk.columns) == 1 else label,
                    int(count),
                    len(listed),
                )
        finally:
            engine.fetch(self.con, f"DROP TABLE IF EXISTS {_id(view)}")

    # ---- balances: identity, gaps, opening and closing -----------------------------------
    def _balance_checks(self) -> None:
        balances = self.tables.get("account_balances")
        if balances is None:
            return
        self.guarded(balances, lambda: self._balances(balances))

    def _balances(self, table: _Table) -> None:
        chk = _id(table.chk)
        enrollments = self.tables.get("enrollments")
        retention = self.tables.get("retention")
        file = table.source.display
        tol = float(self.tolerance)
        flow = "(contributions_mtd - withdrawals_mtd + investment_returns_mtd - fees_mtd)"
        base = (
            f"SELECT _file, _row, customer_id AS c, product_id AS p, date AS d, balance_id AS bid, "
            f"balance AS b, {flow} AS f FROM {chk} WHERE NOT _bad"
        )
        # New money of later enrollments of the same pair (rare): enters the identity in its month.
        late_money = None
        if enrollments is not None:
            late_money = (
                "SELECT customer_id AS c, product_id AS p, date_trunc('month', enrollment_date) AS m, "
                "sum(initial_investment) AS money FROM ("
                "SELECT *, row_number() OVER (PARTITION BY customer_id, product_id "
                "ORDER BY enrollment_date, _row) AS k "
                f"FROM {_id(enrollments.chk)} WHERE NOT _bad AND enrollment_date IS NOT NULL) "
                "WHERE k > 1 GROUP BY ALL"
            )
            (n_late,) = self.fetch(enrollments, f"SELECT count(*) FROM ({late_money})")[0]
            if not n_late:
                late_money = None

        def stream(window: str) -> str:
            lagged = ", ".join(
                f"lag({x}) OVER {window} AS p{x}" for x in ("c", "p", "d", "b", "f", "_row")
            )
            s = f"SELECT *, {lagged} FROM ({base})"
            if late_money is not None:
                s = (
                    f"SELECT s.*, coalesce(lm.money, 0) AS money FROM ({s}) s LEFT JOIN "
                    f"({late_money}) lm ON s.c = lm.c AND s.p = lm.p "
                    "AND date_trunc('month', s.d) = lm.m"
                )
            else:
                s = f"SELECT *, 0 AS money FROM ({s})"
            return (
                "SELECT *, (c = pc AND p = pp) IS TRUE AS same, "
                "date_diff('month', date_trunc('month', pd), date_trunc('month', d)) AS md, "
                "CASE WHEN date_trunc('month', pd) = date_trunc('month', d) THEN pb - pf + f "
                "ELSE pb + f + money END AS expected "
                f"FROM ({s})"
            )

        def breaks(s: str) -> str:
            return f"same AND md <= 1 AND d > pd AND abs(b - expected) > {tol!r}"

        fast = "()"
        exact = "(PARTITION BY c, p ORDER BY d, bid, _row)"
        # Positions: the pairs, with their first row, last date and row count.
        positions = (
            "SELECT c, p, count(*) AS n, arg_min(_row, (d, bid, _row)) AS first_row, "
            "arg_min(_file, (d, bid, _row)) AS first_file, min(d) AS first_date, "
            "arg_min(b, (d, bid, _row)) AS first_b, arg_min(f, (d, bid, _row)) AS first_f, "
            f"max(d) AS last_date FROM ({base}) WHERE c IS NOT NULL AND p IS NOT NULL "
            "AND d IS NOT NULL GROUP BY c, p"
        )
        pos_table = f"finrep_t_pos_{next(_view_ids)}"
        self.fetch(table, f"CREATE OR REPLACE TEMP TABLE {_id(pos_table)} AS {positions}")
        try:
            self._sequence_checks(table, stream, breaks, fast, exact, pos_table)
            if enrollments is not None:
                self._opening_checks(table, enrollments, pos_table)
            if retention is not None:
                self._closing_checks(table, retention, pos_table, base)
        finally:
            engine.fetch(self.con, f"DROP TABLE IF EXISTS {_id(pos_table)}")
        del file

    def _sequence_checks(self, table, stream, breaks, fast, exact, pos_table) -> None:  # type: ignore[no-untyped-def]
        """Identity and month gaps between consecutive rows of a position. Fast path: the file
        lists each position's rows together, by date (finrep's and the published layout), so the
        previous row in the file is the previous row of the position; checked, else exact."""
        (n_positions,) = self.fetch(table, f"SELECT count(*) FROM {_id(pos_table)}")[0]
        window = fast
        s = stream(fast)
        runs, unordered, n_breaks, n_gaps = self.fetch(
            table,
            f"SELECT count(*) FILTER (WHERE NOT same AND c IS NOT NULL AND p IS NOT NULL), "
            f"count(*) FILTER (WHERE same AND d <= pd), "
            f"count(*) FILTER (WHERE {breaks(s)}), count(*) FILTER (WHERE same AND md > 1) "
            f"FROM ({s})",
        )[0]
        if runs != n_positions or unordered:
            window = exact
            s = stream(exact)
            n_breaks, n_gaps = self.fetch(
                table,
                f"SELECT count(*) FILTER (WHERE {breaks(s)}), "
                f"count(*) FILTER (WHERE same AND md > 1) FROM ({s})",
            )[0]
        file = table.source.display
        if n_breaks:
            listed = self.fetch(
                table,
                f"SELECT _file, _row, b, pb, expected, prow, c, p FROM ({s}) WHERE {breaks(s)} "
                f"ORDER BY _file, _row LIMIT {self.limit}",
            )
            for f, row, b, pb, expected, prow, c, p in listed:
                self.add(
                    f,
                    "balance-identity",
                    "warning",
                    f"{f} row {row}: balance {_show(b)} of {c}/{p} should be {_show(expected)} "
                    f"(balance {_show(pb)} on row {prow} + contributions − withdrawals + returns − "
                    f"fees of this row); off by {_show(abs(b - expected))}",
                    row=row,
                    column="balance",
                    value=b,
                )
            self.add_more(
                file, "balance-identity", "warning", "balance", int(n_breaks), len(listed)
            )
        if n_gaps:
            listed = self.fetch(
                table,
                f"SELECT _file, _row, d, pd, prow, c, p, md FROM ({s}) WHERE same AND md > 1 "
                f"ORDER BY _file, _row LIMIT {self.limit}",
            )
            for f, row, d, pd_, prow, c, p, md in listed:
                self.add(
                    f,
                    "month-gap",
                    "warning",
                    f"{f} row {row}: {c}/{p} has no balance row for {_plural(int(md) - 1, 'month')} "
                    f"between {_show(pd_)} (row {prow}) and {_show(d)}; one row per month is "
                    "expected",
                    row=row,
                    column="date",
                    value=d,
                )
            self.add_more(file, "month-gap", "warning", "date", int(n_gaps), len(listed))
        del window

    def _opening_checks(self, table: _Table, enrollments: _Table, pos_table: str) -> None:
        """A position's first row: balance = new money enrolled up to that month + the month's
        flows; and no row before the position opened."""
        tol = float(self.tolerance)
        opening = (
            "SELECT pos.*, o.open_date, "
            "(SELECT coalesce(sum(e.initial_investment), 0) FROM "
            f"{_id(enrollments.chk)} e WHERE NOT e._bad AND e.customer_id = pos.c AND "
            "e.product_id = pos.p AND date_trunc('month', e.enrollment_date) <= "
            "date_trunc('month', pos.first_date)) AS money "
            f"FROM {_id(pos_table)} pos JOIN (SELECT customer_id, product_id, "
            f"min(enrollment_date) AS open_date FROM {_id(enrollments.chk)} WHERE NOT _bad "
            "GROUP BY ALL) o ON o.customer_id = pos.c AND o.product_id = pos.p"
        )
        view = f"finrep_t_open_{next(_view_ids)}"
        self.fetch(table, f"CREATE OR REPLACE TEMP TABLE {_id(view)} AS {opening}")
        try:
            bad_open = f"abs(first_b - (money + first_f)) > {tol!r}"
            before = "first_date < open_date"
            n_open, n_before = self.fetch(
                table,
                f"SELECT count(*) FILTER (WHERE {bad_open}), count(*) FILTER (WHERE {before}) "
                f"FROM {_id(view)}",
            )[0]
            file = table.source.display
            if n_open:
                listed = self.fetch(
                    table,
                    f"SELECT first_file, first_row, first_b, money + first_f, money, c, p FROM "
                    f"{_id(view)} WHERE {bad_open} ORDER BY first_file, first_row LIMIT {self.limit}",
                )
                for f, row, b, expected, money, c, p in listed:
                    self.add(
                        f,
                        "balance-identity",
                        "warning",
                        f"{f} row {row}: first balance {_show(b)} of {c}/{p} should be "
                        f"{_show(expected)} (initial investment {_show(money)} + contributions − "
                        f"withdrawals + returns − fees of this row); off by "
                        f"{_show(abs(b - expected))}",
                        row=row,
                        column="balance",
                        value=b,
                    )
                self.add_more(
                    file, "balance-identity", "warning", "balance", int(n_open), len(listed)
                )
            if n_before:
                listed = self.fetch(
                    table,
                    f"SELECT first_file, first_row, first_date, open_date, c, p FROM {_id(view)} "
                    f"WHERE {before} ORDER BY first_file, first_row LIMIT {self.limit}",
                )
                enr = enrollments.source.display
                for f, row, d, opened, c, p in listed:
                    self.add(
                        f,
                        "balance-before-open",
                        "warning",
                        f"{f} row {row}: {c}/{p} has a balance on {_show(d)}, before it opened on "
                        f"{_show(opened)} ({enr})",
                        row=row,
                        column="date",
                        value=d,
                    )
                self.add_more(
                    file, "balance-before-open", "warning", "date", int(n_before), len(listed)
                )
        finally:
            engine.fetch(self.con, f"DROP TABLE IF EXISTS {_id(view)}")

    def _closing_checks(self, table: _Table, retention: _Table, pos_table: str, base: str) -> None:
        """Rows dated after the position's close date (its earliest unrecovered churn)."""
        closes = (
            "SELECT customer_id AS c, product_id AS p, min(churn_date) AS close_date FROM "
            f"{_id(retention.chk)} WHERE NOT _bad AND recovered_flag = 'No' AND churn_date IS NOT "
            "NULL GROUP BY ALL"
        )
        late = (
            f"SELECT pos.c, pos.p, cl.close_date FROM {_id(pos_table)} pos JOIN ({closes}) cl "
            "ON pos.c = cl.c AND pos.p = cl.p WHERE pos.last_date > cl.close_date"
        )
        (n_late_positions,) = self.fetch(table, f"SELECT count(*) FROM ({late})")[0]
        if not n_late_positions:
            return
        rows = (
            f"SELECT b._file, b._row, b.d, l.close_date, b.c, b.p FROM ({base}) b JOIN ({late}) l "
            "ON b.c = l.c AND b.p = l.p WHERE b.d > l.close_date"
        )
        (count,) = self.fetch(table, f"SELECT count(*) FROM ({rows})")[0]
        listed = self.fetch(table, f"{rows} ORDER BY b._file, b._row LIMIT {self.limit}")
        ret = retention.source.display
        for f, row, d, closed, c, p in listed:
            self.add(
                f,
                "balance-after-close",
                "warning",
                f"{f} row {row}: {c}/{p} has a balance on {_show(d)}, after it closed on "
                f"{_show(closed)} (unrecovered churn in {ret}); measures ignore rows after the "
                "close date",
                row=row,
                column="date",
                value=d,
            )
        self.add_more(
            table.source.display, "balance-after-close", "warning", "date", int(count), len(listed)
        )

    # ---- enrollments vs retention ---------------------------------------------------------
    def _status_checks(self) -> None:
        enrollments = self.tables.get("enrollments")
        retention = self.tables.get("retention")
        if enrollments is None or retention is None:
            return
        self.guarded(enrollments, lambda: self._status(enrollments, retention))

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
    rule: str
    severity: str
    column: Column
    where: str
    detail: str = ""


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
