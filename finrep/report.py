"""`make_report`: validate the data, build the pack once, render it as PDF and/or workbook.

Files are named ``finrep-<period>[-<filters>].<format>`` (see `finrep.deliver.naming`) and
written atomically as a set: every format is rendered to a temporary file in the output folder
first and renamed into place only when all succeeded, so a failure never leaves a half-written
file and an earlier pack of the same name survives intact.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from finrep.atomic import atomic_path
from finrep.config import Config, load_config
from finrep.errors import ConfigError, DataError, FinrepError
from finrep.filters import Filters
from finrep.pack import PAGE_KEYS, Pack

Progress = Callable[[str, int, int], None]
FORMATS = ("pdf", "xlsx")
MAX_LISTED_ERRORS = 10


@dataclass(frozen=True)
class ReportResult:
    paths: dict[str, Path]  # format → file written
    pack: Pack


def _silent(step: str, done: int, total: int) -> None:
    return None


def parse_formats(formats: str | Iterable[str] | None, config: Config) -> tuple[str, ...]:
    """``"pdf,xlsx"`` or ``["pdf"]`` → ``("pdf", "xlsx")``; None → config report.formats."""
    if formats is None:
        items: Iterable[str] = config.report.formats
    elif isinstance(formats, str):
        items = formats.split(",")
    else:
        items = formats
    out = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise ConfigError(
            f"unknown report format {', '.join(bad) or '(none)'}; use {' or '.join(FORMATS)} "
            "(several separated by commas)"
        )
    return out


def parse_pages(pages: str | Sequence[str] | None, config: Config) -> tuple[str, ...]:
    """``"all"``, ``"executive,service"`` or a list → page keys in pack order."""
    if pages is None:
        items: Sequence[str] = config.report.pages
    elif isinstance(pages, str):
        items = [p for p in pages.split(",")]
    else:
        items = list(pages)
    wanted = [p.strip().lower() for p in items if p.strip()]
    if not wanted or wanted == ["all"]:
        return tuple(p for p in PAGE_KEYS if p in config.report.pages) or PAGE_KEYS
    bad = [p for p in wanted if p not in PAGE_KEYS]
    if bad:
        raise ConfigError(
            f"unknown page {', '.join(bad)}; use all or some of {', '.join(PAGE_KEYS)}"
        )
    return tuple(p for p in PAGE_KEYS if p in wanted)


def _describe(finding: Any) -> str:
    def get(name: str) -> Any:
        return getattr(finding, name, None)

    where = [str(get("file") or "")]
    if get("row") is not None:
        where.append(f"row {get('row')}")
    if get("column"):
        where.append(f"column {get('column')}")
    if get("value") not in (None, ""):
        where.append(f"value {str(get('value'))!r}")
    return f"{', '.join(w for w in where if w)}: {get('message') or get('rule') or 'invalid'}"


def validate_data(
    data_dir: str | Path, config: Config, allow_invalid: bool, progress: Progress
) -> tuple[Any, ...]:
    """Run `finrep.validate.validate`; raise DataError listing the errors unless
    `allow_invalid`; return the findings the pack records (warnings, and errors if allowed)."""
    from finrep.validate import validate

    findings = tuple(validate(data_dir, config=config, progress=progress))
    errors = [f for f in findings if str(getattr(f, "severity", "")).lower() == "error"]
    if errors and not allow_invalid:
        listed = "\n".join(f"  {_describe(f)}" for f in errors[:MAX_LISTED_ERRORS])
        more = len(errors) - MAX_LISTED_ERRORS
        tail = f"\n  +{more} more (run `finrep validate` for all of them)" if more > 0 else ""
        raise DataError(
            f"{data_dir}: the data has {len(errors)} error{'s' * (len(errors) != 1)}; fix them, "
            f"or pass --allow-invalid to report anyway:\n{listed}{tail}"
        )
    return findings


class _ConfigPickler(pickle.Pickler):
    """Pickles a `Config` (its mapping proxies travel as dicts and come back as proxies)."""

    def reducer_override(self, obj):
        if type(obj) is MappingProxyType:
            return (_proxy, (dict(obj),))
        return NotImplemented


def _proxy(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


def _send(stream, message: tuple) -> None:
    from finrep.render.chart_worker import write_frame

    buffer = io.BytesIO()
    _ConfigPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    write_frame(stream, buffer.getvalue())


class _Validation:
    """`validate_data` in a separate interpreter: validation is mostly Python between small
    DuckDB queries, and on a thread it would take the interpreter lock from the measures for
    that long. Progress comes back over the pipe; anything unexpected (no subprocesses here,
    a worker that dies) falls back to validating in this process."""

    def __init__(self, data_dir, config: Config, allow_invalid: bool, progress: Progress):
        import subprocess

        from finrep.render.chart_worker import worker_env

        self.args = (str(data_dir), config, allow_invalid)
        self.progress = progress
        self.outcome: tuple | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finrep.report", "--validate"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=worker_env(),
        )  # fmt: skip
        assert self.proc.stdin is not None
        try:
            _send(self.proc.stdin, self.args)
            self.proc.stdin.close()
        except (OSError, pickle.PicklingError):
            pass  # the reader sees the worker gone and validation runs here
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        from finrep.render.chart_worker import read_frame

        assert self.proc.stdout is not None
        try:
            while (frame := read_frame(self.proc.stdout)) is not None:
                message = pickle.loads(frame)
                if message[0] == "progress":
                    self.progress(*message[1:])
                else:
                    self.outcome = message
                    break
        except Exception:  # garbage from a dying worker: validate here instead
            self.outcome = None

    def cancel(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def result(self) -> tuple[Any, ...]:
        """The findings (or the DataError validation raised)."""
        self.reader.join()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.outcome is None:
            data_dir, config, allow_invalid = self.args
            return validate_data(data_dir, config, allow_invalid, self.progress)
        kind, payload = self.outcome
        if kind == "error":
            raise payload
        return payload


def _validation_worker() -> None:
    """``python -m finrep.report --validate``: arguments in, progress and outcome out."""
    from finrep.render.chart_worker import read_frame

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must never corrupt the protocol
    frame = read_frame(source)
    if frame is None:
        return
    data_dir, config, allow_invalid = pickle.loads(frame)

    def progress(step: str, done: int, total: int) -> None:
        _send(sink, ("progress", step, done, total))

    try:
        outcome: tuple = ("findings", validate_data(data_dir, config, allow_invalid, progress))
    except FinrepError as exc:
        outcome = ("error", exc)
    _send(sink, outcome)


def _validate_and_build(
    data_dir, period, filters, config, allow_invalid, options, progress, on_page=None
):
    """Validation and the measures, side by side (validation in another interpreter, or on a
    thread where subprocesses cannot run). Validation still decides: its errors stop the
    report (whatever the measures did), and only then does a failure of the measures count."""
    from concurrent.futures import ThreadPoolExecutor

    # The workbook's fact tables are most of the work at scale; a PDF does not use them.
    facts = "xlsx" in str(options.get("formats", ""))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="finrep-validate") as pool:
        checking: Any
        try:
            checking = _Validation(data_dir, config, allow_invalid, progress)
        except OSError:
            checking = pool.submit(validate_data, data_dir, config, allow_invalid, progress)
        # Imported once validation has started: the import (the engine, ibis, pandas) keeps
        # one core busy, and the validating interpreter starts up on the other meanwhile.
        from finrep.pack import build_pack

        pack: Pack | None = None
        failure: BaseException | None = None
        try:
            pack = build_pack(data_dir, period, filters, config, findings=(), progress=progress,
                              options=options, facts=facts, on_page=on_page)  # fmt: skip
        except Exception as exc:  # reported after validation has had its say
            failure = exc
        except BaseException:  # Ctrl-C: no validation process is left running behind us
            checking.cancel()
            raise
        findings = checking.result()
    if failure is not None:
        raise failure
    assert pack is not None
    return pack, findings


# Imported by later steps of a report; importing them on a side thread while the main one waits
# on DuckDB takes them off the critical path (several seconds at a million customers, where the
# measures leave the interpreter idle). The forecast's statsmodels is warmed up by the measures
# themselves (`MeasureRun.kpis`), for every caller of `build_pack`.
_WARM_MODULES = {"pdf": ("finrep.render.pdf",), "xlsx": ("finrep.render.xlsx",)}


def _warm_up(formats: Sequence[str], font: str) -> None:
    """Import what the pack and the renderers will need, and load the PDF's fonts (errors
    surface later, where they belong, when the real import or registration runs)."""
    import importlib

    for name in dict.fromkeys(m for f in formats for m in _WARM_MODULES.get(f, ())):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
        if name == "finrep.render.pdf":
            from finrep.render.theme import register_fonts

            with contextlib.suppress(Exception):
                register_fonts(font)  # parsing the TrueType files takes a few tenths of a second


def report_stem(pack: Pack) -> str:
    """``finrep-2024-12`` or ``finrep-2024-12-segment-affluent-region-west`` (sanitised)."""
    from finrep.deliver.naming import pack_stem

    return pack_stem(pack.period, pack.filters)


def make_report(
    data_dir: str | Path,
    *,
    period: str = "latest",
    filters: Filters | None = None,
    config: Config | None = None,
    formats: str | Iterable[str] | None = ("pdf", "xlsx"),
    out_dir: str | Path | None = None,
    pages: str | Sequence[str] | None = None,
    allow_invalid: bool = False,
    progress: Progress | None = None,
) -> ReportResult:
    """Validate `data_dir`, build the pack for `period` and `filters`, render each of
    `formats` (None: config report.formats) into `out_dir` (None: config report.out).

    Raises DataError when validation finds errors (unless `allow_invalid`) or the period has no
    data, ConfigError for unknown formats or pages, RenderError when rendering fails (nothing
    is written then, and files of an earlier run are kept).
    """
    from finrep.render.chart_pool import ChartPool
    from finrep.render.theme import Theme

    config = config or load_config()
    filters = filters or Filters()
    formats = parse_formats(formats, config)
    wanted_pages = parse_pages(pages, config)
    out = Path(out_dir if out_dir is not None else config.report.out)
    report = progress or _silent
    theme = Theme.from_config(config)  # a bad logo or font fails before any work
    steps = 1 + len(formats)  # the pack, then each file
    report("Report", 0, steps)
    pool = ChartPool(config.report.chart_workers if "pdf" in formats else 1)
    with contextlib.closing(pool):
        pool.start()  # workers warm up while the measures run
        threading.Thread(target=_warm_up, args=(formats, theme.font), daemon=True).start()
        options = {
            "pages": ",".join(wanted_pages),
            "formats": ",".join(formats),
            "allow_invalid": allow_invalid,
        }
        charts = None

        def on_page(page) -> None:  # its charts are drawn while the next pages compute
            nonlocal charts
            if "pdf" in formats and page.key in wanted_pages:
                from finrep.render.pdf import PageCharts

                charts = charts or PageCharts(theme, pool)
                charts.add(page)

        pack, findings = _validate_and_build(
            data_dir, period, filters, config, allow_invalid, options, report, on_page
        )
        report("Report", 1, steps)
        pack = replace(pack, findings=findings)
        pack = replace(pack, pages=tuple(p for p in pack.pages if p.key in wanted_pages))
        stem = report_stem(pack)
        paths = {fmt: out / f"{stem}.{fmt}" for fmt in formats}
        # All formats are written to temporary files first and renamed together at the end.
        with contextlib.ExitStack() as stack:
            temps = {fmt: stack.enter_context(atomic_path(dest)) for fmt, dest in paths.items()}
            for i, fmt in enumerate(formats, start=1):
                if fmt == "pdf":
                    from finrep.render.pdf import render_pdf

                    pdf = render_pdf(pack, theme, pool=pool, progress=report, charts=charts)
                    temps[fmt].write_bytes(pdf)
                else:
                    from finrep.render.xlsx import render_xlsx

                    render_xlsx(pack, config, temps[fmt])
                report("Report", 1 + i, steps)
    return ReportResult(paths=paths, pack=pack)


if __name__ == "__main__" and sys.argv[1:] == ["--validate"]:
    _validation_worker()
