"""`[engine] memory_limit`: applied to DuckDB, a bad value refused; a query that runs out of it
is retried with the limit doubled up to `memory_limit_max` (and the limit set back after); past
the maximum it is a clear one-line error naming the settings (printed verbatim: its brackets
are not markup)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app
from finrep.config import load_config
from finrep.engine import connect, fetch
from finrep.errors import ConfigError

ENV = {"NO_COLOR": "1", "COLUMNS": "400"}


def test_default_limit_is_set_on_every_duckdb_connection():
    con = connect(load_config())
    (limit,) = fetch(con, "SELECT current_setting('memory_limit')")[0]
    assert limit.startswith("244")  # 256MB as DuckDB shows it (MiB)
    # No read-ahead buffers competing with the queries for that memory.
    assert fetch(con, "SELECT current_setting('disable_parquet_prefetching')")[0] == (True,)


def test_empty_limit_leaves_duckdbs_default():
    con = connect(load_config().with_overrides(engine={"memory_limit": ""}))
    (limit,) = fetch(con, "SELECT current_setting('memory_limit')")[0]
    assert "GiB" in limit  # 80% of this machine's RAM, not 244 MiB


def test_a_limit_that_is_not_a_size_is_refused():
    with pytest.raises(ConfigError, match=r"engine.memory_limit = 'lots'"):
        connect(load_config().with_overrides(engine={"memory_limit": "lots"}))


def test_a_maximum_that_is_not_a_size_is_refused():
    with pytest.raises(ConfigError, match=r"engine.memory_limit_max = '2 gallons'"):
        connect(load_config().with_overrides(engine={"memory_limit_max": "2 gallons"}))


# 100 groups of 30,000 numbers joined into one string each: string_agg keeps every group's
# text in memory (it cannot spill), about 17 MB in all.
NEEDS_MEMORY = (
    "SELECT count(*), sum(length(s)) FROM (SELECT string_agg(i::VARCHAR, ',') AS s "
    "FROM range(3000000) t(i) GROUP BY i % 100)"
)
# The digits of 0..2,999,999 plus one comma between neighbours in each of the 100 groups.
DIGITS = sum(len(str(i)) for i in range(3_000_000))
EXPECTED = (100, DIGITS + 3_000_000 - 100)


def _limited(limit: str, top: str):
    return connect(
        load_config().with_overrides(engine={"memory_limit": limit, "memory_limit_max": top})
    )


def test_a_query_that_cannot_spill_gets_more_memory_then_the_limit_is_set_back(caplog):
    con = _limited("4MB", "512MB")
    with caplog.at_level("WARNING", logger="finrep.engine"):
        assert fetch(con, NEEDS_MEMORY)[0] == EXPECTED
    (limit,) = fetch(con, "SELECT current_setting('memory_limit')")[0]
    assert limit == "3.8 MiB"  # 4MB again
    # Each retry is said, with the sizes in the settings' units.
    retries = [r.getMessage() for r in caplog.records if "running it again" in r.getMessage()]
    assert retries, caplog.text
    assert retries[0].startswith("DuckDB ran out of its working memory (4 MB)")
    assert "running it again with 8 MB" in retries[0]
    assert "memory_limit_max: 512 MB" in retries[0]


def test_without_room_to_grow_the_same_query_is_a_config_error():
    con = _limited("4MB", "4MB")
    with pytest.raises(ConfigError, match=r"ran out of its working memory.*memory_limit_max"):
        fetch(con, NEEDS_MEMORY)
    (limit,) = fetch(con, "SELECT current_setting('memory_limit')")[0]
    assert limit == "3.8 MiB"


def _grouped_texts(con):
    """NEEDS_MEMORY's groups as an ibis table (for `materialise`)."""
    from finrep.engine import create_view

    v = create_view(con, "numbers", "SELECT range AS i FROM range(3000000)")
    return v.group_by(g=v.i % 100).aggregate(s=v.i.cast("string").group_concat(","))


def test_a_materialised_table_that_cannot_spill_is_made_again_with_more_memory():
    from finrep.measures.context import materialise

    con = _limited("4MB", "512MB")
    table = materialise(con, _grouped_texts(con))
    got = fetch(con, f"SELECT count(*), sum(length(s)) FROM {table.get_name()}")[0]
    assert got == EXPECTED
    (limit,) = fetch(con, "SELECT current_setting('memory_limit')")[0]
    assert limit == "3.8 MiB"


def test_running_out_of_memory_names_the_setting(small_data, tmp_path):
    config = tmp_path / "finrep.toml"
    config.write_text('[engine]\nmemory_limit = "1MB"\nmemory_limit_max = "1MB"\n')
    result = CliRunner().invoke(
        app, ["--config", str(config), "measures", "--data", str(small_data)], env=ENV
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Error: DuckDB ran out of its working memory" in result.output
    assert "raise [engine] memory_limit and memory_limit_max in finrep.toml" in result.output


def test_a_retry_is_a_warning_on_stderr_and_the_run_goes_on(small_data, tmp_path):
    config = tmp_path / "finrep.toml"
    config.write_text('[engine]\nmemory_limit = "1MB"\nmemory_limit_max = "1GB"\n')
    result = CliRunner().invoke(
        app, ["--config", str(config), "measures", "--data", str(small_data)], env=ENV
    )
    assert result.exit_code == 0, result.output
    assert "Warning: DuckDB ran out of its working memory (1 MB)" in result.output
    assert "running it again with 2 MB ([engine] memory_limit_max: 1.0 GB)" in result.output
    assert "Traceback" not in result.output
