"""Balance checks: `_BalanceChecks`, the mixin of `validate._Run` that makes the positions from
enrollments and checks account_balances in one scan (value rules, key order, the balance identity,
month gaps, open and close dates, foreign keys through the positions), and `_Balances`, the SQL
that scan and its listings run.
"""

from __future__ import annotations

from typing import NamedTuple

from finrep import engine
from finrep.validate_keys import _key_order_aggregates, _key_order_columns, _key_sql
from finrep.validate_table import _id, _plural, _show, _Table, _view_ids
from finrep.validate_values import _quick_any, _Rule


class _Positions(NamedTuple):
    """One run's positions (see `_Run._make_positions`)."""

    table: str
    last_id: int  # ids run from 1 to this (bitmaps of positions span them)
    distinct_hashes: bool  # no two positions share a (customer, product) hash
    closes: str = ""  # table of close dates by ``pos_id`` (`_Run._positions_with_closes`)


class _BalanceChecks:
    """Balance checks of `validate._Run` (they use its `fetch`, `scan`, `temp_table`,
    `parquet_table`, `add` and the value and key checks, and set its `positions` and
    `late_money`)."""

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
                f"SELECT count(*), count_if(multi), count(DISTINCT h) FROM {_id(name)}",
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
                extra.append(f"count_if({missing})")
        exact = positions is None or not self._grouped_by_position(table)
        select = [*b.head_counts(), *b.counts(exact=exact), *extra]
        kept = None  # the sorted path's counted rows (see `_Balances.sorted_rows_sql`)
        if exact and positions is not None:
            kept = self._sorted_rows(b)
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
            kept = self._sorted_rows(b)
            counts = dict(zip(b.COUNTS, self._count_sorted(b, kept), strict=True))
        if kept is not None:
            self._list_balance_rules(table, b, _id(kept), counts, b.SEQUENCE, kept=True)
            engine.fetch(self.con, f"DROP VIEW IF EXISTS {_id(kept)}")
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

    def _sorted_rows(self, b: _Balances) -> str:
        """The rows of `_Balances.sorted_rows_sql`, kept in a Parquet file (in any order: the
        counts and the listings, ordered by record, do not need one). On data with millions of
        bad rows nearly every row is kept: as a temporary table they held 590 MB of DuckDB's
        working memory at 100k customers."""
        with engine.joins_as_written(self.con):
            return self.parquet_table("sorted", b.sorted_rows_sql())

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
            "SELECT count_if(h IS DISTINCT FROM p_h), count(DISTINCT h), count(*) "
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
            "count_if(qbad)",
            *_key_order_aggregates(),
            "count_if(_bad)",
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


_FLOW = "(contributions_mtd - withdrawals_mtd + investment_returns_mtd - fees_mtd)"


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
            f"count_if({self._bit('bad')})",
            "0",
            f"count_if({self._bit('kd')})",
            f"count_if({self._bit('malformed')})",
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
                    f"bit_count(bitstring_agg(CASE WHEN {runs} THEN pos_id END, 1, {n_pos}))"
                    if n_pos and not exact
                    else "0"
                )
            else:
                out.append(f"count_if({conditions[key]})")
        return out

    def row_counts(self) -> list[str]:
        return [f"count_if({self.rows[k]})" for k in self.ROWS]

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
