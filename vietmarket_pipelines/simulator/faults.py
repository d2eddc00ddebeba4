"""Fault rules for the simulator: which route misbehaves, how, for which symbol, and how many times."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

# Transport faults: answered instead of the payload.
TRANSPORT_FAULTS = {"429", "500", "502", "503", "timeout", "rate_limit_text", "truncated"}
# Payload faults: the payload is produced, then broken in a documented way.
PAYLOAD_FAULTS = {
    "unequal", "nan", "duplicates", "out_of_order", "h_lt_l", "outside_range", "negative_volume", "future",
    "wrong_symbol", "non_numeric", "raw_vnd",
    # A late print: the newest bar's close moved to its high (or low) and 100 more shares, the
    # revision of one bar that is not a restatement.
    "revised",
    # Vietstock: a feed cut off mid-XML, an article page without its meta tags.
    "broken_xml", "no_meta",
    # finfo: a page shorter than `size` while totalPages says more, a row without adClose, a raw
    # high above its day's ceiling (see finfo.py).
    "short_page", "missing_adclose", "band_violation",
}  # fmt: skip
ROUTES = {
    "vci-history",
    "vci-listing",
    "ssi-history",
    "vnd-history",
    "vnd-listing",
    "finfo-prices",
    "finfo-index-prices",
    "vietstock-rss",
    "vietstock-article",
    "vietstock-listing",
}


@dataclass
class FaultRule:
    route: str
    fault: str
    symbol: str | None = None
    times: int = -1  # -1: every matching request
    after: int = 0  # matching requests answered normally before the rule starts (the second of two)
    retry_after: int | None = None
    delay: float = 30.0  # seconds a "timeout" stalls

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> FaultRule:
        rule = cls(**raw)
        if rule.route not in ROUTES and rule.route != "*":
            raise ValueError(f"unknown route {rule.route!r}; one of {sorted(ROUTES)} or *")
        if rule.fault not in TRANSPORT_FAULTS | PAYLOAD_FAULTS:
            raise ValueError(f"unknown fault {rule.fault!r}; one of {sorted(TRANSPORT_FAULTS | PAYLOAD_FAULTS)}")
        return rule


@dataclass
class FaultBook:
    rules: list[FaultRule] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: FaultRule) -> None:
        with self.lock:
            self.rules.append(rule)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def take(self, route: str, symbols: list[str]) -> FaultRule | None:
        """The first rule that matches this request, consuming one of its uses."""
        with self.lock:
            for rule in self.rules:
                if rule.route not in (route, "*") or rule.times == 0:
                    continue
                if rule.symbol is not None and rule.symbol not in symbols:
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.times > 0:
                    rule.times -= 1
                return rule
        return None
