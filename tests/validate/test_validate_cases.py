"""One fixture folder per bad-input case (RELIABILITY.md, Input files): `finrep validate --format
json` lists exactly the expected findings (file, rule, severity, row, column) and exits 1 when
there is an error, 0 when there are only warnings or nothing.

Rows are record numbers with the header as row 1; expected values were worked out by hand from
the fixture files.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app

E, W = "error", "warning"

CASES: dict[str, list[tuple[str, str, str, int | None, str | None]]] = {
    # files and headers
    "missing_file": [("engagement.csv", "missing-file", E, None, None)],
    "empty_file": [("customers.csv", "empty-file", E, None, None)],
    "header_only": [("service_interactions.csv", "no-rows", W, None, None)],
    "header_only_core": [
        ("products.csv", "no-rows", E, None, None),
        *[("enrollments.csv", "orphan-key", E, r, "product_id") for r in (2, 3, 4)],
        *[("account_balances.csv", "orphan-key", E, r, "product_id") for r in range(2, 9)],
        *[("retention.csv", "orphan-key", E, r, "product_id") for r in (2, 3)],
    ],
    "missing_column": [
        ("customers.csv", "missing-column", E, None, "birth_date"),
        ("customers.csv", "extra-column", W, None, "birthdate"),
    ],
    "misspelt_column": [
        ("customers.csv", "missing-column", E, None, "address_state"),
        ("customers.csv", "extra-column", W, None, "adress_state"),
    ],
    "duplicate_header": [("products.csv", "duplicate-column", E, None, "risk_level")],
    "extra_column": [("advisors.csv", "extra-column", W, None, "notes")],
    "wrong_delimiter": [("advisors.csv", "wrong-delimiter", E, 1, None)],
    "malformed_rows": [
        ("engagement.csv", "malformed-row", E, 4, None),
        ("engagement.csv", "malformed-row", E, 5, None),
    ],
    # encodings and layouts that load cleanly
    "bom_crlf": [],
    "latin1": [("customers.csv", "encoding", W, None, None)],
    "semicolon_tab": [],
    "quoted_newlines": [("advisors.csv", "invalid-value", E, 3, "years_experience")],
    # dates
    "mixed_dates": [("customers.csv", "mixed-date-formats", E, 3, "birth_date")],
    "alt_date_format": [],
    "ambiguous_dates": [("market_data.csv", "ambiguous-date", E, None, "date")],
    "bad_date": [("engagement.csv", "invalid-value", E, 3, "date")],
    # keys
    "duplicate_key": [("customers.csv", "duplicate-key", E, 5, "customer_id")],
    "orphan_keys": [
        ("enrollments.csv", "orphan-key", E, 5, "customer_id"),
        ("account_balances.csv", "orphan-key", E, 9, "customer_id, product_id"),
        ("engagement.csv", "orphan-key", E, 4, "customer_id"),
    ],
    # values
    "unknown_values": [
        ("customers.csv", "unknown-value", E, 2, "customer_segment"),
        ("engagement.csv", "unknown-value", W, 2, "device_type"),
    ],
    "out_of_range": [
        ("customers.csv", "date-before-1900", W, 4, "birth_date"),
        ("service_interactions.csv", "out-of-range", W, 2, "satisfaction_score"),
        ("engagement.csv", "future-date", W, 3, "date"),
    ],
    "numbers": [
        ("products.csv", "missing-value", E, 3, "management_fee_fixed"),
        ("products.csv", "invalid-value", E, 3, "min_investment"),
        ("products.csv", "invalid-value", E, 3, "annual_fee_percentage"),
    ],
    "negative_balance": [
        ("account_balances.csv", "out-of-range", W, 5, "balance"),
        ("account_balances.csv", "balance-identity", W, 6, "balance"),
        ("account_balances.csv", "balance-identity", W, 5, "balance"),
    ],
    # balances and status
    "identity_broken": [("account_balances.csv", "balance-identity", W, 3, "balance")],
    "after_close": [("account_balances.csv", "balance-after-close", W, 7, "date")],
    "month_gap": [("account_balances.csv", "month-gap", W, 3, "date")],
    "status_contradiction": [("enrollments.csv", "status-contradiction", W, 3, "status")],
    # A second enrollment of C001/P01 in March adds 200.00 of new money to March's balance.
    "reenrolled": [],
    "reenrolled_missing_money": [("account_balances.csv", "balance-identity", W, 4, "balance")],
    "unsorted_balances": [
        ("account_balances.csv", "balance-identity", W, 3, "balance"),
        ("account_balances.csv", "balance-identity", W, 7, "balance"),
    ],
    "pii_values": [
        ("customers.csv", "unknown-value", E, 2, "customer_segment"),
        ("customers.csv", "unknown-value", E, 3, "address_state"),
    ],
}


def run_json(data) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        app,
        ["validate", "--data", str(data), "--format", "json"],
        env={"NO_COLOR": "1", "COLUMNS": "120"},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_findings_and_exit_code(case, case_data):
    code, findings = run_json(case_data(case))
    got = [(f["file"], f["rule"], f["severity"], f["row"], f["column"]) for f in findings]
    assert got == CASES[case]
    expected_code = 1 if any(sev == E for _, _, sev, _, _ in CASES[case]) else 0
    assert code == expected_code
    for f in findings:
        # Every message names its file, and its row when there is one.
        assert f["message"].startswith(f["file"])
        if f["row"] is not None and f["rule"] != "wrong-delimiter":
            assert f"row {f['row']}" in f["message"]


def test_clean_base_has_no_findings(case_data):
    code, findings = run_json(case_data(None))
    assert (code, findings) == (0, [])


def test_findings_carry_the_value_as_found(case_data):
    _, findings = run_json(case_data("numbers"))
    values = {(f["column"], f["value"]) for f in findings}
    assert ("min_investment", "1.500,00") in values
    assert ("annual_fee_percentage", "inf") in values
    _, findings = run_json(case_data("mixed_dates"))
    assert findings[0]["value"] == "04/01/1994"
    assert "YYYY-MM-DD" in findings[0]["message"]


def test_missing_column_message_lists_what_was_found(case_data):
    _, findings = run_json(case_data("missing_column"))
    message = findings[0]["message"]
    assert "missing column `birth_date`" in message
    assert "found: customer_id, first_name, last_name, birthdate" in message
    assert "rename `birthdate` to `birth_date`" in message


def test_personal_data_is_masked_in_values_and_messages(case_data):
    _, findings = run_json(case_data("pii_values"))
    segment, state = findings
    assert segment["value"] == "a***@***.com"
    assert "ada.byrne" not in segment["message"] and "a***@***.com" in segment["message"]
    assert state["value"] == "***-***-1234"
    assert "302-1234" not in state["message"]


def test_identity_message_shows_the_arithmetic(case_data):
    _, findings = run_json(case_data("identity_broken"))
    (f,) = findings
    # 1045.50 + 50.00 − 0.00 + 16.25 − 1.50 = 1110.25; the file says 1110.35.
    assert f["value"] == "1110.35"
    assert "should be 1110.25" in f["message"] and "off by 0.10" in f["message"]
    assert "row 2" in f["message"]  # the previous row of the position


@pytest.mark.parametrize(
    "case",
    ["identity_broken", "month_gap", "after_close", "unsorted_balances", "duplicate_key",
     "orphan_keys", "malformed_rows", "reenrolled_missing_money", "negative_balance"],
)  # fmt: skip
def test_parallel_record_ranges_find_the_same(case, case_data, monkeypatch):
    """Large tables are scanned as parallel record ranges; forced on tiny files, the findings
    are the same as from one scan (rows at the cut see their neighbours)."""
    import finrep.validate as validate_module
    from finrep.validate import validate

    data = case_data(case)
    whole = validate(data)
    monkeypatch.setattr(validate_module, "_SPLIT_ROWS", 2)
    monkeypatch.setattr(validate_module._Run, "threads", lambda self: 3)
    split = []
    ranges = validate_module._Run.ranges

    def counted(self, *args, **kwargs):
        found = ranges(self, *args, **kwargs)
        split.append(len(found))
        return found

    monkeypatch.setattr(validate_module._Run, "ranges", counted)
    assert validate(data) == whole
    assert max(split, default=0) >= 2  # some table really was scanned in several ranges
