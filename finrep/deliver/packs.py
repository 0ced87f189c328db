"""Packs for delivery: ``reports/<period>/<stem>.{pdf,xlsx}`` plus ``<stem>.summary.json``.

A pack is *built* when all its files and its summary exist; the summary is written last, so
an interrupted build is rebuilt next time, and a pack built by an earlier run (e.g. before a
failed send) is mailed unchanged. Packs are built with `finrep.report.make_report` in a
private staging folder beside the destination and then renamed into place, so file names
are ours (sanitised, collision-free) and every file appears whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from finrep.config import Config
from finrep.deliver.naming import inside, period_part
from finrep.deliver.summary import SUMMARY_SUFFIX, PackSummary
from finrep.errors import DeliveryError, RenderError
from finrep.filters import Filters
from finrep.period import Period, parse_period

Progress = Callable[[str, int, int], None]


def _quiet(step: str, done: int, total: int) -> None:
    return None


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


def resolve_period(text: str, data_dir: Path, config: Config) -> Period:
    """`text` as a Period; ``latest``/``previous`` need the data's latest balance month."""
    if (text or "latest").strip().lower() not in ("latest", "previous"):
        return parse_period(text)
    from finrep import engine
    from finrep.sources import load_tables

    tables = load_tables(engine.connect(config), data_dir)
    latest = engine.execute(tables["account_balances"].date.max())
    if latest is None or pd.isna(latest):  # no balance rows: parse_period says so
        return parse_period(text, None)
    if isinstance(latest, datetime):  # pandas Timestamp included
        latest = latest.date()
    return parse_period(text, latest)


def same_filters(a: Filters, b: Filters) -> bool:
    """Equal filters, ignoring the order of values within a dimension."""
    return {k: set(v) for k, v in a.items()} == {k: set(v) for k, v in b.items()}


class PackStore:
    """The packs of one period folder: find the ones already built, build the rest."""

    def __init__(
        self,
        data_dir: str | Path,
        period: Period,
        config: Config,
        *,
        out_dir: str | Path | None = None,
        formats: tuple[str, ...] | None = None,
        pages: tuple[str, ...] | None = None,
        allow_invalid: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.period = period
        self.config = config
        self.root = Path(out_dir if out_dir is not None else config.report.out)
        self.folder = inside(self.root, period_part(period))
        self.formats = tuple(formats or config.report.formats)
        for fmt in self.formats:
            if fmt not in ("pdf", "xlsx"):
                raise DeliveryError(f"format {fmt!r} cannot be mailed; use pdf and/or xlsx")
        self.pages = pages
        self.allow_invalid = allow_invalid

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

    def get(self, filters: Filters, stem: str, progress: Progress | None = None) -> BuiltPack:
        return self.existing(filters, stem) or self.build(filters, stem, progress)

    def build(self, filters: Filters, stem: str, progress: Progress | None = None) -> BuiltPack:
        """Build the pack with `make_report` in a staging folder, then rename it into place."""
        from finrep.report import make_report

        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.folder))
        try:
            result = make_report(
                self.data_dir,
                period=self.period.spec,
                filters=filters,
                config=self.config,
                formats=self.formats,
                out_dir=staging,
                pages=self.pages,
                allow_invalid=self.allow_invalid,
                progress=progress or _quiet,
            )
            return self.place(result.pack, result.paths, stem)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def place(self, pack: object, made: dict[str, Path], stem: str) -> BuiltPack:
        """Move freshly rendered files (same file system) to their names; write the summary."""
        from finrep.pack import Pack

        if not isinstance(pack, Pack):
            raise RenderError("make_report returned no Pack; cannot write the email summary")
        paths = self.paths(stem)
        summary_path = self.summary_path(stem)
        for fmt in paths:
            if made.get(fmt) is None or not Path(made[fmt]).is_file():
                raise RenderError(f"the {fmt} file of {stem} was not produced")
        self.folder.mkdir(parents=True, exist_ok=True)
        summary_path.unlink(missing_ok=True)  # the pack is incomplete until the summary is back
        for fmt, dest in paths.items():
            os.replace(made[fmt], dest)
        summary = PackSummary.from_pack(pack)
        summary.save(summary_path)
        return BuiltPack(pack.filters, stem, paths, summary, reused=False)
