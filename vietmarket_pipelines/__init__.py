"""VietMarket's Dagster code location; importing the package itself pulls in no Dagster."""
