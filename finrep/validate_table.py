"""One table under validation, and what every check module of `validate` shares.

`_Table` is a readable table during a run: its source, the checked view `_chk_sql` makes over it
(each column's stored and typed value) and its Parquet statistics (`_parquet_stats`). Also the
SQL quoting (`_q`, `_id`), the counter naming the run's views and tables, and how values are
shown in findings (`_show`, `_plural`, `_mask_column`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis

from finrep import engine
from finrep.schema import TABLES
from finrep.sources import DateColumn, Source, mask_email, mask_phone, typed_columns

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


def _mask_column(table: str, column: str, value: str) -> str:
    """Values of personal-data columns are masked whatever they look like."""
    spec = TABLES.get(table)
    if spec is None or column not in spec.column_names or not spec.column(column).pii:
        return value
    if "mail" in column:
        return mask_email(value)
    return mask_phone(value)
