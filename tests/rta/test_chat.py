"""Chat figures in the live status (docs/SEMANTICS.md, "Live status"): each identity
keeps its latest event's ``chatCapacity`` / ``chatsInProgress`` by timestamp (ties:
the later in the log, else the later applied); the status sums them over the agent's
logged-in identities that have them; they survive snapshots and moves, and change
no timeline."""

from __future__ import annotations

from typing import Any

import orjson

from rta.agent import AgentReducer, TenantContext
from rta.config import TenantsConfig, TenantSettings
from rta.engine import Engine
from rta.models import parse_schedule, parse_state_event
from rta.outputs import Rejected, StatusOut

H = 3_600_000
T0 = 1_772_841_600_000  # 2026-03-07T00:00Z
CHAT, VOICE = ("2", "chat"), ("1", "voice")


def reducer(*identities: tuple[str, str]) -> AgentReducer:
    r = AgentReducer(TenantContext("t", TenantSettings(time_zone="UTC")), "7")
    for ident in identities:
        r.add_identity(ident)
    return r


def figures(r: AgentReducer, now: int) -> tuple[Any, Any]:
    st = r.status(now)
    return st["chatCapacity"], st["chatsInProgress"]


def test_the_latest_event_by_timestamp_that_carried_figures_counts() -> None:
    r = reducer(CHAT)
    assert figures(r, T0) == (None, None)  # logged out, no figures
    r.apply_state(CHAT, T0 + 10_000, 3, None, "e1", chat=(4, 1))
    assert figures(r, T0 + H) == (4, 1)
    r.apply_state(CHAT, T0 + 5_000, 3, None, "e0", chat=(9, 9))  # older: ignored
    assert figures(r, T0 + H) == (4, 1)
    r.apply_state(CHAT, T0 + 20_000, 4, None, "e2")  # no figures: the last ones stay
    assert figures(r, T0 + H) == (4, 1)
    r.apply_state(CHAT, T0 + 30_000, 4, None, "e3", chat=(None, 2))  # the pair, as sent
    assert figures(r, T0 + H) == (None, 2)


def test_at_one_timestamp_the_later_in_the_log_or_the_later_applied() -> None:
    r = reducer(CHAT)
    r.apply_state(CHAT, T0, 3, None, "a", chat=(4, 1))
    r.apply_state(CHAT, T0, 3, None, "b", chat=(4, 2))
    assert figures(r, T0 + 1) == (4, 2)  # no places in the log: the later applied
    p = reducer(CHAT)
    p.apply_state(CHAT, T0, 3, None, "b", pos=20, chat=(4, 2))
    p.apply_state(CHAT, T0, 3, None, "a", pos=10, chat=(4, 1))  # arrives late, earlier
    assert figures(p, T0 + 1) == (4, 2)


def test_sums_over_the_logged_in_identities_that_have_figures() -> None:
    r = reducer(VOICE, CHAT, ("3", "chat2"))
    r.apply_state(VOICE, T0, 4, None, "v1")
    assert figures(r, T0 + 1) == (None, None)  # logged in, no identity has figures
    r.apply_state(CHAT, T0 + 1_000, 3, None, "c1", chat=(3, 1))
    r.apply_state(("3", "chat2"), T0 + 2_000, 3, None, "d1", chat=(2, None))
    assert figures(r, T0 + 3_000) == (5, 1)
    # the second chat channel logs out: it counts no more (its figures are kept)
    r.apply_state(("3", "chat2"), T0 + 4_000, 1, None, "d2")
    assert figures(r, T0 + 5_000) == (3, 1)
    # the first one too: the voice channel keeps the agent logged in, without chats
    r.apply_state(CHAT, T0 + 6_000, 1, None, "c2", chat=(3, 0))
    st = r.status(T0 + 7_000)
    assert (st["loggedIn"], st["chatCapacity"], st["chatsInProgress"]) == (True, None, None)
    # logged out: null, although every chat identity has figures
    r.apply_state(VOICE, T0 + 8_000, 1, None, "v2")
    st = r.status(T0 + 9_000)
    assert (st["state"], st["chatCapacity"], st["chatsInProgress"]) == ("LOGOUT", None, None)
    r.apply_state(CHAT, T0 + 10_000, 3, None, "c3", chat=(3, 0))
    assert figures(r, T0 + 11_000) == (3, 0)


def test_a_change_of_counts_alone_is_a_new_status_and_no_change_of_the_timeline() -> None:
    r = reducer(CHAT)
    r.apply_state(CHAT, T0, 4, None, "a", now=T0, chat=(4, 1))
    times, values = list(r.eff.times), list(r.eff.values)
    days = [(s.date, s.summary) for s in r.build_all(T0 + H)]
    outs = r.apply_state(CHAT, T0 + 60_000, 4, None, "b", now=T0 + 60_000, chat=(4, 2))
    [st] = [o.status for o in outs if isinstance(o, StatusOut)]
    assert (st["state"], st["since"], st["chatsInProgress"]) == ("TALKING", T0, 2)
    assert (r.eff.times, r.eff.values) == (times, values)
    assert [(s.date, s.summary) for s in r.build_all(T0 + H)] == days
    # the same counts again: nothing new
    outs = r.apply_state(CHAT, T0 + 90_000, 4, None, "c", now=T0 + 90_000, chat=(4, 2))
    assert not [o for o in outs if isinstance(o, StatusOut)]


def test_rejected_events_change_no_figures() -> None:
    r = reducer(CHAT)
    r.apply_state(CHAT, T0 + 10 * 24 * H, 3, None, "new", chat=(4, 1))
    # beyond the lateness horizon (7 days)
    outs = r.apply_state(CHAT, T0, 3, None, "old", chat=(8, 8))
    assert [o for o in outs if isinstance(o, Rejected)]
    # a conflicting body under a known eventId, later in time
    outs = r.apply_state(CHAT, T0 + 11 * 24 * H, 4, None, "new", chat=(8, 8))
    assert [o for o in outs if isinstance(o, Rejected)]
    assert figures(r, T0 + 12 * 24 * H) == (4, 1)
    # the figures take no part in duplicate detection: the same event with other
    # counts is a duplicate (not a conflict), and at its timestamp the later applied
    outs = r.apply_state(CHAT, T0 + 10 * 24 * H, 3, None, "new", chat=(4, 3))
    assert not [o for o in outs if isinstance(o, Rejected)]
    assert len(r.identities[CHAT]) == 1
    assert figures(r, T0 + 12 * 24 * H) == (4, 3)


def test_the_figures_survive_a_snapshot_and_an_old_snapshot_has_none() -> None:
    r = reducer(VOICE, CHAT)
    r.apply_state(VOICE, T0, 3, None, "v1", pos=5)
    r.apply_state(CHAT, T0 + 1_000, 3, None, "c1", pos=7, chat=(3, 2))
    snap = orjson.loads(orjson.dumps(r.snapshot()))
    assert snap["chat"] == [["2", "chat", T0 + 1_000, 7, 3, 2]]
    again = AgentReducer.restore(r.ctx, snap)
    assert figures(again, T0 + H) == (3, 2)
    assert again.status(T0 + H) == r.status(T0 + H)
    # the tie rule goes on with the place kept: an earlier place at that instant loses
    again.apply_state(CHAT, T0 + 1_000, 3, None, "c0", pos=6, chat=(9, 9))
    assert figures(again, T0 + H) == (3, 2)
    # a snapshot written before the chat figures: restored with none
    del snap["chat"]
    old = AgentReducer.restore(r.ctx, snap)
    assert figures(old, T0 + H) == (None, None)
    assert old.status(T0 + H)["state"] == "READY"


def test_the_figures_move_with_a_moved_identity() -> None:
    a, b = reducer(VOICE, CHAT), reducer(("1", "other"))
    a.apply_state(VOICE, T0, 3, None, "v1")
    a.apply_state(CHAT, T0, 3, None, "c1", chat=(3, 1))
    b.apply_state(("1", "other"), T0, 3, None, "o1")
    tl = a.remove_identity(CHAT, "8")
    assert tl is not None
    b.add_identity(CHAT, tl)
    assert figures(a, T0 + H) == (None, None)
    assert figures(b, T0 + H) == (3, 1)


# -- the offline engine (rta replay): held, released and moved identities -------------------

def event(acd: str, ts: int, state: int, eid: str, **extra: Any) -> Any:
    return parse_state_event({"tenantId": "t", "acdServerId": "2", "acdAgentId": acd,
                              "gisStateIdentifier": state, "timestamp": ts, "eventId": eid,
                              **extra})


def schedule(agent: int, acd: str, frm: int) -> Any:
    return parse_schedule({"tenantId": "t", "agentId": agent, "acdServerId": "2",
                           "acdAgentId": acd, "fromTimestamp": frm,
                           "toTimestamp": frm + 12 * H, "activities": []})


def test_the_engine_keeps_figures_of_held_events_and_moves_them() -> None:
    e = Engine(TenantsConfig.from_mapping({"t": {}}))
    e.apply_state(event("chat", T0 + 1_000, 3, "c1", chatCapacity=5, chatsInProgress=2))
    e.apply_state(event("chat", T0 + 2_000, 3, "c2"))  # held, no figures
    e.apply_schedule(schedule(7, "chat", T0))  # released to agent 7
    assert figures(e.agents[("t", "7")], T0 + H) == (5, 2)
    e.apply_state(event("chat", T0 + 3_000, 4, "c3", chatsInProgress=3, chatCapacity=5))
    assert figures(e.agents[("t", "7")], T0 + H) == (5, 3)
    e.apply_schedule(schedule(8, "chat", T0 + H))  # a later window: moved to agent 8
    assert figures(e.agents[("t", "7")], T0 + 2 * H) == (None, None)
    assert figures(e.agents[("t", "8")], T0 + 2 * H) == (5, 3)
