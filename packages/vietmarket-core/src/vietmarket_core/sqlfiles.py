"""The one way SQL is loaded: a `.sql` file that sits next to the code that runs it."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from vietmarket_core.market import CANDLE_TABLES, Timeframe


@cache
def load_sql(package: str, name: str) -> str:
    """The text of `name` (a path relative to `package`, e.g. "sql/latest.sql"), read once per process.

    Files are found through importlib.resources, so they load the same from a source tree, an
    editable install or a wheel.
    """
    resource = files(package).joinpath(name)
    if not resource.is_file():
        raise FileNotFoundError(f"no SQL file {name!r} in package {package!r}")
    return resource.read_text(encoding="utf-8")


@cache
def timeframe_sql(package: str, name: str) -> dict[Timeframe, str]:
    """A per-timeframe statement for every timeframe: the file's `{table}` becomes that hypertable.

    The table names come from the fixed CANDLE_TABLES mapping, never from input, so plain
    formatting is safe; every per-timeframe statement of both packages is built here.
    """
    text = load_sql(package, name)
    return {tf: text.format(table=f'"{table}"') for tf, table in CANDLE_TABLES.items()}
