"""The universe schedule: refresh the listing before every session."""

import dagster as dg

from vietmarket_pipelines.defs.universe.assets import symbols

universe_job = dg.define_asset_job("universe_job", selection=dg.AssetSelection.assets(symbols))

universe_schedule = dg.ScheduleDefinition(
    name="universe_schedule",
    job=universe_job,
    cron_schedule="30 8 * * 1-5",
    execution_timezone="Asia/Ho_Chi_Minh",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="08:30 ICT on weekdays, before the 09:00 open: new listings become partitions.",
)
