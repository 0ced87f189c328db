"""Delivery on real packs: built from the generated `small_data` by the real measures engine
and renderers, mailed to aiosmtpd, opened with pypdf and openpyxl. The expected AUM of each
filter set is computed here from the CSV files with pandas (snapshot = last row of the month
per position), not by finrep."""

import io
import json

import openpyxl
import pandas as pd
import pytest
from deliver_support import Handler
from pypdf import PdfReader

import finrep
from finrep.deliver import SendFailed
from finrep.deliver.burst import burst
from finrep.filters import Filters
from finrep.render.formats import format_currency
from finrep.schema import STATE_REGION

pytestmark = pytest.mark.slow

RECIPIENTS = (
    "email,name,filters\n"
    "ceo@example.com,Chief Executive,\n"
    "west.affluent@example.com,West Affluent Desk,segment=Affluent;region=West\n"
    "uhnw@example.com,UHNW Team,segment=Ultra High Net Worth\n"
)


@pytest.fixture(scope="module")
def expected_aum(small_data):
    """AUM at the end of November 2024 by (segment, region), from the raw CSV files."""
    b = pd.read_csv(small_data / "account_balances.csv", parse_dates=["date"])
    c = pd.read_csv(small_data / "customers.csv")
    nov = b[(b.date >= "2024-11-01") & (b.date <= "2024-11-30")]
    snap = nov.sort_values(["date", "balance_id"]).groupby(["customer_id", "product_id"]).tail(1)
    snap = snap.merge(c[["customer_id", "customer_segment", "address_state"]], on="customer_id")
    snap["region"] = snap.address_state.map(STATE_REGION)

    def aum(segment=None, region=None) -> float:
        rows = snap
        if segment:
            rows = rows[rows.customer_segment == segment]
        if region:
            rows = rows[rows.region == region]
        return float(rows.balance.sum())

    return aum


def _body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def _attachments(msg) -> dict[str, bytes]:
    return {a.get_filename(): a.get_content() for a in msg.iter_attachments()}


def test_send_builds_the_pack_and_it_arrives_with_pdf_xlsx_subject_and_kpis(
    small_data, tmp_path, smtp_server, config_for, expected_aum
):
    server = smtp_server()
    out = tmp_path / "reports"
    result = finrep.send(
        small_data,
        to=["ceo@example.com"],
        period="previous",
        pages="executive",
        config=config_for(server.port),
        out_dir=out,
    )
    assert result.ok and result.period.spec == "2024-11"  # data ends 2024-12
    assert sorted(p.name for p in result.built) == ["finrep-2024-11.pdf", "finrep-2024-11.xlsx"]

    (got,) = server.received
    msg = got.message
    assert msg["Subject"] == "Monthly pack — November 2024"
    aum_text = format_currency(expected_aum())
    assert "AUM" in _body(msg) and aum_text in _body(msg)

    files = _attachments(msg)
    assert set(files) == {"finrep-2024-11.pdf", "finrep-2024-11.xlsx"}
    assert files["finrep-2024-11.pdf"] == (out / "2024-11" / "finrep-2024-11.pdf").read_bytes()
    pdf_text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(files["finrep-2024-11.pdf"])).pages
    )
    assert aum_text in pdf_text  # the email and the PDF print the same number
    workbook = openpyxl.load_workbook(io.BytesIO(files["finrep-2024-11.xlsx"]))
    assert "Summary" in workbook.sheetnames


def test_three_recipients_get_their_own_packs_and_a_rerun_sends_only_the_rest(
    small_data, tmp_path, smtp_server, config_for, expected_aum
):
    path = tmp_path / "recipients.csv"
    path.write_text(RECIPIENTS)
    out = tmp_path / "reports"
    options = dict(
        recipients=path, period="2024-11", formats="xlsx", pages="executive", out_dir=out
    )
    expected = {
        "ceo@example.com": ("finrep-2024-11.xlsx", "", expected_aum()),
        "west.affluent@example.com": (
            "finrep-2024-11-segment-affluent-region-west.xlsx",
            " — Affluent · West",
            expected_aum("Affluent", "West"),
        ),
        "uhnw@example.com": (
            "finrep-2024-11-segment-ultra-high-net-worth.xlsx",
            " — Ultra High Net Worth",
            expected_aum("Ultra High Net Worth"),
        ),
    }
    assert len({v[2] for v in expected.values()}) == 3  # the filters really differ

    def check(received) -> None:
        (address,) = received.rcpt_tos
        name, subject_tail, aum = expected[address]
        msg = received.message
        assert msg["Subject"] == f"Monthly pack — November 2024{subject_tail}"
        assert format_currency(aum) in _body(msg)
        assert _attachments(msg) == {name: (out / "2024-11" / name).read_bytes()}

    # first run: the server refuses one recipient (550); the other two get their packs
    first = smtp_server(Handler(refuse={"west.affluent@example.com"}))
    with pytest.raises(SendFailed) as err:
        finrep.send(small_data, config=config_for(first.port), **options)
    assert len(err.value.result.built) == 3
    assert sorted(r.rcpt_tos[0] for r in first.received) == ["ceo@example.com", "uhnw@example.com"]
    for received in first.received:
        check(received)
    built = {p: p.stat().st_mtime_ns for p in err.value.result.built}

    # second run: nothing is rebuilt, only the refused recipient is sent
    second = smtp_server()
    result = finrep.send(small_data, config=config_for(second.port), **options)
    assert result.built == []
    assert [r.rcpt_tos for r in second.received] == [["west.affluent@example.com"]]
    check(second.received[0])
    assert all(p.stat().st_mtime_ns == t for p, t in built.items())
    log = [json.loads(x) for x in (out / "2024-11" / "sent.jsonl").read_text().splitlines()]
    assert [(e["recipient"], e["status"]) for e in log] == [
        ("ceo@example.com", "sent"),
        ("west.affluent@example.com", "refused"),
        ("uhnw@example.com", "sent"),
        ("west.affluent@example.com", "sent"),
    ]


def test_burst_by_segment_partitions_the_total_and_send_reuses_its_packs(
    small_data, tmp_path, smtp_server, config_for, expected_aum
):
    out = tmp_path / "reports"
    steps = []
    result = burst(
        small_data,
        "segment",
        period="2024-11",
        formats="xlsx",
        pages="executive",
        config=config_for(1),
        out_dir=out,
        progress=lambda step, done, total: steps.append((step, done, total)),
    )
    segments = ["Affluent", "High Net Worth", "Mass Market", "Ultra High Net Worth"]
    assert list(result.packs) == segments
    assert sorted(p.name for p in (out / "2024-11").glob("*.xlsx")) == [
        "finrep-2024-11-segment-affluent.xlsx",
        "finrep-2024-11-segment-high-net-worth.xlsx",
        "finrep-2024-11-segment-mass-market.xlsx",
        "finrep-2024-11-segment-ultra-high-net-worth.xlsx",
    ]
    assert [s for s in steps if s[0] == "Burst by segment"] == [
        ("Burst by segment", i, 4) for i in range(5)
    ]
    total = 0.0
    for segment, pack in result.packs.items():
        assert pack.summary.filters == Filters.of(segment=[segment])
        aum = pack.summary.kpis[0].value
        assert aum == pytest.approx(expected_aum(segment), abs=0.01)
        total += aum
        workbook = openpyxl.load_workbook(pack.paths["xlsx"], read_only=True)
        cells = [
            str(c) for row in workbook["Summary"].iter_rows(values_only=True) for c in row if c
        ]
        assert any(segment in c for c in cells)  # the workbook states its filter
    assert total == pytest.approx(expected_aum(), abs=0.05)

    # a recipients file with segment filters mails the burst's packs as they are
    path = tmp_path / "recipients.csv"
    path.write_text(
        "email,filters\na@example.com,segment=Affluent\nm@example.com,segment=mass market\n"
    )
    server = smtp_server()
    sent = finrep.send(
        small_data,
        recipients=path,
        period="2024-11",
        formats="xlsx",
        pages="executive",
        config=config_for(server.port),
        out_dir=out,
    )
    assert sent.built == [] and len(server.received) == 2
    for received in server.received:
        (name,) = _attachments(received.message)
        assert _attachments(received.message)[name] == (out / "2024-11" / name).read_bytes()
    assert sorted(n for r in server.received for n in _attachments(r.message)) == [
        "finrep-2024-11-segment-affluent.xlsx",
        "finrep-2024-11-segment-mass-market.xlsx",
    ]
