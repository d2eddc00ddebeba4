"""VietMarket's shared, Dagster-free vocabulary: the market's words and how SQL files are loaded."""
