"""The DataFrames the client returns: one column set and one index meaning, whether the bars came as JSON or Parquet.

Index `ts`: tz-aware, Asia/Ho_Chi_Minh.  A 1d bar is shown at 00:00 ICT of its trading date (the
API's ts is 00:00 UTC of that date, which would show as 07:00 ICT: the client moves it, so
`df.index.date` is the trading date); an intraday bar at the instant of its open (09:15 ICT is
the 09:15 bar).  Columns: o, h, l, c float64 (thousands of VND; indices in points), v Int64
(whole shares; <NA> when the provider gave none, as for indices), source, pandas' string dtype
(the provider the bar came from).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from vietmarket_client.times import DAILY, VN_TZ

PRICES: Final = ("o", "h", "l", "c")
COLUMNS: Final = (*PRICES, "v", "source")


def bar_index(ts_ms: Sequence[int] | np.ndarray[Any, np.dtype[np.int64]], tf: str) -> pd.DatetimeIndex:
    """The `ts` index for the API's unix ms stamps of timeframe `tf` (see the module docstring)."""
    instants = pd.DatetimeIndex(pd.to_datetime(np.asarray(ts_ms, dtype=np.int64), unit="ms", utc=True))
    if tf == DAILY:
        # 00:00 UTC of the trading date, as a wall clock, is that date's 00:00 in Asia/Ho_Chi_Minh.
        return instants.tz_localize(None).tz_localize(VN_TZ).rename("ts")
    return instants.tz_convert(VN_TZ).rename("ts")


def _frame(columns: Mapping[str, Any], tf: str) -> pd.DataFrame:
    data: dict[str, Any] = {name: np.asarray(columns[name], dtype=np.float64) for name in PRICES}
    data["v"] = pd.array(columns["v"], dtype="Int64")
    # pandas' "string" dtype: the same on pandas 2 and 3, and <NA> for a missing source as for v.
    data["source"] = pd.array(list(columns["source"]), dtype="string")
    frame = pd.DataFrame(data, index=bar_index(columns["ts"], tf))
    if "ticker" not in columns:
        return frame
    frame.insert(0, "ticker", list(columns["ticker"]))
    return frame.set_index("ticker", append=True).reorder_levels(["ticker", "ts"])


def from_rows(rows: Iterable[Mapping[str, Any]], tf: str, *, with_ticker: bool) -> pd.DataFrame:
    """Bars from the API's JSON rows (`/candles/bulk`), in the order given."""
    names = ("ticker", "ts", *COLUMNS) if with_ticker else ("ts", *COLUMNS)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name in names:
            columns[name].append(row[name])
    return _frame(columns, tf)


def from_arrow(table: pa.Table, tf: str) -> pd.DataFrame:
    """Bars from /export's Parquet columns (ticker, ts, o, h, l, c, v, source), indexed (ticker, ts)."""
    columns = {name: table.column(name).to_pylist() for name in ("ticker", "source", "v")}
    columns |= {name: table.column(name).to_numpy() for name in ("ts", *PRICES)}
    return _frame(columns, tf)
