"""The scheduled `news_articles` asset (feeds, pages, ticker links) and the optional `news_backfill` crawl."""

import dagster as dg
from pydantic import Field

from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.resources import VietstockResource
from vietmarket_pipelines.defs.news.store import NewsStore
from vietmarket_pipelines.news.linking import link_tickers
from vietmarket_pipelines.providers.http import ProviderError
from vietmarket_pipelines.providers.vietstock import DEFAULT_CHANNELS

NO_PUBLISH_TIME = "no publish time: the page has no article:published_time and no feed gave a pubDate"


class NewsConfig(dg.Config):
    max_fetch_per_run: int = Field(default=60, description="Article pages fetched per run, at ~1 request/s.")
    max_fetch_attempts: int = Field(default=5, description="A page that failed this often is left failed.")
    retry_base_delay_s: float = Field(default=600.0, description="Back-off after the n-th failure: base * 2^(n-1).")


@dg.asset(
    group_name="news",
    description="Vietstock articles: read the configured RSS feeds, store each new article once under its "
    "canonical URL, fetch pending pages politely (title, publish time, body text), and link them to tickers. "
    "Failed pages are retried on later runs with growing delays, up to a limit.",
    pool="vietstock_http",
    kinds={"timescaledb"},
)
def news_articles(
    context: dg.AssetExecutionContext,
    config: NewsConfig,
    vietstock: VietstockResource,
    timescale: TimescaleResource,
    convex: ConvexMirrorResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    news = NewsStore(timescale.store())
    feed_errors: list[str] = []
    new_urls: list[str] = []
    fetched = failed = linked = 0
    with vietstock.client() as client:
        for feed in vietstock.feeds:
            try:
                items = client.feed(feed)
            except ProviderError as exc:
                # One broken feed costs only its own items this run; the others go on.
                context.log.warning(str(exc))
                feed_errors.append(str(exc))
                continue
            new_urls += news.upsert_feed(items)
        active = news.active_tickers()
        for due in news.due(config.max_fetch_per_run, config.max_fetch_attempts):
            try:
                page = client.article(due.url)
            except ProviderError as exc:
                news.save_failed(due.url, str(exc), config.max_fetch_attempts, config.retry_base_delay_s)
                context.log.warning(str(exc))
                failed += 1
                continue
            links = link_tickers(page.title, page.text, active)
            if news.save_fetched(page, links):
                fetched += 1
                linked += bool(links)
            else:
                news.save_failed(due.url, NO_PUBLISH_TIME, config.max_fetch_attempts, config.retry_base_delay_s)
                context.log.warning(f"{due.url}: {NO_PUBLISH_TIME}")
                failed += 1
    metadata = {
        "feeds_read": len(vietstock.feeds) - len(feed_errors),
        "feeds_failed": len(feed_errors),
        "new_articles": len(set(new_urls)),
        "fetched": fetched,
        "failed": failed,
        "linked": linked,
    }
    if convex.enabled and (fetched or new_urls):
        report = convex.mirror_news(timescale.store().connection)
        metadata |= report.metadata()
        if report.error:
            context.log.warning(f"convex news mirror {report.status}: {report.error}")
    if feed_errors and len(feed_errors) == len(vietstock.feeds):
        # Pages fetched above are kept; the run still fails, because no feed could be read at all.
        raise dg.Failure(description="every feed failed:\n" + "\n".join(feed_errors), metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


class BackfillConfig(dg.Config):
    channels: list[int] = Field(default=list(DEFAULT_CHANNELS), description="Vietstock channel ids to crawl.")
    max_pages_per_run: int = Field(default=50, description="Listing pages read per channel in one run.")
    stop_after_empty_pages: int = Field(default=3, description="Finish a channel after N pages with nothing new.")
    restart: bool = Field(default=False, description="Start every channel again from page 1.")


@dg.asset(
    group_name="news",
    description="Older articles from Vietstock's paginated channel listings, added as pending for "
    "`news_articles` to fetch. Resumes where the last run stopped (state in news_crawl_state); a channel "
    "finishes after N pages in a row with nothing new.",
    pool="vietstock_http",
    kinds={"timescaledb"},
)
def news_backfill(
    context: dg.AssetExecutionContext,
    config: BackfillConfig,
    vietstock: VietstockResource,
    timescale: TimescaleResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    news = NewsStore(timescale.store())
    pages_read = added = 0
    progress: dict[str, str] = {}
    with vietstock.client() as client:
        for channel in config.channels:
            state = news.restart_crawl(channel) if config.restart else news.crawl_state(channel)
            for _ in range(config.max_pages_per_run):
                if state.finished:
                    break
                links = client.listing(channel, state.next_page)
                new, state = news.save_crawl_page(channel, links, state, config.stop_after_empty_pages)
                pages_read += 1
                added += len(new)
            progress[str(channel)] = "finished" if state.finished else f"next page {state.next_page}"
            context.log.info(f"channel {channel}: {progress[str(channel)]}")
    return dg.MaterializeResult(
        metadata={"listing_pages_read": pages_read, "articles_added": added, "channels": progress}
    )
