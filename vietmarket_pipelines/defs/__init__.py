"""Dagster definitions, one folder per domain: assets, partitions, resources and schedules side by side."""
