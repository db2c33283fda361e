"""The routing rules (rta.directory), shared by rta replay's Engine and the worker."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rta.config import TenantSettings
from rta.directory import Held, hold, map_identity, release

HOUR = 3_600_000


def settings(events: int = 5, seconds: int = 24 * 3600) -> TenantSettings:
    return TenantSettings(hold_max_events=events, hold_max_seconds=seconds)


def test_a_hold_is_sorted_by_time_and_unique_by_arrival() -> None:
    held: list[Held] = []
    assert hold(held, [(30, 1, "c"), (10, 2, "a"), (20, 3, "b")], settings()) == []
    assert hold(held, [(10, 2, "a again"), (20, 4, "b2")], settings()) == []
    assert [x[2] for x in held] == ["a", "b", "b2", "c"]
    assert release(held) == ["c", "a", "b", "b2"]  # in arrival order


def test_the_count_bound_drops_the_oldest_at_once() -> None:
    held: list[Held] = []
    dropped = hold(held, [(t, t, f"e{t}") for t in range(7)], settings(events=5),
                   now=0, grace_ms=10**9)
    assert dropped == ["e0", "e1"]
    assert len(held) == 5


def test_the_span_bound_waits_for_the_grace_period_in_the_worker() -> None:
    span = settings(events=100, seconds=3600)
    events = [(0, 1, "old"), (5 * HOUR, 2, "new")]
    held: list[Held] = []
    # replay (no worker clock): at once
    assert hold(held, events, span) == ["old"]
    held = []
    assert hold(held, events, span, now=1_000, grace_ms=300_000) == []
    assert len(held) == 2
    # the identity has been unknown for the grace period: the span bound applies
    assert hold(held, [(5 * HOUR + 1, 3, "newer")], span, now=301_000,
                grace_ms=300_000) == ["old"]
    assert [x[2] for x in held] == ["new", "newer"]


SPRING, AUTUMN = (1_000, "a"), (9_000, "b")


def test_a_mapping_adopts_moves_or_keeps() -> None:
    assert map_identity(None, None, {}, "a", SPRING).change == "adopt"
    assert map_identity("a", SPRING, {}, "a", (500, "a")).rank == SPRING  # the latest kept
    m = map_identity("a", SPRING, {}, "b", AUTUMN)
    assert (m.change, m.owner, m.previous, m.rank) == ("move", "b", "a", AUTUMN)


def test_the_latest_window_wins_whatever_the_order_the_schedules_come_in() -> None:
    """Two agents' schedules are in different partitions of the schedule topic: the
    worker cannot know their order in the log, so the mapping of the later window
    holds (a re-sent spring schedule does not take an autumn channel back)."""
    older = map_identity("b", AUTUMN, {}, "a", SPRING)
    assert (older.change, older.owner, older.rank) == ("older", "b", AUTUMN)
    # the same two messages the other way round: the same owner
    first = map_identity(None, None, {}, "a", SPRING)
    second = map_identity(first.owner, first.rank, {}, "b", AUTUMN)
    assert second.owner == older.owner
    # one window, two agents: the greater agent key, either way round
    tie_ab = map_identity("a", (5, "a"), {}, "b", (5, "b"))
    tie_ba = map_identity("b", (5, "b"), {}, "a", (5, "a"))
    assert tie_ab.owner == tie_ba.owner == "b"
    # an entry from before ranks: any other agent moves it
    assert map_identity("a", None, {}, "b", SPRING).change == "move"


def test_a_schedule_message_read_again_changes_nothing() -> None:
    first = map_identity(None, None, {}, "a", SPRING, (0, 10))
    assert first.seen == {"0": 10}
    moved = map_identity("a", first.rank, first.seen, "b", AUTUMN, (1, 3))
    assert (moved.change, moved.owner) == ("move", "b")
    again = map_identity("b", moved.rank, moved.seen, "a", SPRING, (0, 10))
    assert (again.change, again.owner, again.seen) == ("again", "b", moved.seen)
    later = map_identity("b", moved.rank, moved.seen, "a", (10_000, "a"), (0, 11))
    assert (later.change, later.owner) == ("move", "a")


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=60),
       st.integers(1, 10), st.integers(0, 2**32))
def test_any_split_of_the_same_events_gives_the_same_hold(
        events: list[tuple[int, int]], limit: int, seed: int) -> None:
    """Held in one batch or in many, in any order, copies included: the same hold and
    the same events dropped (the worker's directory gets the events in records cut
    anywhere, and records read again)."""
    s = settings(events=limit, seconds=20)
    unique = {a: (ts, a, f"p{a}") for ts, a in events}  # an arrival is one event
    whole: list[Held] = []
    whole_dropped = hold(whole, list(unique.values()), s)
    rng = random.Random(seed)
    stream: list[tuple[int, int, Any]] = [unique[a] for _, a in events]  # with copies
    rng.shuffle(stream)
    parts: list[Held] = []
    dropped: list[Any] = []
    while stream:
        n = rng.randint(1, 5)
        dropped += hold(parts, stream[:n], s)
        stream = stream[n:]
    assert [x[:3] for x in parts] == [x[:3] for x in whole]
    assert set(dropped) == set(whole_dropped)
    assert len(whole) <= limit
