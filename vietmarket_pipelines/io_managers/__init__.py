"""IO managers: how asset values are stored in, and loaded from, TimescaleDB."""
