"""Input validation: exactly the allowed variations, precise errors otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from rta.models import InputError, parse_schedule, parse_state_event

EV = {"tenantId": "northwind", "acdServerId": "1", "acdAgentId": "100042",
      "gisStateIdentifier": "4", "timestamp": 1772811000000, "reasonCode": None,
      "eventId": "e-1"}
SCHED = {"tenantId": "northwind", "agentId": 7042, "employeeId": "E7042",
         "acdServerId": "1", "acdAgentId": "100042",
         "acdIdentities": [{"acdServerId": "2", "acdAgentId": "chat-42"}],
         "agentTimeZone": "America/Chicago",
         "fromTimestamp": 1772791200000, "toTimestamp": 1772844300000,
         "activities": [{"activityType": "IN_SERVICE", "activityTypeLabel": "In Service",
                         "activityDetailName": "Billing", "startTime": 1772803800000,
                         "endTime": 1772811000000, "serviceQueueId": 218}]}


def test_the_spec_examples_parse() -> None:
    ev = parse_state_event(EV)
    assert (ev.state, ev.reason, ev.event_id, ev.identity) == (4, None, "e-1", ("1", "100042"))
    msg = parse_schedule(SCHED)
    assert msg.identities == [("1", "100042"), ("2", "chat-42")]
    assert (msg.agent_key, msg.agent_id, msg.activities[0].activity_type) == \
        ("7042", 7042, "IN_SERVICE")


@pytest.mark.parametrize(("field", "value", "parsed"), [
    ("gisStateIdentifier", 4, 4),
    ("gisStateIdentifier", "10", 10),
    ("reasonCode", "", None),
    ("reasonCode", "   ", None),
    ("reasonCode", 1, 1),
    ("reasonCode", 65535, 65535),
    ("reasonCode", "Lunch", "Lunch"),
    ("reasonCode", "12", "12"),
    ("eventId", "", None),
    ("eventId", 77, "77"),
    ("acdAgentId", 100042, "100042"),
    ("chatCapacity", 0, 0),
    ("chatCapacity", 10_000, 10_000),
    ("chatCapacity", None, None),
    ("chatsInProgress", 0, 0),
    ("chatsInProgress", 3, 3),
    ("chatsInProgress", None, None),
])
def test_allowed_variations(field: str, value: Any, parsed: Any) -> None:
    attr = {"gisStateIdentifier": "state", "reasonCode": "reason", "eventId": "event_id",
            "acdAgentId": "acd_agent_id", "chatCapacity": "chat_capacity",
            "chatsInProgress": "chats_in_progress"}[field]
    assert getattr(parse_state_event({**EV, field: value}), attr) == parsed


def test_defaults() -> None:
    body = {k: v for k, v in EV.items() if k not in ("acdServerId", "reasonCode", "eventId")}
    ev = parse_state_event(body)
    assert (ev.acd_server_id, ev.reason, ev.event_id) == ("1", None, None)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("gisStateIdentifier", 0, "gisStateIdentifier: unknown state id 0 (valid: 1-10)"),
    ("gisStateIdentifier", "11", "gisStateIdentifier: unknown state id '11' (valid: 1-10)"),
    ("gisStateIdentifier", "4.0", "gisStateIdentifier: must be a state id 1-10 (number or "
                                  "numeric string), got '4.0'"),
    ("gisStateIdentifier", True, "gisStateIdentifier: must be a state id 1-10, got True"),
    ("gisStateIdentifier", 4.0, "gisStateIdentifier: must be a state id 1-10 (number or "
                                "numeric string), got 4.0"),
    ("reasonCode", 0, "reasonCode: numeric reason codes must be 1-65535, got 0"),
    ("reasonCode", 65536, "reasonCode: numeric reason codes must be 1-65535, got 65536"),
    ("reasonCode", 1.5, "reasonCode: must be null, 1-65535 or a text string, got float"),
    ("reasonCode", [1], "reasonCode: must be null, 1-65535 or a text string, got list"),
    ("timestamp", "1772811000000", "timestamp: must be an integer of epoch milliseconds, "
                                   "got '1772811000000'"),
    ("timestamp", 1.7e12, "timestamp: must be an integer of epoch milliseconds, got "
                          "1700000000000.0"),
    ("timestamp", -1, "timestamp: epoch milliseconds out of range: -1"),
    ("tenantId", " ", "tenantId: must not be blank"),
    ("acdAgentId", None, "acdAgentId: must be a string, got NoneType"),
    ("chatCapacity", True, "chatCapacity: must be null or an integer 0-10000, got True"),
    ("chatCapacity", 3.0, "chatCapacity: must be null or an integer 0-10000, got 3.0"),
    ("chatCapacity", "3", "chatCapacity: must be null or an integer 0-10000, got '3'"),
    ("chatCapacity", -1, "chatCapacity: must be 0-10000, got -1"),
    ("chatsInProgress", False, "chatsInProgress: must be null or an integer 0-10000, "
                               "got False"),
    ("chatsInProgress", 1.5, "chatsInProgress: must be null or an integer 0-10000, got 1.5"),
    ("chatsInProgress", [2], "chatsInProgress: must be null or an integer 0-10000, got [2]"),
    ("chatsInProgress", 10_001, "chatsInProgress: must be 0-10000, got 10001"),
])
def test_rejections_name_the_field_and_the_problem(field: str, value: Any,
                                                   message: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_state_event({**EV, field: value})
    assert str(exc.value) == message


def test_chat_figures_are_optional_and_written_only_when_known() -> None:
    ev = parse_state_event(EV)
    assert (ev.chat_capacity, ev.chats_in_progress, ev.chat) == (None, None, None)
    assert "chatCapacity" not in ev.to_json() and "chatsInProgress" not in ev.to_json()
    ev = parse_state_event({**EV, "chatCapacity": None, "chatsInProgress": 2})
    assert ev.chat == (None, 2)
    assert ev.to_json() == {**EV, "gisStateIdentifier": 4, "chatsInProgress": 2}
    ev = parse_state_event({**EV, "chatCapacity": 5, "chatsInProgress": 0})
    assert ev.chat == (5, 0)
    assert parse_state_event(ev.to_json()) == ev
    with pytest.raises(InputError) as exc:
        parse_state_event({**EV, "chatCapacity": "x", "chatsInProgress": -2})
    assert exc.value.problems == [
        "chatCapacity: must be null or an integer 0-10000, got 'x'",
        "chatsInProgress: must be 0-10000, got -2"]


def test_several_problems_are_all_named() -> None:
    with pytest.raises(InputError) as exc:
        parse_state_event({"tenantId": "t", "gisStateIdentifier": 99})
    assert exc.value.problems == ["acdAgentId: is required",
                                  "gisStateIdentifier: unknown state id 99 (valid: 1-10)",
                                  "timestamp: is required"]


@pytest.mark.parametrize(("change", "message"), [
    ({"toTimestamp": 1772791200000},
     "toTimestamp 1772791200000 must be after fromTimestamp 1772791200000"),
    ({"activities": [{"activityType": "break", "startTime": 5, "endTime": 5}]},
     "activities.0: endTime 5 must be after startTime 5"),
    ({"activities": [{"activityType": "", "startTime": 5, "endTime": 6}]},
     "activities.0.activityType: must not be blank"),
    ({"activities": None}, "activities: Input should be a valid tuple"),
    ({"agentId": True}, "agentId: must be a number or a string, got True"),
    ({"acdIdentities": [{"acdServerId": "2"}]}, "acdIdentities.0.acdAgentId: is required"),
])
def test_schedule_rejections(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_schedule({**SCHED, **change})
    assert message in str(exc.value)


def test_not_an_object() -> None:
    with pytest.raises(InputError, match="state event must be a JSON object, got str"):
        parse_state_event("x")
    with pytest.raises(InputError, match="schedule message must be a JSON object, got list"):
        parse_schedule([])


SCHEDULE = {"tenantId": "t", "agentId": 7, "acdAgentId": "a", "fromTimestamp": 0,
            "toTimestamp": 3_600_000, "activities": [
                {"activityType": "IN_SERVICE", "startTime": 0, "endTime": 3_600_000}]}


@pytest.mark.parametrize(("extra", "team", "name"), [
    ({}, None, None),
    ({"team": "  Billing   East ", "agentName": "Ann Lee"}, "Billing East", "Ann Lee"),
    ({"mainTeam": {"teamId": 3, "name": "Default Team"}, "firstName": "bill",
      "lastName": "smith"}, "Default Team", "bill smith"),  # Webex's agent fields
    ({"team": "Sales", "mainTeam": {"name": "Other"}, "firstName": "x"}, "Sales", "x"),
    ({"team": "", "agentName": "  "}, None, None),
])
def test_schedules_may_name_the_team_and_the_agent(extra: dict[str, Any], team: Any,
                                                   name: Any) -> None:
    msg = parse_schedule({**SCHEDULE, **extra})
    assert (msg.team, msg.agent_name) == (team, name)


@pytest.mark.parametrize(("extra", "team", "name"), [
    ({"team": "x" * 201}, "x" * 200, None),  # cut, not refused
    ({"team": {"name": "Billing"}, "agentName": True}, None, None),
    ({"team": ["A"], "mainTeam": {"name": 7}}, "7", None),
    ({"mainTeam": {"name": None}, "firstName": ["x"], "lastName": "Lee"}, None, "Lee"),
    ({"mainTeam": "Billing", "firstName": "a" * 150, "lastName": "b" * 150}, None,
     "a" * 150 + " " + "b" * 49),
])
def test_names_are_best_effort_never_a_reason_to_refuse_a_schedule(
        extra: dict[str, Any], team: Any, name: Any) -> None:
    """Bodies already on the topics are parsed again (routers, reducers, recompute):
    what was accepted before these fields were read must still be."""
    msg = parse_schedule({**SCHEDULE, **extra})
    assert (msg.team, msg.agent_name) == (team, name)


def test_the_status_carries_the_latest_team_and_name_through_a_snapshot() -> None:
    from rta.agent import AgentReducer, TenantContext
    from rta.config import TenantSettings

    ctx = TenantContext("t", TenantSettings())
    r = AgentReducer(ctx, "7")
    r.apply_schedule(7, "a", 0, 10, [], team="Billing", name="Ann")
    r.apply_schedule(7, "a", 10, 20, [])  # names neither: they stay
    assert (r.status(5)["team"], r.status(5)["agentName"]) == ("Billing", "Ann")
    r.apply_schedule(7, "a", 20, 30, [], team="Sales")
    back = AgentReducer.restore(ctx, r.snapshot())
    assert (back.status(5)["team"], back.status(5)["agentName"]) == ("Sales", "Ann")
    old = {k: v for k, v in r.snapshot().items() if k not in ("team", "name")}
    assert AgentReducer.restore(ctx, old).status(5)["team"] is None  # older snapshots
