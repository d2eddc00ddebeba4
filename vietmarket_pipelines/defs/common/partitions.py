"""The `tickers` dynamic partitions every ticker-keyed asset shares; the universe asset adds to them."""

import dagster as dg

TICKERS = "tickers"
tickers_partitions = dg.DynamicPartitionsDefinition(name=TICKERS)


def tickers_in_partition_order(instance: dg.DagsterInstance, active: set[str]) -> list[str]:
    """The `active` tickers in the order of the `tickers` partitions, so a first..last range is contiguous."""
    return [t for t in instance.get_dynamic_partitions(TICKERS) if t in active]
