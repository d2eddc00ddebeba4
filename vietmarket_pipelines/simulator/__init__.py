"""A local stand-in for the market-data hosts: their wire formats over a deterministic market."""
