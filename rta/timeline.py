"""State timelines: per ACD identity, and the agent's effective timeline.

An identity's entries are kept sorted by ``(timestamp, eventId or "", state,
reason string or "")``; of several entries at one instant the last is the
state from that instant (the order never depends on arrival).

Where arrival and log order can differ (the stream worker: an identity's events
reach its agent by different routing paths), each entry carries its place in
the log (``pos``: input partition and offset), and what depends on log order is
decided by it: of two bodies under one eventId the one first in the log is
kept, and the lateness horizon compares an event with the events before it in
the log (``newest_before``, ``late_after``). Without ``pos`` (``rta replay``),
arrival order is log order. The effective
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
# an identity's chat figures: (timestamp, place in the log or None, chatCapacity,
# chatsInProgress) of the event they came from
Chat = tuple[int, int | None, int | None, int | None]
LOGGED_OUT: Value = (LOGOUT, None)


class Entry(NamedTuple):
    ts: int
    eid: str
    state: int
    rkey: str
    reason: Reason
    pos: int | None = None  # place in the log (None: before every entry with one)
    copies: tuple[int, ...] = ()  # places of its later copies (duplicates) in the log

    def before(self, pos: int) -> bool:
        return self.pos is None or self.pos < pos


class Applied(NamedTuple):
    """What happened to one event offered to an identity timeline."""

    status: str  # "applied" | "duplicate" | "conflict"
    replaced: bool = False  # an equal id-less entry's reason was swapped to its int form
    displaced: Entry | None = None  # the same eventId, later in the log, with another body


class IdentityTimeline:
    __slots__ = ("_ids", "_plain", "chat", "entries", "first", "floor", "max_pos", "times")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.times: list[int] = []
        self._ids: dict[str, Entry] = {}
        self._plain: dict[tuple[int, int, str], int] = {}  # (ts, state, rkey) -> count marker
        self.floor: int | None = None  # exact from here on (see drop_before)
        self.max_pos: int | None = None  # the latest place in the log applied
        # the earliest instant ever applied (kept when older entries are dropped): with
        # ``floor``, which days of the identity's history are no longer here
        self.first: int | None = None
        # the chat figures of its latest event that carried any (``offer_chat``); not
        # part of the entries: they change no state (docs/SEMANTICS.md, "Live status")
        self.chat: Chat | None = None

    @property
    def newest(self) -> int | None:
        return self.times[-1] if self.times else None

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, ts: int, state: int, reason: Reason, eid: str | None,
            pos: int | None = None) -> Applied:
        rkey = "" if reason is None else str(reason)
        displaced = None
        if eid is not None:
            known = self._ids.get(eid)
            if known is not None:
                same = known.ts == ts and known.state == state and known.rkey == rkey
                earlier = pos is not None and known.pos is not None and pos < known.pos
                if same:
                    self._copy(known, pos)
                    return Applied("duplicate")
                if not earlier:
                    return Applied("conflict")
                self._remove(known)  # the log's first body under this id wins
                displaced = known
            entry = Entry(ts, eid, state, rkey, reason, pos)
            self._ids[eid] = entry
        else:
            key = (ts, state, rkey)
            if key in self._plain:
                self._copy(self.entries[bisect_left(self.entries, (ts, "", state, rkey))], pos)
                if isinstance(reason, int):
                    return Applied("duplicate", self._prefer_int(ts, state, rkey, reason))
                return Applied("duplicate")
            self._plain[key] = 1
            entry = Entry(ts, "", state, rkey, reason, pos)
        if pos is not None and (self.max_pos is None or pos > self.max_pos):
            self.max_pos = pos
        if self.first is None or ts < self.first:
            self.first = ts
        if not self.entries or self.entries[-1] < entry:
            self.entries.append(entry)
            self.times.append(ts)
        else:
            insort(self.entries, entry)
            self.times.insert(bisect_right(self.times, ts), ts)
        return Applied("applied", displaced=displaced)

    def offer_chat(self, chat: Chat) -> bool:
        """Keep ``chat`` if its event is the latest by timestamp of those that carried
        figures; at one timestamp the later in the log, and without places in the log
        (``rta replay``) the later applied (an event without a place comes before one
        with). Returns whether they were kept."""
        if self.chat is not None and _chat_order(chat) < _chat_order(self.chat):
            return False
        self.chat = chat
        return True

    def newest_before(self, pos: int | None) -> int | None:
        """The newest timestamp of the entries before ``pos`` in the log (all of them
        when ``pos`` is None or after every entry: arrival in log order)."""
        if pos is None or self.max_pos is None or pos > self.max_pos:
            return self.newest
        return max((e.ts for e in self.entries if e.before(pos)), default=None)

    def late_after(self, pos: int | None, limit: int) -> list[Entry]:
        """Remove and return the copies of entries after ``pos`` in the log older than
        ``limit`` (an entry with copies before ``pos`` stays, without those after):
        an event that arrived late but comes first in the log puts them beyond the
        lateness horizon (``limit`` = its timestamp - horizon)."""
        if pos is None or self.max_pos is None or pos > self.max_pos:
            return []
        late = []
        for e in [e for e in self.entries if e.ts < limit and e.pos is not None
                  and (e.pos > pos or (e.copies and e.copies[-1] > pos))]:
            first = e.pos if e.pos is not None else -1
            gone = [c for c in (first, *e.copies) if c > pos]
            late += [e._replace(pos=c, copies=()) for c in gone]
            if first > pos:
                self._remove(e)
            else:
                self._replace(e, e._replace(copies=tuple(c for c in e.copies if c < pos)))
        return late

    def _copy(self, known: Entry, pos: int | None) -> None:
        """A duplicate of ``known`` at ``pos`` in the log: the first copy in the log is
        the entry's place, the others are remembered (``late_after``)."""
        if pos is None or known.pos is None or pos == known.pos or pos in known.copies:
            return  # (the same record read again)
        first, *rest = sorted((known.pos, *known.copies, pos))
        self._replace(known, known._replace(pos=first, copies=tuple(rest)))
        if self.max_pos is None or pos > self.max_pos:
            self.max_pos = pos

    def _remove(self, entry: Entry) -> None:
        i = bisect_left(self.entries, entry[:4])
        del self.entries[i]
        del self.times[i]
        if entry.eid:
            self._ids.pop(entry.eid, None)
        else:
            self._plain.pop((entry.ts, entry.state, entry.rkey), None)

    def _replace(self, old: Entry, new: Entry) -> None:
        self.entries[bisect_left(self.entries, old[:4])] = new
        if new.eid:
            self._ids[new.eid] = new

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

    def dropped_span(self) -> tuple[int, int] | None:
        """``[first, floor)``: the instants of this identity's history that were dropped
        (events before the floor, kept only by the days already made final), or None."""
        if self.first is None or self.floor is None or self.first >= self.floor:
            return None
        return (self.first, self.floor)

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


def _chat_order(chat: Chat) -> tuple[int, int]:
    return (chat[0], -1 if chat[1] is None else chat[1])


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
