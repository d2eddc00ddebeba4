"""The trading calendar domain: the days the market traded, from its indices, for every check and schedule."""
