"""AUM forecast (MEASURES.md, Forecast): exponential smoothing with an additive damped trend.

The model is statsmodels' ETS(A,Ad,N): additive errors, additive damped trend, no season.
Its prediction intervals are analytic and its fit starts from fixed values, so the forecast
is deterministic.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finrep.pack import Definition

FRAME_COLUMNS = ("x", "actual", "forecast", "lo80", "hi80", "lo95", "hi95")

_MODEL_MODULE = "statsmodels.tsa.exponential_smoothing.ets"

# ETS(A,Ad,N) estimates five numbers (alpha, beta, phi, initial level and trend): a
# back-test fitted on fewer months than that says nothing, so no MAPE is given.
MIN_BACKTEST_FIT = 6

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "aum_forecast",
        "AUM forecast",
        "Exponential smoothing with an additive damped trend fitted to month-end AUM up to "
        "the period end, projected forward with 80% and 95% prediction intervals.",
    ),
    Definition(
        "forecast_mape",
        "Forecast accuracy (MAPE)",
        "Mean absolute percentage error of the same model refitted without the last months "
        "of history and scored on those months.",
    ),
)


@dataclass(frozen=True, eq=False)
class Forecast:
    """`frame` has the columns of the pack's 'forecast' kind: x (month start), actual,
    forecast, lo80, hi80, lo95, hi95 — history rows first (forecast set on the last one so
    the lines join), then the forecast months. `mape` is a share (0.023 = 2.3%) or None.
    `note` says in one sentence what was done, or why there is no forecast."""

    frame: pd.DataFrame
    mape: float | None
    note: str

    @property
    def has_forecast(self) -> bool:
        return bool(self.frame["forecast"].notna().any()) if len(self.frame) else False


def _clean_history(history: pd.Series) -> tuple[pd.Series, str]:
    """Month-start index, sorted, one value per month, leading/trailing blanks dropped.

    Returns the series and a reason it cannot be used ("" when it can).
    """
    index = history.index
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    s = pd.Series(pd.to_numeric(history, errors="coerce").to_numpy(dtype="float64"))
    s.index = pd.DatetimeIndex(pd.to_datetime(index)).to_period("M").to_timestamp()
    s = s.sort_index()
    if s.index.has_duplicates:
        return s, "AUM history has more than one value for a month"
    valid = s.notna() & np.isfinite(s)
    if not valid.any():
        return s.iloc[0:0], ""
    s = s.loc[valid.idxmax() : valid[::-1].idxmax()]
    expected = pd.date_range(s.index[0], s.index[-1], freq="MS")
    missing = expected.difference(s.index)
    if len(missing) or s.isna().any():
        gaps = missing.union(s.index[s.isna()])
        return s, "AUM history has missing months (" + ", ".join(f"{m:%Y-%m}" for m in gaps[:3]) + (
            ", …" if len(gaps) > 3 else ""
        ) + ")"
    return s, ""


def import_model_in_background() -> None:
    """Start importing the forecast's model (statsmodels and the scipy it loads, about a
    CPU-second of Python) on a side thread, so that it runs while the engine computes the
    KPIs: the engine releases the interpreter during its queries, and the pages' forecast
    then finds the module loaded. The import lock makes a later import wait for this one;
    should it fail, that later import fails the same way and is reported there."""
    if _MODEL_MODULE in sys.modules:
        return
    threading.Thread(target=_import_model, name="finrep-import-model", daemon=True).start()


def _import_model() -> None:
    with contextlib.suppress(Exception):  # the forecast's own import reports it
        importlib.import_module(_MODEL_MODULE)


def _fit_predict(values: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Forecast `horizon` steps with ETS(A,Ad,N): mean and 80%/95% bounds (original scale).

    The likelihood has local optima and statsmodels' optimiser is sensitive to the scale of
    the data (AUM runs to billions), so the model is fitted twice — on the raw values and on
    values scaled to mean 1 — and the fit with the higher likelihood in original units wins.
    The model is scale-equivariant, so either fit's forecast is scaled straight back.
    """
    ETSModel = importlib.import_module(
        _MODEL_MODULE
    ).ETSModel  # what import_model_in_background warms

    n = len(values)
    mean = float(np.mean(np.abs(values)))
    best = None
    with warnings.catch_warnings():
        # Convergence and start-value chatter from statsmodels is not the user's concern;
        # silenced here only, never process-wide.
        warnings.simplefilter("ignore")
        for scale in dict.fromkeys((1.0, mean or 1.0)):
            # A Series with a plain integer index: statsmodels' prediction results need an
            # index, and integer positions avoid any date-frequency inference.
            endog = pd.Series(values / scale)
            model = ETSModel(endog, error="add", trend="add", damped_trend=True, seasonal=None)
            try:
                result = model.fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - degenerate data
                continue
            llf = float(result.llf) - n * np.log(scale)  # log-likelihood of the raw values
            if np.isfinite(llf) and (best is None or llf > best[0]):
                best = (llf, scale, result)
        if best is None:  # pragma: no cover - every fit failed
            raise ValueError("exponential smoothing could not be fitted")
        _, scale, result = best
        prediction = result.get_prediction(start=n, end=n + horizon - 1)
        f80 = prediction.summary_frame(alpha=0.20)
        f95 = prediction.summary_frame(alpha=0.05)
    out = {
        "forecast": f80["mean"].to_numpy(),
        "lo80": f80["pi_lower"].to_numpy(),
        "hi80": f80["pi_upper"].to_numpy(),
        "lo95": f95["pi_lower"].to_numpy(),
        "hi95": f95["pi_upper"].to_numpy(),
    }
    return {k: v * scale for k, v in out.items()}


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    keep = actual != 0
    if not keep.any():
        return None
    return float(np.mean(np.abs((actual[keep] - predicted[keep]) / actual[keep])))


def _frame(history: pd.Series, future: pd.DatetimeIndex | None, fc: dict | None) -> pd.DataFrame:
    hist = pd.DataFrame({"x": history.index, "actual": history.to_numpy(dtype="float64")})
    for column in FRAME_COLUMNS[2:]:
        hist[column] = np.nan
    if fc is None or future is None:
        return hist.reset_index(drop=True)
    last = hist.index[-1]
    for column in FRAME_COLUMNS[2:]:
        hist.loc[last, column] = hist.loc[last, "actual"]  # lines (and bands) join here
    ahead = pd.DataFrame({"x": future, "actual": np.nan, **fc})
    frame = pd.concat([hist, ahead], ignore_index=True)[list(FRAME_COLUMNS)]
    frame["x"] = pd.to_datetime(frame["x"])
    return frame


def forecast_aum(history: pd.Series, horizon: int, backtest: int, min_history: int) -> Forecast:
    """Forecast monthly AUM `horizon` months past the last month of `history`.

    `history`: month-end AUM indexed by month (dates or timestamps; any day of the month),
    one value per month up to E. Every history month is kept in the frame (callers trim it to
    the trend window). Lower bounds are clipped at 0 (AUM cannot be negative).
    With fewer than `min_history` months, or gaps in the months, there is no forecast and
    `note` says why. `mape`: the model refitted without the last `backtest` months, scored on
    them (None when `backtest` is 0 or too little history would be left to fit).
    """
    series, problem = _clean_history(history)
    n = len(series)
    if problem:
        return Forecast(_frame(series, None, None), None, f"No forecast: {problem}.")
    if n < max(min_history, 1) or horizon < 1:
        why = (
            f"No forecast: only {n} month{'s' if n != 1 else ''} of AUM history "
            f"(at least {min_history} needed)."
            if horizon >= 1
            else "No forecast: the forecast horizon is 0 months."
        )
        return Forecast(_frame(series, None, None), None, why)

    # Fitted on whole cents: a sum's last bits depend on the engine's summation order, and
    # the optimiser can amplify a 1e-16 difference into dollars of forecast; cents make the
    # same data give the same forecast on every engine and split.
    values = series.to_numpy(dtype="float64").round(2)
    fc = _fit_predict(values, horizon)
    for column in ("lo80", "lo95", "forecast"):
        fc[column] = np.maximum(fc[column], 0.0)
    future = pd.date_range(series.index[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")

    mape = None
    if backtest >= 1 and n - backtest >= MIN_BACKTEST_FIT:
        held_out = values[-backtest:]
        mape = _mape(held_out, _fit_predict(values[:-backtest], backtest)["forecast"])
    note = (
        f"Damped-trend exponential smoothing on {n} months of AUM, {horizon} months ahead "
        f"with 80% and 95% intervals."
    )
    if mape is not None:
        note += f" Back-test MAPE {mape * 100:.1f}% over the last {backtest} months."
    elif backtest >= 1:
        note += (
            f" No back-test: {n - backtest} months would be left to fit "
            f"(at least {MIN_BACKTEST_FIT} needed)."
        )
    return Forecast(_frame(series, future, fc), mape, note)
