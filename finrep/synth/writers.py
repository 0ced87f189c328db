"""Write tables chunk by chunk, as CSV or typed Parquet, to temporary files renamed at the end.

CSV: header row, then rows; money and other decimals with a fixed number of decimals, dates
ISO, blanks for missing values, quotes only where a value needs them. Parquet: the schema's
types (string, date32, int64, float64), zstd, one row group per chunk, no writer timestamps,
so the same data gives the same bytes. `account_balances` can be partitioned by month
(hive style: ``account_balances/year_month=YYYY-MM/part-0.parquet``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from finrep.schema import Table
from finrep.synth.columns import Dates, csv_lines

ARROW_TYPES = {"string": pa.string(), "date": pa.date32(), "int64": pa.int64(),
               "float64": pa.float64()}  # fmt: skip
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 1,
    "store_schema": False,
    "write_statistics": True,
}


def parquet_options(table: Table) -> dict:
    """Writer settings for `table`: zstd, statistics, and dictionary encoding only where values
    repeat (not for a single-column key, nor money amounts, which are nearly all distinct)."""
    key = table.primary_key[0] if len(table.primary_key) == 1 else None
    dictionary = [c.name for c in table.columns if c.name != key and not c.money]
    return {**PARQUET_OPTIONS, "use_dictionary": dictionary}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Text columns held dictionary-encoded in memory besides keys and personal data: values that
# repeat (enums, names, cities, and the ids of other tables' rows).
_PLAIN_TEXT = {"employer_id"}
DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def dictionary_columns(table: Table) -> list[str]:
    """Text columns of `table` whose values repeat: written from dictionary arrays."""
    key = table.primary_key[0] if len(table.primary_key) == 1 else None
    return [c.name for c in table.columns if c.dtype == "string" and c.name != key
            and not c.pii and c.name not in _PLAIN_TEXT]  # fmt: skip


def arrow_schema(table: Table) -> pa.Schema:
    """The schema's types; repeating text columns as dictionaries (Parquet writes plain text
    with dictionary encoding either way, and stores no Arrow schema, so readers see text)."""
    dictionary = set(dictionary_columns(table))
    return pa.schema(
        [pa.field(c.name, DICTIONARY if c.name in dictionary else ARROW_TYPES[c.dtype])
         for c in table.columns]
    )  # fmt: skip


def _check_columns(table: Table, columns: dict[str, object]) -> None:
    if tuple(columns) != table.column_names:
        raise AssertionError(f"{table.name}: columns {tuple(columns)} != schema")


def to_arrow_table(table: Table, columns: dict[str, object]) -> pa.Table:
    _check_columns(table, columns)
    schema = arrow_schema(table)
    arrays = []
    for field in schema:
        array = columns[field.name].to_arrow()
        if array.type != field.type:
            array = (
                array.dictionary_encode() if field.type == DICTIONARY else array.cast(field.type)
            )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


class TableSink:
    """One output table: `write` chunks, then `finish` (rename into place) or `abort`."""

    def __init__(self, folder: Path, table: Table, fmt: str, partition: bool = False):
        self.folder = folder
        self.table = table
        self.fmt = fmt
        self.partition = partition and fmt == "parquet"
        self.rows = 0
        self.schema = arrow_schema(table)
        suffix = "" if self.partition else f".{fmt}"
        self.final = folder / f"{table.filename}{suffix}"
        if self.partition:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{table.filename}.", dir=folder))
            self._writers: dict[str, pq.ParquetWriter] = {}
        else:
            fd, name = tempfile.mkstemp(prefix=f".{self.final.name}.", suffix=".tmp", dir=folder)
            os.close(fd)
            self.tmp = Path(name)
            if fmt == "csv":
                self._fh = open(self.tmp, "wb")  # noqa: SIM115 (closed in finish/abort)
                self._fh.write((",".join(table.column_names) + "\n").encode())
            else:
                self._writer = pq.ParquetWriter(self.tmp, self.schema, **parquet_options(table))

    def write(self, columns: dict[str, object]) -> None:
        _check_columns(self.table, columns)
        n = None
        if self.fmt == "csv":
            texts = [columns[name].to_text() for name in self.table.column_names]
            n = len(texts[0])
            if n:
                self._fh.write(csv_lines(texts))
        else:
            arrow = to_arrow_table(self.table, columns)
            n = arrow.num_rows
            if self.partition:
                self._write_partitioned(arrow, columns["date"])
            elif n:
                self._writer.write_table(arrow, row_group_size=max(n, 1))
        self.rows += n

    def _write_partitioned(self, arrow: pa.Table, dates: Dates) -> None:
        months = (
            np.asarray(dates.days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
        )
        order = np.argsort(months, kind="stable")
        sorted_months = months[order]
        bounds = np.flatnonzero(np.concatenate([[True], sorted_months[1:] != sorted_months[:-1]]))
        bounds = np.append(bounds, len(order))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            label = str(sorted_months[a])
            part = arrow.take(pa.array(order[a:b]))
            writer = self._writers.get(label)
            if writer is None:
                path = self.tmp / f"year_month={label}" / "part-0.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(path, self.schema, **parquet_options(self.table))
                self._writers[label] = writer
            writer.write_table(part, row_group_size=max(part.num_rows, 1))

    def _close(self) -> None:
        if self.partition:
            for w in self._writers.values():
                w.close()
            self._writers = {}
        elif self.fmt == "csv":
            self._fh.close()
        else:
            self._writer.close()

    def finish(self) -> Path:
        """Close and move into place (replacing an older file or folder of the same name)."""
        self._close()
        # Temporary files are private (0600); finished ones get the usual permissions.
        mask = _umask()
        if self.partition:
            for path in (self.tmp, *self.tmp.rglob("*")):
                path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)
            if self.final.exists():
                shutil.rmtree(self.final)
            os.replace(self.tmp, self.final)
        else:
            self.tmp.chmod(0o666 & ~mask)
            os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._close()
        if self.partition:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()

    def files(self) -> list[Path]:
        """The finished files (one, or the partition files in month order)."""
        if self.partition:
            return sorted(self.final.glob("year_month=*/*.parquet"))
        return [self.final]
