"""Links articles to tickers by the old system's rules, against the known active symbols only.

Confidence, highest rule wins per ticker:
  0.95 `title_parens`   a ticker in parentheses in the title: "Vinamilk (VNM) báo lãi"
  0.92 `exchange_tag`   "FPT (HOSE)" or "HOSE: FPT", in the title or the body's first 8 kB
  0.90 `stock_phrase`   "cổ phiếu FPT" / "mã CK FPT" / "mã FPT", in the title or the body's first 8 kB
  0.60 `title_token`    a bare upper-case token in the title, unless it is a stopword or the whole
                        title is in capitals (where every word looks like a ticker)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

BODY_WINDOW: Final = 8 * 1024
_EXCHANGES: Final = r"(?:HOSE|HSX|HNX|UPCOM|UPCoM)"
# A ticker-shaped token not glued to other letters, diacritics included (\w is Unicode-aware).
_TOKEN: Final = r"(?<!\w)([A-Z][A-Z0-9]{2,11})(?!\w)"
_PARENS: Final = re.compile(r"\(\s*([A-Z][A-Z0-9]{2,11})\s*\)")
_EXCHANGE_AFTER: Final = re.compile(_TOKEN + r"\s*\(\s*" + _EXCHANGES + r"\s*\)")
_EXCHANGE_BEFORE: Final = re.compile(r"(?<!\w)" + _EXCHANGES + r"\s*:\s*([A-Z][A-Z0-9]{2,11})(?!\w)")
# Only the phrase ignores case: "Cổ phiếu FPT" and "cổ phiếu FPT", never "cổ phiếu ngân hàng".
_PHRASE: Final = re.compile(r"(?<!\w)(?i:cổ phiếu|mã chứng khoán|mã ck|mã)\s+" + _TOKEN)
_BARE: Final = re.compile(_TOKEN)

# Upper-case words that are common in Vietnamese financial headlines and would otherwise match a
# listed ticker or look like one: currencies, institutions, units, acronyms, and unaccented
# Vietnamese syllables written in capitals.
STOPWORDS: Final = frozenset(
    """
    CEO CFO CTO HDQT HDQ DHCD BKS BCTC KQKD LNST LNTT EPS ROE ROA PE NIM CASA NPL
    USD VND EUR JPY CNY GDP CPI PMI FDI ODA IPO ETF ESG OTC NAV ATC ATO KRX
    HOSE HSX HNX UPCOM VSD SSC SBV NHNN UBCK BTC FED ECB IMF WTO ADB
    TIN VAN BAN CON HOA SAO MAI TAN HAI NAM DAU GIA TOP HOT NEW
    VIP SME KCN BDS TPHCM HCM CTCP TNHH
    """.split()  # noqa: SIM905  # a word list reads better as text
)


@dataclass(frozen=True)
class TickerLink:
    ticker: str
    confidence: float
    method: str


def _found(pattern: re.Pattern[str], text: str) -> Iterable[str]:
    for match in pattern.finditer(text):
        yield match.group(1).upper()


def _mostly_capitals(title: str) -> bool:
    letters = [ch for ch in title if ch.isalpha()]
    return bool(letters) and sum(ch.isupper() for ch in letters) / len(letters) > 0.6


def _candidates(title: str, body: str) -> Iterable[tuple[str, float, str]]:
    """(ticker, confidence, method) for every rule's match, known symbol or not."""
    for t in _found(_PARENS, title):
        if t not in STOPWORDS:
            yield t, 0.95, "title_parens"
    for text in (title, body[:BODY_WINDOW]):
        for pattern in (_EXCHANGE_AFTER, _EXCHANGE_BEFORE):
            for t in _found(pattern, text):
                yield t, 0.92, "exchange_tag"
        for t in _found(_PHRASE, text):
            yield t, 0.90, "stock_phrase"
    if not _mostly_capitals(title):
        for t in _found(_BARE, title):
            if t not in STOPWORDS:
                yield t, 0.60, "title_token"


def link_tickers(title: str, body: str, active: frozenset[str] | set[str]) -> list[TickerLink]:
    """The linked tickers, most confident first; only tickers in `active` are ever returned."""
    best: dict[str, TickerLink] = {}
    for ticker, confidence, method in _candidates(title, body):
        if ticker in active and (ticker not in best or best[ticker].confidence < confidence):
            best[ticker] = TickerLink(ticker, confidence, method)
    return sorted(best.values(), key=lambda link: (-link.confidence, link.ticker))
