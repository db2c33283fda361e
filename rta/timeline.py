"""State timelines: per ACD identity, and the agent's effective timeline.

An identity's entries are kept sorted by ``(timestamp, eventId or "", state,
reason string or "")``; of several entries at one instant the last is the
state from that instant (the order never depends on arrival). The effective
timeline merges an agent's identities by multi-channel rank and holds only
changes of (state, reason): its entries are the starts of maximal runs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from typing import NamedTuple

from rta.states import LOGOUT, RANK

Reason = int | str | None
Value = tuple[int, Reason]  # (state, reason)
LOGGED_OUT: Value = (LOGOUT, None)


class Entry(NamedTuple):
    ts: int
    eid: str
    state: int
    rkey: str
    reason: Reason


class Applied(NamedTuple):
    """What happened to one event offered to an identity timeline."""

    status: str  # "applied" | "duplicate" | "conflict"
    replaced: bool = False  # an equal id-less entry's reason was swapped to its int form


class IdentityTimeline:
    __slots__ = ("_ids", "_plain", "entries", "floor", "times")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.times: list[int] = []
        self._ids: dict[str, Entry] = {}
        self._plain: dict[tuple[int, int, str], int] = {}  # (ts, state, rkey) -> count marker
        self.floor: int | None = None  # exact from here on (see drop_before)

    @property
    def newest(self) -> int | None:
        return self.times[-1] if self.times else None

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, ts: int, state: int, reason: Reason, eid: str | None) -> Applied:
        rkey = "" if reason is None else str(reason)
        if eid is not None:
            known = self._ids.get(eid)
            if known is not None:
                same = known.ts == ts and known.state == state and known.rkey == rkey
                return Applied("duplicate" if same else "conflict")
            entry = Entry(ts, eid, state, rkey, reason)
            self._ids[eid] = entry
        else:
            key = (ts, state, rkey)
            if key in self._plain:
                if isinstance(reason, int):
                    return Applied("duplicate", self._prefer_int(ts, state, rkey, reason))
                return Applied("duplicate")
            self._plain[key] = 1
            entry = Entry(ts, "", state, rkey, reason)
        if not self.entries or self.entries[-1] < entry:
            self.entries.append(entry)
            self.times.append(ts)
        else:
            insort(self.entries, entry)
            self.times.insert(bisect_right(self.times, ts), ts)
        return Applied("applied")

    def _prefer_int(self, ts: int, state: int, rkey: str, reason: int) -> bool:
        i = bisect_left(self.entries, (ts, "", state, rkey))
        old = self.entries[i]
        if isinstance(old.reason, str):
            self.entries[i] = old._replace(reason=reason)
            return True
        return False

    def value_at(self, t: int) -> Value:
        """State and reason holding at instant ``t`` (LOGOUT before the first event)."""
        i = bisect_right(self.times, t) - 1
        if i < 0:
            return LOGGED_OUT
        e = self.entries[i]
        return (e.state, e.reason)

    def drop_before(self, t: int) -> bool:
        """Forget the entries before ``t`` except those of the last instant before it,
        so the state at every instant from the last change before ``t`` on is kept
        exactly. Returns whether anything was dropped."""
        self.floor = t if self.floor is None else max(self.floor, t)
        i = bisect_left(self.times, t)  # first entry at or after t
        if i == 0:
            return False
        keep = bisect_left(self.times, self.times[i - 1])  # the last instant before t
        if keep == 0:
            return False
        del self.entries[:keep]
        del self.times[:keep]
        self._ids = {e.eid: e for e in self.entries if e.eid}
        self._plain = {(e.ts, e.state, e.rkey): 1 for e in self.entries if not e.eid}
        return True


def effective(values: Sequence[Value]) -> Value:
    """Highest-ranked state; ties go to the first identity in order."""
    best = values[0]
    best_rank = RANK[best[0]]
    for v in values[1:]:
        r = RANK[v[0]]
        if r > best_rank:
            best, best_rank = v, r
    return best


class EffectiveTimeline:
    """Starts of maximal runs of one effective (state, reason)."""

    __slots__ = ("times", "values")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.values: list[Value] = []

    @property
    def current(self) -> Value:
        return self.values[-1] if self.values else LOGGED_OUT

    def value_at(self, t: int) -> Value:
        i = bisect_right(self.times, t) - 1
        return self.values[i] if i >= 0 else LOGGED_OUT

    def index_at(self, t: int) -> int:
        """Index of the run holding at ``t`` (-1: before the first change)."""
        return bisect_right(self.times, t) - 1

    def run_end(self, i: int) -> int | None:
        return self.times[i + 1] if i + 1 < len(self.times) else None

    def append(self, t: int, value: Value) -> bool:
        """Record a change at ``t`` (after every known change); False if no change."""
        if value == self.current:
            return False
        self.times.append(t)
        self.values.append(value)
        return True

    def rebuild_from(self, t0: int, identities: Sequence[IdentityTimeline]) -> None:
        """Recompute every change at or after ``t0`` from the identities."""
        cut = bisect_left(self.times, t0)
        del self.times[cut:]
        del self.values[cut:]
        if len(identities) == 1:
            tl = identities[0]
            entries = tl.entries
            i = bisect_left(tl.times, t0)
            n = len(entries)
            prev = self.current
            while i < n:
                e = entries[i]
                # the last entry at one instant is the state from that instant
                if i + 1 < n and entries[i + 1].ts == e.ts:
                    i += 1
                    continue
                v = (e.state, e.reason)
                if v != prev:
                    self.times.append(e.ts)
                    self.values.append(v)
                    prev = v
                i += 1
            return
        times = sorted({ts for tl in identities for ts in tl.times[bisect_left(tl.times, t0):]})
        prev = self.current
        for ts in times:
            v = effective([tl.value_at(ts) for tl in identities])
            if v != prev:
                self.times.append(ts)
                self.values.append(v)
                prev = v
