"""`finrep send` on the command line: options, output, exit codes (0 ok, 1 not sent, 2 usage)."""

import json

import pytest
from deliver_support import Handler, write_pack
from typer.testing import CliRunner

from finrep.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture
def setup(tmp_path):
    """A config with tiny retry delays, and a September 2024 pack already built."""
    config = tmp_path / "finrep.toml"
    config.write_text("[smtp]\nretry_delay = 0.01\nmax_attempts = 2\nstarttls = true\n")
    out = tmp_path / "reports"
    write_pack(out / "2024-09", "finrep-2024-09")
    return config, out


def _invoke(config, out, *args):
    base = ["--config", str(config), "send", "--period", "2024-09", "--out", str(out)]
    return CliRunner().invoke(app, [*base, *args], env=ENV)


def _smtp(port):
    return ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--no-starttls"]


def test_send_to_one_address(setup, smtp_server):
    config, out = setup
    server = smtp_server()
    result = _invoke(
        config, out, "--to", "ceo@example.com", *_smtp(server.port), "--from", "pack@example.org"
    )
    assert result.exit_code == 0, result.output
    assert "ceo@example.com" in result.stdout and "sent" in result.stdout
    assert f"1 sent. Log: {out / '2024-09' / 'sent.jsonl'}" in result.stdout
    (got,) = server.received
    assert got.mail_from == "pack@example.org"
    assert got.message["From"].addresses[0].addr_spec == "pack@example.org"
    assert got.message["Subject"] == "Monthly pack — September 2024"

    again = _invoke(config, out, "--to", "ceo@example.com", *_smtp(server.port))
    assert again.exit_code == 0 and "1 skipped" in again.stdout
    assert len(server.received) == 1
    forced = _invoke(config, out, "--to", "ceo@example.com", "--resend", *_smtp(server.port))
    assert forced.exit_code == 0 and len(server.received) == 2


def test_starttls_from_config_is_required_without_no_starttls(setup, smtp_server):
    config, out = setup
    server = smtp_server()
    args = ["--to", "ceo@example.com", "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port)]
    result = _invoke(config, out, *args)
    assert result.exit_code == 1
    assert "does not offer STARTTLS" in result.stderr and "Traceback" not in result.output
    assert server.received == []


def test_refused_recipient_exits_1_lists_what_was_not_sent_and_keeps_the_pack(setup, smtp_server):
    config, out = setup
    server = smtp_server(Handler(refuse={"gone@example.com"}))
    result = _invoke(
        config, out, "--to", "ceo@example.com", "--to", "gone@example.com", *_smtp(server.port)
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: 1 of 2 recipients not sent for September 2024")
    assert "gone@example.com: refused: 550 5.1.1 Mailbox unavailable" in result.stderr
    assert "1 sent, 1 refused" in result.stdout
    assert (out / "2024-09" / "finrep-2024-09.pdf").is_file()
    log = [json.loads(x) for x in (out / "2024-09" / "sent.jsonl").read_text().splitlines()]
    assert [(e["recipient"], e["status"]) for e in log] == [
        ("ceo@example.com", "sent"),
        ("gone@example.com", "refused"),
    ]


def test_server_down_exits_1_with_a_clear_message(setup, dead_port):
    config, out = setup
    result = _invoke(config, out, "--to", "ceo@example.com", *_smtp(dead_port))
    assert result.exit_code == 1
    assert f"cannot reach the SMTP server 127.0.0.1:{dead_port} after 2 attempts" in result.stderr
    assert "Traceback" not in result.output


def test_dry_run_prints_the_eml_files(setup):
    config, out = setup
    result = _invoke(config, out, "--to", "ceo@example.com", "--dry-run")
    assert result.exit_code == 0, result.output
    eml = out / "2024-09" / "finrep-2024-09--to-ceo-example-com.eml"
    assert eml.is_file() and "1 dry-run" in result.stdout
    assert "finrep-2024-09--to-ceo-example-com.eml" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],  # neither --to nor --recipients
        ["--to", "a@example.com", "--recipients", "r.csv"],
        ["--to", "a@example.com", "--smtp-port", "twenty-five"],
        ["--to", "a@example.com", "--pages", "executive,nonsense"],
        ["--to", "a@example.com", "--format", "docx"],
    ],
)
def test_usage_errors_exit_2(setup, args):
    config, out = setup
    result = _invoke(config, out, *args)
    assert result.exit_code == 2, result.output


def test_bad_address_exits_1_without_traceback(setup):
    config, out = setup
    result = _invoke(config, out, "--to", "not an address", "--dry-run")
    assert result.exit_code == 1
    assert "Error: --to 'not an address' is not one e-mail address" in result.stderr
