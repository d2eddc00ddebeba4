"""The one Definitions object of the VietMarket code location."""

import dagster as dg

from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.checks import CANDLE_CHECKS
from vietmarket_pipelines.defs.candles.schedules import (
    candles_close_schedule,
    candles_job,
    candles_latest_schedule,
    candles_repair_schedule,
)
from vietmarket_pipelines.defs.common.market_data import market_data_from_env
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.convex.checks import CONVEX_CHECKS
from vietmarket_pipelines.defs.convex.resources import convex_from_env
from vietmarket_pipelines.defs.news.assets import news_articles, news_backfill
from vietmarket_pipelines.defs.news.checks import NEWS_CHECKS
from vietmarket_pipelines.defs.news.resources import vietstock_from_env
from vietmarket_pipelines.defs.news.schedules import news_job, news_schedule
from vietmarket_pipelines.defs.universe.assets import symbols
from vietmarket_pipelines.defs.universe.schedules import universe_job, universe_schedule
from vietmarket_pipelines.io_managers.convex_mirrored_candles import ConvexMirroredCandleIOManager

convex = convex_from_env()

defs = dg.Definitions(
    # One asset and its checks per run: a subprocess per step would only add start-up time.
    executor=dg.in_process_executor,
    assets=[symbols, candles, news_articles, news_backfill],
    asset_checks=[*CANDLE_CHECKS, *NEWS_CHECKS, *CONVEX_CHECKS],
    jobs=[candles_job, universe_job, news_job],
    schedules=[
        candles_latest_schedule,
        candles_close_schedule,
        candles_repair_schedule,
        universe_schedule,
        news_schedule,
    ],
    resources={
        "market_data": market_data_from_env(),
        "vietstock": vietstock_from_env(),
        "timescale": TimescaleResource(dsn=dg.EnvVar("VIETMARKET_PG_URL")),
        # Off unless CONVEX_URL is set: then each written series' latest slice is mirrored after the commit.
        "timescale_candles": ConvexMirroredCandleIOManager(dsn=dg.EnvVar("VIETMARKET_PG_URL"), convex=convex),
        "convex": convex,
    },
)
