"""`[validate] memory_limit`: validation's DuckDB works within it (read back from DuckDB during
the run), "" leaves DuckDB's default, and a value that is not a size is a clear error naming
the setting."""

from __future__ import annotations

import pytest

import finrep.engine as engine
from finrep.config import load_config
from finrep.errors import ConfigError
from finrep.validate import validate


def _limits_seen(monkeypatch) -> list[str]:
    """DuckDB's memory_limit as each validation query starts."""
    seen: list[str] = []
    original = engine.fetch

    def fetch(con, sql):
        if not sql.startswith("SELECT current_setting"):
            seen.append(original(con, "SELECT current_setting('memory_limit')")[0][0])
        return original(con, sql)

    monkeypatch.setattr(engine, "fetch", fetch)
    return seen


def test_validation_runs_within_the_configured_limit(case_data, monkeypatch):
    seen = _limits_seen(monkeypatch)
    config = load_config().with_overrides(validate={"memory_limit": "300MB"})
    validate(case_data(None), config)
    # 300,000,000 bytes as DuckDB shows them: 286.1 MiB.
    assert seen and set(seen) == {"286.1 MiB"}


def test_packaged_default_is_one_gigabyte(case_data, monkeypatch):
    seen = _limits_seen(monkeypatch)
    validate(case_data(None))
    assert set(seen) == {"953.6 MiB"}  # 1GB = 10^9 bytes


def test_empty_limit_leaves_duckdbs_default(case_data, monkeypatch):
    seen = _limits_seen(monkeypatch)
    validate(case_data(None), load_config().with_overrides(validate={"memory_limit": ""}))
    assert seen and all("GiB" in s for s in seen)  # 80% of this machine's RAM


def test_a_limit_that_is_not_a_size_is_refused(case_data):
    config = load_config().with_overrides(validate={"memory_limit": "plenty"})
    with pytest.raises(ConfigError, match=r"validate.memory_limit = 'plenty' is not a memory"):
        validate(case_data(None), config)
