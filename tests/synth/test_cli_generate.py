"""`finrep generate` on the command line: output, exit codes, the non-empty-folder rule."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app
from finrep.synth import generate

ENV = {"NO_COLOR": "1", "COLUMNS": "100"}
SMALL = ["--customers", "25", "--start", "2024-01", "--end", "2024-03", "--seed", "1"]
NINE = ["customers", "products", "enrollments", "account_balances", "service_interactions",
        "engagement", "advisors", "market_data", "retention"]  # fmt: skip


def run(*args):
    return CliRunner().invoke(app, list(args), env=ENV)


def test_help_lists_every_option():
    result = run("generate", "--help")
    assert result.exit_code == 0
    for option in ("--customers", "--start", "--end", "--seed", "--format", "--out", "--force",
                   "--partition"):  # fmt: skip
        assert option in result.output


def test_generates_the_nine_tables_and_prints_counts(tmp_path):
    out = tmp_path / "data"
    result = run("generate", *SMALL, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.csv" for n in NINE] + ["manifest.json"]
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"to {out}/" in result.output
    assert f"customers {25:>12,}".replace(" ", "") in result.output.replace(" ", "")
    total = sum(manifest["row_counts"].values())
    assert f"Wrote {total:,} rows in 9 tables" in result.output


def test_quiet_prints_nothing(tmp_path):
    result = run("--quiet", "generate", *SMALL, "--out", str(tmp_path / "q"))
    assert result.exit_code == 0
    assert result.output == ""
    assert (tmp_path / "q" / "customers.csv").exists()


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run("generate", *SMALL, "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "Error:" in result.output and "not empty" in result.output
    assert "--force" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_force_replaces_generated_tables_and_keeps_other_files(tmp_path):
    out = tmp_path / "d"
    assert run("generate", *SMALL, "--format", "parquet", "--out", str(out)).exit_code == 0
    (out / "notes.txt").write_text("mine")
    result = run("generate", *SMALL, "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    # No stale Parquet file is left to shadow the new CSV files.
    assert not any(n.endswith(".parquet") for n in names)
    assert names == {f"{n}.csv" for n in NINE} | {"manifest.json", "notes.txt"}
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2024-13"], "--start '2024-13'"),
        (["--start", "2024-05", "--end", "2024-01"], "before --start"),
        (["--format", "xlsx"], "--format 'xlsx'"),
        (["--partition"], "--partition needs --format parquet"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, args, message):
    result = run("generate", "--customers", "5", "--out", str(tmp_path / "x"), *args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_zero_customers_is_a_usage_error(tmp_path):
    result = run("generate", "--customers", "0", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2


def test_progress_reports_every_table(tmp_path):
    seen: dict[str, tuple[int, int]] = {}
    generate(tmp_path / "p", customers=30, start="2024-01", end="2024-02",
             progress=lambda step, done, total: seen.__setitem__(step, (done, total)))  # fmt: skip
    for name in NINE:
        done, total = seen[name]
        assert done == total > 0, name


def test_interrupted_run_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "i"

    def stop(step, done, total):
        if step == "account_balances" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(out, customers=30, start="2024-01", end="2024-02", progress=stop)
    assert list(out.iterdir()) == []


def test_interrupted_forced_run_keeps_the_previous_dataset(tmp_path):
    out = tmp_path / "keep"
    generate(out, customers=30, start="2024-01", end="2024-02", seed=1)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def stop(step, done, total):
        if step == "engagement" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(out, customers=30, start="2024-01", end="2024-02", seed=2, format="parquet",
                 force=True, progress=stop)  # fmt: skip
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
