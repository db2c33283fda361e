"""ACD identifiers of several kinds (inContact's AgentIdentifier: Agent ID, CrmUsername,
Phone, SystemUsername, Username): the canonical acdAgentId, the models' acdIdentifierKind,
and the directory resolving every spelling of an identity to its agent (docs/SEMANTICS.md,
"ACD identifiers of several kinds")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rta.identifiers import Kind, canonical_agent_id, parse_kind
from rta.models import InputError, parse_schedule, parse_state_event
from rta.replay import replay_log
from tests.support.oracle import reference_summaries
from tests.support.strategies import arrival_orders, scenarios

VALID = "(valid: AgentId, CrmUsername, Phone, SystemUsername, Username)"
H = 3_600_000
T0 = 1_772_841_600_000  # 2026-03-07T00:00Z


# ---------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(("spelled", "kind"), [
    ("AgentId", Kind.AGENT_ID), ("Agent ID", Kind.AGENT_ID), ("Id", Kind.AGENT_ID),
    ("AgentID", Kind.AGENT_ID), ("agent_id", Kind.AGENT_ID), ("agent-id", Kind.AGENT_ID),
    (" AGENTID\t", Kind.AGENT_ID), ("ID", Kind.AGENT_ID), ("i d", Kind.AGENT_ID),
    ("CrmUsername", Kind.CRM_USERNAME), ("crm username", Kind.CRM_USERNAME),
    ("CRM_USERNAME", Kind.CRM_USERNAME),
    ("Phone", Kind.PHONE), ("phone", Kind.PHONE), ("PHONE", Kind.PHONE), ("_Phone_", Kind.PHONE),
    ("SystemUsername", Kind.SYSTEM_USERNAME), ("system-username", Kind.SYSTEM_USERNAME),
    ("System User Name", Kind.SYSTEM_USERNAME),
    ("Username", Kind.USERNAME), ("user name", Kind.USERNAME), ("User_Name", Kind.USERNAME),
    (Kind.PHONE.value, Kind.PHONE),
])
def test_every_kind_and_spelling(spelled: str, kind: Kind) -> None:
    assert parse_kind(spelled) is kind


@pytest.mark.parametrize("none", [None, "", "   ", "\t\n"])
def test_no_kind_null_or_blank(none: str | None) -> None:
    assert parse_kind(none) is None
    assert canonical_agent_id(none, " 100042 ") == "100042"


@pytest.mark.parametrize("unknown", [
    "Fax", "Email", "Phone2", "Agent", "Ph\tone",  # white space inside is no separator
    "ſystemusername",  # not ASCII (casefolds to "systemusername")
    "Phone.", "_", "-",
])
def test_unknown_kinds_are_errors_naming_the_kind_and_the_valid_ones(unknown: str) -> None:
    with pytest.raises(ValueError, match="unknown kind") as exc:
        parse_kind(unknown)
    assert str(exc.value) == f"unknown kind {unknown!r} {VALID}"


@pytest.mark.parametrize("not_text", [5, True, 1.5, ["Phone"]])
def test_a_kind_must_be_a_string(not_text: Any) -> None:
    with pytest.raises(ValueError, match="must be a string naming a kind"):
        parse_kind(not_text)


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize(("kind", "value", "canonical"), [
    (None, "100042", "100042"),
    (None, "  100042 ", "100042"),
    (None, "Chat-42", "Chat-42"),  # plain ids keep their case
    (None, "phone:4678", "phone:4678"),  # the reserved prefix: the Phone identity
    (None, "Phone:4678", "Phone:4678"),  # another (plain) identity
    ("AgentId", "4678", "4678"),
    ("Agent ID", " Chat-42 ", "Chat-42"),
    ("Id", "1", "1"),
    ("Phone", "4678", "phone:4678"),
    ("phone", "(46) 78", "phone:4678"),
    ("Phone", "46-78", "phone:4678"),
    ("Phone", "46.78", "phone:4678"),
    ("Phone", "+4678", "phone:4678"),
    ("Phone", " 4678\t", "phone:4678"),
    ("Phone", "+1 (555) 010-4678", "phone:15550104678"),
    ("Phone", "0046 8 123", "phone:00468123"),  # leading zeros are digits
    ("Username", "Ann.Lee@Example.COM", "username:ann.lee@example.com"),
    ("user name", "  ANN.LEE@example.com ", "username:ann.lee@example.com"),
    ("Username", "Straße", "username:strasse"),  # case-folded, not just lowered
    ("CrmUsername", "CRM-User", "crmusername:crm-user"),
    ("SystemUsername", "DOMAIN\\Ann", "systemusername:domain\\ann"),
])
def test_canonical_agent_id(kind: str | None, value: str, canonical: str) -> None:
    assert canonical_agent_id(kind, value) == canonical


@pytest.mark.parametrize("value", [
    "12x", "phone:4678", "4678#", "4+678", "++4678", "+", "()", "-", "46 78 ext 9",
    "٤٦٧٨",  # Arabic-Indic digits: not ASCII
    "46\u00a078",  # white space other than a space, inside
])
def test_a_phone_must_be_a_phone_number(value: str) -> None:
    with pytest.raises(ValueError, match="is not a phone number") as exc:
        canonical_agent_id("Phone", value)
    assert str(exc.value).startswith(f"{value.strip()!r} is not a phone number")


@pytest.mark.parametrize("kind", [None, "AgentId", "Phone", "Username", "CrmUsername",
                                  "SystemUsername"])
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_blank_values_are_errors(kind: str | None, blank: str) -> None:
    with pytest.raises(ValueError, match="must not be blank"):
        canonical_agent_id(kind, blank)


def test_two_kinds_never_alias() -> None:
    forms = {canonical_agent_id(k.value, "4678") for k in Kind}
    assert forms == {"4678", "phone:4678", "username:4678", "crmusername:4678",
                     "systemusername:4678"}


# ---------------------------------------------------------------------------- properties

SPELLINGS = {
    Kind.AGENT_ID: ["AgentId", "Agent ID", "Id", "AgentID"],
    Kind.CRM_USERNAME: ["CrmUsername"], Kind.PHONE: ["Phone"],
    Kind.SYSTEM_USERNAME: ["SystemUsername"], Kind.USERNAME: ["Username"],
}
kinds = st.one_of(st.none(), st.sampled_from(list(Kind)).flatmap(
    lambda k: st.sampled_from(SPELLINGS[k])))
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
values = st.one_of(texts, st.from_regex(r"\A\+?[0-9 ().-]{1,12}\Z"))


@given(kind=kinds, value=values)
def test_the_canonical_form_read_again_as_a_plain_id_is_itself(kind: str | None,
                                                               value: str) -> None:
    try:
        canonical = canonical_agent_id(kind, value)
    except ValueError:
        return
    assert canonical_agent_id(None, canonical) == canonical
    assert canonical_agent_id("AgentId", canonical) == canonical
    body = {"tenantId": "t", "gisStateIdentifier": 3, "timestamp": T0}
    assert parse_state_event({**body, "acdAgentId": value, "acdIdentifierKind": kind}) \
        == parse_state_event({**body, "acdAgentId": canonical})


@st.composite
def respelled(draw: st.DrawFn, word: str) -> str:
    """``word`` with its ASCII letters in any case, separators anywhere, padding around."""
    out = [draw(st.sampled_from(["", " ", "\t"]))]
    for c in word:
        out.append(draw(st.sampled_from([c.lower(), c.upper()])) if c != " " else "")
        out.append(draw(st.sampled_from(["", "", " ", "_", "-", "__"])))
    out.append(draw(st.sampled_from(["", " ", "\n"])))
    return "".join(out)


@given(data=st.data(), kind=st.sampled_from(list(Kind)))
def test_every_spelling_of_a_kind_is_that_kind(data: st.DataObject, kind: Kind) -> None:
    spelled = data.draw(respelled(data.draw(st.sampled_from(SPELLINGS[kind]))))
    assert parse_kind(spelled) is kind


@given(data=st.data(), digits=st.from_regex(r"\A[0-9]{1,10}\Z"))
def test_a_phone_number_written_any_way_is_one_identity(data: st.DataObject,
                                                        digits: str) -> None:
    out = [data.draw(st.sampled_from(["", " ", "+", "+ ", "(", " +("]))]
    for d in digits:
        out += [d, data.draw(st.sampled_from(["", "", " ", "-", ".", "(", ")", ") "]))]
    written = "".join(out)
    kind = data.draw(respelled("Phone"))
    assert canonical_agent_id(kind, written) == f"phone:{digits}"
    body = {"tenantId": "t", "acdServerId": "2", "gisStateIdentifier": 3, "timestamp": T0}
    assert parse_state_event({**body, "acdAgentId": written, "acdIdentifierKind": kind}) \
        .identity == ("2", f"phone:{digits}")


@given(data=st.data(), value=texts, kind=st.sampled_from(
    [Kind.USERNAME, Kind.CRM_USERNAME, Kind.SYSTEM_USERNAME]))
def test_user_names_are_case_insensitive(data: st.DataObject, value: str, kind: Kind) -> None:
    assume(value.strip())
    other = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) if c.isascii() else c
                    for c in value)
    other = data.draw(st.sampled_from(["", " ", "\t"])) + other + \
        data.draw(st.sampled_from(["", "  "]))
    assert canonical_agent_id(kind.value, value) == canonical_agent_id(kind.value, other)
    assert canonical_agent_id(kind.value, value) == \
        canonical_agent_id(kind.value, value.casefold())


@given(a=st.sampled_from([k for k in Kind if k is not Kind.AGENT_ID]),
       b=st.sampled_from(list(Kind)), v=values, w=values)
def test_different_kinds_are_different_identities(a: Kind, b: Kind, v: str, w: str) -> None:
    assume(a is not b)
    try:
        x, y = canonical_agent_id(a, v), canonical_agent_id(b, w)
    except ValueError:
        return
    # (only an AgentId written with a reserved prefix names another kind's identity)
    assume(not (b is Kind.AGENT_ID and y.startswith(x.split(":")[0] + ":")))
    assert x != y


# ---------------------------------------------------------------------------- models

EV = {"tenantId": "t", "acdServerId": "2", "gisStateIdentifier": 3, "timestamp": T0}


def test_the_kind_does_not_survive_into_the_event() -> None:
    spelled = parse_state_event({**EV, "acdAgentId": "(46) 78", "acdIdentifierKind": "phone"})
    plain = parse_state_event({**EV, "acdAgentId": "phone:4678"})
    assert spelled == plain and hash(spelled) == hash(plain)
    assert spelled.identity == ("2", "phone:4678")
    assert spelled.to_json() == plain.to_json() == {
        "tenantId": "t", "acdServerId": "2", "acdAgentId": "phone:4678",
        "gisStateIdentifier": 3, "timestamp": T0, "reasonCode": None}
    assert "acdIdentifierKind" not in spelled.model_dump(by_alias=True)
    assert parse_state_event(spelled.to_json()) == spelled  # read again: the same
    # by its python name too, and an integer value
    assert parse_state_event({**EV, "acdAgentId": 4678, "acd_identifier_kind": "Phone"}) == plain


def test_schedule_identities_are_canonical() -> None:
    msg = parse_schedule({
        "tenantId": "t", "agentId": 7, "acdAgentId": "Ann@X.com",
        "acdIdentifierKind": "Username",
        "acdIdentities": [{"acdServerId": "2", "acdAgentId": "4678", "acdIdentifierKind": "Phone"},
                          {"acdServerId": "2", "acdAgentId": "phone:4678"},  # the same
                          {"acdServerId": "2", "acdAgentId": "4678"}],  # AgentId: another
        "fromTimestamp": T0, "toTimestamp": T0 + H, "activities": []})
    assert msg.acd_agent_id == "username:ann@x.com"
    assert msg.identities == [("1", "username:ann@x.com"), ("2", "phone:4678"), ("2", "4678")]


@pytest.mark.parametrize(("body", "message"), [
    ({"acdAgentId": "4678", "acdIdentifierKind": "Fax"},
     f"acdIdentifierKind: unknown kind 'Fax' {VALID}"),
    ({"acdAgentId": "12x", "acdIdentifierKind": "Phone"},
     "acdAgentId: '12x' is not a phone number"),
    ({"acdAgentId": " ", "acdIdentifierKind": "Username"}, "acdAgentId: must not be blank"),
    ({"acdAgentId": "4678", "acdIdentifierKind": 4},
     f"acdIdentifierKind: must be a string naming a kind {VALID}, got 4"),
])
def test_an_invalid_kind_or_value_is_an_input_error_naming_the_field(body: dict[str, Any],
                                                                     message: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_state_event({**EV, **body})
    assert str(exc.value).startswith(message)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InputError) as exc:
        parse_state_event({**EV, "acdAgentId": "4678", "acdIdentifierKind": "Fax",
                           "timestamp": "soon"})
    assert [p.split(":")[0] for p in exc.value.problems] == ["acdIdentifierKind", "timestamp"]


def test_schedule_errors_name_the_identity() -> None:
    sched = {"tenantId": "t", "agentId": 7, "acdAgentId": "4678", "fromTimestamp": T0,
             "toTimestamp": T0 + H, "activities": []}
    with pytest.raises(InputError) as exc:
        parse_schedule({**sched, "acdIdentifierKind": "Phone", "acdAgentId": "x",
                        "acdIdentities": [{"acdAgentId": "1", "acdIdentifierKind": "Fax"},
                                          {"acdAgentId": "1-2", "acdIdentifierKind": "Phone"},
                                          {"acdAgentId": "a", "acdIdentifierKind": "phone"}]})
    assert [p.split(": ")[0] for p in exc.value.problems] == [
        "acdAgentId", "acdIdentities.0.acdIdentifierKind", "acdIdentities.2.acdAgentId"]
    assert exc.value.problems[1] == f"acdIdentities.0.acdIdentifierKind: unknown kind 'Fax' {VALID}"


# ---------------------------------------------------------------------------- replay


def state(acd: Any, ts: int, gis: int, server: str = "2", kind: str | None = None,
          **more: Any) -> dict[str, Any]:
    body = {"tenantId": "t", "acdServerId": server, "acdAgentId": acd,
            "gisStateIdentifier": gis, "timestamp": ts, **more}
    if kind is not None:
        body["acdIdentifierKind"] = kind
    return {"kind": "state", "body": body}


def schedule(agent: int, primary: dict[str, Any], more: list[dict[str, Any]], day: int = 0,
             ) -> dict[str, Any]:
    start = T0 + day * 24 * H
    return {"kind": "schedule", "body": {
        "tenantId": "t", "agentId": agent, **primary, "acdIdentities": more,
        "fromTimestamp": start, "toTimestamp": start + 24 * H,
        "activities": [{"activityType": "in_service", "startTime": start + 8 * H,
                        "endTime": start + 16 * H},
                       {"activityType": "break", "startTime": start + 12 * H,
                        "endTime": start + 12 * H + H // 2}]}}


def replayed(records: list[dict[str, Any]]) -> Any:
    result = replay_log(records)
    assert result.rejected == []
    assert result.summaries == reference_summaries(records)  # the oracle agrees
    return result


def test_every_spelling_of_a_phone_identity_resolves_to_its_agent() -> None:
    spelled = [
        state("(46) 78", T0 + 7 * H, 3, kind="phone"),  # before the schedule: held
        schedule(7, {"acdServerId": "1", "acdAgentId": "100042"},
                 [{"acdServerId": "2", "acdAgentId": "4678", "acdIdentifierKind": "Phone"}]),
        state("phone:4678", T0 + 9 * H, 4),
        state(4678, T0 + 10 * H, 2, kind="PHONE", reasonCode="lunch"),
        state("+46-78", T0 + 12 * H + 60_000, 2, kind=" Phone "),
        state("46.78", T0 + 17 * H, 1, kind="phone", eventId="x1"),
        state("phone:4678", T0 + 17 * H, 1, eventId="x1"),  # the same event again
        state("100042", T0 + 11 * H, 3, server="1"),
    ]
    plain = [
        state("phone:4678", T0 + 7 * H, 3),
        schedule(7, {"acdServerId": "1", "acdAgentId": "100042"},
                 [{"acdServerId": "2", "acdAgentId": "phone:4678"}]),
        state("phone:4678", T0 + 9 * H, 4),
        state("phone:4678", T0 + 10 * H, 2, reasonCode="lunch"),
        state("phone:4678", T0 + 12 * H + 60_000, 2),
        state("phone:4678", T0 + 17 * H, 1, eventId="x1"),
        state("phone:4678", T0 + 17 * H, 1, eventId="x1"),
        state("100042", T0 + 11 * H, 3, server="1"),
    ]
    a, b = replayed(spelled), replayed(plain)
    assert (a.held, b.held) == (0, 0)
    assert a.summaries == b.summaries
    [day] = a.summaries
    assert (day["agentId"], day["acdAgentId"]) == (7, "100042")
    starts = [x["actualAgentStateStartTime"] for d in day["details"] for x in d["actuals"]]
    assert T0 + 9 * H in starts and T0 + 10 * H in starts  # the phone's events counted


def test_user_names_resolve_whatever_their_case_and_prefixes_are_case_sensitive() -> None:
    records = [
        schedule(8, {"acdAgentId": "Ann.Lee@Example.com", "acdIdentifierKind": "Username"}, []),
        state("ann.lee@example.COM", T0 + 8 * H, 3, server="1", kind="user_name"),
        state("username:ann.lee@example.com", T0 + 9 * H, 4, server="1"),
        state(" ANN.LEE@EXAMPLE.COM", T0 + 10 * H, 3, server="1", kind="Username"),
        # not this identity: a plain id with a capital prefix, a plain id without one,
        # and another kind with the same value
        state("Username:ann.lee@example.com", T0 + 11 * H, 2, server="1"),
        state("ann.lee@example.com", T0 + 11 * H, 2, server="1"),
        state("Ann.Lee@Example.com", T0 + 11 * H, 2, server="1", kind="CrmUsername"),
    ]
    result = replayed(records)
    assert result.held == 3
    assert sorted(result.held_identities) == [
        "t/1/Username:ann.lee@example.com", "t/1/ann.lee@example.com",
        "t/1/crmusername:ann.lee@example.com"]
    [day] = result.summaries
    assert day["acdAgentId"] == "username:ann.lee@example.com"
    # READY, TALKING, READY from 08:00: in adherence but for the break (12:00-12:30)
    assert (day["inAdherenceSeconds"], day["notInAdherenceSeconds"]) == (7 * 3600 + 1800, 1800)


def test_phone_and_agent_id_4678_are_two_identities() -> None:
    records = [
        schedule(7, {"acdServerId": "2", "acdAgentId": "4678", "acdIdentifierKind": "Phone"}, []),
        state("4678", T0 + 8 * H, 3),  # plain: AgentId 4678, not the phone
        state("4678", T0 + 8 * H, 3, kind="Agent ID"),
    ]
    result = replayed(records)
    assert (result.held, result.held_identities) == (2, ["t/2/4678"])


@pytest.mark.parametrize("order", ["spring first", "autumn first"])
def test_two_agents_declaring_one_identity_the_latest_mapping_wins(order: str) -> None:
    """Agent 7 declares Phone "(46) 78" for day 0, agent 8 the plain "phone:4678" for
    day 1: one identity; the latest mapping (the later window) applies to all its events,
    day 0's too, whatever the log order of the two schedules."""
    spring = schedule(7, {"acdAgentId": "a7"},
                      [{"acdServerId": "2", "acdAgentId": "(46) 78", "acdIdentifierKind": "Phone"}])
    autumn = schedule(8, {"acdAgentId": "a8"}, [{"acdServerId": "2", "acdAgentId": "phone:4678"}],
                      day=1)
    events = [state("4678", T0 + 9 * H, 3, kind="phone"),
              state("phone:4678", T0 + 24 * H + 9 * H, 3)]
    scheds = [spring, autumn] if order == "spring first" else [autumn, spring]
    result = replayed([*scheds, *events])
    by_agent = {(s["agentId"], s["date"]): s for s in result.summaries}
    assert by_agent[(8, "2026-03-07")]["actualInServiceSeconds"] == 15 * 3600  # 09:00 on
    assert by_agent[(7, "2026-03-07")]["actualInServiceSeconds"] == 0
    assert by_agent[(8, "2026-03-08")]["actualInServiceSeconds"] == 24 * 3600


# ---------------------------------------------------------------------------- the oracle

# each identity of tests/support/strategies.py, as one of several kinds, written many ways
WRITTEN: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("1", "a"): [  # Phone 4678
        {"acdAgentId": "4678", "acdIdentifierKind": "Phone"},
        {"acdAgentId": "(46) 78", "acdIdentifierKind": "phone"},
        {"acdAgentId": "phone:4678"},
        {"acdAgentId": 4678, "acdIdentifierKind": "PHONE"},
        {"acdAgentId": "+46.78", "acdIdentifierKind": " Phone "},
    ],
    ("1", "b"): [  # AgentId 4678, on the same server: never the phone
        {"acdAgentId": "4678"},
        {"acdAgentId": "4678", "acdIdentifierKind": "Agent ID"},
        {"acdAgentId": 4678, "acdIdentifierKind": "Id"},
        {"acdAgentId": " 4678", "acdIdentifierKind": ""},
    ],
    ("2", "a"): [  # Username
        {"acdAgentId": "Ann@X.com", "acdIdentifierKind": "Username"},
        {"acdAgentId": "ann@x.com", "acdIdentifierKind": "user name"},
        {"acdAgentId": "username:ann@x.com"},
        {"acdAgentId": " ANN@X.COM ", "acdIdentifierKind": "USERNAME"},
    ],
    ("2", "chat-c"): [  # SystemUsername
        {"acdAgentId": "Chat-C", "acdIdentifierKind": "SystemUsername"},
        {"acdAgentId": "chat-c", "acdIdentifierKind": "system_username"},
        {"acdAgentId": "systemusername:chat-c"},
    ],
}
CANONICAL = {k: canonical_agent_id(v[0].get("acdIdentifierKind"), str(v[0]["acdAgentId"]))
             for k, v in WRITTEN.items()}


def _identity(body: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k not in ("acdAgentId", "acdIdentifierKind")}
    return {**out, **written}


def _rewrite(records: list[dict[str, Any]], pick: Any) -> list[dict[str, Any]]:
    """The records with each identity written by ``pick(identity)``."""
    out = []
    for rec in records:
        body = _identity(rec["body"], pick((rec["body"]["acdServerId"],
                                            rec["body"]["acdAgentId"])))
        if rec["kind"] == "schedule":
            body["acdIdentities"] = [_identity(x, pick((x["acdServerId"], x["acdAgentId"])))
                                     for x in body["acdIdentities"]]
        out.append({"kind": rec["kind"], "body": body})
    return out


@given(data=st.data(), scenario=scenarios())
def test_the_oracle_agrees_when_identities_are_written_by_kind(data: st.DataObject,
                                                               scenario: Any) -> None:
    events, scheds, tenants = scenario
    records = data.draw(arrival_orders(events, scheds))
    spelled = _rewrite(records, lambda ident: data.draw(st.sampled_from(WRITTEN[ident])))
    plain = _rewrite(records, lambda ident: {"acdAgentId": CANONICAL[ident]})
    result = replay_log(spelled, tenants)
    assert result.rejected == []
    assert result.summaries == replay_log(plain, tenants).summaries
    assert result.summaries == reference_summaries(spelled, tenants)
