"""Read the nine tables (CSV or Parquet) as typed ibis tables, per `schema.py`.

Files, found per table (names case-insensitive; a folder may mix formats):
``<table>.parquet``, a folder ``<table>/`` of Parquet parts (e.g. hive partitions
``year_month=YYYY-MM/part-0.parquet``), or ``<table>.csv`` (also ``.tsv``). When several exist the
first in that order is read (`validate` warns).

CSV layout, detected per file, never guessed per row:
- encoding: UTF-8 (a byte-order mark is skipped); UTF-16 with a byte-order mark; a file that is not
  valid UTF-8 anywhere is read as Latin-1 (`validate` warns).
- delimiter: ``,`` ``;`` tab or ``|``, whichever splits the header into the most expected names.
- quoting: RFC 4180 (``""`` inside quotes); quoted fields may hold delimiters and line breaks.
- line ends: LF or CRLF; blank lines are skipped.
- header: names matched after trimming and case-folding; column order is free; extra columns are
  ignored (`validate` notes them).

Cleaning rules (`clean_column`; the same on every engine):
- text: trimmed; blank → null.
- enums: surrounding spaces and letter case normalised to the schema's spelling
  (``mass market`` → ``Mass Market``); unknown values are kept as they are (`validate` reports them).
- numbers: thousands separators (``1,234.56``), currency signs (``$ € £ ¥``), a trailing ``%`` and
  spaces are dropped; blank, ``NaN``, ``NA``, ``N/A``, ``null``, ``None`` → null; anything else that
  is not a finite number (``inf``, ``1.234,56``, ``12a``) → null (`validate` reports it).
- whole numbers: read as numbers that must be whole (``12.0`` → 12; ``12.5`` → null, reported).
- dates: one format per column. ISO ``YYYY-MM-DD`` (a time part is ignored) when every value is ISO;
  otherwise the single other format that reads every value (``MM/DD/YYYY``, ``DD/MM/YYYY``,
  ``DD.MM.YYYY``, …). A column that two formats read differently (every day ≤ 12) is refused with
  a DataError rather than risk a silent day/month swap. When no format reads every value, the one
  that reads most is used and the rest become null (`validate` reports them as errors).
- Parquet columns keep their stored types (cast to the schema's); Parquet text gets the enum
  normalisation and blank → null, but is not trimmed (writers of Parquet store what they mean).

`load_tables` raises DataError for what makes a table unreadable (missing file, empty file,
missing or duplicated columns, a column of the wrong kind, an ambiguous date column); everything
else loads, with unreadable values as nulls, so `validate` can report every problem at once.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import itertools
import re
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir

from finrep import engine
from finrep.config import Config
from finrep.errors import DataError
from finrep.pack import SourceFile
from finrep.schema import TABLES, Column
from finrep.schema import Table as TableSpec

CSV_SUFFIXES = (".csv", ".tsv")
DELIMITERS = (",", ";", "\t", "|")
BLANK_TOKENS = ("", "nan", "na", "n/a", "null", "none")
# Empty fields read as '' (not null) when validating, so a short row's padding (null) can be told
# apart from an empty field.
_NULL_SENTINEL = "\x01"
_HEAD_BYTES = 1 << 16
_SCAN_BYTES = 1 << 24

# Date formats tried after ISO: (label shown to users, DuckDB strptime format, Spark pattern).
DATE_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("YYYY/MM/DD", "%Y/%m/%d", "y/M/d"),
    ("MM/DD/YYYY", "%m/%d/%Y", "M/d/y"),
    ("DD/MM/YYYY", "%d/%m/%Y", "d/M/y"),
    ("DD.MM.YYYY", "%d.%m.%Y", "d.M.y"),
    ("DD-MM-YYYY", "%d-%m-%Y", "d-M-y"),
    ("MM-DD-YYYY", "%m-%d-%Y", "M-d-y"),
    ("YYYYMMDD", "%Y%m%d", "yyyyMMdd"),
    ("DD Mon YYYY", "%d %b %Y", "d MMM y"),
    ("DD-Mon-YYYY", "%d-%b-%Y", "d-MMM-y"),
    ("Mon DD, YYYY", "%b %d, %Y", "MMM d, y"),
)
ISO = "YYYY-MM-DD"
_GROUPED_NUMBER = r"^[+-]?[$€£¥]?\s*[+-]?\d{1,3}(,\d{3})+(\.\d*)?\s*%?$"
_NUMBER_NOISE = r"[$€£¥%\s]"


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file as a whole (or its header); `validate` turns it into a finding."""

    rule: str
    severity: str  # error | warning
    message: str
    column: str | None = None
    value: str | None = None
    row: int | None = None


@dataclass(frozen=True)
class Source:
    """Where one table comes from and how it is laid out.

    `header` holds the column names as stored (CSV header fields, Parquet columns); `columns` maps
    each schema column found to its position in `header`; `kinds` (Parquet) gives each stored
    column's kind: string, int, float, date, timestamp, bool or other.
    """

    table: str
    data_dir: Path
    path: Path | None  # the file or folder read; None when missing
    format: str = ""  # csv | parquet
    parts: tuple[Path, ...] = ()  # Parquet files of a folder (or the one file)
    encoding: str = "utf-8"  # DuckDB's name: utf-8 | utf-16 | latin-1
    delimiter: str = ","
    header: tuple[str, ...] = ()
    columns: Mapping[str, int] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    has_rows: bool = True
    rows: int | None = None  # records, where known without a scan (Parquet footers)
    problems: tuple[Problem, ...] = ()

    @property
    def spec(self) -> TableSpec:
        return TABLES[self.table]

    @property
    def display(self) -> str:
        """The file name as users see it: relative to the data folder."""
        if self.path is None:
            return f"{self.table}.csv"
        return _relative(self.path, self.data_dir)

    @property
    def readable(self) -> bool:
        """True when every schema column can be read (no error in `problems`)."""
        return self.path is not None and not any(p.severity == "error" for p in self.problems)

    def stored_name(self, column: str) -> str:
        return self.header[self.columns[column]]

    def kind(self, column: str) -> str:
        return self.kinds[self.columns[column]] if self.kinds else "string"


@dataclass
class Tables:
    """The nine typed tables of one data folder, on one connection."""

    con: ibis.BaseBackend
    data_dir: Path
    tables: dict[str, ir.Table]
    files: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ir.Table:
        return self.tables[name]


# ---- finding and inspecting files ---------------------------------------------------------


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def normalise_name(name: str) -> str:
    """How header names are matched: trimmed (also of a BOM and quotes) and case-folded."""
    return name.strip().strip("\ufeff").strip().strip('"').strip().casefold()


def _candidates(data_dir: Path, name: str) -> list[Path]:
    """Files and folders that could hold table `name`, in order of preference."""
    try:
        entries = {p.name.casefold(): p for p in data_dir.iterdir() if not p.name.startswith(".")}
    except OSError as exc:
        raise DataError(f"{data_dir}: cannot list the data folder ({exc.strerror})") from None
    found = []
    parquet = entries.get(f"{name}.parquet")
    if parquet is not None and parquet.is_file():
        found.append(parquet)
    folder = entries.get(name)
    if folder is not None and folder.is_dir() and _parquet_parts(folder):
        found.append(folder)
    for suffix in CSV_SUFFIXES:
        path = entries.get(f"{name}{suffix}")
        if path is not None and path.is_file():
            found.append(path)
    return found


def _parquet_parts(folder: Path) -> tuple[Path, ...]:
    return tuple(
        sorted(
            p
            for p in folder.rglob("*.parquet")
            if p.is_file() and not any(part.startswith((".", "_")) for part in p.parts[-2:])
        )
    )


def find_file(data_dir: Path, name: str) -> Path:
    """The file (or Parquet folder) table `name` is read from; DataError when there is none."""
    found = _candidates(Path(data_dir), name)
    if not found:
        raise DataError(_missing_message(Path(data_dir), name))
    return found[0]


def _missing_message(data_dir: Path, name: str) -> str:
    return (
        f"{name}.csv: file not found in {data_dir} (looked for {name}.csv, {name}.parquet and "
        f"a {name}/ folder of Parquet files); add it, or run `finrep generate` for sample data"
    )


def inspect_source(data_dir: str | Path, name: str) -> Source:
    """Find and inspect table `name`'s file: layout, header and structural problems.

    Reads only the file's head (and, for CSV, scans its bytes once for the encoding); never runs a
    query. Problems are returned, not raised.
    """
    data_dir = Path(data_dir)
    found = _candidates(data_dir, name)
    if not found:
        return Source(
            name,
            data_dir,
            None,
            problems=(Problem("missing-file", "error", _missing_message(data_dir, name)),),
        )
    path = found[0]
    extra: list[Problem] = []
    if len(found) > 1:
        others = ", ".join(_relative(p, data_dir) for p in found[1:])
        extra.append(
            Problem(
                "several-files",
                "warning",
                f"{_relative(path, data_dir)} is read; {others} also exist(s) and is ignored — "
                "remove the file you do not mean",
            )
        )
    if path.suffix.casefold() in CSV_SUFFIXES:
        source = _inspect_csv(data_dir, name, path)
    else:
        source = _inspect_parquet(data_dir, name, path)
    if extra:
        source = _with_problems(source, extra)
    return source


def _with_problems(source: Source, problems: list[Problem]) -> Source:
    return Source(**{**source.__dict__, "problems": (*source.problems, *problems)})


_ENCODING_CACHE: dict[tuple[str, int, int], tuple[str, int]] = {}


def detect_encoding(path: Path) -> tuple[str, int]:
    """(DuckDB encoding name, byte-order-mark length) of a text file.

    A UTF-8 or UTF-16 byte-order mark decides; otherwise the whole file is checked once (ASCII
    blocks are skipped fast) and any byte sequence that is not UTF-8 makes it Latin-1.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _ENCODING_CACHE:
        return _ENCODING_CACHE[key]
    with path.open("rb") as fh:
        start = fh.read(4)
        if start.startswith(codecs.BOM_UTF8):
            result = ("utf-8", 3)
        elif start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            result = ("utf-16", 2)
        else:
            fh.seek(0)
            result = ("utf-8", 0)
            decoder = codecs.getincrementaldecoder("utf-8")()
            try:
                while block := fh.read(_SCAN_BYTES):
                    if block.isascii() and not decoder.getstate()[0]:
                        continue
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                result = ("latin-1", 0)
    _ENCODING_CACHE[key] = result
    return result


_PY_CODECS = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}


def _first_records(text: str, delimiter: str, count: int) -> list[list[str]]:
    """The first `count` non-blank records of `text` (quotes honoured)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    out: list[list[str]] = []
    try:
        for record in reader:
            if not record or all(not f.strip() for f in record) and len(record) == 1:
                continue
            out.append(record)
            if len(out) == count:
                break
    except csv.Error:
        pass
    return out


def _inspect_csv(data_dir: Path, name: str, path: Path) -> Source:
    spec = TABLES[name]
    display = _relative(path, data_dir)
    base = {"table": name, "data_dir": data_dir, "path": path, "format": "csv"}
    try:
        size = path.stat().st_size
        if size == 0:
            return Source(
                **base,
                problems=(
                    Problem(
                        "empty-file",
                        "error",
                        f"{display}: the file is empty (0 bytes); it needs at least the header "
                        f"row: {','.join(spec.column_names)}",
                    ),
                ),
            )
        encoding, bom = detect_encoding(path)
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        return Source(
            **base,
            problems=(
                Problem("unreadable-file", "error", f"{display}: cannot read ({exc.strerror})"),
            ),
        )
    text = head[bom:].decode(_PY_CODECS[encoding], errors="replace")
    if encoding == "utf-16":
        text = text.lstrip("\ufeff")
    problems: list[Problem] = []
    if encoding == "latin-1":
        problems.append(
            Problem(
                "encoding",
                "warning",
                f"{display}: not valid UTF-8; read as Latin-1. Check accented names, or save the "
                "file as UTF-8",
            )
        )
    if not text.strip():
        problems.append(
            Problem(
                "empty-file",
                "error",
                f"{display}: the file holds no header row (only blank lines); expected: "
                f"{','.join(spec.column_names)}",
            )
        )
        return Source(**base, encoding=encoding, problems=tuple(problems))

    expected = {c.name: c for c in spec.columns}
    best: tuple[int, int, str, list[list[str]]] | None = None
    for rank, delimiter in enumerate(DELIMITERS):
        records = _first_records(text, delimiter, 2)
        if not records:
            continue
        names = {normalise_name(h) for h in records[0]}
        score = len(names & set(expected))
        if best is None or score > best[0]:
            best = (score, -rank, delimiter, records)
    assert best is not None
    score, _, delimiter, records = best
    header = tuple(h.strip().strip("\ufeff").strip() for h in records[0])
    has_rows = len(records) > 1 or size > _HEAD_BYTES
    base.update(encoding=encoding, delimiter=delimiter, header=header, has_rows=has_rows)
    if score == 0:
        shown = delimiter.join(records[0])
        if len(shown) > 120:
            shown = shown[:117] + "…"
        if len(records[0]) == 1 and any(n in shown for n in spec.column_names):
            # The names are there, glued together by some other delimiter.
            problems.append(
                Problem(
                    "wrong-delimiter",
                    "error",
                    f"{display}: expected {len(spec.columns)} columns, found 1 (`{shown}`); "
                    "separate the columns with commas (or ; tab |)",
                    value=shown,
                    row=1,
                )
            )
        else:
            problems.append(
                Problem(
                    "missing-header",
                    "error",
                    f"{display}: the first row does not name the expected columns (found "
                    f"{len(records[0])} column(s): `{shown}`); the first row must be the header "
                    f"{','.join(spec.column_names)}",
                    value=shown,
                    row=1,
                )
            )
        return Source(**base, problems=tuple(problems))
    columns, header_problems = _match_header(display, spec, header)
    problems.extend(header_problems)
    return Source(**base, columns=columns, problems=tuple(problems))


def _match_header(
    display: str, spec: TableSpec, header: tuple[str, ...]
) -> tuple[dict[str, int], list[Problem]]:
    """Map schema columns to header positions; report missing, duplicated and extra columns."""
    problems: list[Problem] = []
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        positions.setdefault(normalise_name(h), []).append(i)
    columns: dict[str, int] = {}
    found_list = ", ".join(h for h in header if h) or "nothing"
    for col in spec.columns:
        where = positions.get(col.name)
        if not where:
            hint = ""
            close = difflib.get_close_matches(col.name, [k for k in positions if k], n=1)
            if close and close[0] not in spec.column_names:
                hint = f"; rename `{header[positions[close[0]][0]]}` to `{col.name}` if it is that"
            problems.append(
                Problem(
                    "missing-column",
                    "error",
                    f"{display}: missing column `{col.name}` (found: {found_list}){hint}",
                    column=col.name,
                )
            )
            continue
        if len(where) > 1:
            problems.append(
                Problem(
                    "duplicate-column",
                    "error",
                    f"{display}: column `{col.name}` appears {len(where)} times (columns "
                    f"{', '.join(str(i + 1) for i in where)}); keep one",
                    column=col.name,
                )
            )
        columns[col.name] = where[0]
    for key, where in positions.items():
        if key in spec.column_names:
            continue
        name = header[where[0]] or f"(unnamed column {where[0] + 1})"
        if len(where) > 1 and key:
            problems.append(
                Problem(
                    "duplicate-column",
                    "warning",
                    f"{display}: column `{name}` appears {len(where)} times; it is not used",
                    column=name,
                )
            )
        else:
            problems.append(
                Problem(
                    "extra-column",
                    "warning",
                    f"{display}: column `{name}` is not one finrep uses; it is ignored",
                    column=name,
                )
            )
    return columns, problems


def _arrow_kind(arrow_type) -> str:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_null(t):
        return "null"
    return "other"


def _inspect_parquet(data_dir: Path, name: str, path: Path) -> Source:
    import pyarrow.parquet as pq

    spec = TABLES[name]
    display = _relative(path, data_dir)
    base = {"table": name, "data_dir": data_dir, "path": path, "format": "parquet"}
    parts = _parquet_parts(path) if path.is_dir() else (path,)
    rows = 0
    schema = None
    for part in parts:
        try:
            meta = pq.ParquetFile(part)
        except Exception as exc:  # pyarrow raises several types for damaged files
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Source(
                **base,
                parts=parts,
                problems=(
                    Problem(
                        "unreadable-file",
                        "error",
                        f"{_relative(part, data_dir)}: not a readable Parquet file ({reason}); "
                        "write it again, or export it as CSV",
                    ),
                ),
            )
        rows += meta.metadata.num_rows
        if schema is None:
            schema = meta.schema_arrow
    assert schema is not None
    header = tuple(schema.names)
    kinds = tuple(_arrow_kind(f.type) for f in schema)
    columns, problems = _match_header(display, spec, header)
    for col in spec.columns:
        if col.name in columns:
            kind = kinds[columns[col.name]]
            if not _kind_fits(col, kind):
                problems.append(
                    Problem(
                        "wrong-type",
                        "error",
                        f"{display}: column `{col.name}` is stored as {schema.field(columns[col.name]).type}, "
                        f"which cannot hold {_DTYPE_WORDS[col.dtype]}; write it as "
                        f"{_DTYPE_WORDS[col.dtype]} or as text",
                        column=col.name,
                    )
                )
    return Source(
        **base,
        parts=parts,
        header=header,
        columns=columns,
        kinds=kinds,
        has_rows=rows > 0,
        rows=rows,
        problems=tuple(problems),
    )


_DTYPE_WORDS = {"string": "text", "date": "dates", "int64": "whole numbers", "float64": "numbers"}
_KINDS_FOR = {
    "string": {"string", "int", "null"},
    "float64": {"string", "int", "float", "null"},
    "int64": {"string", "int", "float", "null"},
    "date": {"string", "date", "timestamp", "null"},
}


def _kind_fits(col: Column, kind: str) -> bool:
    return kind in _KINDS_FOR[col.dtype]


# ---- reading ------------------------------------------------------------------------------


_sql_str = engine.sql_text
_ident = engine.sql_ident


def csv_reader_sql(source: Source, *, validating: bool, parallel: bool = True) -> str:
    """DuckDB `read_csv(...)` call for a CSV source: every field as text, positional names c0….

    When `validating`, rows with too few fields are padded with nulls and one more column
    (`_extra`) catches rows with too many, so both can be reported with their record numbers;
    otherwise such rows are skipped (validate reports them).
    """
    names = [f"c{i}" for i in range(len(source.header))]
    if validating:
        names.append("_extra")
    columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    options = [
        "header = true",
        "auto_detect = false",
        f"columns = {columns}",
        f"delim = {_sql_str(source.delimiter)}",
        "quote = '\"'",
        "escape = '\"'",
        f"encoding = {_sql_str(source.encoding)}",
        "strict_mode = false",
    ]
    if validating:
        options += ["null_padding = true", f"nullstr = {_sql_str(_NULL_SENTINEL)}"]
        if not parallel:
            options.append("parallel = false")
    else:
        options.append("ignore_errors = true")
    return f"read_csv({_sql_str(str(source.path))}, {', '.join(options)})"


def parquet_reader_sql(source: Source, *, row_numbers: bool) -> str:
    paths = "[" + ", ".join(_sql_str(str(p)) for p in source.parts) + "]"
    options = ["hive_partitioning = false"]
    if len(source.parts) > 1:
        options.append("union_by_name = true")
    if row_numbers:
        options.append("file_row_number = true")
        if len(source.parts) > 1:
            options.append("filename = true")
    return f"read_parquet({paths}, {', '.join(options)})"


_view_counter = itertools.count(1)


def raw_select_sql(source: Source, *, validating: bool, parallel: bool = True) -> str:
    """SELECT of the schema columns found, as stored, named as in the schema.

    When `validating`, adds ``_row`` (record number, header = 1; Parquet rows are numbered the
    same way, first data row = 2), ``_file`` (Parquet folders: the part file) and, for CSV,
    ``_short`` / ``_long`` flags for rows with too few / too many fields.
    """
    cols = [c.name for c in source.spec.columns if c.name in source.columns]
    if source.format == "csv":
        select = [f"c{source.columns[c]} AS {_ident(c)}" for c in cols]
        if validating:
            last = f"c{len(source.header) - 1}"
            select += [
                "row_number() OVER () + 1 AS _row",
                f"{last} IS NULL AS _short",
                "_extra IS NOT NULL AS _long",
            ]
        reader = csv_reader_sql(source, validating=validating, parallel=parallel)
    else:
        select = [f"{_ident(source.stored_name(c))} AS {_ident(c)}" for c in cols]
        if validating:
            select.append("file_row_number + 2 AS _row")
            if len(source.parts) > 1:
                prefix = _sql_str(str(source.data_dir).rstrip("/") + "/")
                select.append(f"replace(filename, {prefix}, '') AS _file")
            else:
                select.append(f"{_sql_str(source.display)} AS _file")
        reader = parquet_reader_sql(source, row_numbers=validating)
    return f"SELECT {', '.join(select)} FROM {reader}"


def read_raw(con: ibis.BaseBackend, source: Source, *, validating: bool = False) -> ir.Table:
    """The source's schema columns as stored (CSV: text), on the connection's engine."""
    if con.name == "pyspark":
        from finrep.engine_spark import read_spark

        raw = read_spark(con, source.path, f"src_{source.table}_{next(_view_counter)}",
                         delimiter=source.delimiter, encoding=source.encoding)  # fmt: skip
        return raw.select(
            **{
                c: raw[source.stored_name(c)]
                for c in source.spec.column_names
                if c in source.columns
            }
        )
    name = f"finrep_{source.table}_{next(_view_counter)}"
    return engine.create_view(con, name, raw_select_sql(source, validating=validating))


# ---- cleaning -----------------------------------------------------------------------------


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, format: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's strptime that gives null instead of an error."""


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(value: str, format: str) -> datetime:  # type: ignore[empty-body]
    """Spark's to_timestamp that gives null instead of an error."""


def parse_date(text: ir.StringValue, fmt: str, backend: str = "duckdb") -> ir.DateValue:
    """`text` (trimmed) read with one format label (`ISO` or a label of DATE_FORMATS); null when
    it does not fit."""
    if fmt == ISO:
        return text.try_cast("date")
    strptime, spark = next((f[1], f[2]) for f in DATE_FORMATS if f[0] == fmt)
    if backend == "pyspark":
        return _try_to_timestamp(text, spark).cast("date")
    return _try_strptime(text, strptime).cast("date")


def clean_text(raw: ir.StringValue, trim: bool = True) -> ir.StringValue:
    s = raw.strip() if trim else raw
    return s.nullif("")


def clean_enum(raw: ir.StringValue, values: tuple[str, ...], trim: bool = True) -> ir.StringValue:
    """Exact matches pass untouched (cheap); others are trimmed and matched ignoring case.

    Written as CASE expressions, not ``IN`` lists: DuckDB turns a long ``IN`` into a join that
    stays in every query over the table, even queries that never read the column.
    """
    s = clean_text(raw, trim=True)
    mapped = s.lower().substitute({v.lower(): v for v in values}, else_=s)
    exact = raw if not trim else s
    return exact.substitute({v: v for v in values}, else_=mapped)


def clean_number(raw: ir.StringValue) -> ir.FloatingValue:
    """Text → finite float (see the module's cleaning rules); null when not a number."""
    s = raw.strip()
    plain = s.try_cast("float64")
    noisy = ibis.ifelse(
        s.contains(","),
        ibis.ifelse(
            s.re_search(_GROUPED_NUMBER),
            s.re_replace(_NUMBER_NOISE, "").replace(",", ""),
            ibis.null("string"),
        ),
        s.re_replace(_NUMBER_NOISE, ""),
    ).try_cast("float64")
    value = ibis.coalesce(plain, noisy)
    return ibis.ifelse(value.isnan() | value.isinf(), ibis.null("float64"), value)


def _whole(value: ir.FloatingValue) -> ir.IntegerValue:
    ok = (value == value.floor()) & (value.abs() < 9.0e15)
    return ibis.ifelse(ok, value.cast("int64"), ibis.null("int64"))


def clean_column(
    raw: ir.Value,
    col: Column,
    kind: str = "string",
    date_format: str = ISO,
    backend: str = "duckdb",
    trim: bool = True,
) -> ir.Value:
    """One stored column → the schema's type, by the cleaning rules. `kind` is how it is stored
    (CSV: string; Parquet: see `Source.kinds`); `trim` is off for Parquet text."""
    if kind == "null":
        return ibis.null(col.dtype if col.dtype != "string" else "string")
    if col.dtype == "string":
        if kind != "string":
            return raw.cast("string")
        if col.enum:
            return clean_enum(raw, col.enum, trim=trim)
        return clean_text(raw, trim=trim)
    if col.dtype == "date":
        if kind == "date":
            return raw
        if kind == "timestamp":
            return raw.cast("date")
        return parse_date(raw.strip(), date_format, backend)
    if col.dtype == "float64":
        if kind in ("int", "float"):
            value = raw.cast("float64")
            return ibis.ifelse(value.isnan() | value.isinf(), ibis.null("float64"), value)
        return clean_number(raw)
    # int64
    if kind == "int":
        return raw.cast("int64")
    if kind == "float":
        return _whole(raw.cast("float64"))
    return _whole(clean_number(raw))


def typed_columns(
    raw: ir.Table, source: Source, date_formats: Mapping[str, str]
) -> dict[str, ir.Value]:
    """Each schema column of `raw` cleaned and cast to the schema's type, by name."""
    backend_name = getattr(raw._find_backend(), "name", "duckdb")
    exprs = {}
    for col in source.spec.columns:
        kind = source.kind(col.name) if source.format == "parquet" else "string"
        expr = clean_column(
            raw[col.name],
            col,
            kind,
            date_formats.get(col.name, ISO),
            backend_name,
            trim=source.format == "csv",
        )
        exprs[col.name] = expr.cast(_IBIS_TYPES[col.dtype])
    return exprs


def typed_table(raw: ir.Table, source: Source, date_formats: Mapping[str, str]) -> ir.Table:
    """The typed table of one source: exactly the schema's columns, names and types."""
    return raw.select(**typed_columns(raw, source, date_formats))


_IBIS_TYPES = {"string": "string", "date": "date", "int64": "int64", "float64": "float64"}


# ---- date formats -------------------------------------------------------------------------


@dataclass(frozen=True)
class DateColumn:
    """How one text date column is read: `format` (a label), and how many values fail it."""

    column: str
    format: str
    failures: int = 0
    ambiguous: tuple[str, ...] = ()  # formats that all read every value, but differently


def text_date_columns(source: Source) -> list[str]:
    return [
        c.name
        for c in source.spec.columns
        if c.dtype == "date"
        and c.name in source.columns
        and (source.format == "csv" or source.kind(c.name) == "string")
    ]


def detect_date_formats(raw: ir.Table, source: Source) -> dict[str, DateColumn]:
    """Pick each text date column's format: ISO when every value is ISO, else the one format
    that reads every value. One query for the ISO check; a second only when some column fails."""
    columns = text_date_columns(source)
    if not columns:
        return {}
    backend = getattr(raw._find_backend(), "name", "duckdb")

    def value(c: str) -> ir.StringValue:
        return raw[c].strip().nullif("")

    def fails(c: str, fmt: str) -> ir.IntegerScalar:
        v = value(c)
        return (v.notnull() & parse_date(v, fmt, backend).isnull()).sum()

    counts = engine.execute(
        raw.aggregate(**{f"iso_{i}": fails(c, ISO) for i, c in enumerate(columns)})
    )
    result: dict[str, DateColumn] = {}
    failing = []
    for i, c in enumerate(columns):
        n = int(counts[f"iso_{i}"].iloc[0] or 0)
        if n == 0:
            result[c] = DateColumn(c, ISO)
        else:
            failing.append((c, n))
    if not failing:
        return result
    labels = [f[0] for f in DATE_FORMATS]
    aggs = {}
    for i, (c, _) in enumerate(failing):
        for j, label in enumerate(labels):
            aggs[f"f_{i}_{j}"] = fails(c, label)
    counts = engine.execute(raw.aggregate(**aggs))
    for i, (c, iso_failures) in enumerate(failing):
        per_format = {
            label: int(counts[f"f_{i}_{j}"].iloc[0] or 0) for j, label in enumerate(labels)
        }
        perfect = [label for label, n in per_format.items() if n == 0]
        if len(perfect) == 1:
            result[c] = DateColumn(c, perfect[0])
        elif len(perfect) > 1:
            result[c] = _settle_ambiguous(raw, c, perfect, backend)
        else:
            best = min(per_format, key=lambda label: per_format[label])
            if per_format[best] < iso_failures:
                result[c] = DateColumn(c, best, per_format[best])
            else:
                result[c] = DateColumn(c, ISO, iso_failures)
    return result


def _settle_ambiguous(raw: ir.Table, column: str, formats: list[str], backend: str) -> DateColumn:
    """Several formats read every value: fine when they agree on every value (e.g. day = month),
    ambiguous otherwise."""
    v = raw[column].strip().nullif("")
    first = parse_date(v, formats[0], backend)
    aggs = {
        f"d{i}": (parse_date(v, fmt, backend) != first).sum() for i, fmt in enumerate(formats[1:])
    }
    counts = engine.execute(raw.aggregate(**aggs))
    disagree = tuple(
        fmt for i, fmt in enumerate(formats[1:]) if int(counts[f"d{i}"].iloc[0] or 0) > 0
    )
    if disagree:
        return DateColumn(column, formats[0], 0, (formats[0], *disagree))
    return DateColumn(column, formats[0])


def ambiguous_date_message(source: Source, date: DateColumn) -> str:
    return (
        f"{source.display}: column `{date.column}` reads as both "
        f"{' and '.join(date.ambiguous)} (no day above 12 settles it); write the dates as "
        "YYYY-MM-DD"
    )


# ---- loading ------------------------------------------------------------------------------


def _structural_error(problems: list[tuple[Source, Problem]]) -> DataError:
    lines = [p.message for _, p in problems[:5]]
    more = len(problems) - len(lines)
    message = "; ".join(lines)
    if more:
        message += f"; and {more} more problem(s) (run `finrep validate` for the full list)"
    return DataError(mask_pii(message))


def load_tables(con: ibis.BaseBackend, data_dir: str | Path) -> Tables:
    """The nine typed tables of `data_dir` on connection `con` (nothing is read into memory).

    Raises DataError naming file and column when a table cannot be read at all (see the module
    docstring); bad values load as nulls and are `validate`'s to report.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: data folder not found; pass --data DIR, or run `finrep generate` to "
            "make sample data"
        )
    sources = {name: inspect_source(data_dir, name) for name in TABLES}
    errors = [
        (s, p)
        for s in sources.values()
        for p in s.problems
        if p.severity == "error" and p.rule not in ("no-rows",)
    ]
    if errors:
        raise _structural_error(errors)
    tables: dict[str, ir.Table] = {}
    files: dict[str, Path] = {}
    ambiguous = []
    for name, source in sources.items():
        raw = read_raw(con, source)
        formats = detect_date_formats(raw, source)
        for date in formats.values():
            if date.ambiguous:
                ambiguous.append(
                    (
                        source,
                        Problem("ambiguous-date", "error", ambiguous_date_message(source, date)),
                    )
                )
        tables[name] = typed_table(raw, source, {c: d.format for c, d in formats.items()})
        assert source.path is not None
        files[name] = source.path
    if ambiguous:
        raise _structural_error(ambiguous)
    return Tables(con, data_dir, tables, files, sources)


def load(data_dir: str | Path, config: Config | None = None) -> Tables:
    """Connect to the configured engine (DuckDB by default) and load `data_dir`'s nine tables."""
    con = engine.connect(config)
    return load_tables(con, data_dir)


# ---- run information ----------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks; of a folder: of its Parquet parts' bytes in
    path order (so it changes when any part does)."""
    digest = hashlib.sha256()
    files = _parquet_parts(path) if path.is_dir() else (path,)
    for part in files:
        with part.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def file_digests(tables: Tables) -> Future[dict[str, str]]:
    """SHA-256 of each table's file (see `sha256_of`), computed on a thread of its own:
    hashlib lets other threads run while it hashes a block, so a caller that starts it early
    has the digests ready when its queries are done (a second or so at a million customers)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finrep-sha256")
    try:
        return pool.submit(
            lambda: {name: sha256_of(Path(path)) for name, path in tables.files.items()}
        )
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def source_files(
    tables: Tables, digests: Mapping[str, str] | None = None
) -> tuple[SourceFile, ...]:
    """Each table's file for the pack's Run information: name, rows (counted by the engine),
    SHA-256 (from `digests` by table when given, see `file_digests`) and format."""
    out = []
    for name, path in tables.files.items():
        path = Path(path)
        source = tables.sources.get(name)
        fmt = source.format if source else ("csv" if path.suffix in CSV_SUFFIXES else "parquet")
        rows = int(engine.execute(tables[name].count()))
        out.append(
            SourceFile(
                table=name,
                path=_relative(path, tables.data_dir),
                rows=rows,
                sha256=digests[name] if digests is not None else sha256_of(path),
                format=fmt,
            )
        )
    return tuple(out)


# ---- personal data ------------------------------------------------------------------------

_EMAIL = re.compile(
    r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,})"
)
# North-American numbers as Faker and CRMs write them: 555-123-4567, (555) 123-4567,
# +1-555-123-4567, 001-555-123-4567x89, 555.123.4567, 5551234567. Dates and amounts do not match.
_PHONE = re.compile(
    r"(?<![\w$.,])(?:\+?\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?(\d{4})"
    r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w.,])"
)


def mask_email(value: str) -> str:
    """``anna.martin@yahoo.com`` → ``a***@***.com`` (anything without an @: ``***``)."""
    m = _EMAIL.search(value)
    if m is None:
        return "***"
    return f"{m.group(1)}***@***.{m.group(2)}"


def mask_phone(value: str) -> str:
    """Any phone number → ``***-***-`` and its last four digits (before an extension)."""
    main = re.split(r"(?i)\s*(?:x|ext\.?)\s*\d", value, maxsplit=1)[0]
    digits = re.sub(r"\D", "", main)
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else "***"


def mask_pii(text: str) -> str:
    """Every e-mail address and phone number in `text` masked (RELIABILITY.md, Privacy)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***.{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"***-***-{m.group(1)}", text)
