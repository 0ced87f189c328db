import pytest

from finrep.config import load_config
from finrep.errors import ConfigError


def test_packaged_defaults_load():
    config = load_config()
    assert config.engine.name == "duckdb"
    assert config.measures.equity_weight["Medium"] == 0.5
    assert config.smtp.from_addr


def test_user_file_overrides_one_key(tmp_path):
    path = tmp_path / "finrep.toml"
    path.write_text('[company]\nname = "Acme Wealth"\n')
    config = load_config(path)
    assert config.company.name == "Acme Wealth"
    assert config.report.page_size == "Letter"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[nope]\nx = 1\n", "unknown section [nope]"),
        ("[company]\nnmae = 'x'\n", "unknown key company.nmae"),
        ("[report]\ntrend_months = 'many'\n", "report.trend_months: expected a whole number"),
        ("[smtp]\npassword = 'hunter2'\n", "passwords are never read from config files"),
        ("[engine]\nname = 'oracle'\n", "engine.name must be duckdb or spark"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_the_key(tmp_path, text, needle):
    path = tmp_path / "finrep.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert needle in str(info.value)
    assert "hunter2" not in str(info.value)
