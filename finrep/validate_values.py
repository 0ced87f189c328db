"""Row-level value rules: blanks, values that do not read as their type, mixed date formats,
unknown enum values, out-of-range numbers and dates (`_Rule`), and `_ValueChecks`, the mixin of
`validate._Run` that makes them for a table, then counts and lists the rows they flag. Parquet
statistics prove a rule holds nowhere when they can; a rule's `quick` condition screens rows on
stored values, cheaper than its exact one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from finrep.schema import Column
from finrep.sources import BLANK_TOKENS, DATE_FORMATS, ISO, DateColumn
from finrep.validate_table import _id, _mask_column, _q, _show, _Table

# Enum columns whose unknown values are only a warning (MEASURES.md already expects device
# names beyond the list: "any device_type containing Mobile").
SOFT_ENUMS = {("engagement", "device_type")}


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


class _ValueChecks:
    """Value checks of `validate._Run` (its `fetch`, `add`, `add_more`, `today` and `limit`)."""

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
        counts = [f"count_if({rule.where})" for rule in rules]
        structural = [
            "count_if(_bad AND _short)",
            "count_if(_bad AND NOT _short)",
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
