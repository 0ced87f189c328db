"""Every command has help text, and the CLI answers usage errors with exit code 2."""

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app

COMMANDS = ["generate", "validate", "measures", "report", "send", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Usage: finrep " + command in result.output
    assert "Not built yet" not in result.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(app, ["nonsense"])
    assert result.exit_code == 2


def test_the_entry_point_freezes_the_heap_on_its_way_out(monkeypatch):
    """`main` leaves the run's objects out of the interpreter's last garbage collection (a
    report's teardown at a million customers took ~0.4 s), and still exits with the
    command's code."""
    import gc

    from finrep.cli import app as app_module

    def command() -> None:
        raise SystemExit(3)

    monkeypatch.setattr(app_module, "app", command)
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as exit_info:
            app_module.main()
        assert exit_info.value.code == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
