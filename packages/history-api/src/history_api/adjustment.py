"""The two price bases a series is served on, and the relation each (basis, timeframe) reads its bars from.

`adjusted` reads the candle hypertables as stored.  `raw` reads relations with the same columns
(`sql/raw_daily_bars.sql`, `sql/raw_intraday_bars.sql`), so every bar query of the API runs
unchanged on either basis: its `{table}` becomes the hypertable or the parenthesized relation.
"""

from __future__ import annotations

from functools import cache
from typing import Final, Literal, get_args

from vietmarket_core.market import CANDLE_TABLES, TIMEFRAMES, Timeframe
from vietmarket_core.sqlfiles import load_sql, timeframe_sql

Adjustment = Literal["adjusted", "raw"]
ADJUSTMENTS: Final[tuple[Adjustment, ...]] = get_args(Adjustment)
PACKAGE: Final = "history_api"

DESCRIPTION: Final = (
    "Price basis of the bars. `adjusted` (the default; the response is byte for byte the one without "
    "this parameter): the stored series, back-adjusted by the provider for splits, stock dividends and "
    "bonus shares as of its latest fetch. `raw`: the traded prices. Raw daily bars (1d, and W/M built "
    "from them) are VNDirect finfo's daily prices as traded: open, high, low, close, and v = the "
    "order-matching volume in shares (put-through deals excluded); source is finfo, and a date finfo "
    "has no row for has no raw bar. Raw intraday bars (1h, 15m) are the adjusted bars un-adjusted by "
    "the cumulative factor of their trading date d (Asia/Ho_Chi_Minh): raw = adjusted / cumfactor(d), "
    "where cumfactor(d) is the product of `factor` over the ticker's corporate actions derived from "
    "finfo (GET /corporate-actions/by-ticker, source finfo) whose ex_date is after d, and 1 when there "
    "is none. Un-adjusted prices are rounded to 0.01 thousand VND (10 VND, the smallest tick); a bar "
    "with cumfactor 1 is returned exactly as stored, and v is never changed (providers adjust prices, "
    "not share counts). Cash dividends are adjusted for in neither basis. ts keeps its one meaning."
)


def _inline(sql: str) -> str:
    """A relation's statement on one line, its comments dropped: it may land inside a `--` comment."""
    lines = (line.strip() for line in sql.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("--"))


def _relation(adjustment: Adjustment, tf: Timeframe) -> str:
    table = f'"{CANDLE_TABLES[tf]}"'
    if adjustment == "adjusted":
        return table
    if tf == "1d":
        return f"({_inline(load_sql(PACKAGE, 'sql/raw_daily_bars.sql'))})"
    return f"({_inline(load_sql(PACKAGE, 'sql/raw_intraday_bars.sql').format(table=table))})"


@cache
def basis_sql(name: str) -> dict[tuple[Adjustment, Timeframe], str]:
    """The statement `name` for every (basis, timeframe); the adjusted ones are timeframe_sql's text."""
    adjusted = timeframe_sql(PACKAGE, name)
    text = load_sql(PACKAGE, name)
    out: dict[tuple[Adjustment, Timeframe], str] = {}
    for tf in TIMEFRAMES:
        out["adjusted", tf] = adjusted[tf]
        out["raw", tf] = text.format(table=_relation("raw", tf))
    return out


def etag_salt(adjustment: Adjustment) -> bytes:
    """What the ETag of a page on this basis hashes besides its body: nothing for adjusted (unchanged ETags)."""
    return b"" if adjustment == "adjusted" else adjustment.encode() + b"\x00"
