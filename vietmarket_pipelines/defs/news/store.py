"""The articles table as the news assets use it: each feed, page and listing page in its own transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import psycopg2.extras

from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.news.linking import TickerLink
from vietmarket_pipelines.providers.vietstock import ArticlePage, FeedItem, ListingLink
from vietmarket_pipelines.timescale.candle_store import CandleStore

PACKAGE = __package__ or "vietmarket_pipelines.defs.news"


def sql(name: str) -> str:
    return load_sql(PACKAGE, name)


@dataclass(frozen=True)
class DueArticle:
    url: str
    published_at: datetime | None


@dataclass(frozen=True)
class CrawlState:
    next_page: int
    empty_pages: int
    finished: bool


class NewsStore:
    """Uses the ingestion store's connections (retried on a dropped database)."""

    def __init__(self, store: CandleStore) -> None:
        self._store = store

    def upsert_feed(self, items: list[FeedItem]) -> list[str]:
        """Stores one feed's items in one transaction; returns the URLs that were new."""
        unique = list({i.url: i for i in reversed(items)}.values())[::-1]  # first occurrence wins
        if not unique:
            return []
        rows = [(i.url, i.title, i.published_at, i.description, i.feed_url, [i.feed_url]) for i in unique]
        with self._store.connection() as conn, conn, conn.cursor() as cur:
            returned = psycopg2.extras.execute_values(cur, sql("upsert_feed_items.sql"), rows, fetch=True)
        return [url for url, inserted in returned if inserted]

    def due(self, limit: int, max_attempts: int) -> list[DueArticle]:
        with self._store.connection() as conn, conn.cursor() as cur:
            cur.execute(sql("due_articles.sql"), {"limit": limit, "max_attempts": max_attempts})
            return [DueArticle(url, published) for url, published in cur.fetchall()]

    def active_tickers(self) -> frozenset[str]:
        return frozenset(self._store.active_tickers())

    def save_fetched(self, page: ArticlePage, links: list[TickerLink]) -> bool:
        """The page and its ticker links in one transaction; False (and nothing written) without a publish time."""
        with self._store.connection() as conn, conn.cursor() as cur:
            try:
                cur.execute(sql("save_fetched.sql"), asdict(page))
                row = cur.fetchone()
                if row is None or row[0] is None:
                    conn.rollback()
                    return False
                cur.execute(sql("delete_article_symbols.sql"), {"url": page.url})
                if links:
                    psycopg2.extras.execute_values(
                        cur,
                        sql("insert_article_symbols.sql"),
                        [(page.url, x.ticker, x.confidence, x.method) for x in links],
                    )
                conn.commit()
                return True
            except BaseException:
                conn.rollback()
                raise

    def save_failed(self, url: str, error: str, max_attempts: int, base_delay_s: float) -> None:
        with self._store.connection() as conn, conn, conn.cursor() as cur:
            cur.execute(
                sql("save_failed.sql"),
                {"url": url, "error": error, "max_attempts": max_attempts, "base_delay_s": base_delay_s},
            )

    def crawl_state(self, channel: int) -> CrawlState:
        with self._store.connection() as conn, conn, conn.cursor() as cur:
            cur.execute(sql("crawl_state.sql"), {"channel": channel})
            next_page, empty_pages, finished = cur.fetchone()  # type: ignore[misc]
        return CrawlState(next_page, empty_pages, finished)

    def restart_crawl(self, channel: int) -> CrawlState:
        fresh = CrawlState(next_page=1, empty_pages=0, finished=False)
        self.crawl_state(channel)  # creates the row
        with self._store.connection() as conn, conn, conn.cursor() as cur:
            cur.execute(sql("save_crawl_state.sql"), {"channel": channel, **asdict(fresh)})
        return fresh

    def save_crawl_page(
        self, channel: int, links: list[ListingLink], before: CrawlState, stop_after_empty: int
    ) -> tuple[list[str], CrawlState]:
        """One listing page's articles and the crawl's next position, together, so a resume never skips.

        The crawl of a channel finishes after `stop_after_empty` pages in a row with nothing new, or
        at a page with no links at all (past the channel's oldest page).
        """
        with self._store.connection() as conn, conn, conn.cursor() as cur:
            new: list[str] = []
            if links:
                returned = psycopg2.extras.execute_values(
                    cur, sql("insert_listed_articles.sql"), [(x.url, x.title) for x in links], fetch=True
                )
                new = [url for (url,) in returned]
            empty = 0 if new else before.empty_pages + 1
            after = CrawlState(before.next_page + 1, empty, not links or empty >= stop_after_empty)
            cur.execute(sql("save_crawl_state.sql"), {"channel": channel, **asdict(after)})
        return new, after
