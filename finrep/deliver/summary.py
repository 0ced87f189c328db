"""What an email says about a pack, saved beside it (``<stem>.summary.json``).

Messages are composed from this summary rather than from a live `Pack`, so a pack built in an
earlier run (a re-run after a failed send) is mailed with exactly the numbers in its files,
without recomputing anything.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from finrep.atomic import write_text_atomic
from finrep.errors import DeliveryError
from finrep.filters import Filters
from finrep.pack import PAGE_LAYOUT, Pack
from finrep.period import Period

SUMMARY_SUFFIX = ".summary.json"
HEADLINE = PAGE_LAYOUT["executive"]["kpis"]
_KPI_FIELDS = (
    "value",
    "previous",
    "last_year",
    "change",
    "change_pct",
    "change_ly",
    "change_ly_pct",
)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class KpiLine:
    key: str
    label: str
    unit: str
    value: float | None
    previous: float | None
    last_year: float | None
    change: float | None
    change_pct: float | None
    change_ly: float | None
    change_ly_pct: float | None
    higher_is_better: bool = True


@dataclass(frozen=True)
class PackSummary:
    company: str
    title: str
    period: Period
    comparison: Period
    last_year: Period
    filters: Filters
    as_of: date
    kpis: tuple[KpiLine, ...]  # headline KPIs, in the executive page's order
    narrative: tuple[str, ...]

    @classmethod
    def from_pack(cls, pack: Pack) -> PackSummary:
        lines = []
        for key in HEADLINE:
            kpi = pack.kpis.get(key)
            if kpi is None:
                continue
            lines.append(
                KpiLine(
                    key=key,
                    label=kpi.label,
                    unit=kpi.unit,
                    **{f: _number(getattr(kpi, f)) for f in _KPI_FIELDS},
                    higher_is_better=bool(kpi.higher_is_better),
                )
            )
        narrative: tuple[str, ...] = ()
        for page in pack.pages:
            if page.key == "executive":
                narrative = tuple(page.narrative)
        return cls(
            company=pack.company,
            title=pack.title,
            period=pack.period,
            comparison=pack.comparison,
            last_year=pack.last_year,
            filters=pack.filters,
            as_of=pack.as_of,
            kpis=tuple(lines),
            narrative=narrative,
        )

    def as_json(self) -> dict[str, Any]:
        def period(p: Period) -> dict[str, str]:
            return {"start": p.start.isoformat(), "end": p.end.isoformat(), "label": p.label}

        return {
            "company": self.company,
            "title": self.title,
            "period": period(self.period),
            "comparison": {
                "previous": period(self.comparison),
                "last_year": period(self.last_year),
            },
            "filters": self.filters.as_dict(),
            "as_of": self.as_of.isoformat(),
            "kpis": [
                {
                    "key": k.key,
                    "label": k.label,
                    "unit": k.unit,
                    **{f: getattr(k, f) for f in _KPI_FIELDS},
                    "higher_is_better": k.higher_is_better,
                }
                for k in self.kpis
            ],
            "narrative": list(self.narrative),
        }

    def save(self, path: Path) -> Path:
        text = json.dumps(self.as_json(), indent=2, ensure_ascii=False, allow_nan=False)
        return write_text_atomic(path, text + "\n")

    @classmethod
    def load(cls, path: Path) -> PackSummary:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))

            def period(d: dict[str, str]) -> Period:
                return Period(date.fromisoformat(d["start"]), date.fromisoformat(d["end"]))

            return cls(
                company=doc["company"],
                title=doc["title"],
                period=period(doc["period"]),
                comparison=period(doc["comparison"]["previous"]),
                last_year=period(doc["comparison"]["last_year"]),
                filters=Filters.of(**doc["filters"]),
                as_of=date.fromisoformat(doc["as_of"]),
                kpis=tuple(
                    KpiLine(
                        key=k["key"],
                        label=k["label"],
                        unit=k["unit"],
                        **{f: _number(k.get(f)) for f in _KPI_FIELDS},
                        higher_is_better=bool(k.get("higher_is_better", True)),
                    )
                    for k in doc["kpis"]
                ),
                narrative=tuple(doc.get("narrative", ())),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DeliveryError(
                f"{path}: cannot read the pack summary ({exc}); delete it and the pack's "
                "files beside it to rebuild them"
            ) from None
