"""Packs for delivery: ``reports/<period>/<stem>.{pdf,xlsx}`` plus ``<stem>.summary.json``.

A pack is *built* when all its files and its summary exist; the summary is written last, so
an interrupted build is rebuilt next time, and a pack built by an earlier run (e.g. before a
failed send) is mailed unchanged.

Many packs of one run (a burst, or a recipients file) share one `DataSession`: one engine
connection with the tables loaded once, one validation of the data, one chart-drawing pool.
Each pack is still its own `build_pack` (the measures engine computes per filter set), but
nothing about the data is opened, inspected or validated twice. A burst on DuckDB goes
further: `DataSession.partitions` splits the tables by the burst value once, and each pack
computes on its own value's rows (`finrep.deliver.partition`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from finrep.atomic import atomic_path
from finrep.config import Config
from finrep.deliver.naming import inside, period_part
from finrep.deliver.summary import SUMMARY_SUFFIX, PackSummary
from finrep.filters import Filters
from finrep.pack import Pack
from finrep.period import Period, parse_period

Progress = Callable[[str, int, int], None]


def _quiet(step: str, done: int, total: int) -> None:
    return None


def same_filters(a: Filters, b: Filters) -> bool:
    """Equal filters, ignoring the order of values within a dimension."""
    return {k: set(v) for k, v in a.items()} == {k: set(v) for k, v in b.items()}


@dataclass(frozen=True)
class BuiltPack:
    filters: Filters
    stem: str
    paths: dict[str, Path]  # format (pdf, xlsx) → file
    summary: PackSummary
    reused: bool  # True when found on disk rather than built by this run

    @property
    def files(self) -> list[Path]:
        return list(self.paths.values())


class DataSession:
    """One data folder opened once for a whole run. Use as a context manager (closes the
    chart workers). Everything is opened lazily: a run whose packs all exist reads no data."""

    def __init__(
        self,
        data_dir: str | Path,
        config: Config,
        *,
        allow_invalid: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.config = config
        self.allow_invalid = allow_invalid
        self.progress = progress or _quiet
        self._pool: Any = None
        self._shared = False
        self._stored: Path | None = None
        self._partitions: Any = None

    def __enter__(self) -> DataSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        parts, self._partitions = self._partitions, None
        if parts is not None:
            parts.close()
        if self._stored is not None:
            shutil.rmtree(self._stored, ignore_errors=True)
            self._stored = None

    def share(self) -> None:
        """Store the typed, cleaned tables once, for a run that builds several packs.

        The loaded tables are lazy views over the source files, so every query of every
        pack would otherwise parse the CSVs and apply the cleaning rules again. On DuckDB
        they are written once to Parquet in a temporary folder (out of core: memory stays
        flat however large the data) and read from there; other engines cache them. On the
        300-customer test data this makes each further pack's measures about 3x faster.
        """
        if self._shared:
            return
        tables = self.tables
        con = tables.con
        if getattr(con, "name", "") == "duckdb":
            self._stored = Path(tempfile.mkdtemp(prefix="finrep-tables-"))
            stored = {}
            for name, expr in tables.tables.items():
                path = self._stored / f"{name}.parquet"
                con.to_parquet(expr, path)
                stored[name] = con.read_parquet(path, table_name=f"_finrep_shared_{name}")
        else:
            from finrep.measures.context import materialise

            stored = {name: materialise(con, expr) for name, expr in tables.tables.items()}
        self.__dict__["tables"] = replace(tables, tables=stored)  # the cached_property's slot
        self._shared = True

    def partitions(self, key: str, values: Sequence[str]) -> Any:
        """The tables split by `key` into one part per value (`finrep.deliver.partition`),
        written once to a temporary folder removed by `close`. DuckDB only."""
        from finrep.deliver.partition import Partitions

        if self._partitions is not None:
            self._partitions.close()
        folder = Path(tempfile.mkdtemp(prefix="finrep-burst-"))
        try:
            self._partitions = Partitions(
                self.tables, key, values, folder, self.coverage, self.progress
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self._partitions

    @cached_property
    def coverage(self) -> Any:
        """The whole data's first and last balance dates (`finrep.measures.assets.Coverage`)."""
        from finrep.measures.assets import data_coverage

        return data_coverage(self.tables)

    @cached_property
    def sources(self) -> tuple[Any, ...]:
        """The run information's source files (name, rows, SHA-256), once per run."""
        from finrep.errors import DataError
        from finrep.sources import source_files

        try:
            return source_files(self.tables)
        except OSError as exc:
            raise DataError(f"{self.data_dir}: cannot read the source files ({exc})") from None

    def drop_temporary(self) -> None:
        """Drop the tables the measures stored on the connection for a pack (DuckDB temporary
        tables live as long as the connection: a burst would keep every pack's)."""
        from finrep.measures.context import drop_materialised

        drop_materialised(self.tables.con)

    @cached_property
    def tables(self) -> Any:
        """The nine tables on one connection of the configured engine."""
        from finrep.engine import connect
        from finrep.sources import load_tables

        return load_tables(connect(self.config), self.data_dir)

    @cached_property
    def findings(self) -> tuple[Any, ...]:
        """Validation findings, once per run (errors stop the run unless allow_invalid)."""
        from finrep.report import validate_data

        return validate_data(self.data_dir, self.config, self.allow_invalid, self.progress)

    @cached_property
    def theme(self) -> Any:
        from finrep.render.theme import Theme

        return Theme.from_config(self.config)  # a bad logo or font fails before any work

    def pool(self) -> Any:
        """The chart-drawing worker pool, started on first use and kept for the run."""
        if self._pool is None:
            from finrep.render.chart_pool import ChartPool

            self._pool = ChartPool(self.config.report.chart_workers).start()
        return self._pool

    def resolve_period(self, text: str | Period) -> Period:
        """`text` as a Period; ``latest``/``previous`` read the data's latest balance month."""
        if isinstance(text, Period):
            return text
        if (text or "latest").strip().lower() not in ("latest", "previous"):
            return parse_period(text)
        from finrep.measures.kpis import resolve_period

        return resolve_period(text, self.coverage)


class PackStore:
    """The packs of one period folder: find the ones already built, build the rest."""

    def __init__(
        self,
        session: DataSession,
        period: Period,
        *,
        out_dir: str | Path | None = None,
        formats: str | Sequence[str] | None = None,
        pages: str | Sequence[str] | None = None,
    ) -> None:
        self.session = session
        self.config = session.config
        self.period = period
        self.root = Path(out_dir if out_dir is not None else self.config.report.out)
        self.folder = inside(self.root, period_part(period))
        from finrep.report import parse_formats, parse_pages

        self.formats = parse_formats(formats, self.config)  # "pdf,xlsx", a list, or None
        self.pages = parse_pages(pages, self.config)  # "all", "executive,service", a list

    def paths(self, stem: str) -> dict[str, Path]:
        return {fmt: inside(self.folder, f"{stem}.{fmt}") for fmt in self.formats}

    def summary_path(self, stem: str) -> Path:
        return inside(self.folder, f"{stem}{SUMMARY_SUFFIX}")

    def existing(self, filters: Filters, stem: str) -> BuiltPack | None:
        """The pack if all its files and its summary are on disk, else None."""
        paths = self.paths(stem)
        summary_path = self.summary_path(stem)
        if not summary_path.is_file() or not all(p.is_file() for p in paths.values()):
            return None
        summary = PackSummary.load(summary_path)
        if summary.period != self.period or not same_filters(summary.filters, filters):
            return None  # a stem reused for other filters (names are per run): rebuild
        return BuiltPack(filters, stem, paths, summary, reused=True)

    def build(self, filters: Filters, stem: str, tables: Any = None) -> BuiltPack:
        """Compute the pack and render every format; all files appear together or not at all.

        `tables`: what to compute on instead of the session's tables (a burst value's part of
        them); the run information still names the whole data's source files.
        """
        from finrep.pack import build_pack

        s = self.session
        wanted = self.pages
        options = {"pages": ",".join(wanted), "formats": ",".join(self.formats),
                   "allow_invalid": s.allow_invalid}  # fmt: skip
        pack = build_pack(
            s.tables if tables is None else tables, self.period, filters, self.config,
            findings=s.findings, progress=s.progress, options=options,
            facts="xlsx" in self.formats,  # the workbook's tables: most of the work at scale
        )  # fmt: skip
        if tables is not None:
            pack = replace(pack, run=replace(pack.run, sources=s.sources))
        pack = replace(pack, pages=tuple(p for p in pack.pages if p.key in wanted))
        paths = self.paths(stem)
        summary_path = self.summary_path(stem)
        self.folder.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            temps = {fmt: stack.enter_context(atomic_path(dest)) for fmt, dest in paths.items()}
            for fmt, tmp in temps.items():
                self._render(pack, fmt, tmp)
            summary_path.unlink(missing_ok=True)  # incomplete until the summary is back
        return self._finish(pack, stem, paths)

    def _render(self, pack: Pack, fmt: str, dest: Path) -> None:
        s = self.session
        if fmt == "pdf":
            from finrep.render.pdf import render_pdf

            dest.write_bytes(render_pdf(pack, s.theme, pool=s.pool(), progress=s.progress))
        else:
            from finrep.render.xlsx import render_xlsx

            render_xlsx(pack, self.config, dest, s.progress)

    def _finish(self, pack: Pack, stem: str, paths: dict[str, Path]) -> BuiltPack:
        summary = PackSummary.from_pack(pack)
        summary.save(self.summary_path(stem))
        return BuiltPack(pack.filters, stem, paths, summary, reused=False)
