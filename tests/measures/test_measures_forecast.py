"""AUM forecast: damped-trend exponential smoothing (statsmodels ETS), intervals, back-test."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from finrep.measures.forecast import FRAME_COLUMNS, forecast_aum


def monthly(values, start="2022-01-01") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="MS")
    return pd.Series(np.asarray(values, dtype=float), index=index)


def zigzag_line(n: int) -> np.ndarray:
    """1,000,000 + 10,000 a month, ± 3,000 alternating: a trend any sane model follows."""
    t = np.arange(n)
    return 1_000_000 + 10_000 * t + np.where(t % 2, 3_000, -3_000)


def test_frame_layout_and_joined_lines():
    history = monthly(zigzag_line(24))
    f = forecast_aum(history, horizon=6, backtest=6, min_history=12)
    frame = f.frame
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert len(frame) == 24 + 6
    expected_x = pd.date_range("2022-01-01", periods=30, freq="MS")
    assert pd.to_datetime(frame["x"]).tolist() == expected_x.tolist()
    assert frame["actual"].iloc[:24].tolist() == history.tolist()
    assert frame["actual"].iloc[24:].isna().all()
    assert frame["forecast"].iloc[:23].isna().all()
    # The last actual month carries the forecast (and the bands) so the lines join.
    last = frame.iloc[23]
    assert last["forecast"] == last["actual"] == last["lo95"] == last["hi95"]
    assert frame["forecast"].iloc[24:].notna().all()


def test_forecast_follows_the_trend_with_nested_widening_bands():
    f = forecast_aum(monthly(zigzag_line(24)), horizon=6, backtest=6, min_history=12)
    ahead = f.frame.iloc[24:]
    linear = 1_000_000 + 10_000 * np.arange(24, 30)  # undamped continuation
    # Damped trend: a little under the straight line, never far from it.
    assert ahead["forecast"].to_numpy() == pytest.approx(linear, rel=0.02)
    assert (ahead["forecast"].diff().iloc[1:] > 0).all()
    assert (ahead["lo95"] <= ahead["lo80"]).all()
    assert (ahead["lo80"] <= ahead["forecast"]).all()
    assert (ahead["forecast"] <= ahead["hi80"]).all()
    assert (ahead["hi80"] <= ahead["hi95"]).all()
    width = (ahead["hi95"] - ahead["lo95"]).to_numpy()
    assert (np.diff(width) > 0).all()


def test_matches_statsmodels_ets_damped_trend_fitted_directly():
    """Same model as an ETS(A,Ad,N) fitted straight on the raw values (an independent fit)."""
    y = zigzag_line(24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True).fit(disp=False)
        pred = result.get_prediction(start=24, end=29)
        s80, s95 = pred.summary_frame(alpha=0.2), pred.summary_frame(alpha=0.05)
    ahead = forecast_aum(monthly(y), 6, 6, 12).frame.iloc[24:]
    assert ahead["forecast"].to_numpy() == pytest.approx(s80["mean"].to_numpy(), rel=1e-3)
    assert ahead["hi80"].to_numpy() == pytest.approx(s80["pi_upper"].to_numpy(), rel=1e-3)
    assert ahead["lo95"].to_numpy() == pytest.approx(s95["pi_lower"].to_numpy(), rel=1e-3)


def test_mape_is_the_backtest_of_the_refitted_model():
    y = zigzag_line(24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ETSModel(pd.Series(y[:18]), error="add", trend="add", damped_trend=True).fit(
            disp=False
        )
        predicted = result.forecast(6).to_numpy()
    expected = float(np.mean(np.abs(y[18:] - predicted) / y[18:]))
    f = forecast_aum(monthly(y), horizon=6, backtest=6, min_history=12)
    assert f.mape == pytest.approx(expected, rel=1e-2)
    assert 0 <= f.mape < 0.01
    assert f"{f.mape * 100:.1f}%" in f.note and "last 6 months" in f.note


def test_constant_history_forecasts_the_constant_with_zero_mape():
    f = forecast_aum(monthly([500_000.0] * 18), horizon=3, backtest=6, min_history=12)
    assert f.frame["forecast"].iloc[18:].tolist() == pytest.approx([500_000.0] * 3)
    assert f.mape == pytest.approx(0.0)


def test_too_little_history_gives_no_forecast_and_says_why():
    f = forecast_aum(monthly(zigzag_line(11)), horizon=6, backtest=6, min_history=12)
    assert f.mape is None and not f.has_forecast
    assert "11 months" in f.note and "12" in f.note
    assert len(f.frame) == 11 and f.frame["forecast"].isna().all()
    assert tuple(f.frame.columns) == FRAME_COLUMNS


def test_exactly_min_history_forecasts():
    f = forecast_aum(monthly(zigzag_line(12)), horizon=6, backtest=6, min_history=12)
    assert f.has_forecast and len(f.frame) == 18
    assert f.mape is not None  # fitted on 6 months, scored on 6


def test_short_backtest_fit_gives_no_mape_but_a_forecast():
    f = forecast_aum(monthly(zigzag_line(8)), horizon=2, backtest=6, min_history=6)
    assert f.has_forecast and f.mape is None
    assert "No back-test" in f.note


def test_missing_month_gives_no_forecast():
    history = monthly(zigzag_line(20)).drop(pd.Timestamp("2022-06-01"))
    f = forecast_aum(history, horizon=6, backtest=6, min_history=12)
    assert not f.has_forecast and "2022-06" in f.note


def test_accepts_dates_unsorted_and_any_day_of_month():
    y = zigzag_line(15)
    index = [d.date().replace(day=28) for d in pd.date_range("2023-01-01", periods=15, freq="MS")]
    shuffled = pd.Series(y, index=index).iloc[::-1]
    f = forecast_aum(shuffled, horizon=2, backtest=6, min_history=12)
    assert pd.to_datetime(f.frame["x"]).iloc[0] == pd.Timestamp("2023-01-01")
    assert f.frame["actual"].iloc[:15].tolist() == y.tolist()
    assert f.has_forecast


def test_deterministic_and_warnings_stay_local():
    history = monthly(1e9 * np.cumprod(1 + np.random.default_rng(7).normal(0.01, 0.02, 40)))
    filters_before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any statsmodels warning leaking out would raise
        a = forecast_aum(history, 6, 6, 12)
    b = forecast_aum(history, 6, 6, 12)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.mape == b.mape and a.note == b.note
    assert list(warnings.filters) == filters_before
    assert (a.frame[["lo80", "lo95"]].dropna() >= 0).all().all()


def test_model_is_imported_on_a_side_thread():
    """A fresh interpreter: the side thread loads the model module, and a forecast after it
    works (the import lock hands the loaded module over)."""
    code = (
        "import sys, threading\n"
        "from finrep.measures import forecast as f\n"
        "assert f._MODEL_MODULE not in sys.modules\n"
        "f.import_model_in_background()\n"
        "threads = [t for t in threading.enumerate() if t.name == 'finrep-import-model']\n"
        "assert len(threads) == 1, threads\n"
        "threads[0].join(120)\n"
        "assert f._MODEL_MODULE in sys.modules\n"
        "f.import_model_in_background()  # loaded: no second thread\n"
        "assert not [t for t in threading.enumerate() if t.name == 'finrep-import-model']\n"
        "import pandas as pd\n"
        "h = pd.Series([100.0 + 3 * i for i in range(24)],\n"
        "              index=pd.date_range('2022-01-01', periods=24, freq='MS'))\n"
        "fc = f.forecast_aum(h, horizon=3, backtest=6, min_history=12)\n"
        "assert fc.frame['forecast'].notna().sum() == 4, fc.frame\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
