"""The API's response bodies as msgspec structs: the wire contract, and the OpenAPI document's source."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every non-2xx answer: a stable machine-readable `error`, and a human `detail` when useful."""

    ok: bool
    error: str
    detail: str | None = None


class Bar(msgspec.Struct, array_like=False):
    """One OHLCV bar.  ts: unix ms; 1d = 00:00 UTC of the trading date, intraday = UTC instant of the bar open.

    Prices are thousands of VND for stocks and points for indices; v is shares (index: reported volume).
    """

    ts: int
    o: float
    h: float
    l: float  # noqa: E741  # the old contract's field name
    c: float
    v: float | None
    source: str | None


class CandlesPage(msgspec.Struct):
    """A page of bars, newest first.  nextBeforeTs: pass it as beforeTs for the next older page; null at the start."""

    ok: bool
    ticker: str
    tf: str
    count: int
    rows: list[Bar]
    nextBeforeTs: int | None  # camelCase is the old contract


class CandlesPageWire(msgspec.Struct):
    """CandlesPage as sent: the rows arrive from Postgres as ready JSON and are embedded as they are."""

    ok: bool
    ticker: str
    tf: str
    count: int
    rows: msgspec.Raw
    nextBeforeTs: int | None


class BulkBar(msgspec.Struct):
    """A /candles/bulk bar: a Bar with its ticker; v is a whole number of shares."""

    ticker: str
    ts: int
    o: float
    h: float
    l: float  # noqa: E741  # the old contract's field name
    c: float
    v: int | None
    source: str | None


class BulkPage(msgspec.Struct):
    """Bars by ticker then ts, oldest first.  nextCursor: pass it as cursor for the next page; null on the last."""

    ok: bool
    tf: str
    count: int
    rows: list[BulkBar]
    nextCursor: str | None


class BulkPageWire(msgspec.Struct):
    """BulkPage as sent: the rows arrive from Postgres as ready JSON and are embedded as they are."""

    ok: bool
    tf: str
    count: int
    rows: msgspec.Raw
    nextCursor: str | None


class LatestBar(msgspec.Struct):
    """The old server's /latest row; v is whole shares; ingested_at: when the bar was last written, ISO 8601 UTC."""

    ticker: str
    tf: str
    ts: int
    o: float
    h: float
    l: float  # noqa: E741
    c: float
    v: int | None
    source: str | None
    ingested_at: str


class TopMover(msgspec.Struct):
    """A ticker's newest bar against the bar before it; pct_change = (close_latest - close_prev) / close_prev."""

    ticker: str
    tf: str
    ts_latest: int
    close_latest: float
    close_prev: float
    pct_change: float | None


class TopMoversPage(msgspec.Struct):
    ok: bool
    tf: str
    count: int
    rows: list[TopMover]


class LatestPage(msgspec.Struct):
    ok: bool
    tf: str
    count: int
    rows: list[LatestBar]


class Symbol(msgspec.Struct):
    ticker: str
    name: str | None
    exchange: str | None
    kind: Literal["stock", "index"]
    active: bool


class SymbolList(msgspec.Struct):
    ok: bool
    count: int
    rows: list[Symbol]


class Article(msgspec.Struct):
    """The old server's row plus description.  published_at: ISO 8601 in UTC; snippet: the text's first
    220 characters (null before the text is known); tickers: the linked symbols, most confident first."""

    url: str
    title: str | None
    source: str
    published_at: str
    snippet: str | None
    tickers: list[str]
    description: str | None


class NewsCursor(msgspec.Struct):
    """The old server's cursor: send both as query parameters for the next older page."""

    beforePublishedAt: str
    beforeUrl: str


class NewsPage(msgspec.Struct):
    """nextCursor (the old shape) or nextToken (pass it as cursor) leads to the next older page; both
    are null when there is none."""

    ok: bool
    count: int
    rows: list[Article]
    nextCursor: NewsCursor | None
    nextToken: str | None


class TickerNewsPage(msgspec.Struct):
    """NewsPage for one ticker, which it names at the top as the old server did."""

    ok: bool
    ticker: str
    count: int
    rows: list[Article]
    nextCursor: NewsCursor | None
    nextToken: str | None


class Health(msgspec.Struct):
    """db is the number 1, as the old server's `SELECT 1` answered it."""

    ok: bool
    db: Literal[1]
    latestDailyTs: int | None


class ChartToken(msgspec.Struct):
    ok: bool
    token: str
    expiresAt: int  # unix ms
    chartUrl: str


# TradingView UDF: field names and shapes are TradingView's.


class UdfConfig(msgspec.Struct):
    supported_resolutions: list[str]
    supports_search: bool
    supports_group_request: bool
    supports_marks: bool
    supports_timescale_marks: bool
    supports_time: bool
    exchanges: list[dict[str, str]]
    symbols_types: list[dict[str, str]]


class UdfSymbol(msgspec.Struct):
    name: str
    ticker: str
    description: str
    type: str
    session: str
    timezone: str
    exchange: str
    listed_exchange: str
    minmov: int
    pricescale: int
    has_intraday: bool
    has_daily: bool
    has_weekly_and_monthly: bool
    supported_resolutions: list[str]
    intraday_multipliers: list[str]
    volume_precision: int
    data_status: str
    format: str = "price"


class UdfSearchResult(msgspec.Struct):
    symbol: str
    full_name: str
    description: str
    exchange: str
    ticker: str
    type: str


class UdfHistory(msgspec.Struct, omit_defaults=True):
    """s = "ok" with ascending t (unix seconds) and OHLCV arrays.

    s = "no_data" carries nextTime (seconds) when older bars exist.
    """

    s: Literal["ok", "no_data", "error"]
    t: list[int] = msgspec.field(default_factory=list)
    o: list[float] = msgspec.field(default_factory=list)
    h: list[float] = msgspec.field(default_factory=list)
    l: list[float] = msgspec.field(default_factory=list)  # noqa: E741
    c: list[float] = msgspec.field(default_factory=list)
    v: list[int] = msgspec.field(default_factory=list)
    nextTime: int | None = None
    errmsg: str | None = None


class UdfError(msgspec.Struct):
    s: Literal["error"]
    errmsg: str


class CorporateAction(msgspec.Struct):
    """One corporate action in the old server's row shape, plus its price factors.

    Dates are YYYY-MM-DD (trading dates, Asia/Ho_Chi_Minh); ingested_at is ISO 8601 UTC.  factor is
    this action's price multiplier alone (< 1 for a split or stock dividend), cumulative_factor the
    product of it and every later action's; both null when unknown (see the corporate_actions
    table's COMMENTs).
    """

    id: int
    ticker: str
    exchange: str | None
    ex_date: date
    record_date: date | None
    pay_date: date | None
    headline: str | None
    event_type: str | None
    source: str
    source_url: str | None
    ingested_at: datetime
    factor: float | None
    cumulative_factor: float | None


class ActionsCursor(msgspec.Struct):
    """Send both as query parameters for the next older page (the old server's cursor)."""

    beforeExDate: date
    beforeId: int


class CorporateActionsPage(msgspec.Struct):
    """Actions, newest ex-date first; nextCursor is null on the last page."""

    ok: bool
    count: int
    rows: list[CorporateAction]
    nextCursor: ActionsCursor | None


class TickerActionsPage(msgspec.Struct):
    """One ticker's actions, newest ex-date first; nextCursor is null on the last page."""

    ok: bool
    ticker: str
    count: int
    rows: list[CorporateAction]
    nextCursor: ActionsCursor | None


class ActionsPageWire(msgspec.Struct):
    """CorporateActionsPage as sent: the rows arrive from Postgres as ready JSON and are embedded as they are."""

    ok: bool
    count: int
    rows: msgspec.Raw
    nextCursor: ActionsCursor | None


class TickerActionsPageWire(msgspec.Struct):
    """TickerActionsPage as sent, rows embedded as Postgres rendered them."""

    ok: bool
    ticker: str
    count: int
    rows: msgspec.Raw
    nextCursor: ActionsCursor | None


class UdfMark(msgspec.Struct):
    """A news article on a ticker's chart: UDF's mark fields, plus the article's own title, URL and link."""

    id: str
    time: int
    color: str
    text: str
    label: str
    labelFontColor: str  # UDF's field name
    minSize: int  # UDF's field name
    title: str
    url: str
    published_at: str
    confidence: float


class UdfTimescaleMark(msgspec.Struct):
    """A mark on the chart's time axis: time in unix seconds, a one-letter label, tooltip lines."""

    id: str
    time: int
    color: str
    label: str
    tooltip: list[str]
