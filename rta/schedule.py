"""The schedule timeline of one agent.

A schedule message replaces the agent's activities inside its window; inside
a message, later-listed activities are painted over earlier ones. Every piece
left by a cut is an activity part of its own, starting where it starts.
Only counted (non-OFF) parts are kept: OFF activities equal no activity.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import NamedTuple

from rta.rules import OFF, Rules


class Part(NamedTuple):
    start: int
    end: int
    activity_type: str
    category: str


def resolve_activities(from_ts: int, to_ts: int,
                       activities: Iterable[tuple[str, int, int]], rules: Rules) -> list[Part]:
    """Clip to the window, paint later over earlier, drop OFF: sorted parts."""
    pieces: list[tuple[int, int, str]] = []
    for activity_type, start, end in activities:
        s, e = max(start, from_ts), min(end, to_ts)
        if s >= e:
            continue
        painted: list[tuple[int, int, str]] = []
        for ps, pe, pt in pieces:
            if pe <= s or ps >= e:
                painted.append((ps, pe, pt))
                continue
            if ps < s:
                painted.append((ps, s, pt))
            if pe > e:
                painted.append((e, pe, pt))
        painted.append((s, e, activity_type))
        pieces = painted
    parts = []
    for s, e, t in sorted(pieces):
        category = rules.category(t)
        if category != OFF:
            parts.append(Part(s, e, t, category))
    return parts


class AgentSchedule:
    """Non-overlapping counted parts, sorted by start."""

    __slots__ = ("parts", "starts")

    def __init__(self, parts: Iterable[Part] = ()) -> None:
        self.parts: list[Part] = sorted(parts)
        self.starts: list[int] = [p.start for p in self.parts]

    def replace_window(self, from_ts: int, to_ts: int, new_parts: list[Part]) -> None:
        parts = self.parts
        lo = bisect_right(self.starts, from_ts) - 1  # last part starting at or before from
        if lo < 0 or parts[lo].end <= from_ts:
            lo += 1
        hi = bisect_left(self.starts, to_ts)  # first part starting at or after to
        keep: list[Part] = []
        for p in parts[lo:hi]:
            if p.start < from_ts:
                keep.append(p._replace(end=from_ts))
        keep.extend(new_parts)
        for p in parts[lo:hi]:
            if p.end > to_ts:
                keep.append(p._replace(start=to_ts))
        parts[lo:hi] = keep
        self.starts[lo:hi] = [p.start for p in keep]

    def index_at(self, t: int) -> int:
        """Index of the first part that ends after ``t`` (may start after it)."""
        i = bisect_right(self.starts, t) - 1
        if i < 0 or self.parts[i].end <= t:
            i += 1
        return i

    def part_at(self, t: int) -> Part | None:
        i = bisect_right(self.starts, t) - 1
        if i >= 0 and self.parts[i].end > t:
            return self.parts[i]
        return None

    def overlapping(self, a: int, b: int) -> list[Part]:
        i = self.index_at(a)
        j = bisect_left(self.starts, b)
        return self.parts[i:j]

    def drop_before(self, t: int) -> None:
        """Forget the parts that end at or before ``t``."""
        i = self.index_at(t)
        if i:
            del self.parts[:i]
            del self.starts[:i]

    def last_end(self) -> int | None:
        return self.parts[-1].end if self.parts else None
