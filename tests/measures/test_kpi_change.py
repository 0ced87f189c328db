"""Changes of a KPI: value − base, and the percentage only against a base that is not zero
(for money: not under half a cent, which is rounding noise)."""

from __future__ import annotations

import pytest

from finrep.measures.kpis import make_kpi


def test_percentage_change_against_previous_and_last_year():
    kpi = make_kpi("aum", 110.0, 100.0, 80.0)
    assert kpi.change == pytest.approx(10.0)
    assert kpi.change_pct == pytest.approx(0.10)
    assert kpi.change_ly == pytest.approx(30.0)
    assert kpi.change_ly_pct == pytest.approx(0.375)


def test_money_base_under_half_a_cent_has_no_percentage():
    # A reconciliation residual of 1e-10 (float noise) must not give "+100%".
    kpi = make_kpi("reconciliation_residual", 2e-10, 1e-10, -0.004)
    assert kpi.change == pytest.approx(1e-10)
    assert kpi.change_pct is None
    assert kpi.change_ly_pct is None
    assert make_kpi("reconciliation_residual", 0.02, 0.01, None).change_pct == pytest.approx(1.0)


def test_rates_keep_small_bases():
    kpi = make_kpi("retention_rate", 0.002, 0.001, None)
    assert kpi.change_pct == pytest.approx(1.0)
    assert make_kpi("retention_rate", 0.5, 0.0, None).change_pct is None
