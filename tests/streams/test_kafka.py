"""``record_key``: the input topic keys of INTERFACES.md, an identity written by kind
keyed by its canonical acdAgentId (so all its events share one partition)."""

from __future__ import annotations

from typing import Any

import pytest

from rta.models import parse_state_event
from streams.codec import identity_key
from streams.kafka import record_key
from tests.support.logs import partition_of

STATE = {"tenantId": "t", "acdServerId": "2", "gisStateIdentifier": 3, "timestamp": 1}


@pytest.mark.parametrize("written", [
    {"acdAgentId": "phone:4678"},
    {"acdAgentId": "4678", "acdIdentifierKind": "Phone"},
    {"acdAgentId": "(46) 78", "acdIdentifierKind": "phone"},
    {"acdAgentId": 4678, "acdIdentifierKind": "PHONE"},
    {"acdAgentId": "+46-78", "acdIdentifierKind": " Phone "},
    {"acdAgentId": "46.78", "acdIdentifierKind": "phone", "gisStateIdentifier": 0},  # bad state
])
def test_every_spelling_of_an_identity_has_one_key(written: dict[str, Any]) -> None:
    assert record_key("state", {**STATE, **written}) == b"t:2:phone:4678"
    assert partition_of(record_key("state", {**STATE, **written}), 12) == \
        partition_of(b"t:2:phone:4678", 12)


def test_the_key_is_the_one_the_http_ingest_gives() -> None:
    body = {**STATE, "acdAgentId": "Ann@X.com", "acdIdentifierKind": "user name"}
    ev = parse_state_event(body)
    assert record_key("state", body) == \
        identity_key(ev.tenant_id, ev.acd_server_id, ev.acd_agent_id).encode() == \
        b"t:2:username:ann@x.com"


@pytest.mark.parametrize(("written", "key"), [
    ({"acdAgentId": "12x", "acdIdentifierKind": "Phone"}, b"t:2:12x"),  # not a phone number
    ({"acdAgentId": "4678", "acdIdentifierKind": "Fax"}, b"t:2:4678"),  # unknown kind
    ({"acdAgentId": "4678", "acdIdentifierKind": 5}, b"t:2:4678"),
    ({"acdAgentId": " ", "acdIdentifierKind": "Username"}, b"t:2: "),  # blank
    ({"acdAgentId": None, "acdIdentifierKind": "Phone"}, b"t:2:None"),
    ({"acdAgentId": True, "acdIdentifierKind": "Phone"}, b"t:2:True"),
    ({"acdAgentId": " 4678 "}, b"t:2: 4678 "),  # no kind: as before, the value as written
    ({"acdAgentId": "4678", "acdIdentifierKind": None}, b"t:2:4678"),
])
def test_an_invalid_or_plain_body_is_keyed_by_the_value_as_written(written: dict[str, Any],
                                                                   key: bytes) -> None:
    assert record_key("state", {**STATE, **written}) == key


def test_schedule_keys_are_by_agent() -> None:
    body = {"tenantId": "t", "agentId": 7, "acdAgentId": "4678", "acdIdentifierKind": "Phone"}
    assert record_key("schedule", body) == b"t:7"
