"""The candle and news fixtures the mirror tests build on."""

from tests.candles.conftest import instance
from tests.news.conftest import news_db

__all__ = ["instance", "news_db"]
