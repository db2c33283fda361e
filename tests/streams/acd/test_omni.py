"""The Omni source against an Omni over loopback (tests/support/fake_omni.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from rta.states import LOGOUT, NOT_READY, READY, TALKING, UNKNOWN
from streams.local.acd_sim import (
    omni_day,
    omni_dst_rows,
    omni_midnight_rows,
    omni_paging_rows,
    to_omni_rows,
)
from streams.local.fake_omni import FakeOmni
from tests.support.acd import OMNI_KEY, OMNI_PASSWORD, Driver, effective, omni_config


@pytest.fixture
def omni() -> Iterator[FakeOmni]:
    fake = FakeOmni(time_zone="America/Sao_Paulo").start()
    yield fake
    fake.stop()


def chicago() -> FakeOmni:
    return FakeOmni(time_zone="America/Chicago").start()


def row(email: str, evento: str, start: str, end: str | None, **more: Any) -> dict[str, Any]:
    return {"agent_id": "x" + email, "agente": email.split("@")[0], "agent": email,
            "evento": evento, "data_inicio": start, "data_fim": end, **more}


def test_login_and_pause_rows_make_states(omni: FakeOmni) -> None:
    omni.add_rows([row("Ana@acme.example", "Login", "2026-03-07 08:00:00", "2026-03-07 17:00:00"),
                   row("ana@acme.example", "Almoço", "2026-03-07 12:00:00",
                       "2026-03-07 13:00:00")])
    events = Driver(omni_config(omni.url)).run()
    got = [(e["acdAgentId"], e["timestamp"], e["gisStateIdentifier"], e["reasonCode"])
           for e in events]
    base = 1772881200000  # 2026-03-07 08:00:00 in Sao Paulo (UTC-3)
    h = 3_600_000
    assert got == [("username:ana@acme.example", base, READY, None),
                   ("username:ana@acme.example", base + 4 * h, NOT_READY, "Almoço"),
                   ("username:ana@acme.example", base + 5 * h, READY, None),
                   ("username:ana@acme.example", base + 9 * h, LOGOUT, None)]


@pytest.mark.parametrize("organization", ["org-1", None])
def test_both_report_login_flows(organization: str | None) -> None:
    fake = FakeOmni(organizations=[{"id": "org-1", "name": "Acme"}]).start()
    try:
        fake.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None)])
        d = Driver(omni_config(fake.url, omni__organization=organization))
        assert len(d.run()) == 1
        assert fake.logins_org == 1
        assert fake.logins_api == (0 if organization else 1)
    finally:
        fake.stop()


def test_several_organizations_without_one_named_is_an_error() -> None:
    fake = FakeOmni(organizations=[{"id": "o1", "name": "A"}, {"id": "o2", "name": "B"}]).start()
    try:
        with pytest.raises(ValueError, match=r"o1.*o2"):
            Driver(omni_config(fake.url, omni__organization=None)).run()
    finally:
        fake.stop()


def test_an_expired_token_means_one_new_login(omni: FakeOmni) -> None:
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None)])

    async def go() -> int:
        d = Driver(omni_config(omni.url))
        await d.poll()
        omni.expire_tokens()
        omni.add_rows([row("b@x.example", "Login", "2026-03-07 08:00:01", None)])
        await asyncio.sleep(0.02)
        new = await d.poll()
        await d.source.close()
        return len(new)

    assert asyncio.run(go()) == 1
    assert omni.logins_org == 2


def test_pages_of_1000_documents(omni: FakeOmni) -> None:
    fix = omni_paging_rows(time_zone="America/Sao_Paulo")
    omni.add_rows(fix.rows)
    d = Driver(omni_config(omni.url))
    d.run()
    assert effective(d.events) == effective(fix.canonical)
    assert len({e["eventId"] for e in d.events}) == len(d.events)
    assert omni.requests["/ReportsApi/activity-history"] == 3  # 2,500 rows


def test_an_interval_across_midnight(omni: FakeOmni) -> None:
    fix = omni_midnight_rows()
    omni.add_rows(fix.rows)
    d = Driver(omni_config(omni.url))
    d.run()
    assert effective(d.events) == effective(fix.canonical)


@pytest.mark.parametrize("kind", ["spring", "fall"])
def test_dst_days(kind: str) -> None:
    fake = chicago()
    try:
        fix = omni_dst_rows(kind)  # type: ignore[arg-type]
        fake.add_rows(fix.rows)
        start = "2026-03-07 00:00:00" if kind == "spring" else "2026-10-31 00:00:00"
        d = Driver(omni_config(fake.url, omni__time_zone="America/Chicago",
                               connector__start_from=start))
        d.run()
        assert effective(d.events) == effective(fix.canonical)
    finally:
        fake.stop()


def test_an_open_interval_stays_open_until_it_closes(omni: FakeOmni) -> None:
    [login, pause] = omni.add_rows([
        row("a@x.example", "Login", "2026-03-07 08:00:00", None),
        row("a@x.example", "Pausa 10", "2026-03-07 09:00:00", None)])
    d = Driver(omni_config(omni.url, connector__reread_seconds=0))
    first = d.run()
    assert [e["gisStateIdentifier"] for e in first] == [READY, NOT_READY]
    omni.update_row(pause, data_fim="2026-03-07 09:10:00")
    d2 = Driver(omni_config(omni.url, connector__reread_seconds=0), state=d.state)
    assert [e["gisStateIdentifier"] for e in d2.run()] == [READY]
    omni.update_row(login, data_fim="2026-03-07 17:00:00")
    d3 = Driver(omni_config(omni.url, connector__reread_seconds=0), state=d2.state)
    assert [e["gisStateIdentifier"] for e in d3.run()] == [LOGOUT]
    assert Driver(omni_config(omni.url), state=d3.state).run() == []


def test_malformed_rows_are_dead_lettered(omni: FakeOmni) -> None:
    ids = omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None),
                         row("b@x.example", "Login", "2026-03-07 08:00:00", None)])
    omni.faults.malformed.add(ids[0])
    d = Driver(omni_config(omni.url))
    events = d.run()
    assert [e["acdAgentId"] for e in events] == ["username:b@x.example"]
    assert len(d.dead) == 1 and "Omni activity-history row" in d.dead[0][1]


def test_pause_mapping_overrides(omni: FakeOmni) -> None:
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None),
                   row("a@x.example", "Treinamento", "2026-03-07 09:00:00", None)])
    d = Driver(omni_config(omni.url, mapping={"treinamento": "BUSY_OTHER"}))
    assert [e["gisStateIdentifier"] for e in d.run()] == [READY, 7]


def test_the_dashboard_is_the_live_source(omni: FakeOmni) -> None:
    now = [1772900000.0]
    omni.set_dashboard([
        {"agent": "ana@acme.example", "user_short_name": "Ana", "capacity": 3,
         "status": "available", "service": ["Chat"],
         "attendance": [{"status": "normal", "service": "Chat", "protocol": "1", "tca": 3}]},
        {"agent": "bob", "user_short_name": "Bob", "capacity": 2, "status": "pause",
         "service": [], "attendance": []},
        {"agent": "cy", "user_short_name": "Cy", "capacity": 2, "status": "lunching",
         "service": [], "attendance": []},
        {"agent": "dee", "user_short_name": "Dee", "capacity": 2, "status": "offline",
         "service": [], "attendance": []}])
    cfg = omni_config(omni.url, omni__dashboard=True, omni__history=False,
                      omni__aliases={"bob": "Bob@Acme.example"})
    d = Driver(cfg, clock=lambda: now[0])
    got = {e["acdAgentId"]: e for e in d.run()}
    assert got["username:ana@acme.example"]["gisStateIdentifier"] == TALKING
    assert got["username:ana@acme.example"]["chatCapacity"] == 3
    assert got["username:ana@acme.example"]["chatsInProgress"] == 1
    assert got["username:bob@acme.example"]["gisStateIdentifier"] == NOT_READY
    assert got["username:cy"]["gisStateIdentifier"] == UNKNOWN
    assert got["username:dee"]["gisStateIdentifier"] == LOGOUT
    # nothing changed: nothing again; a chat ends: READY, with the counts
    assert Driver(cfg, clock=lambda: now[0] + 5, state=d.state).run() == []
    omni.set_dashboard([{"agent": "ana@acme.example", "user_short_name": "Ana", "capacity": 3,
                         "status": "available", "service": ["Chat"], "attendance": []}])
    [ev] = Driver(cfg, clock=lambda: now[0] + 10, state=d.state).run()
    assert (ev["gisStateIdentifier"], ev["chatsInProgress"]) == (READY, 0)


def test_the_report_corrects_a_pause_the_dashboard_missed(omni: FakeOmni) -> None:
    """Polls at 10:00:05 and 10:01:05 both see 'available'; the report has a pause
    10:00:20-10:00:50 between them: the engine gets it with the report's times."""
    t = 1772888405.0  # 2026-03-07 10:00:05 Sao Paulo
    dash = [{"agent": "a@x.example", "user_short_name": "A", "capacity": 1,
             "status": "available", "attendance": []}]
    omni.set_dashboard(dash)
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 09:00:00", None)])
    cfg = omni_config(omni.url, omni__dashboard=True, omni__history_poll_seconds=0.001)
    d = Driver(cfg, clock=lambda: t)
    d.run()
    omni.add_rows([row("a@x.example", "Pausa 10", "2026-03-07 10:00:20",
                       "2026-03-07 10:00:50")])
    later = Driver(cfg, clock=lambda: t + 60, state=d.state).run()
    assert [(e["timestamp"], e["gisStateIdentifier"]) for e in later] == [
        (int((t + 15) * 1000), NOT_READY), (int((t + 45) * 1000), READY)]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_simulated_centre_comes_back_as_it_was(omni: FakeOmni, seed: int) -> None:
    day = omni_day(seed, agents=12)
    omni.add_rows(to_omni_rows(day.canonical, "America/Sao_Paulo", day.roster))
    d = Driver(omni_config(omni.url, connector__start_from="2026-03-06 00:00:00"))
    d.run(polls=2)
    assert effective(d.events) == effective(day.canonical)
    assert not d.dead


def test_credentials_are_not_in_debug_logs(omni: FakeOmni,
                                           caplog: pytest.LogCaptureFixture) -> None:
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None)])
    omni.faults.fail_next = [503]
    caplog.set_level(logging.DEBUG)
    cfg = omni_config(omni.url)
    Driver(cfg).run()
    text = "\n".join(r.getMessage() + str(r.args) for r in caplog.records) + repr(cfg)
    assert "503" in text
    assert OMNI_KEY not in text and OMNI_PASSWORD not in text


def test_closed_rows_are_not_sent_again_while_another_row_is_open(omni: FakeOmni) -> None:
    """An open login pulls every report query back to its start; the closed rows read
    again are not published again (they were, each poll)."""
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None),
                   row("b@x.example", "Login", "2026-03-07 08:00:00", "2026-03-07 12:00:00")]
                  + [row("b@x.example", "Pausa 10", f"2026-03-07 09:0{k}:00",
                         f"2026-03-07 09:0{k}:30") for k in range(5)])
    cfg = omni_config(omni.url, connector__reread_seconds=60)
    d = Driver(cfg)
    first = d.run()
    assert len(first) == 1 + 2 + 10
    state = d.state
    for _ in range(3):
        again = Driver(cfg, state=state)
        assert again.run() == []
        state = again.state


def test_back_to_back_logins_stay_logged_in(omni: FakeOmni) -> None:
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", "2026-03-07 12:00:00"),
                   row("a@x.example", "Login", "2026-03-07 12:00:00", "2026-03-07 17:00:00")])
    d = Driver(omni_config(omni.url))
    d.run()
    states = [s for *_, s, _r in effective(d.events)]
    assert states == [READY, LOGOUT]  # READY from 08:00 to 17:00


@pytest.mark.parametrize("together", [True, False])
def test_a_pause_ending_after_the_logout_does_not_log_back_in(omni: FakeOmni,
                                                              together: bool) -> None:
    [login] = omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00",
                                 "2026-03-07 17:00:00" if together else None)])
    omni.add_rows([row("a@x.example", "Almoço", "2026-03-07 16:50:00", "2026-03-07 17:00:02")])
    d = Driver(omni_config(omni.url))
    d.run()
    if not together:  # the login closes after the pause was read: a corrective LOGOUT
        omni.update_row(login, data_fim="2026-03-07 17:00:00")
        d2 = Driver(omni_config(omni.url), state=d.state)
        d2.run()
        d.events.extend(d2.events)
    eff = effective(d.events)
    assert [(s, r) for *_, s, r in eff][-1] == (LOGOUT, None)
    assert [s for *_, s, _r in eff] in ([READY, NOT_READY, LOGOUT],
                                        [READY, NOT_READY, LOGOUT, READY, LOGOUT])
    last_ts = eff[-1][2]
    assert last_ts in (1772913600000, 1772913602000)  # 17:00:00 or its 17:00:02 correction


def test_the_dashboard_does_not_wipe_the_pause_name(omni: FakeOmni) -> None:
    """The dashboard sees a pause at 10:00:05 (no name); the report later names it
    'Almoço' from 10:00:00: the name holds for the whole pause."""
    t = 1772888405.0  # 2026-03-07 10:00:05 Sao Paulo
    omni.add_rows([row("a@x.example", "Login", "2026-03-07 09:00:00", None)])
    cfg = omni_config(omni.url, omni__dashboard=True, omni__history_poll_seconds=0.001)
    omni.set_dashboard([{"agent": "a@x.example", "user_short_name": "A", "capacity": 1,
                         "status": "available", "attendance": []}])
    d = Driver(cfg, clock=lambda: t - 60)
    d.run()
    omni.set_dashboard([{"agent": "a@x.example", "user_short_name": "A", "capacity": 1,
                         "status": "pause", "attendance": []}])
    d2 = Driver(omni_config(omni.url, omni__dashboard=True, omni__history=False,
                            omni__organization="org-1"), clock=lambda: t, state=d.state)
    d2.run()
    omni.add_rows([row("a@x.example", "Almoço", "2026-03-07 10:00:00", None)])
    d3 = Driver(cfg, clock=lambda: t + 30, state=d2.state)
    d3.run()
    eff = effective(d.events + d2.events + d3.events)
    assert [(s, r) for *_, s, r in eff] == [(READY, None), (NOT_READY, "Almoço")]
    # and a later dashboard poll still seeing the pause changes nothing
    assert Driver(cfg, clock=lambda: t + 60, state=d3.state).run() == []


def test_malformed_rows_are_dead_lettered_once_over_polls(omni: FakeOmni) -> None:
    ids = omni.add_rows([row("a@x.example", "Login", "2026-03-07 08:00:00", None),
                         row("b@x.example", "Login", "2026-03-07 08:00:00", None)])
    omni.faults.malformed.add(ids[1])
    cfg = omni_config(omni.url)
    d = Driver(cfg)
    d.run()
    state, dead = d.state, len(d.dead)
    for _ in range(2):
        again = Driver(cfg, state=state)
        again.run()
        dead += len(again.dead)
        state = again.state
    assert dead == 1


def test_a_dashboard_only_connector_needs_its_organization() -> None:
    from streams.acd.config import ConnectorConfigError

    with pytest.raises(ConnectorConfigError, match=r"\[omni\] organization: required"):
        omni_config("http://x", omni__dashboard=True, omni__history=False,
                    omni__organization=None)


def test_names_learned_from_the_report_survive_a_restart(omni: FakeOmni) -> None:
    omni.add_rows([{"agent_id": "1", "agente": "Ana Lima", "agent": "ana@acme.example",
                    "evento": "Login", "data_inicio": "2026-03-07 08:00:00", "data_fim": None}])
    d = Driver(omni_config(omni.url))
    d.run()
    omni.set_dashboard([{"agent": "ana.l", "user_short_name": "Ana Lima", "capacity": 2,
                         "status": "pause", "attendance": []}])
    later = Driver(omni_config(omni.url, omni__dashboard=True, omni__history=False),
                   clock=lambda: 1772900000.0, state=d.state).run()
    assert [e["acdAgentId"] for e in later] == ["username:ana@acme.example"]


def test_a_refused_login_names_no_credential(omni: FakeOmni,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from streams.acd.http import Unauthorized

    caplog.set_level(logging.DEBUG)
    cfg = omni_config(omni.url)
    cfg.secrets["password"] = type(cfg.secrets["password"])("wrong-pw-123")
    with pytest.raises(Unauthorized) as err:
        Driver(cfg).run()
    text = "\n".join(r.getMessage() for r in caplog.records) + str(err.value)
    assert "401" in text
    assert "wrong-pw-123" not in text and OMNI_KEY not in text
