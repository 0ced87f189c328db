"""Reporting periods: whole calendar months [S, E] and their comparison periods.

`--period` accepts ``YYYY-MM``, ``YYYY-Qn``, ``YYYY``, ``YYYY-MM..YYYY-MM``, ``latest`` (the
latest month with balance rows) and ``previous`` (the month before ``latest``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from finrep.errors import DataError


def month_start(d: date) -> date:
    return d.replace(day=1)


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def add_months(d: date, n: int) -> date:
    """First day of the month `n` months after the month of `d`."""
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(a: date, b: date) -> int:
    """Whole months from the month of `a` to the month of `b` (b later → positive)."""
    return (b.year - a.year) * 12 + (b.month - a.month)


@dataclass(frozen=True)
class Period:
    """Months [start, end]: `start` is the first day of S, `end` the last day of E."""

    start: date
    end: date

    @property
    def n_months(self) -> int:
        return months_between(self.start, self.end) + 1

    @property
    def opening(self) -> date:
        """S⁻: the last day of the month before S."""
        return month_end(add_months(self.start, -1))

    @property
    def month_starts(self) -> list[date]:
        return [add_months(self.start, i) for i in range(self.n_months)]

    @property
    def spec(self) -> str:
        """Canonical text form, accepted back by `parse_period`."""
        s, e = self.start, self.end
        if self.n_months == 1:
            return f"{s:%Y-%m}"
        if self.n_months == 3 and s.month % 3 == 1:
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if self.n_months == 12 and s.month == 1:
            return f"{s.year}"
        return f"{s:%Y-%m}..{e:%Y-%m}"

    @property
    def label(self) -> str:
        """Human label: ``September 2024``, ``Q3 2024``, ``2024``, ``Jan 2024 – Mar 2024``."""
        s, e = self.start, self.end
        if self.n_months == 1:
            return f"{s:%B %Y}"
        if self.n_months == 3 and s.month % 3 == 1:
            return f"Q{(s.month - 1) // 3 + 1} {s.year}"
        if self.n_months == 12 and s.month == 1:
            return f"{s.year}"
        return f"{s:%b %Y} – {e:%b %Y}"

    def previous(self) -> Period:
        """The period of the same length ending at S⁻ (MoM, QoQ, …)."""
        return Period(add_months(self.start, -self.n_months), self.opening)

    def last_year(self) -> Period:
        """The same months one year earlier (YoY)."""
        return Period(add_months(self.start, -12), month_end(add_months(self.end, -12)))

    def trailing(self, months: int) -> Period:
        """The `months` months ending E (e.g. the 24-month trend window)."""
        return Period(add_months(self.end, -(months - 1)), self.end)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}


def _month(text: str) -> date:
    y, m = text.split("-")
    return date(int(y), int(m), 1)


_PATTERNS = [
    (re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), lambda t: (_month(t), _month(t))),
    (
        re.compile(r"^\d{4}-[Qq][1-4]$"),
        lambda t: (
            date(int(t[:4]), (int(t[-1]) - 1) * 3 + 1, 1),
            date(int(t[:4]), (int(t[-1]) - 1) * 3 + 3, 1),
        ),
    ),
    (re.compile(r"^\d{4}$"), lambda t: (date(int(t), 1, 1), date(int(t), 12, 1))),
    (
        re.compile(r"^\d{4}-(0[1-9]|1[0-2])\.\.\d{4}-(0[1-9]|1[0-2])$"),
        lambda t: (_month(t.split("..")[0]), _month(t.split("..")[1])),
    ),
]

PERIOD_HELP = "YYYY-MM, YYYY-Qn, YYYY, YYYY-MM..YYYY-MM, latest or previous"


def parse_period(text: str, latest: date | None = None) -> Period:
    """Parse a period. `latest` is any date in the latest month with data (for latest/previous)."""
    t = (text or "latest").strip()
    if t.lower() in ("latest", "previous"):
        if latest is None:
            raise DataError("no balance rows: cannot tell the latest month")
        last = month_start(latest)
        if t.lower() == "previous":
            last = add_months(last, -1)
        return Period(last, month_end(last))
    for pattern, bounds in _PATTERNS:
        if pattern.match(t):
            s, e = bounds(t)
            if e < s:
                raise DataError(f"period {t!r} ends before it starts")
            return Period(s, month_end(e))
    raise DataError(f"period {t!r} is not understood; use {PERIOD_HELP}")


def check_within(period: Period, first: date, last: date) -> None:
    """Raise a DataError naming the months with data when `period` lies outside them."""
    if period.end < month_start(first) or period.start > month_end(last):
        raise DataError(
            f"no data for {period.label}: balance rows cover {first:%Y-%m} to {last:%Y-%m}; "
            "choose a period inside that range"
        )
    if period.start < month_start(first) or period.end > month_end(last):
        raise DataError(
            f"period {period.label} reaches outside the data ({first:%Y-%m} to {last:%Y-%m}); "
            "choose a period inside that range"
        )
