"""Run tags: what a run is for, read in this one place, and the tags that make a run cover a range."""

from collections.abc import Mapping
from enum import StrEnum

MODE_TAG = "vietmarket/mode"
PROVIDER_TAG = "vietmarket/provider"
# Dagster's own tags: a run carrying both covers every partition from start to end.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class RunMode(StrEnum):
    """Why a run was launched; a run without a mode tag is a backfill or a manual run."""

    LATEST = "latest"  # a tick in sessions
    CLOSE = "close"  # the pass after the close
    REPAIR = "repair"  # the nightly refetch of a series with a gap
    # The anchor probe (defs/candles/probe.py): the nightly whole-market pass and the repair job
    # compare an old stretch of each stored series with the provider and replace restated series.
    PROBE = "probe"
    BACKFILL = "backfill"  # anything launched by hand or from the asset page

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> "RunMode":
        value = tags.get(MODE_TAG)
        try:
            return cls(value) if value else cls.BACKFILL
        except ValueError:
            raise ValueError(f"run tag {MODE_TAG}={value!r} is not one of {[m.value for m in cls]}") from None

    @property
    def is_tick(self) -> bool:
        """A scheduled whole-market tick: it rewrites only the newest bars of active tickers."""
        return self in (RunMode.LATEST, RunMode.CLOSE)

    @property
    def active_only(self) -> bool:
        """Runs over whole-market ranges that skip inactive tickers inside them: the ticks, and the
        probe, since a delisted ticker's stored series is kept as it is (the provider may no
        longer answer for it, which would fail its partition every night)."""
        return self.is_tick or self is RunMode.PROBE

    @property
    def settles_the_day(self) -> bool:
        """The close and repair passes: whatever changed is mirrored at once, without waiting."""
        return self in (RunMode.CLOSE, RunMode.REPAIR, RunMode.PROBE)


def mode_tags(mode: RunMode) -> dict[str, str]:
    return {MODE_TAG: mode.value}
