"""`finrep.validate`: the Finding contract, severities, capped listings, configuration, progress,
masking, and the published dashboard's layout (warnings, never errors)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import finrep
from finrep.config import load_config
from finrep.errors import DataError
from finrep.sources import load, mask_email, mask_phone, mask_pii
from finrep.validate import Finding, has_errors, validate

PUBLISHED = Path(__file__).resolve().parents[1] / "fixtures" / "published_layout"


def test_finding_is_plain_frozen_data():
    f = Finding("a.csv", "missing-value", "error", 3, "x", "", "a.csv row 3: `x` is blank")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.row = 4  # type: ignore[misc]
    assert list(f.to_dict()) == ["file", "rule", "severity", "row", "column", "value", "message"]
    assert has_errors([f])
    assert not has_errors([dataclasses.replace(f, severity="warning")])
    assert not has_errors([])


def test_public_api_exposes_validate_and_load():
    # finrep.validate is also the module's name: the module itself is callable.
    findings = finrep.validate(PUBLISHED)
    assert [f.rule for f in findings] == [f.rule for f in validate(PUBLISHED)]
    assert finrep.load is load


def test_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="data folder not found"):
        validate(tmp_path / "nowhere")


def test_published_layout_gives_warnings_not_errors():
    findings = validate(PUBLISHED)
    assert not has_errors(findings)
    got = [(f.file, f.rule, f.row) for f in findings]
    # ENR0000002 is Active though retention.csv has its unrecovered churn on 2023-03-15, and its
    # balances go on to 2023-04-01 and 2023-05-01 (rows 8 and 9). The 1–2 cent drifts of the
    # published rounding (rows 3, 6, 7) are within the 5-cent tolerance.
    assert got == [
        ("enrollments.csv", "status-contradiction", 3),
        ("account_balances.csv", "balance-after-close", 8),
        ("account_balances.csv", "balance-after-close", 9),
    ]


def test_published_layout_loads_with_its_quirks():
    tables = load(PUBLISHED)
    statuses = tables["service_interactions"].resolution_status.execute().tolist()
    assert statuses == ["Unresolved", "Resolved", "Partially Resolved"]
    b = tables["account_balances"].order_by("balance_id").execute()
    assert b.date.astype(str).tolist()[:3] == ["2023-03-26", "2023-04-01", "2023-05-01"]
    assert tables["enrollments"].status.execute().tolist() == ["Active", "Active"]


def test_identity_tolerance_comes_from_config():
    config = load_config()
    strict = config.with_overrides(validate={"identity_tolerance": 0.005})
    rows = [f.row for f in validate(PUBLISHED, strict) if f.rule == "balance-identity"]
    # Drifts: row 3 is 1 cent (13084.73 − 474.92 − 5.80 = 12604.01, file 12604.00), row 6
    # 1 cent (10183.09 vs 10183.10) and row 7 2 cents (15070.29 vs 15070.27).
    assert rows == [3, 6, 7]


def test_listing_is_capped_with_a_more_line(case_data):
    data = case_data(None)
    lines = (data / "engagement.csv").read_text().splitlines()
    extra = [
        f"G{n:03d},C001,2024-03-02,Login,Fax Machine,3,1,0" for n in range(100, 130)
    ]  # 30 unknown devices
    (data / "engagement.csv").write_text("\n".join(lines + extra) + "\n")
    config = load_config().with_overrides(validate={"max_rows_per_rule": 4})
    findings = [f for f in validate(data, config) if f.rule == "unknown-value"]
    assert [f.row for f in findings] == [4, 5, 6, 7, None]
    assert findings[-1].message == "+26 more"
    assert findings[-1].severity == "warning" and findings[-1].column == "device_type"


def test_progress_reports_every_step(case_data):
    calls = []
    validate(case_data(None), progress=lambda step, done, total: calls.append((step, done, total)))
    assert calls[0] == ("validate", 0, 10)
    assert calls[-1] == ("validate", 10, 10)
    assert [d for _, d, _ in calls] == sorted(d for _, d, _ in calls)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("anna.martin@yahoo.com", "a***@***.com"),
        ("write to anna.martin@yahoo.com today", "write to a***@***.com today"),
        ("555-201-4821", "***-***-4821"),
        ("(555) 302-1234", "***-***-1234"),
        ("001-202-473-2787x585", "***-***-2787"),
        ("+1 555.404.9876", "***-***-9876"),
        ("3895842092", "***-***-2092"),
        # Not phone numbers: dates, amounts, ids.
        ("2024-03-31", "2024-03-31"),
        ("balance 1150.00 of C001/P01", "balance 1150.00 of C001/P01"),
        ("BAL00000001", "BAL00000001"),
    ],
)
def test_mask_pii(text, masked):
    assert mask_pii(text) == masked


def test_mask_columns():
    assert mask_email("ben.cole@example.com") == "b***@***.com"
    assert mask_email("not an address") == "***"
    assert mask_phone("001-202-473-2787x585") == "***-***-2787"
    assert mask_phone("12") == "***"
