"""Fixture datasets for the validate tests: a clean tiny base (tests/fixtures/validate_base)
with one bad-input case (tests/fixtures/validate_cases/<case>/) laid over it.

A case folder holds only the files that differ from the base; a ``REMOVE`` file lists base files
to delete.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
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
