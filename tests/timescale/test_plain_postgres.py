"""On a PostgreSQL without TimescaleDB loaded, the schema still applies, as plain tables, and says so."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest

from tests.clusters import ThrowawayCluster
from vietmarket_pipelines.timescale.migrate import migrate


@pytest.fixture
def cluster_without_timescaledb() -> Iterator[str]:
    """A throwaway cluster whose shared_preload_libraries lacks timescaledb."""
    cluster = ThrowawayCluster(timescaledb=False)
    try:
        cluster.start()
        yield cluster.url()
    finally:
        cluster.destroy()


def test_schema_applies_as_plain_tables_with_a_notice(cluster_without_timescaledb: str) -> None:
    report = migrate(cluster_without_timescaledb)
    assert report.timescaledb_version is None
    assert any("created as plain tables" in notice for notice in report.notices), report.notices

    conn = psycopg2.connect(cluster_without_timescaledb)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c) VALUES ('VCB', '1d', 1770940800000, 1, 2, 0.5, 1.5)"
        )
        cur.execute("SELECT ticker, ts FROM candles")
        assert cur.fetchall() == [("VCB", 1770940800000)]
        cur.execute("SELECT ticker, ts FROM candles_latest")
        assert cur.fetchall() == [("VCB", 1770940800000)]
        cur.execute(
            "INSERT INTO daily_prices (ticker, ts, open, high, low, close, ad_open, ad_high, ad_low, ad_close, "
            "nm_volume, nm_value, pt_volume, pt_value, source) "
            "VALUES ('VNINDEX', 1770940800000, 1800, 1810, 1795, 1805, 1800, 1810, 1795, 1805, 1, 1, 0, 0, 'finfo')"
        )
        cur.execute("SELECT relkind FROM pg_class WHERE oid = 'daily_prices'::regclass")
        assert cur.fetchone() == ("r",)
    conn.close()
    # Twice is still a no-op without the extension.
    assert migrate(cluster_without_timescaledb).applied == []
