"""Finality in the reducer (``AgentReducer.prune``): bounded by the input watermark,
never past a day whose changes are not yet published; and moved identities."""

from __future__ import annotations

from rta.agent import AgentReducer, TenantContext
from rta.config import TenantSettings
from rta.outputs import Rejected

H = 3_600_000
DAY = 24 * H
T0 = 1_772_841_600_000  # 2026-03-07T00:00Z
OCT = T0 + 230 * DAY  # months later in event time


def reducer(*identities: tuple[str, str]) -> AgentReducer:
    r = AgentReducer(TenantContext("t", TenantSettings(time_zone="UTC")), "7")
    for ident in identities:
        r.add_identity(ident)
    return r


def test_a_channel_behind_the_watermark_keeps_its_history() -> None:
    """Two channels of one agent come through two input partitions; one is read up
    to October, the other is still in March. Bounded by the watermark (March), the
    floor leaves the March channel's next events admissible; without the bound the
    lagging channel counted as dormant and its events were rejected (issue: "dead-
    lettered though the spec admits them")."""
    r = reducer(("1", "voice"), ("2", "chat"))
    r.apply_state(("2", "chat"), T0 + 9 * H, 3, None, "c1")
    r.apply_state(("1", "voice"), OCT + 9 * H, 3, None, "v1")
    r.prune(watermark=T0 + 9 * H)
    assert r.floor is not None and r.floor <= T0 + 9 * H - 7 * DAY
    outs = r.apply_state(("2", "chat"), T0 + 10 * H, 1, None, "c2")
    assert not [o for o in outs if isinstance(o, Rejected)]
    # once the watermark passes (and the days are published), the silent channel no
    # longer holds the floor back
    r.build_changed(None)
    r.prune(watermark=OCT + 9 * H)
    assert r.floor == OCT - 7 * DAY


def test_the_floor_never_passes_a_day_with_unpublished_changes() -> None:
    """A day changed after its last build stays until it is built again: the last
    events of a day, applied while the summaries of the day before were being
    published, and then events months later (issue: "lost without a trace")."""
    r = reducer(("1", "a"))
    r.apply_state(("1", "a"), T0 + 9 * H, 3, None, "e1")
    r.build_changed(None)
    r.apply_state(("1", "a"), T0 + 17 * H, 1, None, "e2")  # the day's logout
    r.apply_state(("1", "a"), OCT + 9 * H, 3, None, "e3")
    r.prune(watermark=OCT + 9 * H)
    assert r.floor is not None and r.floor <= T0
    built = {s.date: s.summary for s in r.build_changed(None)}
    assert built["2026-03-07"] is not None
    assert built["2026-03-07"]["actualInServiceSeconds"] == 8 * 3600
    r.prune(watermark=OCT + 9 * H)  # published: now it may pass
    assert r.floor == OCT - 7 * DAY


def test_a_moved_identity_is_remembered_and_forgotten_when_it_comes_back() -> None:
    r = reducer(("1", "a"), ("2", "chat"))
    r.remove_identity(("2", "chat"), "8")
    assert r.moved_to(("2", "chat")) == "8"
    assert r.moved_to(("1", "a")) is None
    again = AgentReducer.restore(r.ctx, r.snapshot())
    assert again.moved_to(("2", "chat")) == "8"
    again.add_identity(("2", "chat"))
    assert again.moved_to(("2", "chat")) is None
