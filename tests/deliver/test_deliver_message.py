"""Message composition: subject, bodies with the KPIs, attachments, and what is refused."""

from email import message_from_bytes, policy

import pytest
from deliver_support import summary, write_pack

from finrep.config import load_config
from finrep.deliver.message import compose, human_size, render_subject, to_eml_bytes
from finrep.deliver.recipients import Recipient, read_recipients, recipients_from_addresses
from finrep.errors import ConfigError, DeliveryError
from finrep.filters import Filters
from finrep.resources import config_dir

CONFIG = load_config()
AFFLUENT_WEST = Filters.of(segment=["Affluent"], region=["West"])


def _parse(msg):
    return message_from_bytes(to_eml_bytes(msg), policy=policy.default)


def test_subject_from_the_config_template():
    assert render_subject(CONFIG, summary()) == "Monthly pack — September 2024"
    assert render_subject(CONFIG, summary(Filters.of(segment=["Affluent"]))) == (
        "Monthly pack — September 2024 — Affluent"
    )
    assert render_subject(CONFIG, summary(AFFLUENT_WEST)) == (
        "Monthly pack — September 2024 — Affluent · West"
    )


def test_a_broken_subject_template_is_a_config_error():
    cfg = CONFIG.with_overrides(smtp={"subject": "Pack {{ perod_label }}"})
    with pytest.raises(ConfigError, match="smtp.subject"):
        render_subject(cfg, summary())


def test_message_has_both_bodies_kpis_filters_and_attachments(tmp_path):
    files = write_pack(tmp_path, "finrep-2024-09-segment-affluent-region-west", AFFLUENT_WEST)
    to = [Recipient("west.affluent@example.com", "West Affluent Desk", AFFLUENT_WEST)]
    msg = _parse(compose(CONFIG, summary(AFFLUENT_WEST), to, list(files.values())))

    assert msg["Subject"] == "Monthly pack — September 2024 — Affluent · West"
    assert msg["To"] == "West Affluent Desk <west.affluent@example.com>"
    assert msg["From"] == "Northwind Wealth Partners <reports@example.com>"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg.get_content_type() == "multipart/mixed"

    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # Hand-formatted: AUM 243,000,000 vs 237,304,687.50 (+2.4%) and 200,000,000 (+21.5%);
    # retention 97.12% vs 96.50% (+0.62 pts) and 98.00% (−0.88 pts).
    for body in (text, html):
        assert "$243.0M" in body and "▲ 2.4%" in body and "▲ 21.5%" in body
        assert "$1.3M" in body and "▼ 16.0%" in body
        assert "812" in body and "▲ 1.5%" in body
        assert "97.1%" in body and "▲ 0.6 pts" in body and "▼ 0.9 pts" in body
        assert "$182.4K" in body
        assert "Retention held at 97.1%." in body
        assert "Hello West Affluent Desk" in body
        assert "August 2024" in body and "September 2023" in body
    assert "Segment: Affluent · Region: West" in text
    assert "Segment: Affluent · Region: West" in html
    # inline-styled table, changes coloured with the theme (good = positive, bad = negative)
    assert "<table" in html and 'style="' in html and "<style" not in html
    assert CONFIG.theme.positive in html and CONFIG.theme.negative in html

    attachments = {a.get_filename(): a for a in msg.iter_attachments()}
    assert set(attachments) == {
        "finrep-2024-09-segment-affluent-region-west.pdf",
        "finrep-2024-09-segment-affluent-region-west.xlsx",
    }
    pdf = attachments["finrep-2024-09-segment-affluent-region-west.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == files["pdf"].read_bytes()
    xlsx = attachments["finrep-2024-09-segment-affluent-region-west.xlsx"]
    assert xlsx.get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx.get_content() == files["xlsx"].read_bytes()


def test_data_in_html_is_escaped(tmp_path):
    f = Filters.of(product=["<b>Bonds & Co</b>"])
    files = write_pack(tmp_path, "p", f)
    msg = _parse(compose(CONFIG, summary(f), [Recipient("a@example.com")], list(files.values())))
    html = msg.get_body(("html",)).get_content()
    assert "&lt;b&gt;Bonds &amp; Co&lt;/b&gt;" in html and "<b>Bonds" not in html


def test_customer_contact_details_are_masked_everywhere(tmp_path):
    narrative = ("Top client jane.doe@mail.com (phone 555-123-4821) added $2.0M.",)
    files = write_pack(tmp_path, "p", narrative=narrative)
    msg = compose(
        CONFIG, summary(narrative=narrative), [Recipient("a@example.com")], list(files.values())
    )
    raw = to_eml_bytes(msg)
    parsed = _parse(msg)
    bodies = parsed.get_body(("plain",)).get_content() + parsed.get_body(("html",)).get_content()
    assert "j***@***.com" in bodies and "***-***-4821" in bodies
    assert "jane.doe" not in bodies and "555-123" not in bodies
    assert b"jane.doe" not in raw


@pytest.mark.parametrize(
    "recipient",
    [
        Recipient("ceo@example.com\r\nBcc: spy@evil.com"),
        Recipient("ceo@example.com\nBcc: spy@evil.com"),
        Recipient("ceo@example.com", "Chief\r\nBcc: spy@evil.com"),
        Recipient("ceo@example.com, spy@evil.com"),
        Recipient("Chief <ceo@example.com>"),
    ],
)
def test_header_injection_in_recipients_is_refused(tmp_path, recipient):
    files = write_pack(tmp_path, "p")
    with pytest.raises(DeliveryError):
        compose(CONFIG, summary(), [recipient], list(files.values()))


def test_header_injection_through_filters_into_the_subject_is_refused(tmp_path):
    f = Filters.of(product=["Bonds\r\nBcc: spy@evil.com"])
    files = write_pack(tmp_path, "p", f)
    with pytest.raises(DeliveryError, match="header injection"):
        compose(CONFIG, summary(f), [Recipient("a@example.com")], list(files.values()))


def test_header_injection_in_from_is_refused(tmp_path):
    files = write_pack(tmp_path, "p")
    with pytest.raises(DeliveryError):
        compose(
            CONFIG,
            summary(),
            [Recipient("a@example.com")],
            list(files.values()),
            sender="reports@example.com\r\nBcc: spy@evil.com",
        )


def test_oversized_attachments_are_refused_naming_file_and_size(tmp_path):
    # budget 0.01 MB = 10,485.76 bytes; the PDF is 20,480 bytes = 20 KB
    files = write_pack(tmp_path, "finrep-2024-09", pdf_size=20480)
    cfg = CONFIG.with_overrides(smtp={"max_attachment_mb": 0.01})
    with pytest.raises(DeliveryError) as err:
        compose(cfg, summary(), [Recipient("a@example.com")], list(files.values()))
    message = str(err.value)
    assert "finrep-2024-09.pdf is 20 KB" in message
    assert "0.01 MB budget" in message and "smtp.max_attachment_mb" in message


def test_empty_or_missing_attachment_is_refused(tmp_path):
    files = write_pack(tmp_path, "p")
    files["xlsx"].write_bytes(b"")
    with pytest.raises(DeliveryError, match="empty"):
        compose(CONFIG, summary(), [Recipient("a@example.com")], list(files.values()))
    files["xlsx"].unlink()
    with pytest.raises(DeliveryError, match="missing"):
        compose(CONFIG, summary(), [Recipient("a@example.com")], list(files.values()))


def test_human_size():
    assert human_size(1536) == "2 KB"
    assert human_size(3 * 1024 * 1024 + 104858) == "3.1 MB"


# ---- recipients -------------------------------------------------------------------------
def test_the_packaged_example_recipients_file_reads():
    rows = read_recipients(config_dir() / "recipients.example.csv")
    assert [(r.email, r.name) for r in rows] == [
        ("ceo@example.com", "Chief Executive"),
        ("west.affluent@example.com", "West Affluent Desk"),
        ("uhnw@example.com", "UHNW Team"),
    ]
    assert rows[0].filters == Filters()
    assert rows[1].filters == AFFLUENT_WEST
    assert rows[2].filters == Filters.of(segment=["Ultra High Net Worth"])


def test_recipient_filters_go_on_top_of_the_command_line_ones(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("email,name,filters\na@example.com,A,segment=affluent\nb@example.com,B,\n")
    rows = read_recipients(path, Filters.of(region=["West"], segment=["Mass Market"]))
    assert rows[0].filters == Filters.of(segment=["Affluent"], region=["West"])  # case fixed
    assert rows[1].filters == Filters.of(segment=["Mass Market"], region=["West"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("email,name\nnot-an-address,X\n", "row 2, column email"),
        ("email,name,filters\na@example.com,A,\nb@example.com,B,segment=Platinum\n", "row 3"),
        ("email,name,filters\na@example.com,A,segment\n", "row 2"),
        ("email,name,filters\na@example.com,A,colour=red\n", "row 2"),
        ('email,name\na@example.com,"Chief\r\nBcc: spy@evil.com"\n', "row 2, column name"),
        ("name,filters\nA,\n", "missing column `email`"),
        ("email,name\n", "no recipients"),
        ("", "empty file"),
        ("email,name\na@example.com,A\na@example.com,A again\n", "row 3"),
    ],
)
def test_bad_recipients_files_name_the_row(tmp_path, content, message):
    path = tmp_path / "recipients.csv"
    path.write_bytes(content.encode())
    with pytest.raises((ConfigError, DeliveryError)) as err:
        read_recipients(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_unknown_segment_message_lists_the_known_ones(tmp_path):
    path = tmp_path / "recipients.csv"
    path.write_text("email,filters\na@example.com,segment=Platinum\n")
    with pytest.raises(ConfigError, match="segment 'Platinum' is not one of Mass Market"):
        read_recipients(path)


def test_to_addresses_are_checked_and_deduplicated():
    rows = recipients_from_addresses(
        ["a@example.com", " A@example.com", "b@example.com"], Filters()
    )
    assert [r.email for r in rows] == ["a@example.com", "b@example.com"]
    with pytest.raises(DeliveryError, match="--to"):
        recipients_from_addresses(["a@example.com\r\nBcc: x@evil.com"], Filters())
