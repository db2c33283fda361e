"""Chat figures through the worker's agent-input items, without a broker: a state item
in the compact form reaches the reducer's live status, and a move ("m") hands the
identity's figures to its new agent with the "ad" item (docs/SEMANTICS.md, "Live
status"). The broker path is tests/streams/api/test_http.py
(``test_agent_status_is_live``)."""

from __future__ import annotations

import asyncio
from typing import Any

from rta.agent import AgentReducer
from rta.config import TenantsConfig
from rta.models import parse_state_event
from rta.outputs import StatusOut
from streams.codec import compact_state
from streams.settings import WorkerSettings
from streams.worker.reducers import apply_item
from streams.worker.runtime import Runtime

T0 = 1_772_841_600_000
NOW = T0 + 3_600_000


class StubWorker:
    """What ``apply_item`` uses of a worker: the runtime, and sends (kept here)."""

    def __init__(self) -> None:
        self.rt = Runtime(WorkerSettings(), TenantsConfig.from_mapping(None, "UTC"))
        self.sent: list[dict[str, Any]] = []

    def state_item(self, tenant: str, agent: str, compact: list[Any]
                   ) -> tuple[int, dict[str, Any]]:
        return 0, {"k": "s", "t": tenant, "a": agent, "e": compact}

    async def send_items(self, by_partition: dict[int, list[Any]]) -> list[Any]:
        self.sent += [item for items in by_partition.values() for item in items]
        return []


def state(acd: str, ts: int, gis: int, eid: str, pos: int, **chat: Any) -> dict[str, Any]:
    ev = parse_state_event({"tenantId": "t", "acdServerId": "2", "acdAgentId": acd,
                            "gisStateIdentifier": gis, "timestamp": ts, "eventId": eid,
                            **chat})
    return {"k": "s", "t": "t", "a": "7", "e": compact_state(ev, pos)}


def apply(w: Any, r: AgentReducer, item: dict[str, Any]) -> list[Any]:
    return asyncio.run(apply_item(w, item, r, NOW, []))


def test_state_items_carry_the_figures_and_a_move_hands_them_over() -> None:
    w = StubWorker()
    a = AgentReducer(w.rt.context("t"), "7")
    b = AgentReducer(w.rt.context("t"), "8")
    outs = apply(w, a, state("chat", T0, 3, "c1", 10, chatCapacity=4, chatsInProgress=1))
    [st] = [o.status for o in outs if isinstance(o, StatusOut)]
    assert (st["chatCapacity"], st["chatsInProgress"]) == (4, 1)
    # an item of the older form (no figures) leaves them as they are
    apply(w, a, {"k": "s", "t": "t", "a": "7", "e": ["2", "chat", 4, T0 + 1, None, "c2", 11]})
    assert (a.status(NOW)["chatCapacity"], a.status(NOW)["chatsInProgress"]) == (4, 1)
    # the identity moves to agent 8: its figures go with the "ad" item
    apply(w, a, {"k": "m", "t": "t", "a": "7", "i": ["2", "chat"], "to": "8"})
    assert w.sent[0] == {"k": "ad", "t": "t", "a": "8", "i": ["2", "chat"],
                         "c": [T0, 10, 4, 1]}
    assert (a.status(NOW)["chatCapacity"], a.status(NOW)["chatsInProgress"]) == (None, None)
    for item in w.sent:
        apply(w, b, item)
    st = b.status(NOW)
    assert (st["state"], st["chatCapacity"], st["chatsInProgress"]) == ("TALKING", 4, 1)
    # an event routed to agent 7 before the move is sent on with its figures
    w.sent.clear()
    apply(w, a, state("chat", T0 + 2, 4, "c3", 12, chatCapacity=4, chatsInProgress=2))
    [fwd] = w.sent
    assert fwd["a"] == "8" and fwd["e"][7] == [4, 2]
    apply(w, b, fwd)
    assert b.status(NOW)["chatsInProgress"] == 2
