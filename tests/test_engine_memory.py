"""`[engine] memory_limit`: applied to DuckDB, a bad value refused, and running out of it is a
clear one-line error naming the setting (printed verbatim: its brackets are not markup)."""

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
    assert limit.startswith("488")  # 512MB as DuckDB shows it (MiB)


def test_empty_limit_leaves_duckdbs_default():
    con = connect(load_config().with_overrides(engine={"memory_limit": ""}))
    (limit,) = fetch(con, "SELECT current_setting('memory_limit')")[0]
    assert "GiB" in limit  # 80% of this machine's RAM, not 244 MiB


def test_a_limit_that_is_not_a_size_is_refused():
    with pytest.raises(ConfigError, match=r"engine.memory_limit = 'lots'"):
        connect(load_config().with_overrides(engine={"memory_limit": "lots"}))


def test_running_out_of_memory_names_the_setting(small_data, tmp_path):
    config = tmp_path / "finrep.toml"
    config.write_text('[engine]\nmemory_limit = "1MB"\n')
    result = CliRunner().invoke(
        app, ["--config", str(config), "measures", "--data", str(small_data)], env=ENV
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Error: DuckDB ran out of its working memory" in result.output
    assert "raise [engine] memory_limit in finrep.toml" in result.output
