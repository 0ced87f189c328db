"""Shared fixtures: small generated datasets, made once per test session.

`small_data` / `small_parquet`: ~300 customers, 2021-01..2024-12, seed 7, written by
`finrep.synth.generate` into a session temporary folder (CSV / Parquet). Treat them as
read-only: every test in the session shares them.

`case_data`: the data-layer and validate tests' tiny clean base (tests/fixtures/validate_base)
with one bad-input case (tests/fixtures/validate_cases/<case>/) laid over it. A case folder
holds only the files that differ from the base; a ``REMOVE`` file lists base files to delete.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
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


FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE = FIXTURES / "validate_base"
CASES = FIXTURES / "validate_cases"


def build_case(dest: Path, case: str | None = None) -> Path:
    """Copy the base dataset to `dest` and apply `case` over it."""
    shutil.copytree(BASE, dest)
    if case is not None:
        for f in sorted((CASES / case).iterdir()):
            if f.name == "REMOVE":
                for name in f.read_text().split():
                    (dest / name).unlink()
            else:
                shutil.copyfile(f, dest / f.name)
    return dest


@pytest.fixture
def case_data(tmp_path: Path) -> Callable[[str | None], Path]:
    """`case_data("mixed_dates")` → a folder with that case; `case_data(None)` → the base."""
    counter = iter(range(1000))

    def make(case: str | None = None) -> Path:
        return build_case(tmp_path / f"data{next(counter)}", case)

    return make
