"""Every definition of the code location loads."""

import dagster as dg

from vietmarket_pipelines.definitions import defs


def test_definitions_are_loadable() -> None:
    dg.Definitions.validate_loadable(defs)
