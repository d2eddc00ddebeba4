"""The one Definitions object of the VietMarket code location."""

import dagster as dg

from vietmarket_pipelines.defs.calendar.assets import trading_calendar
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.checks import CANDLE_CHECKS, candles_convex_mirror_in_sync
from vietmarket_pipelines.defs.candles.io_manager import TimescaleCandleIOManager
from vietmarket_pipelines.defs.candles.rule_checks import CANDLE_RULE_CHECKS
from vietmarket_pipelines.defs.candles.schedules import (
    candles_close_schedule,
    candles_job,
    candles_latest_schedule,
    candles_rebase_job,
    candles_repair_schedule,
)
from vietmarket_pipelines.defs.news.assets import news_articles, news_backfill
from vietmarket_pipelines.defs.news.checks import NEWS_CHECKS, news_convex_mirror_in_sync
from vietmarket_pipelines.defs.news.schedules import news_job, news_schedule
from vietmarket_pipelines.defs.prices.assets import corporate_actions, daily_prices
from vietmarket_pipelines.defs.prices.checks import PRICES_CHECKS
from vietmarket_pipelines.defs.prices.rule_checks import PRICES_RULE_CHECKS
from vietmarket_pipelines.defs.prices.schedules import prices_close_schedule, prices_job
from vietmarket_pipelines.defs.universe.assets import symbols
from vietmarket_pipelines.defs.universe.schedules import universe_job, universe_schedule
from vietmarket_pipelines.settings import (
    convex_from_env,
    market_data_from_env,
    provider_urls_from_env,
    timescale_from_env,
    vietstock_from_env,
)

timescale = timescale_from_env()
provider_urls = provider_urls_from_env()
# Off unless CONVEX_URL is set: then each written series' latest slice is mirrored after the commit.
convex = convex_from_env()

defs = dg.Definitions(
    # One asset and its checks per run: a subprocess per step would only add start-up time.
    executor=dg.in_process_executor,
    assets=[symbols, trading_calendar, candles, daily_prices, corporate_actions, news_articles, news_backfill],
    # The mirror's in-sync checks stand apart: they only mean something where Convex is configured.
    asset_checks=[
        *CANDLE_CHECKS,
        *CANDLE_RULE_CHECKS,
        candles_convex_mirror_in_sync,
        *PRICES_CHECKS,
        *PRICES_RULE_CHECKS,
        *NEWS_CHECKS,
        news_convex_mirror_in_sync,
    ],
    jobs=[candles_job, candles_rebase_job, prices_job, universe_job, news_job],
    schedules=[
        candles_latest_schedule,
        candles_close_schedule,
        candles_repair_schedule,
        prices_close_schedule,
        universe_schedule,
        news_schedule,
    ],
    resources={
        "market_data": market_data_from_env(provider_urls, timescale),
        "vietstock": vietstock_from_env(provider_urls, timescale),
        "timescale": timescale,
        "timescale_candles": TimescaleCandleIOManager(timescale=timescale, convex=convex),
        "convex": convex,
    },
)
