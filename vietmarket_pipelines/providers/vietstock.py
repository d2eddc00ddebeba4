"""Vietstock news: RSS feeds, article pages and channel listings, fetched politely and parsed strictly."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urljoin

import feedparser
import trafilatura
from bs4 import BeautifulSoup

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.news.canonical import CANONICAL_ORIGIN, canonical_url, path_of
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError
from vietmarket_pipelines.providers.pacing import Pacer

DEFAULT_BASE_URL: Final = "https://vietstock.vn"
# Stocks, insider trading, company results and macro.
DEFAULT_FEEDS: Final = (
    "/830/chung-khoan/co-phieu.rss",
    "/739/chung-khoan/giao-dich-noi-bo.rss",
    "/737/doanh-nghiep/hoat-dong-kinh-doanh.rss",
    "/761/kinh-te/vi-mo.rss",
)
DEFAULT_CHANNELS: Final = (830, 739, 737, 761)
# About one request a second, as Vietstock asks of crawlers.
POLITE: Final = HttpPolicy(requests=1, per_seconds=1.0, timeout_s=20.0, max_attempts=4, backoff_initial_s=1.0)
_TITLE_SUFFIX: Final = re.compile(r"\s*[|\-–]\s*Vietstock\s*$", re.IGNORECASE)
# Letters only Vietnamese uses among Latin scripts: enough to tell its text from English.
_VIETNAMESE: Final = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


@dataclass(frozen=True)
class FeedItem:
    url: str  # canonical
    title: str
    published_at: datetime | None  # aware
    description: str | None
    feed_url: str


@dataclass(frozen=True)
class ArticlePage:
    url: str
    title: str
    published_at: datetime | None
    text: str
    word_count: int
    content_sha256: str
    lang: str | None
    extraction: str  # "vietstock-paragraphs" or "readability"


@dataclass(frozen=True)
class ListingLink:
    url: str
    title: str | None


def _vietnam_if_naive(when: datetime) -> datetime:
    """Vietstock writes Vietnam time without an offset; an explicit offset is kept."""
    return when.replace(tzinfo=VN_TZ) if when.tzinfo is None else when


def parse_pub_date(raw: str | None) -> datetime | None:
    """An RSS pubDate as an aware datetime; one without an offset is Vietnam time, as Vietstock means it."""
    if not raw or not raw.strip():
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
    return _vietnam_if_naive(when)


def parse_feed(body: bytes, feed_url: str, served_from: str) -> list[FeedItem]:
    """Every item of an RSS 2.0 feed, or ProviderPayloadError naming the feed and the fault: never a part."""
    parsed = feedparser.parse(body)
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType
    ):
        raise ProviderPayloadError(f"vietstock feed {feed_url}: not well-formed XML ({parsed.get('bozo_exception')})")
    if parsed.get("version", "") == "" and not parsed.entries:
        raise ProviderPayloadError(f"vietstock feed {feed_url}: not an RSS feed")
    items = []
    for n, entry in enumerate(parsed.entries, start=1):
        link = entry.get("link") or entry.get("id")
        title = (entry.get("title") or "").strip()
        if not link or not title:
            raise ProviderPayloadError(f"vietstock feed {feed_url}: item {n} has no link or no title")
        try:
            url = canonical_url(link, served_from)
        except ValueError as exc:
            raise ProviderPayloadError(f"vietstock feed {feed_url}: item {n}: {exc}") from exc
        description = BeautifulSoup(entry.get("description") or "", "lxml").get_text(" ", strip=True) or None
        items.append(FeedItem(url, title, parse_pub_date(entry.get("published")), description, feed_url))
    return items


def detect_lang(text: str) -> str | None:
    letters = sum(ch.isalpha() for ch in text)
    if letters < 20:
        return None
    return "vi" if len(_VIETNAMESE.findall(text)) / letters > 0.02 else "en"


def parse_article(html: str | bytes, url: str) -> ArticlePage:
    """Title, publish time and body text of an article page; ProviderPayloadError if it has no text."""
    soup = BeautifulSoup(html, "lxml")

    def meta(prop: str) -> str | None:
        tag = soup.find("meta", attrs={"property": prop}) or soup.find("meta", attrs={"name": prop})
        content = tag.get("content") if tag is not None else None
        return content.strip() if isinstance(content, str) and content.strip() else None

    title = meta("og:title")
    if title is None and soup.title is not None and soup.title.string:
        title = _TITLE_SUFFIX.sub("", soup.title.string.strip()) or None
    published = None
    if raw := meta("article:published_time"):
        try:
            published = _vietnam_if_naive(datetime.fromisoformat(raw))
        except ValueError:
            published = None
    paragraphs = [
        p.get_text(" ", strip=True) for p in soup.select("p.pTitle, p.pHead, p.pBody") if p.get_text(strip=True)
    ]
    extraction = "vietstock-paragraphs"
    text = "\n\n".join(paragraphs)
    if not text:
        extraction = "readability"
        text = (trafilatura.extract(html if isinstance(html, str) else html.decode("utf-8", "replace")) or "").strip()
    if not text:
        raise ProviderPayloadError(f"vietstock article {url}: no article text (no pTitle/pHead/pBody, no main text)")
    if title is None:
        raise ProviderPayloadError(f"vietstock article {url}: no og:title and no <title>")
    return ArticlePage(
        url=url,
        title=title,
        published_at=published,
        text=text,
        word_count=len(text.split()),
        content_sha256=hashlib.sha256(text.encode()).hexdigest(),
        lang=detect_lang(text),
        extraction=extraction,
    )


def parse_listing(html: str | bytes, served_from: str) -> list[ListingLink]:
    """Article links of a channel listing page, in page order, without repeats."""
    soup = BeautifulSoup(html, "lxml")
    seen: dict[str, ListingLink] = {}
    for a in soup.select("a[href]"):
        href = str(a.get("href"))
        if not href.lower().split("?", 1)[0].endswith(".htm"):
            continue
        try:
            url = canonical_url(urljoin(served_from + "/", href), served_from)
        except ValueError:
            continue
        title = a.get("title") or a.get_text(" ", strip=True) or None
        seen.setdefault(url, ListingLink(url, str(title) if title else None))
    return list(seen.values())


class VietstockClient:
    """Feeds, pages and listings from one base URL (Vietstock, or the simulator standing in for it)."""

    def __init__(
        self, base_url: str = DEFAULT_BASE_URL, policy: HttpPolicy = POLITE, pacer: Pacer | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = ProviderClient(
            "vietstock",
            self.base_url,
            headers={"Accept": "text/html,application/xhtml+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.8"},
            policy=policy,
            pacer=pacer,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> VietstockClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feed(self, feed: str) -> list[FeedItem]:
        response = self._client.request("GET", feed, what=f"feed {feed}")
        return parse_feed(response.content, feed, self.base_url)

    def article(self, url: str) -> ArticlePage:
        # Vietstock's own pages come from the configured base URL; a link elsewhere is fetched as it is.
        target = path_of(url) if url.startswith(CANONICAL_ORIGIN + "/") else url
        response = self._client.request("GET", target, what=f"article {url}")
        return parse_article(response.content, url)

    def listing(self, channel: int, page: int) -> list[ListingLink]:
        response = self._client.request(
            "GET",
            "/StartPage/ChannelContentPage",
            params={"channelID": channel, "page": page},
            what=f"listing channel {channel} page {page}",
        )
        return parse_listing(response.content, self.base_url)
