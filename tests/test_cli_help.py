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
