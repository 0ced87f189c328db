"""Read the nine tables (CSV or Parquet) as typed ibis tables, per `schema.py`.

This first version reads clean files in finrep's own layout; the data-layer issue hardens it
for real, messy files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir

from finrep.errors import DataError
from finrep.schema import TABLES

_IBIS_TYPES = {"string": "string", "date": "date", "int64": "int64", "float64": "float64"}


@dataclass
class Tables:
    """The nine typed tables of one data folder, on one connection."""

    con: ibis.BaseBackend
    data_dir: Path
    tables: dict[str, ir.Table]
    files: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ir.Table:
        return self.tables[name]


def find_file(data_dir: Path, name: str) -> Path:
    """`name`.parquet, `name`.csv, or a folder `name`/ of (hive-partitioned) Parquet files."""
    for ext in (".parquet", ".csv"):
        path = data_dir / f"{name}{ext}"
        if path.exists():
            return path
    folder = data_dir / name
    if folder.is_dir() and any(folder.rglob("*.parquet")):
        return folder
    raise DataError(f"{data_dir / (name + '.csv')}: file not found (nor {name}.parquet)")


def read_raw(con: ibis.BaseBackend, path: Path, table_name: str) -> ir.Table:
    """One table's file, untyped (CSV columns as text), on the connection's engine."""
    if con.name == "pyspark":
        from finrep.engine_spark import read_spark

        return read_spark(con, path, table_name)
    if path.is_dir():
        return con.read_parquet(
            str(path / "**" / "*.parquet"), table_name=table_name, hive_partitioning=True
        )
    if path.suffix == ".parquet":
        return con.read_parquet(path, table_name=table_name)
    return con.read_csv(path, table_name=table_name, all_varchar=True)


def load_tables(con: ibis.BaseBackend, data_dir: str | Path) -> Tables:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder not found; run `finrep generate` first")
    tables: dict[str, ir.Table] = {}
    files: dict[str, Path] = {}
    for name, spec in TABLES.items():
        path = find_file(data_dir, name)
        raw = read_raw(con, path, f"src_{name}")
        tables[name] = raw.select(
            **{c.name: raw[c.name].cast(_IBIS_TYPES[c.dtype]) for c in spec.columns}
        )
        files[name] = path
    return Tables(con, data_dir, tables, files)
