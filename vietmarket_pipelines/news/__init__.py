"""News domain logic without Dagster: canonical article URLs and ticker linking."""
