"""`finrep.send` end to end against aiosmtpd, with packs already on disk (as after a report
run): what arrives, what is logged, what a re-run does, and what is refused up front."""

import hashlib
import json
from email import message_from_bytes, policy

import pytest
from deliver_support import Handler, write_pack

import finrep
from finrep.deliver import SendFailed
from finrep.errors import DeliveryError
from finrep.filters import Filters

AFFLUENT_WEST = Filters.of(segment=["Affluent"], region=["West"])
UHNW = Filters.of(segment=["Ultra High Net Worth"])
RECIPIENTS = (
    "email,name,filters\n"
    "ceo@example.com,Chief Executive,\n"
    "west.affluent@example.com,West Affluent Desk,segment=Affluent;region=West\n"
    "uhnw@example.com,UHNW Team,segment=Ultra High Net Worth\n"
)


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "reports" / "2024-09"


@pytest.fixture
def three_packs(tmp_path, folder):
    """The packs of the three recipients, and the recipients file."""
    packs = {
        "ceo@example.com": write_pack(folder, "finrep-2024-09"),
        "west.affluent@example.com": write_pack(
            folder, "finrep-2024-09-segment-affluent-region-west", AFFLUENT_WEST
        ),
        "uhnw@example.com": write_pack(folder, "finrep-2024-09-segment-ultra-high-net-worth", UHNW),
    }
    path = tmp_path / "recipients.csv"
    path.write_text(RECIPIENTS)
    return packs, path


def _log(folder):
    return [json.loads(line) for line in (folder / "sent.jsonl").read_text().splitlines()]


def _send(tmp_path, config, **kw):
    return finrep.send(tmp_path / "no-data-needed", period="2024-09", config=config, **kw)


def test_one_recipient_gets_both_attachments_subject_and_kpis(
    tmp_path, folder, smtp_server, config_for
):
    files = write_pack(folder, "finrep-2024-09")
    server = smtp_server()
    result = _send(tmp_path, config_for(server.port), to=["ceo@example.com"])

    assert result.ok and [s.status for s in result.statuses] == ["sent"]
    assert len(server.received) == 1
    got = server.received[0]
    assert got.rcpt_tos == ["ceo@example.com"]
    msg = got.message
    assert msg["Subject"] == "Monthly pack — September 2024"
    body = msg.get_body(("plain",)).get_content()
    assert "$243.0M" in body and "▲ 2.4%" in body and "97.1%" in body
    attachments = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    assert attachments == {
        "finrep-2024-09.pdf": files["pdf"].read_bytes(),
        "finrep-2024-09.xlsx": files["xlsx"].read_bytes(),
    }
    (entry,) = _log(folder)
    assert entry["recipient"] == "ceo@example.com" and entry["status"] == "sent"
    assert entry["message_id"] == msg["Message-ID"]
    assert entry["files"][0] == {
        "name": "finrep-2024-09.pdf",
        "bytes": 3000,
        "sha256": hashlib.sha256(files["pdf"].read_bytes()).hexdigest(),
    }


def test_several_to_addresses_get_one_message(tmp_path, folder, smtp_server, config_for):
    write_pack(folder, "finrep-2024-09")
    server = smtp_server()
    _send(tmp_path, config_for(server.port), to=["a@example.com", "b@example.com"])
    assert [r.rcpt_tos for r in server.received] == [["a@example.com", "b@example.com"]]
    assert [e["recipient"] for e in _log(folder)] == ["a@example.com", "b@example.com"]


def test_three_recipients_get_three_distinct_packs_with_their_filters(
    tmp_path, folder, smtp_server, config_for, three_packs
):
    packs, recipients = three_packs
    server = smtp_server()
    result = _send(tmp_path, config_for(server.port), recipients=recipients)
    assert result.ok and len(server.received) == 3

    by_rcpt = {r.rcpt_tos[0]: r.message for r in server.received}
    assert set(by_rcpt) == set(packs)
    expected = {
        "ceo@example.com": ("Monthly pack — September 2024", "none (all customers)"),
        "west.affluent@example.com": (
            "Monthly pack — September 2024 — Affluent · West",
            "Segment: Affluent · Region: West",
        ),
        "uhnw@example.com": (
            "Monthly pack — September 2024 — Ultra High Net Worth",
            "Segment: Ultra High Net Worth",
        ),
    }
    contents = set()
    for address, msg in by_rcpt.items():
        subject, label = expected[address]
        assert msg["Subject"] == subject
        assert f"Filters in force: {label}" in msg.get_body(("plain",)).get_content()
        attached = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
        assert attached == {p.name: p.read_bytes() for p in packs[address].values()}
        contents.add(attached[packs[address]["pdf"].name])
    assert len(contents) == 3  # three different packs


def test_550_is_not_retried_run_fails_and_packs_are_kept(
    tmp_path, folder, smtp_server, config_for, three_packs
):
    packs, recipients = three_packs
    server = smtp_server(Handler(refuse={"west.affluent@example.com"}))
    with pytest.raises(SendFailed) as err:
        _send(tmp_path, config_for(server.port, max_attempts=4), recipients=recipients)

    message = str(err.value)
    assert "1 of 3 recipients not sent" in message
    assert "sent: ceo@example.com, uhnw@example.com" in message
    assert "west.affluent@example.com: refused: 550 5.1.1 Mailbox unavailable" in message
    assert server.handler.rcpt_calls == 3  # one RCPT each: the 550 was not retried
    statuses = {s.email: s.status for s in err.value.result.statuses}
    assert statuses == {
        "ceo@example.com": "sent",
        "west.affluent@example.com": "refused",
        "uhnw@example.com": "sent",
    }
    for files in packs.values():
        assert all(p.is_file() for p in files.values())
    assert [(e["recipient"], e["status"]) for e in _log(folder)] == [
        ("ceo@example.com", "sent"),
        ("west.affluent@example.com", "refused"),
        ("uhnw@example.com", "sent"),
    ]


def test_rerun_after_a_partial_failure_sends_only_the_rest(
    tmp_path, folder, smtp_server, config_for, three_packs
):
    _, recipients = three_packs
    first = smtp_server(Handler(refuse={"uhnw@example.com"}))
    with pytest.raises(SendFailed):
        _send(tmp_path, config_for(first.port), recipients=recipients)
    assert len(first.received) == 2

    second = smtp_server()
    result = _send(tmp_path, config_for(second.port), recipients=recipients)
    assert [r.rcpt_tos for r in second.received] == [["uhnw@example.com"]]
    assert {s.email: s.status for s in result.statuses} == {
        "ceo@example.com": "skipped",
        "west.affluent@example.com": "skipped",
        "uhnw@example.com": "sent",
    }

    # and a third run has nothing left to do; --resend sends everything again
    third = smtp_server()
    _send(tmp_path, config_for(third.port), recipients=recipients)
    assert third.received == []
    _send(tmp_path, config_for(third.port), recipients=recipients, resend=True)
    assert len(third.received) == 3
    assert [e["status"] for e in _log(folder)] == ["sent", "sent", "refused", "sent"] + ["sent"] * 3


def test_451_then_250_through_send(tmp_path, folder, smtp_server, config_for):
    write_pack(folder, "finrep-2024-09")
    server = smtp_server(Handler(data_failures=1))
    result = _send(tmp_path, config_for(server.port), to=["ceo@example.com"])
    assert result.ok and len(server.received) == 1 and server.handler.data_calls == 2
    assert result.statuses[0].detail == "accepted on attempt 2"


def test_server_down_is_a_clear_error_and_nothing_is_marked_sent(
    tmp_path, folder, config_for, dead_port, three_packs
):
    _, recipients = three_packs
    with pytest.raises(SendFailed) as err:
        _send(tmp_path, config_for(dead_port, max_attempts=2), recipients=recipients)
    message = str(err.value)
    assert "3 of 3 recipients not sent" in message and "nothing sent" in message
    assert f"cannot reach the SMTP server 127.0.0.1:{dead_port} after 2 attempts" in message
    assert {s.status for s in err.value.result.statuses} == {"not sent"}
    assert all(e["status"] == "failed" for e in _log(folder))


def test_header_injection_is_refused_before_anything_is_sent(
    tmp_path, folder, smtp_server, config_for
):
    write_pack(folder, "finrep-2024-09")
    server = smtp_server()
    with pytest.raises(DeliveryError, match="header injection"):
        _send(
            tmp_path,
            config_for(server.port),
            to=["ceo@example.com"],
            from_addr="reports@example.com\r\nBcc: spy@evil.com",
        )
    path = tmp_path / "r.csv"
    path.write_bytes(b'email,name\nok@example.com,Ok\nx@example.com,"X\r\nBcc: spy@evil.com"\n')
    with pytest.raises(DeliveryError, match="row 3, column name"):
        _send(tmp_path, config_for(server.port), recipients=path)
    assert server.received == [] and not (folder / "sent.jsonl").exists()


def test_oversized_attachments_refused_before_anything_is_sent(
    tmp_path, folder, smtp_server, config_for, three_packs
):
    packs, recipients = three_packs
    big = packs["uhnw@example.com"]["pdf"]
    big.write_bytes(big.read_bytes().ljust(3 * 1024 * 1024, b"x"))  # 3.0 MB
    server = smtp_server()
    with pytest.raises(DeliveryError) as err:
        _send(tmp_path, config_for(server.port, max_attachment_mb=2), recipients=recipients)
    assert "finrep-2024-09-segment-ultra-high-net-worth.pdf is 3.0 MB" in str(err.value)
    assert "2 MB budget" in str(err.value) and "uhnw@example.com" in str(err.value)
    assert server.received == []  # not even the recipients whose packs were small


def test_dry_run_writes_eml_files_that_parse_back(tmp_path, folder, config_for, three_packs):
    packs, recipients = three_packs
    result = _send(tmp_path, config_for(1), recipients=recipients, dry_run=True)
    assert {s.status for s in result.statuses} == {"dry-run"}
    emls = sorted(folder.glob("*.eml"))
    assert [p.name for p in emls] == [
        "finrep-2024-09--to-ceo-example-com.eml",
        "finrep-2024-09-segment-affluent-region-west--to-west-affluent-example-com.eml",
        "finrep-2024-09-segment-ultra-high-net-worth--to-uhnw-example-com.eml",
    ]
    for eml in emls:
        msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
        address = msg["To"].addresses[0].addr_spec
        attached = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
        assert attached == {p.name: p.read_bytes() for p in packs[address].values()}
        assert msg["Subject"].startswith("Monthly pack — September 2024")
        assert msg.get_body(("html",)) is not None
    assert not (folder / "sent.jsonl").exists()  # nothing was sent, nothing logged


def test_to_and_recipients_are_exclusive(tmp_path, config_for, three_packs):
    _, recipients = three_packs
    with pytest.raises(DeliveryError, match="either --to"):
        _send(tmp_path, config_for(1), to=["a@example.com"], recipients=recipients)
    with pytest.raises(DeliveryError, match="either --to"):
        _send(tmp_path, config_for(1))


def test_a_corrupt_send_log_is_reported_not_ignored(tmp_path, folder, config_for):
    write_pack(folder, "finrep-2024-09")
    (folder / "sent.jsonl").write_text('{"recipient": "a@example.com", "status": "sent"\n')
    with pytest.raises(DeliveryError, match="sent.jsonl: line 1"):
        _send(tmp_path, config_for(1), to=["a@example.com"])
