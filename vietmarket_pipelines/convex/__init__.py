"""The optional Convex mirror: a bounded latest slice of candles and news, without Dagster."""
