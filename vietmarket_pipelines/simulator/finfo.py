"""VNDirect finfo's daily prices on the simulated market: `/v4/stock_prices` and `/v4/vnmarket_prices`.

Queries look like ``q=code:VCB~date:gte:2024-01-01~date:lte:2024-12-31`` (``code:`` may list several
codes separated by commas), ``sort=date`` (oldest first; ``date:desc`` or ``-date`` for newest
first), ``size`` (default 20) and ``page`` (from 1).  The envelope is ``{data, currentPage, size,
totalElements, totalPages}``.  A stock row carries the raw prices, the adjusted ones as of the
simulator's today (``adOpen`` …, see series.py), the day's ``basicPrice`` (reference),
``ceilingPrice`` and ``floorPrice``, and the order-matching and put-through volumes and values.

Payload faults (route ``finfo-prices``; see faults.py): ``short_page`` serves the first half of the
page's rows with the totals unchanged; ``missing_adclose`` drops ``adClose`` from the page's last
row; ``band_violation`` puts the page's last row's raw ``high`` one tick above its ``ceilingPrice``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from vietmarket_pipelines.simulator.actions import seed_of
from vietmarket_pipelines.simulator.market import Bars, SimulatedMarket
from vietmarket_pipelines.simulator.rules import tick_vnd

Row = dict[str, Any]
DAY_ROW_TIME = "15:00:00"
STOCK_FIELDS = (
    ("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("average", "avg"),
    ("adOpen", "ad_o"), ("adHigh", "ad_h"), ("adLow", "ad_l"), ("adClose", "ad_c"), ("adAverage", "ad_avg"),
    ("basicPrice", "ref"), ("ceilingPrice", "ceiling"), ("floorPrice", "floor"),
    ("nmVolume", "v"), ("nmValue", "value"), ("change", "change"), ("adChange", "ad_change"),
    ("pctChange", "pct"),
)  # fmt: skip
INDEX_FIELDS = (
    ("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("change", "change"), ("pctChange", "pct"),
    ("accumulatedVol", "v"), ("accumulatedVal", "value"), ("nmVolume", "v"), ("nmValue", "value"),
    ("advances", "advances"), ("declines", "declines"), ("noChange", "no_change"),
    ("ceilingStocks", "ceiling_stocks"), ("floorStocks", "floor_stocks"),
)  # fmt: skip


@dataclass(frozen=True)
class FinfoQuery:
    codes: tuple[str, ...]
    gte: date | None
    lte: date | None
    descending: bool
    size: int
    page: int

    @classmethod
    def parse(cls, query: dict[str, list[str]]) -> FinfoQuery:
        codes: tuple[str, ...] = ()
        gte = lte = None
        for term in query.get("q", [""])[0].split("~"):
            field, _, rest = term.partition(":")
            if field == "code":
                codes = tuple(c for c in rest.split(",") if c)
            elif field == "date":
                op, _, value = rest.partition(":")
                if op not in ("gte", "lte"):
                    raise ValueError(f"unknown date operator {op!r}")
                gte, lte = (date.fromisoformat(value), lte) if op == "gte" else (gte, date.fromisoformat(value))
            elif term:
                raise ValueError(f"unknown query term {term!r}")
        sort = query.get("sort", ["date"])[0]
        if sort not in ("date", "date:asc", "date:desc", "-date"):
            raise ValueError(f"unknown sort {sort!r}")
        size, page = int(query.get("size", ["20"])[0]), int(query.get("page", ["1"])[0])
        if size < 1 or page < 1:
            raise ValueError("size and page start at 1")
        return cls(codes, gte, lte, sort in ("date:desc", "-date"), size, page)


def _window(full: Bars, q: FinfoQuery, last_open: int) -> npt.NDArray[np.int64]:
    days = np.asarray(full["day"])
    mask = days <= last_open
    if q.gte is not None:
        mask &= days >= q.gte.toordinal()
    if q.lte is not None:
        mask &= days <= q.lte.toordinal()
    return np.flatnonzero(mask)


def _stock_columns(full: Bars) -> Bars:
    c, ref, ad_c = (np.asarray(full[k], dtype=np.float64) for k in ("c", "ref", "ad_c"))
    ad_prev = np.concatenate([[float(ref[0] * full["factor"][0])], ad_c[:-1]])
    change = np.round(c - ref, 2)
    return {
        **full,
        "value": np.round(np.asarray(full["avg"]) * 1000 * np.asarray(full["v"])),
        "change": change,
        "ad_change": np.round(ad_c - ad_prev, 2),
        "pct": np.round(change / ref * 100, 4),
    }


def _index_columns(market: SimulatedMarket, symbol: str, full: Bars) -> Bars:
    c, ref = np.asarray(full["c"], dtype=np.float64), np.asarray(full["ref"], dtype=np.float64)
    n = len(c)
    listed = sum(1 for t in market.listed_stocks() if t.exchange == market.tickers[symbol].exchange)
    rng = np.random.default_rng(seed_of(market.seed, symbol, "breadth", n))
    shares = rng.dirichlet((4.0, 4.0, 2.0), n)
    advances = np.floor(shares[:, 0] * listed).astype(np.int64)
    declines = np.floor(shares[:, 1] * listed).astype(np.int64)
    change = np.round(c - ref, 2)
    return {
        **full,
        "value": np.round(np.asarray(full["v"]) * np.asarray(full["avg"]) * 1000),
        "change": change,
        "pct": np.round(change / ref * 100, 4),
        "advances": advances,
        "declines": declines,
        "no_change": listed - advances - declines,
        "ceiling_stocks": np.floor(advances * shares[:, 2] / 10).astype(np.int64),
        "floor_stocks": np.floor(declines * shares[:, 2] / 10).astype(np.int64),
    }


def rows(market: SimulatedMarket, q: FinfoQuery, today: date, last_open: int, index: bool) -> list[Row]:
    """Every row the query selects, in its order, before paging; `last_open`: the last opened session's ordinal."""
    out: list[Row] = []
    for code in q.codes:
        ticker = market.tickers.get(code)
        if ticker is None or (ticker.kind == "INDEX") != index:
            continue
        full = market.prices(code, today)
        cols = _index_columns(market, code, full) if index else _stock_columns(full)
        fields = INDEX_FIELDS if index else STOCK_FIELDS
        idx = _window(full, q, last_open)
        values = {name: np.asarray(cols[key])[idx].tolist() for name, key in fields}
        dates = [date.fromordinal(int(d)).isoformat() for d in np.asarray(full["day"])[idx]]
        head = {"code": code, "floor": ticker.exchange, "type": "INDEX" if index else "STOCK"}
        for i, day in enumerate(dates):
            row: Row = {**head, "date": day, "time": DAY_ROW_TIME}
            row.update({name: column[i] for name, column in values.items()})
            # The simulated market has no put-through deals.
            row["ptVolume"] = row["ptValue"] = 0.0
            out.append(row)
    out.sort(key=lambda r: r["date"], reverse=q.descending)
    return out


def envelope(selected: list[Row], q: FinfoQuery) -> dict[str, Any]:
    total = len(selected)
    return {
        "data": selected[(q.page - 1) * q.size : q.page * q.size],
        "currentPage": q.page,
        "size": q.size,
        "totalElements": total,
        "totalPages": -(-total // q.size),
    }


def break_page(fault: str, payload: dict[str, Any]) -> None:
    """Applies a finfo payload fault to a page in place (see the module docstring)."""
    data: list[Row] = payload["data"]
    if fault == "short_page":
        payload["data"] = data[: len(data) // 2]
    elif fault == "missing_adclose" and data:
        data[-1].pop("adClose", None)
    elif fault == "band_violation" and data:
        row = data[-1]
        tick = float(tick_vnd(np.array([row["ceilingPrice"]]), row["floor"])[0]) / 1000
        row["high"] = round(row["ceilingPrice"] + tick, 2)
