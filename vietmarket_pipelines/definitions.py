"""The one Definitions object of the VietMarket code location."""

import dagster as dg

defs = dg.Definitions(
    assets=[],
)
