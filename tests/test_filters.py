"""Filters: closed-domain values are checked and canonicalised; a filter that selects nothing
gives empty measures, not a crash."""

import json

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app
from finrep.errors import ConfigError
from finrep.filters import Filters


def test_values_are_matched_ignoring_case():
    f = Filters.of(segment=["mass market"], region=["west"], product=["PRD0001"]).canonical()
    assert f.segment == ("Mass Market",)
    assert f.region == ("West",)
    assert f.product == ("PRD0001",)  # open domain: kept as given


def test_unknown_value_names_the_option_and_the_choices():
    with pytest.raises(ConfigError) as info:
        Filters.of(segment=["Platinum"]).canonical()
    assert str(info.value).startswith("--segment 'Platinum' is not one of Mass Market")


def test_cli_refuses_an_unknown_segment(small_data):
    result = CliRunner().invoke(
        app, ["measures", "--data", str(small_data), "--segment", "Platinum"]
    )
    assert result.exit_code == 1
    assert "--segment 'Platinum' is not one of" in result.output
    assert "Traceback" not in result.output


def test_filter_that_selects_nothing_gives_empty_measures(small_data):
    result = CliRunner().invoke(
        app,
        ["measures", "--data", str(small_data), "--product", "NO-SUCH-PRODUCT",
         "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    kpis = json.loads(result.output)["kpis"]
    assert kpis["aum"]["value"] == 0
    assert kpis["active_customers"]["value"] == 0
    assert kpis["retention_rate"]["value"] is None
