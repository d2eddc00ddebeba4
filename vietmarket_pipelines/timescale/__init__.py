"""The TimescaleDB layer: schema migrations and candle storage, free of Dagster."""
