"""The History API: a Litestar service for deep candle history; it never imports Dagster."""
