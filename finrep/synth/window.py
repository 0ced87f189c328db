"""The generator's options and its calendar: whole months from --start to --end.

Days are counted from 1970-01-01 (numpy ``datetime64[D]`` as integers) so every date rule is
integer arithmetic on arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from finrep.errors import ConfigError

FORMATS = ("csv", "parquet")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, option: str) -> np.datetime64:
    """``YYYY-MM`` → numpy month; ConfigError naming the option otherwise."""
    m = _MONTH.match(str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not 1900 <= int(m.group(1)) <= 2200:
        raise ConfigError(
            f"{option} {text!r}: expected a month as YYYY-MM between 1900-01 and 2200-12, "
            "e.g. 2020-01"
        )
    return np.datetime64(f"{m.group(1)}-{m.group(2)}", "M")


@dataclass(frozen=True)
class Options:
    """Validated options of `finrep generate` (see `generate`)."""

    customers: int
    start: str
    end: str
    seed: int
    format: str
    partition: bool

    @classmethod
    def parse(
        cls, customers: int, start: str, end: str, seed: int, format: str, partition: bool
    ) -> Options:
        if isinstance(customers, bool) or not isinstance(customers, int | np.integer):
            raise ConfigError(f"--customers {customers!r}: expected a whole number")
        if customers < 1:
            raise ConfigError(f"--customers {customers}: must be at least 1")
        if customers > 100_000_000:
            raise ConfigError(f"--customers {customers}: at most 100,000,000 are supported")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"--seed {seed!r}: expected a whole number ≥ 0")
        fmt = str(format).lower()
        if fmt not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected csv or parquet")
        s, e = parse_month(start, "--start"), parse_month(end, "--end")
        if e < s:
            raise ConfigError(f"--end {end} is before --start {start}; swap them")
        if partition and fmt != "parquet":
            raise ConfigError("--partition needs --format parquet (CSV files are not partitioned)")
        return cls(int(customers), str(s), str(e), int(seed), fmt, bool(partition))

    def as_dict(self) -> dict[str, object]:
        return {
            "customers": self.customers,
            "start": self.start,
            "end": self.end,
            "seed": self.seed,
            "format": self.format,
            "partition": self.partition,
        }


class Window:
    """Months [start, end]. Month index 0 is --start; arrays are indexed by month index."""

    def __init__(self, start: str, end: str):
        self.start_month = np.datetime64(start, "M")
        self.end_month = np.datetime64(end, "M")
        self.n_months = int((self.end_month - self.start_month).astype(int)) + 1
        months = self.start_month + np.arange(self.n_months + 1)
        starts = months.astype("datetime64[D]").astype(np.int64)
        #: first day of each month (n_months + 1 entries: the last is the day after --end)
        self.month_first = starts
        #: last day of each month
        self.month_last = starts[1:] - 1
        self.days_in_month = self.month_last - starts[:-1] + 1
        self.first_day = int(starts[0])
        self.last_day = int(starts[-1] - 1)
        years = months[:-1].astype("datetime64[Y]").astype(np.int64) + 1970
        #: calendar year and month (1–12) of each month index
        self.year = years
        self.month_of_year = months[:-1].astype(np.int64) % 12 + 1

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Month index of each day (days inside the window)."""
        return np.searchsorted(self.month_first, days, side="right") - 1

    @cached_property
    def decimal_year(self) -> np.ndarray:
        """Calendar time of each month's middle as a decimal year (2021.54 …)."""
        return self.year + (self.month_of_year - 0.5) / 12.0


def decimal_year(days: np.ndarray) -> np.ndarray:
    """Days since the epoch → decimal calendar year."""
    return 1970.0 + np.asarray(days, dtype=np.float64) / 365.2425


def month_cells(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, month) with ``first[row] <= month <= last[row]``, row by row, months in
    order (none for a row whose `last` is before its `first`)."""
    lengths = np.maximum(np.asarray(last) - np.asarray(first) + 1, 0)
    total = int(lengths.sum())
    row = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    month = np.asarray(first)[row] + (np.arange(total) - np.repeat(starts, lengths))
    return row, month
