"""Partitioning for a burst: every large table written once, split by the burst value, so
each value's pack reads only its own rows.

A burst of n values used to run n full measure computations, each scanning every table and
filtering inside. Here one pass per table (streamed from DuckDB, split by value as it goes)
writes the rows of each value to their own Parquet file; each value's pack then runs the normal `build_pack`
with its filter on `PartitionTables` whose large tables are that value's part. The filter is
still applied, so a part only needs to hold every row the filter keeps (a superset is fine).

Which rows belong to a value follows `finrep.measures.context`:
- customer keys (segment, region, state): the customers with that value, and the rows of
  every customer-keyed table (enrollments, account_balances, retention,
  service_interactions, engagement) whose customer has it;
- position keys (category, advisor): the enrollments with that category (through their
  product) or advisor, and the balance and retention rows of those enrollments' positions.
  A position enrolled twice with two advisors is in both parts, as the advisor filter keeps
  it for both. Customer-level tables (customers, service, engagement) stay whole: those
  measures use customer filters only.
Products, advisors and market data are small and stay whole. Rows with another value, or
none, are not written at all.

What must come from the whole data is carried, not recomputed from a part: the balance
coverage (first and last balance dates: the as-of date and `latest`) in
`PartitionTables.coverage`, which `finrep.measures.kpis.open_run` reads; the source files of
the run information (the burst adds them to each pack); and the first date of the service
and engagement tables, which their trend charts start from: each part of those tables also
holds the whole table's rows of its first date that belong to other values (or to no
customer). The value's filter drops those rows from every measure, so they only keep the
first date right.

DuckDB only: other engines build each value's pack on the whole (cached) tables.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from finrep.engine import sql_text
from finrep.measures.assets import Coverage
from finrep.measures.context import region_expr
from finrep.sources import Tables

Progress = Callable[[str, int, int], None]

CUSTOMER_KEYS = ("segment", "region", "state")
POSITION_KEYS = ("category", "advisor")
# Tables whose rows belong to a customer (split by the customer's value for customer keys).
CUSTOMER_TABLES = (
    "customers",
    "enrollments",
    "account_balances",
    "retention",
    "service_interactions",
    "engagement",
)
# Tables whose rows belong to a position (split by the position's value for position keys).
POSITION_TABLES = ("enrollments", "account_balances", "retention")
# Tables whose first date (over every row, unfiltered) starts a trend chart.
FIRST_DATE_TABLES = ("service_interactions", "engagement")

_PART = "_part"  # the partition column: the value's index in `values`
_KEY = "_key"  # the row's burst value (text) while partitioning
_tables = itertools.count(1)
_BATCH_ROWS = 200_000  # rows per streamed batch while splitting (about 16 MB of balances)


def supports(tables: Tables) -> bool:
    """Whether `tables` can be partitioned (DuckDB connections)."""
    return getattr(tables.con, "name", "") == "duckdb"


@dataclass
class PartitionTables(Tables):
    """One burst value's tables: `Tables` whose large tables hold only that value's rows,
    plus the whole data's balance `coverage` (a part must not move the as-of date)."""

    coverage: Coverage | None = None


class Partitions:
    """The tables of a burst written once, split by value, under `folder` (removed by
    `close`). `tables_for(value)` gives one value's `PartitionTables`."""

    def __init__(
        self,
        tables: Tables,
        key: str,
        values: Sequence[str],
        folder: Path,
        coverage: Coverage,
        progress: Progress | None = None,
    ) -> None:
        if key not in CUSTOMER_KEYS + POSITION_KEYS:
            raise ValueError(f"cannot partition by {key!r}")
        if not supports(tables):
            raise ValueError("partitioning needs a DuckDB connection")
        self.key = key
        self.values = list(dict.fromkeys(values))
        self.folder = Path(folder)
        self.coverage = coverage
        self.source = tables
        self._con = tables.con
        self._whole: dict[str, ir.Table] = {}
        self._split: dict[str, ir.Table] = {}  # name → the keyed expression (for its schema)
        self._first: dict[str, Path] = {}
        self._write(progress or (lambda step, done, total: None))

    # ---- writing -----------------------------------------------------------------------
    @property
    def split_tables(self) -> tuple[str, ...]:
        return CUSTOMER_TABLES if self.key in CUSTOMER_KEYS else POSITION_TABLES

    def _value(self, c: ir.Table) -> ir.Column:
        """A customer's value of a customer key."""
        if self.key == "segment":
            return c.customer_segment
        if self.key == "state":
            return c.address_state
        return region_expr(c.address_state)  # as MeasureContext derives the region

    def _keys(self) -> ir.Table:
        """The join that gives a row its value: (join columns…, _key), distinct."""
        t = self.source
        if self.key in CUSTOMER_KEYS:
            c = t["customers"]
            return c.select("customer_id", **{_KEY: self._value(c)}).distinct()
        if self.key == "category":
            p = t["products"]
            return p.select("product_id", **{_KEY: p.product_category}).distinct()
        e = t["enrollments"]
        return e.select("customer_id", "product_id", **{_KEY: e.advisor_id}).distinct()

    def _keyed(self, name: str, keys: ir.Table) -> ir.Table:
        """Table `name` with the `_key` of each row (a row with several values repeats)."""
        t = self.source[name]
        if name == "customers":
            return t.mutate(**{_KEY: self._value(t)})
        if name == "enrollments" and self.key == "advisor":
            return t.mutate(**{_KEY: t.advisor_id})
        on = [c for c in keys.columns if c != _KEY]
        return t.join(keys, on)

    def _write(self, progress: Progress) -> None:
        names = list(self.source.tables)
        step = f"Splitting the data by {self.key}"
        progress(step, 0, len(names))
        self.folder.mkdir(parents=True, exist_ok=True)
        con = self._con
        keys = self._keys()
        # A real (temporary) table, not a memtable: the split's SQL is run directly.
        values_table = f"_finrep_burst_values{next(_tables)}"
        rows = ", ".join(f"({sql_text(v)}, {i})" for i, v in enumerate(self.values))
        con.raw_sql(f'CREATE TEMP TABLE "{values_table}" AS SELECT * FROM (VALUES {rows}) '
                    f"AS t({_KEY}, {_PART})")  # fmt: skip
        parts = con.table(values_table)
        for i, name in enumerate(names):
            expr = self.source[name]
            if name in self.split_tables:
                keyed = self._keyed(name, keys)
                out = keyed.join(parts, _KEY).select(*expr.columns, _PART)
                self._write_parts(out, self.folder / name)
                self._split[name] = expr
                if self.key in CUSTOMER_KEYS and name in FIRST_DATE_TABLES:
                    self._first[name] = self._write_first_rows(name, keys)
            else:
                path = self.folder / f"{name}.parquet"
                con.to_parquet(expr, path)
                self._whole[name] = con.read_parquet(path, table_name=f"_finrep_burst_{name}")
            progress(step, i + 1, len(names))

    def _write_parts(self, expr: ir.Table, folder: Path) -> None:
        """Write `expr`'s rows to ``folder/_part=<i>/data.parquet`` by their `_part`, in one
        streamed pass: batches from the engine, each split by part with a stable sort and
        appended to that part's file. (DuckDB's own ``PARTITION_BY`` write holds buffers it
        cannot spill: it runs out of memory under the configured engine memory limit at a
        million customers, and took twice the CPU of a plain write.)"""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        writers: dict[int, pq.ParquetWriter] = {}
        sql = self._con.compile(expr)
        # The DuckDB relation's reader streams the rows (a DB-API result would copy them).
        reader = self._con.con.sql(sql).to_arrow_reader(batch_size=_BATCH_ROWS)
        schema = reader.schema.remove(reader.schema.get_field_index(_PART))
        try:
            for batch in reader:
                if not batch.num_rows:
                    continue
                part = batch.column(_PART).to_numpy(zero_copy_only=False)
                order = np.argsort(part, kind="stable")
                counts = np.bincount(part, minlength=len(self.values))
                rows = pa.Table.from_batches([batch]).drop_columns([_PART]).take(order)
                start = 0
                for i in np.flatnonzero(counts):
                    n = int(counts[i])
                    writer = writers.get(int(i))
                    if writer is None:
                        target = folder / f"{_PART}={int(i)}"
                        target.mkdir(parents=True, exist_ok=True)
                        writer = writers[int(i)] = pq.ParquetWriter(target / "data.parquet", schema)
                    writer.write_table(rows.slice(start, n))
                    start += n
        finally:
            reader.close()
            for writer in writers.values():
                writer.close()
            pa.default_memory_pool().release_unused()  # the batches' memory, back to the system

    def _write_first_rows(self, name: str, keys: ir.Table) -> Path:
        """The rows of the table's first date with their customer's value (null: none)."""
        t = self.source[name]
        first = t.filter(t.date == t.date.min())
        joined = first.left_join(keys, first.customer_id == keys.customer_id)
        rows = joined.select(*[joined[c] for c in t.columns], **{_KEY: joined[_KEY]})
        path = self.folder / f"{name}.first.parquet"
        self._con.to_parquet(rows, path)
        return path

    # ---- reading -----------------------------------------------------------------------
    def tables_for(self, value: str) -> PartitionTables:
        """`value`'s tables: its parts of the split tables, the others whole. No source files
        (the run information's files are the whole data's: the burst adds them)."""
        index = self.values.index(value)
        tables = dict(self._whole)
        for name, expr in self._split.items():
            part = self._read_part(name, expr, index)
            first = self._first.get(name)
            if first is not None:
                extra = self._con.read_parquet(first)
                extra = extra.filter(extra[_KEY].isnull() | (extra[_KEY] != value))
                part = part.union(extra.select(*expr.columns), distinct=False)
            tables[name] = part
        return PartitionTables(
            con=self._con,
            data_dir=self.source.data_dir,
            tables=tables,
            files={},
            sources=dict(self.source.sources),
            coverage=self.coverage,
        )

    def _read_part(self, name: str, expr: ir.Table, index: int) -> ir.Table:
        folder = self.folder / name / f"{_PART}={index}"
        if not any(folder.glob("*.parquet")):  # no rows with this value: an empty table
            return expr.filter(ibis.literal(False))
        t = self._con.read_parquet(str(folder / "*.parquet"), hive_partitioning=False)
        return t.select(*expr.columns)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
