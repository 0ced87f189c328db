"""Primary and foreign keys: `_KeyChecks`, the mixin of `validate._Run` that proves keys unique
(strictly increasing in file order, else a bitmap of id numbers, else grouping) and finds orphans
(rows whose key has no row in the table it points to), and the SQL pieces scans use for keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from finrep.validate_table import _id, _show, _Table


def _key_sql(keys: tuple[str, ...]) -> str:
    """The primary key as one comparable value (null when any part is null)."""
    if len(keys) == 1:
        return _id(keys[0])
    return " || chr(31) || ".join(f"{_id(k)}::VARCHAR" for k in keys)


def _not_null(columns: Iterable[str], prefix: str = "") -> str:
    return " AND ".join(f"{prefix}{_id(c)} IS NOT NULL" for c in columns)


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
    return [f"count({prefix}k)", f"count_if({_key_disorder(prefix)})"]


def _key_aggregates(bounds: tuple[int, int] | None, n: str = "n") -> list[str]:
    """Aggregates over the key numbers `n` for `_Run._keys_unique`: count(n), then either
    (rows in range, bits set) when the range is known, or (min, max) for a second scan."""
    if bounds is None:
        return [f"count({n})", f"min({n})", f"max({n})", "NULL"]
    lo, hi = bounds
    within = f"{n} BETWEEN {lo} AND {hi}"
    return [
        f"count({n})",
        f"count_if({within})",
        f"bit_count(bitstring_agg(CASE WHEN {within} THEN {n} END, {lo}, {hi}))",
        "NULL",
    ]


class _KeyChecks:
    """Key checks of `validate._Run` (its `fetch`, `temp_table`, `add`, `add_more`, `tables`,
    `sources`, `limit` and `_parent_keys`/`_key_counts` caches)."""

    # ---- keys -------------------------------------------------------------------------
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
