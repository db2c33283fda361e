"""The HTTP ingest of ACD identities written by kind (``acdIdentifierKind``): accepted per
state item and per schedule identity, published under the canonical acdAgentId (the
state topic keyed by it), refused with the field named; the OpenAPI document describes
the field exactly as the server reads it (its patterns against ``rta.identifiers``)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rta.config import TenantsConfig
from rta.identifiers import Kind, canonical_agent_id, parse_kind
from rta.models import parse_state_event
from streams.api.backend import WorkerBackend
from streams.api.openapi import (
    KIND_PATTERN,
    PHONE_KIND_PATTERN,
    PHONE_PATTERN,
    openapi_document,
)
from streams.settings import WorkerSettings
from tests.support.fake_backend import FakeService
from tests.support.http import KEYS

NW = KEYS["northwind"]
STATES = "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=2"
NOW = int(time.time() * 1000)


def test_state_items_may_name_their_identity_by_kind(fake_service: FakeService) -> None:
    api, backend = fake_service.api, fake_service.backend
    items = [{"acdAgentId": "(46) 78", "acdIdentifierKind": "phone", "gisStateIdentifier": 3,
              "timestamp": NOW - 3000, "eventId": "kind-1"},
             {"acdAgentId": "phone:4678", "gisStateIdentifier": 4, "timestamp": NOW - 2000},
             {"acdAgentId": "Ann@X.com", "acdIdentifierKind": "User Name",
              "gisStateIdentifier": 2, "timestamp": NOW - 1000}]
    before = len(backend.states)
    r = api.call("POST", STATES, items, key=NW)
    assert r.status == 200 and r.json == {"accepted": 3}, r.body
    published = backend.states[before:]
    assert [ev.identity for ev in published] == [
        ("2", "phone:4678"), ("2", "phone:4678"), ("2", "username:ann@x.com")]
    assert all("acdIdentifierKind" not in ev.to_json() for ev in published)


def test_schedules_may_name_identities_by_kind(fake_service: FakeService) -> None:
    api, backend = fake_service.api, fake_service.backend
    msg = {"agentId": 7777, "acdAgentId": "Ann@X.com", "acdIdentifierKind": "Username",
           "acdIdentities": [{"acdServerId": "2", "acdAgentId": "4678",
                              "acdIdentifierKind": "Phone"}],
           "fromTimestamp": NOW, "toTimestamp": NOW + 3_600_000, "activities": []}
    r = api.call("POST", "/v1/schedules", msg, key=NW)
    assert r.status == 200, r.body
    parsed, raw = backend.schedules[-1]
    assert parsed.identities == [("1", "username:ann@x.com"), ("2", "phone:4678")]
    assert raw["acdIdentifierKind"] == "Username"  # published as received


def test_an_invalid_kind_or_value_is_a_bad_item_naming_the_field(
        fake_service: FakeService) -> None:
    items = [{"acdAgentId": "4678", "acdIdentifierKind": "Fax", "gisStateIdentifier": 3,
              "timestamp": NOW - 1000},
             {"acdAgentId": "12x", "acdIdentifierKind": "Phone", "gisStateIdentifier": 3,
              "timestamp": NOW - 1000}]
    r = fake_service.api.call("POST", STATES, items, key=NW)
    assert r.status == 400, r.body
    errors = [item["errors"] for item in r.json["error"]["items"]]
    assert errors[0] == ["acdIdentifierKind: unknown kind 'Fax' (valid: AgentId, CrmUsername, "
                         "Phone, SystemUsername, Username)"]
    assert errors[1][0].startswith("acdAgentId: '12x' is not a phone number")


class _Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append((key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_the_worker_publishes_states_under_the_canonical_identity() -> None:
    topic = _Topic()
    backend = WorkerBackend(None, None, WorkerSettings(), TenantsConfig(), topic, None, None,
                            None, "agent-input")
    body = {"tenantId": "northwind", "acdServerId": "2", "gisStateIdentifier": 3,
            "timestamp": NOW}
    await backend.publish_states([
        parse_state_event({**body, "acdAgentId": "(46) 78", "acdIdentifierKind": "Phone"}),
        parse_state_event({**body, "acdAgentId": "phone:4678"})])
    assert [key for key, _ in topic.sent] == [b"northwind:2:phone:4678"] * 2
    assert b"acdIdentifierKind" not in topic.sent[0][1]


# ---------------------------------------------------------------------------- the document


def test_the_document_describes_the_field() -> None:
    doc = openapi_document(100_000, 50)
    schemas = doc["components"]["schemas"]
    item = schemas["StateItem"]
    assert "acdIdentifierKind" in item["properties"]
    assert "acdIdentifierKind" not in item["required"]
    assert item["if"]["properties"]["acdIdentifierKind"]["pattern"] == PHONE_KIND_PATTERN
    schedule = schemas["ScheduleMessage"]
    assert "acdIdentifierKind" in schedule["properties"]
    identities = schedule["properties"]["acdIdentities"]["oneOf"][1]["items"]
    assert "acdIdentifierKind" in identities["properties"] and "if" in identities
    description = item["properties"]["acdIdentifierKind"]["description"]
    assert all(k.value in description for k in Kind)


def _reads(f: Any, *args: Any) -> tuple[bool, Any]:
    try:
        return True, f(*args)
    except ValueError:
        return False, None


LETTERS = [*"PhoneUSERNAMEidagentcrmsytIDx", " ", "_", "-", "\t", "\n", "\u00a0", "+", ".",
           "(", ")", "0", "4", "7", "٤", "ſ"]
spellings = st.one_of(
    st.lists(st.sampled_from(LETTERS), max_size=14).map("".join),
    st.sampled_from(["Phone", "Agent ID", "Id", "crm_username", "System-User name", "user name"]
                    ).flatmap(lambda w: st.lists(st.sampled_from(["", " ", "_", "\t"]),
                                                 min_size=len(w) + 1, max_size=len(w) + 1)
                              .map(lambda gaps: "".join(g + c for g, c in zip(gaps, w + " ",
                                                                             strict=True)))))


@given(spellings)
def test_the_document_patterns_accept_exactly_what_the_server_reads(text: str) -> None:
    """JSON Schema patterns are unanchored ECMA expressions; these are anchored and use
    nothing Python reads otherwise (``$`` also matches before a final newline in Python,
    and every pattern here allows trailing white space anyway)."""
    ok, kind = _reads(parse_kind, text)
    assert bool(re.search(KIND_PATTERN, text)) == ok
    assert bool(re.search(PHONE_KIND_PATTERN, text)) == (ok and kind is Kind.PHONE)
    phone_ok, _ = _reads(canonical_agent_id, "Phone", text)
    assert bool(re.search(PHONE_PATTERN, text)) == phone_ok


@pytest.mark.parametrize(("text", "kind"), [
    ("", True), ("Agent ID", True), ("_Phone_", True), ("Ph\tone", False), ("Phones", False),
])
def test_the_kind_pattern_examples(text: str, kind: bool) -> None:
    assert bool(re.search(KIND_PATTERN, text)) == kind
