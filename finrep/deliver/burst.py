"""Bursting: one pack per value of a dimension (``finrep report --burst segment``).

The values are the distinct values found in the data under the other filters in force
(``--region West --burst state`` bursts the Western states only). Each pack carries that
value as a filter on top of the others and is written to
``<out>/<period>/finrep-<period>[-<other filters>]-<key>-<value>.{pdf,xlsx}`` with the value
sanitised and names kept distinct (`naming`). A ``.summary.json`` beside each pack lets
``finrep send`` mail it later without rebuilding it.

On DuckDB the tables are split by the burst value in one pass per table
(`finrep.deliver.partition`) and each pack computes on its own value's rows, so a burst costs
about one full computation, not one per value. Other engines (Spark) compute each value's
pack on the whole, cached tables with the value's filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from finrep.config import Config, load_config
from finrep.deliver.naming import distinct_stems
from finrep.deliver.packs import BuiltPack, DataSession, PackStore, Progress
from finrep.errors import ConfigError, DataError
from finrep.filters import Filters
from finrep.period import Period

BURST_KEYS = ("segment", "region", "state", "category", "advisor")


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass
class BurstResult:
    key: str
    period: Period
    folder: Path
    packs: dict[str, BuiltPack] = field(default_factory=dict)  # value → pack

    @property
    def paths(self) -> list[Path]:
        return [p for pack in self.packs.values() for p in pack.files]


def burst_values(
    tables: object, key: str, filters: Filters, config: Config, period: Period
) -> list[str]:
    """The distinct values of `key` under `filters` (sorted; blanks left out).

    Customer dimensions (segment, region, state) come from the customers the pack would
    count; category and advisor from their positions.
    """
    from finrep.engine import execute
    from finrep.measures.context import MeasureContext

    if key not in BURST_KEYS:
        raise ConfigError(f"cannot burst by {key!r}; use one of {', '.join(BURST_KEYS)}")
    ctx = MeasureContext(tables, filters, config, period.end)  # type: ignore[arg-type]
    if key in ("segment", "region", "state"):
        source, column = ctx.population, key
    elif key == "category":
        source, column = ctx.enrollments, "category"
    else:
        source, column = ctx.enrollments, "advisor_id"
    frame = execute(source.select(value=source[column]).distinct())
    values = sorted({str(v).strip() for v in frame["value"].dropna() if str(v).strip()})
    return values


def burst(
    data_dir: str | Path | None,
    key: str,
    *,
    period: str = "latest",
    filters: Filters | None = None,
    config: Config | None = None,
    formats: str | Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    pages: str | Sequence[str] | None = None,
    allow_invalid: bool = False,
    progress: Progress | None = None,
    partition: bool = True,
) -> BurstResult:
    """Build one pack per value of `key` (segment, region, state, category or advisor).

    The data is opened, loaded and validated once, and one chart pool draws every pack.
    `partition=False` computes each pack on the whole tables (what engines other than DuckDB
    always do; kept for comparison). Raises ConfigError for another key, DataError when the
    data holds no value of `key` under `filters`.
    """
    from finrep.deliver.partition import supports

    config = config or load_config()
    filters = filters or Filters()
    report = progress or _quiet
    if key not in BURST_KEYS:
        raise ConfigError(f"cannot burst by {key!r}; use one of {', '.join(BURST_KEYS)}")
    data = Path(data_dir if data_dir is not None else config.data.dir)
    with DataSession(data, config, allow_invalid=allow_invalid, progress=report) as session:
        resolved = session.resolve_period(period)
        values = burst_values(session.tables, key, filters, config, resolved)
        if not values:
            raise DataError(
                f"no {key} values in {data} under the filters {filters.label() or '(none)'}; "
                "nothing to burst"
            )
        store = PackStore(session, resolved, out_dir=out_dir, formats=formats, pages=pages)
        sets = {v: filters.merged(Filters.of(**{key: [v]})) for v in values}
        stems = distinct_stems(resolved, sets.values(), burst_key=key)
        parts = None
        if len(values) > 1 and partition and supports(session.tables):
            session.findings  # noqa: B018 -- invalid data stops the run before the split
            parts = session.partitions(key, values)
        elif len(values) > 1:
            session.share()
        result = BurstResult(key, resolved, store.folder)
        step = f"Burst by {key}"
        for i, (value, f) in enumerate(sets.items()):
            report(step, i, len(sets))
            tables = parts.tables_for(value) if parts is not None else None
            result.packs[value] = store.build(f, stems[f], tables=tables)
            session.drop_temporary()  # this pack's stored tables: not needed by the next
        report(step, len(sets), len(sets))
    return result
