"""The compact form of state events (``streams.codec``): what the routers, the
directory's hold and the agent-input items carry, and the event given back from it
(a dead letter, rta.agent-state)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rta.models import parse_state_event
from streams.codec import compact_parts, compact_state, decode_state, state_json

EV = {"tenantId": "northwind", "acdServerId": "2", "acdAgentId": "username:ann@x.com",
      "gisStateIdentifier": 4, "timestamp": 1772811000000, "reasonCode": None,
      "eventId": "omni:1:d:1772811000000:ann"}


@pytest.mark.parametrize("chat", [
    {}, {"chatCapacity": 5, "chatsInProgress": 2}, {"chatCapacity": None, "chatsInProgress": 0},
    {"chatCapacity": 3},
])
def test_a_compact_event_gives_the_event_back(chat: dict[str, Any]) -> None:
    ev = decode_state(orjson.dumps({**EV, **chat}), 1_000_000)
    compact = orjson.loads(orjson.dumps(compact_state(ev, 7 * 2**40 + 12)))  # as stored
    pos, figures = compact_parts(compact)
    assert pos == 7 * 2**40 + 12
    assert figures == ev.chat
    assert state_json("northwind", compact) == ev.to_json()
    assert parse_state_event(state_json("northwind", compact)) == ev
    # in a hold record ([timestamp, arrival, compact]) too
    held = orjson.loads(orjson.dumps([ev.timestamp, pos, compact]))
    assert state_json("northwind", held[2]) == ev.to_json()


def test_older_compact_forms_are_read() -> None:
    six = ["2", "a", 3, 5, None, "e"]  # before places in the log
    seven = [*six, 44]  # before the chat figures
    assert compact_parts(six) == (None, None)
    assert compact_parts(seven) == (44, None)
    assert state_json("t", six) == state_json("t", seven) == {
        "tenantId": "t", "acdServerId": "2", "acdAgentId": "a", "gisStateIdentifier": 3,
        "timestamp": 5, "reasonCode": None, "eventId": "e"}
    assert compact_parts([*seven, [None, 1]]) == (44, (None, 1))
    assert compact_parts([*seven, None]) == (44, None)
