"""Fixtures for renderer tests: a hand-made `Pack` (see sample_pack.py) and the config."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# sample_pack.py is a plain module beside this file; make it importable from any test folder
# that loads this conftest (tests/render/ has no __init__.py).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sample_pack import make_sample_pack  # noqa: E402

from finrep.config import load_config  # noqa: E402


@pytest.fixture(scope="session")
def sample_pack():
    """A complete pack for December 2024, unfiltered, with hostile strings in it."""
    return make_sample_pack()


@pytest.fixture(scope="session")
def config():
    """The packaged default config."""
    return load_config(Path(__file__).resolve().parents[2] / "config" / "finrep.toml")
