"""News every ten minutes, Vietnam time: feeds update around the clock, so no trading calendar here."""

import dagster as dg

from vietmarket_pipelines.defs.news.assets import news_articles

news_job = dg.define_asset_job("news_job", selection=dg.AssetSelection.assets(news_articles))

news_schedule = dg.ScheduleDefinition(
    name="news_every_10_minutes",
    job=news_job,
    cron_schedule="*/10 * * * *",
    execution_timezone="Asia/Ho_Chi_Minh",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
