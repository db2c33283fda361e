"""Adherence days: local midnight to local midnight in the tenant time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = date.max.toordinal()  # 9999-12-31
_END_OF_TIME = 253_402_300_800_000  # rta.models.MAX_TIMESTAMP: no instant is at or after it


class DayCalendar:
    """Maps epoch ms to adherence days (as proleptic ordinals) and back.

    Days are 23, 24 or 25 hours (or other lengths in zones with odd
    transitions); a day starts at the first instant whose local date is that
    day, so a zone that skips midnight starts the day at the jump. The last
    day, 9999-12-31, lasts to the end of time (year 10000 UTC, where timestamps
    end), whatever the zone.
    """

    __slots__ = ("_bounds", "_last", "zone")

    def __init__(self, zone: ZoneInfo | str) -> None:
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self._bounds: dict[int, tuple[int, int]] = {}
        self._last: tuple[int, int, int] = (0, 0, 0)  # (ordinal, start, end)

    def _local_ordinal(self, ms: int) -> int:
        try:
            return (_EPOCH + timedelta(milliseconds=ms)).astimezone(self.zone).toordinal()
        except OverflowError:  # local time in the year 10000: still the last day
            return _LAST

    def _start(self, ordinal: int) -> int:
        if ordinal > _LAST:  # the last day (9999-12-31 here) ends with time itself
            return _END_OF_TIME
        d = date.fromordinal(ordinal)
        local = datetime(d.year, d.month, d.day, tzinfo=self.zone)
        ms = (local - _EPOCH) // timedelta(milliseconds=1)
        # fold=0 on a skipped midnight lands on the jump itself; be defensive
        # about zones where it would not.
        while self._local_ordinal(ms) < ordinal:
            ms += 60_000
        while self._local_ordinal(ms - 1) >= ordinal:
            ms -= 60_000
        return ms

    def bounds(self, ordinal: int) -> tuple[int, int]:
        """``[start, end)`` in epoch ms of the day."""
        b = self._bounds.get(ordinal)
        if b is None:
            b = (self._start(ordinal), self._start(ordinal + 1))
            self._bounds[ordinal] = b
        return b

    def day(self, ms: int) -> tuple[int, int, int]:
        """``(ordinal, start, end)`` of the day holding ``ms``."""
        last = self._last
        if last[1] <= ms < last[2]:
            return last
        ordinal = self._local_ordinal(ms)
        start, end = self.bounds(ordinal)
        self._last = (ordinal, start, end)
        return self._last

    def ordinal(self, ms: int) -> int:
        return self.day(ms)[0]

    @staticmethod
    def iso(ordinal: int) -> str:
        return date.fromordinal(ordinal).isoformat()
