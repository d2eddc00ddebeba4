"""Telling a restatement (one factor over the old-basis bars) from rounding wobble and revisions, on hand-built bars."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.restatement import StoredBars, compare_with_stored

# Mon 2026-02-02 .. Thu 2026-02-12: nine trading days (Tết closes 2026-02-16..20, so no holiday here).
DAYS = [date(2026, 2, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12)]
TS = np.array([daily_bar_ts(d) for d in DAYS], dtype=np.int64)
CLOSES = np.array([24.35, 24.6, 24.1, 23.85, 24.0, 24.55, 24.9, 25.2, 25.05])


def bars(closes: np.ndarray, ts: np.ndarray = TS) -> pd.DataFrame:
    c = np.round(closes, 2)
    return pd.DataFrame(
        {"ts": ts, "o": np.round(c - 0.1, 2), "h": np.round(c + 0.25, 2), "l": np.round(c - 0.3, 2), "c": c, "v": 1e5}
    )


def stored(frame: pd.DataFrame) -> StoredBars:
    return StoredBars.of_frame(frame)


def fetched(frame: pd.DataFrame, ticker: str = "VCB") -> BarSeries:
    return BarSeries("vci", ticker, "1d", frame.reset_index(drop=True))


def rescaled(frame: pd.DataFrame, factor: float, upto: int | None = None) -> pd.DataFrame:
    """The provider's new basis: prices of bars [0, upto) times factor, each rounded to the tick."""
    out = frame.copy()
    end = len(out) if upto is None else upto
    for k in "ohlc":
        out.loc[: end - 1, k] = np.round(out[k].to_numpy()[:end] * factor, 2)
    return out


def test_identical_bars_and_a_one_tick_wobble_are_the_same_basis() -> None:
    old = bars(CLOSES)
    assert compare_with_stored(stored(old), fetched(old)) is None
    wobble = old.copy()
    # Re-rounding moves a price by one tick (0.01 thousand VND) at most, on every bar.
    for k in "ohlc":
        wobble[k] = np.round(wobble[k] + np.where(np.arange(len(wobble)) % 2 == 0, 0.01, -0.01), 2)
    assert compare_with_stored(stored(old), fetched(wobble)) is None


def test_a_15_percent_stock_dividend_after_the_newest_stored_bar_is_detected() -> None:
    old = bars(CLOSES)
    factor = 1 / 1.15
    new = rescaled(old, factor)
    # The provider's series goes on to the ex-date, Fri 2026-02-13, a bar the platform does not have yet.
    new = pd.concat([new, bars(np.array([21.9]), np.array([daily_bar_ts(date(2026, 2, 13))]))], ignore_index=True)
    found = compare_with_stored(stored(old), fetched(new))
    assert found is not None
    assert found.factor == pytest.approx(factor, rel=2e-4)
    assert found.estimated_ex_date == date(2026, 2, 13), "every compared bar was on the old basis"
    assert (found.ticker, found.tf, found.source, found.detected_by) == ("VCB", "1d", "vci", "overlap")
    assert found.evidence["compared_bars"] == found.evidence["restated_bars"] == len(DAYS)
    first = found.evidence["bars"][0]
    assert first == {
        "ts": int(TS[0]), "bar": "2026-02-02", "stored_close": 24.35, "fetched_close": round(24.35 * factor, 2),
        "restated": True,
    }  # fmt: skip


def test_all_bars_restated_and_nothing_newer_takes_the_calendars_next_trading_day() -> None:
    old = bars(CLOSES)
    found = compare_with_stored(stored(old), fetched(rescaled(old, 0.5)))
    assert found is not None and found.factor == pytest.approx(0.5, rel=1e-3)
    assert found.estimated_ex_date == date(2026, 2, 13)
    anchor = compare_with_stored(stored(old), fetched(rescaled(old, 0.5)), detected_by="anchor")
    assert anchor is not None and anchor.estimated_ex_date is None, "an anchor cannot place the ex-date"


def test_an_overlap_straddling_the_ex_date_places_it_at_the_first_unchanged_bar() -> None:
    old = bars(CLOSES)
    # Stored bars from 2026-02-10 on were fetched after the ex-date, already on the new basis.
    new = rescaled(old, 1 / 1.2, upto=6)
    found = compare_with_stored(stored(old), fetched(new))
    assert found is not None
    assert found.factor == pytest.approx(1 / 1.2, rel=2e-4)
    assert found.estimated_ex_date == date(2026, 2, 10)
    assert found.evidence["restated_bars"] == 6
    assert found.evidence["bars"][-1] == {**found.evidence["bars"][-1], "bar": "2026-02-10", "restated": False}


def test_a_revised_single_bar_is_a_revision() -> None:
    old = bars(CLOSES)
    late_print = old.copy()
    late_print.loc[len(old) - 1, ["c", "h"]] = [25.4, 25.4]
    assert compare_with_stored(stored(old), fetched(late_print)) is None
    # Even a bar rescaled whole is a revision when it is alone: the bars after it did not move.
    lone = rescaled(old, 0.9, upto=1)
    assert compare_with_stored(stored(old), fetched(lone)) is None
    middle = old.copy()
    for k in "ohlc":
        middle.at[4, k] = round(float(middle[k].iloc[4]) * 0.9, 2)
    assert compare_with_stored(stored(old), fetched(middle)) is None


def test_bars_that_changed_by_different_ratios_are_revisions() -> None:
    old = bars(CLOSES)
    # Bar 0 at 0.855, bars 1 and 2 at 0.9: the old-basis bars do not agree on one factor.
    new = rescaled(rescaled(old, 0.9, upto=3), 0.95, upto=1)
    assert compare_with_stored(stored(old), fetched(new)) is None
    mixed = old.copy()
    mixed.at[0, "c"] = round(float(mixed["c"].iloc[0]) * 0.9, 2)  # only the close moved: no one ratio for the bar
    mixed.at[0, "l"] = min(float(mixed["l"].iloc[0]), float(mixed["c"].iloc[0]))
    assert compare_with_stored(stored(old), fetched(mixed)) is None


def test_the_newest_bar_in_progress_does_not_hide_a_restatement() -> None:
    old = bars(CLOSES)
    # A tick on the ex-date: the stored bars before it are on the old basis, today's stored bar
    # is on the new one but has moved since (it is still trading).
    new = rescaled(old, 1 / 1.1, upto=len(old) - 1)
    new.loc[len(old) - 1, ["h", "c"]] = [25.6, 25.5]
    found = compare_with_stored(stored(old), fetched(new))
    assert found is not None and found.estimated_ex_date == date(2026, 2, 12)


def test_indices_are_never_restated_and_nothing_compared_is_nothing_found() -> None:
    old = bars(CLOSES * 50)
    assert compare_with_stored(stored(old), fetched(rescaled(old, 0.5), "VNINDEX")) is None
    later = bars(CLOSES, TS + 30 * 86_400_000)
    assert compare_with_stored(stored(bars(CLOSES)), fetched(later)) is None
    assert compare_with_stored(stored(bars(CLOSES)[:0]), fetched(bars(CLOSES))) is None
