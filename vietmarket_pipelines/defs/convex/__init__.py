"""The optional Convex mirror as Dagster sees it: its resource and its in-sync checks."""
