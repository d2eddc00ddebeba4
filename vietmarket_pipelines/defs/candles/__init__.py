"""Candles: OHLCV bars partitioned by ticker x timeframe."""
