"""Shared fixtures: small generated datasets, made once per test session.

`small_data` / `small_parquet`: ~300 customers, 2021-01..2024-12, seed 7, written by
`finrep.synth.generate` into a session temporary folder (CSV / Parquet). Treat them as
read-only: every test in the session shares them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_OPTIONS = {"customers": 300, "start": "2021-01", "end": "2024-12", "seed": 7}


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """Folder with the nine CSV tables + manifest.json (300 customers, 2021-01..2024-12)."""
    from finrep.synth import generate

    out = tmp_path_factory.mktemp("small_data")
    generate(out, format="csv", force=True, **SMALL_OPTIONS)
    return out


@pytest.fixture(scope="session")
def small_parquet(tmp_path_factory) -> Path:
    """Same data as `small_data`, as typed Parquet files."""
    from finrep.synth import generate

    out = tmp_path_factory.mktemp("small_parquet")
    generate(out, format="parquet", force=True, **SMALL_OPTIONS)
    return out
