"""Omni (``rta connect omni``): the login and pause report, and the chat dashboard.

Every request carries the ``x-api-key`` header (``../shared/seeds/000_*``,
``001_*``). Two sources, both optional (``[omni] history``, ``dashboard``):

**The report** (exact times; ``history_poll_seconds``):
``GET <history_url>/ReportsApi/activity-history`` with ``report-skip`` (the page
index; 1,000 documents a page), ``date_ini`` and ``date_end`` as
``YYYY-MM-DD HH:MM:SS`` in the organization's time zone (``[omni] time_zone``;
23- and 25-hour days are local days like any other). The report API needs the
report login: ``POST /Login/organization`` (login, password, organization) gives
its bearer token; without ``[omni] organization`` the connector first asks
``POST /Login/loginApi``, which lists the user's organizations, and takes the
only one (several: an error naming them). A 401 logs in again, once per call.

Rows to events (identity: ``username:<e-mail>`` of the row's ``agent``, unless
``[identities]`` maps that e-mail to another kind; event ids
``omni:<org>:<phase>:<row id>``):

- ``evento`` = ``Login``: READY at ``data_inicio`` (phase ``l``), LOGOUT at
  ``data_fim`` (phase ``x``);
- any other ``evento`` is a pause (custom names included): NOT_READY with
  ``reasonCode`` = the pause name at ``data_inicio`` (phase ``s``), READY at
  ``data_fim`` (phase ``e``);
- a row still open (no ``data_fim``) stays open: its start is published, and it
  is read again (the query starts at the oldest open row) until it closes.

At one instant the phases order as ``e < l < s < x`` (the spec's tie rule on
the event ids): a pause starting as another ends, or at login, wins over the
READY; a logout wins over everything, so a pause ending with the login does not
log the agent back in. Local times in the repeated hour of a DST fall-back are
ambiguous in the report's format: the first reading is taken, unless that puts
an end before its start.

**The dashboard** (live; ``poll_seconds``): ``GET <base_url>/dashboard/chats-dashboard
?organization=ID``: ``offline`` → LOGOUT, ``pause`` → NOT_READY, ``available``
with attendances → TALKING (a chat in progress), ``available`` without → READY,
anything else → UNKNOWN; the file's ``[mapping]`` overrides with keys
``dashboard:<status>``. An event is published at the poll's time when an
agent's state, capacity or open attendances differ from what was last
published for it; it carries ``chatCapacity`` and ``chatsInProgress``. The
dashboard names agents by alias: ``[omni] aliases`` maps an alias to the
e-mail; an alias that is an e-mail is used as it is; else the e-mail is taken
from the report by the user's name (``user_short_name`` = ``agente``) when that
name is unique; else the alias itself (``username:<alias>``), logged once.

The report corrects what the dashboard's polling missed (a pause shorter than a
poll) with its own timestamps; both feed one identity, so the latest event in
event time is the agent's state.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from rta.identifiers import canonical_agent_id
from rta.states import LOGOUT, NOT_READY, READY, TALKING
from streams.acd.config import ConnectorConfig, parse_time
from streams.acd.http import PlatformHttp, Unauthorized
from streams.acd.mapping import Mapped, Mapper
from streams.acd.step import Step
from streams.metrics import Figure

log = logging.getLogger("rta.connect.omni")
FMT = "%Y-%m-%d %H:%M:%S"
DASHBOARD = {"offline": LOGOUT, "pause": NOT_READY, "available": READY}


class Malformed(ValueError):
    pass


def _field(row: dict[str, Any], name: str) -> Any:
    """A field by name, any case (the reference spells them both ways)."""
    if name in row:
        return row[name]
    low = name.casefold()
    for k, v in row.items():
        if isinstance(k, str) and k.casefold() == low:
            return v
    return None


class OmniSource:
    name = "omni"

    def __init__(self, config: ConnectorConfig, clock: Callable[[], float] = time.time,
                 http: PlatformHttp | None = None) -> None:
        c, o = config.connector, config.omni
        self.config, self.clock = config, clock
        self.http = http or PlatformHttp(c.rate_limit_per_second, c.timeout_seconds,
                                         c.retry_max_seconds)
        self.zone = ZoneInfo(o.time_zone)
        self.mapper = Mapper(config.file.mapping, config.name)
        self.tenant, self.server = c.tenant, c.acd_server_id
        self.headers = {"x-api-key": config.secret("api_key")}
        self.token: str | None = None
        self.organization = o.organization
        self.history_url = (o.history_url or c.base_url).rstrip("/")
        self.state: dict[str, Any] = {}
        self.identities = {k.casefold(): canonical_agent_id(v.kind, v.value)
                           for k, v in config.file.identities.items()}
        self.history_at = 0.0  # monotonic time of the last report read
        self.rows_read = 0
        self.logins = 0
        self.unresolved: set[str] = set()
        self.names: dict[str, str | None] = {}  # user name -> e-mail (None: not unique)

    # ------------------------------------------------------------------ cursor state
    def restore(self, state: dict[str, Any] | None) -> None:
        if state is None:
            c = self.config.connector
            start = (self._start(c.start_from) if c.start_from is not None
                     else int((self.clock() - c.initial_lookback_seconds) * 1000))
            state = {"cursor": start, "rows": {}, "last": {}, "agents": {}, "names": {}}
        self.state = state
        self.names = dict(state.get("names", {}))

    def _start(self, value: str | int) -> int:
        if isinstance(value, str) and "T" not in value and "+" not in value \
                and not value.endswith("Z"):
            try:  # a local time of the organization, as the report writes them
                return self.local_ms(value if " " in value else value + " 00:00:00", "start")
            except Malformed:
                pass
        return parse_time(value)

    def committed(self, state: dict[str, Any]) -> None:
        self.state = state

    def next_poll_in(self) -> float:
        o = self.config.omni
        if o.dashboard:
            return self.config.connector.poll_seconds
        left = o.history_poll_seconds - (time.monotonic() - self.history_at)
        return max(0.0, min(left, o.history_poll_seconds))

    @property
    def platform_up(self) -> bool:
        return self.http.up

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------------ times
    def local_ms(self, text: Any, what: str, fold: int = 0) -> int:
        if not isinstance(text, str):
            raise Malformed(f"{what}: not a local time: {text!r}")
        try:
            naive = datetime.strptime(text.strip()[:19], FMT)
        except ValueError:
            raise Malformed(f"{what}: not YYYY-MM-DD HH:MM:SS: {text!r}") from None
        return int(naive.replace(tzinfo=self.zone, fold=fold).timestamp() * 1000)

    def local_text(self, ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, self.zone).strftime(FMT)

    # ------------------------------------------------------------------ login
    async def _login(self) -> None:
        body = {"login": self.config.login, "password": self.config.secret("password")}
        if self.organization is None:
            ans = await self.http.call("POST", self.history_url + "/Login/loginApi",
                                       headers=self.headers, json=body)
            orgs = ans.get("organizations") if isinstance(ans, dict) else None
            ids = [str(_field(org, "id")) for org in orgs or [] if isinstance(org, dict)]
            if len(ids) != 1:
                raise Malformed(f"Login/loginApi: the user has organizations {ids}; name "
                                "one in [omni] organization")
            self.organization = ids[0]
        ans = await self.http.call("POST", self.history_url + "/Login/organization",
                                   headers=self.headers,
                                   json={**body, "organization": self.organization})
        token = ans.get("token") if isinstance(ans, dict) else None
        if not isinstance(token, str) or not token:
            raise Malformed("Login/organization: no token in the answer")
        self.token = token
        self.logins += 1

    async def _report(self, params: dict[str, str]) -> Any:
        for attempt in (1, 2):
            if self.token is None:
                await self._login()
            try:
                return await self.http.call(
                    "GET", self.history_url + "/ReportsApi/activity-history", params=params,
                    headers={**self.headers, "Authorization": f"Bearer {self.token}"})
            except Unauthorized:
                self.token = None
                if attempt == 2:
                    raise
        return None

    # ------------------------------------------------------------------ identities
    def identity(self, email: str) -> str:
        key = email.strip().casefold()
        return self.identities.get(key) or canonical_agent_id("Username", key)

    def dashboard_identity(self, alias: str, name: Any) -> str:
        email = self.config.omni.aliases.get(alias)
        if email is None and "@" in alias:
            email = alias
        if email is None and isinstance(name, str):
            email = self.names.get(name.strip().casefold())
        if email is None:
            if alias not in self.unresolved:
                self.unresolved.add(alias)
                log.warning("%s: dashboard alias %r has no e-mail ([omni] aliases, or a "
                            "unique user name in the report): published as username:%s",
                            self.config.name, alias, alias.casefold())
            email = alias
        return self.identity(email)

    def event(self, ident: str, ts: int, mapped: Mapped, eid: str,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"tenantId": self.tenant, "acdServerId": self.server, "acdAgentId": ident,
                "gisStateIdentifier": mapped[0], "timestamp": ts, "reasonCode": mapped[1],
                "eventId": eid}
        if extra:
            body.update(extra)
        return body

    # ------------------------------------------------------------------ the report
    def parse_row(self, row: Any) -> tuple[str, str, bool, str, int, int | None]:
        """(row id, identity, a login?, evento, start, end); Malformed naming what is
        wrong. Learns the user name -> e-mail pairs the dashboard needs."""
        if not isinstance(row, dict):
            raise Malformed(f"not an object: {type(row).__name__}")
        rid = _field(row, "id")
        if not isinstance(rid, int | str) or isinstance(rid, bool) or str(rid) == "":
            raise Malformed(f"id: not a row id: {rid!r}")
        email = _field(row, "agent")
        if not isinstance(email, str) or not email.strip():
            raise Malformed(f"row {rid}: agent: not an e-mail: {email!r}")
        evento = _field(row, "evento")
        if not isinstance(evento, str) or not evento.strip():
            raise Malformed(f"row {rid}: evento: missing")
        start = self.local_ms(_field(row, "data_inicio"), f"row {rid}: data_inicio")
        raw_end = _field(row, "data_fim")
        end = None
        if raw_end not in (None, ""):
            end = self.local_ms(raw_end, f"row {rid}: data_fim")
            if end < start:
                end = self.local_ms(raw_end, f"row {rid}: data_fim", fold=1)
            if end < start:
                raise Malformed(f"row {rid}: data_fim {raw_end!r} is before data_inicio")
        name = _field(row, "agente")
        if isinstance(name, str) and name.strip():
            key = name.strip().casefold()
            mail = email.strip().casefold()
            self.names[key] = mail if self.names.get(key, mail) == mail else None
        return (str(rid), self.identity(email), evento.strip().casefold() == "login",
                evento.strip(), start, end)

    def row_events(self, st: dict[str, Any], rid: str, ident: str, login: bool, evento: str,
                   start: int, end: int | None, flags: int) -> tuple[int, list[dict[str, Any]]]:
        """The row's events not yet published (``flags``: 1 start, 2 end published),
        in the light of the identity's other logins; the flags after them."""
        org = self.organization
        ag = st["agents"].setdefault(ident, {"logins": [], "pauseEnds": [], "dash": []})
        logins: list[list[Any]] = ag["logins"]
        out = []

        def emit(ts: int, mapped: Mapped, phase: str, tag: str = "") -> None:
            out.append(self.event(ident, ts, mapped, f"omni:{org}:{phase}:{rid}{tag}"))

        if login:
            others = [lg for lg in logins if lg[0] != rid]
            if not flags & 1:
                # logged in again at the instant of another login's end: that LOGOUT
                # (phase x) must not win the tie (y > x)
                again = any(lg[2] == start for lg in others)
                emit(start, self.mapper.map(["Login"], lambda: (READY, None), "Login"),
                     "y" if again else "l")
                flags |= 1
            if end is not None and not flags & 2:
                flags |= 2
                if not any(lg[1] == end for lg in others):  # not logged in again at once
                    emit(end, (LOGOUT, None), "x")
                    # a pause of this login that ended after it (published as READY,
                    # the login's end not known then): logged out from there too
                    for t_end, p_start in ag["pauseEnds"]:
                        if start <= p_start < end < t_end:
                            emit(t_end, (LOGOUT, None), "z", f":{t_end}")
            known = [lg for lg in logins if lg[0] == rid]
            if known:
                known[0][1:] = [start, end]
            else:
                logins.append([rid, start, end])
                logins.sort(key=lambda lg: lg[1])
                del logins[:-4]  # the latest few are enough for the rules above
            return flags, out
        begin = self.mapper.map([evento], lambda: (NOT_READY, evento), repr(evento))
        if not flags & 1:
            emit(start, begin, "s")
            # the dashboard saw this pause without its name: its name from then on
            for t in ag["dash"]:
                if start < t and (end is None or t < end):
                    emit(t, begin, "r", f":{t}")
            flags |= 1
        if end is not None and not flags & 2:
            flags |= 2
            covering = [lg for lg in logins if lg[1] <= start]
            lend = covering[-1][2] if covering else None
            if lend is None or end < lend:  # back to READY while still logged in
                emit(end, (READY, None), "e")
                ag["pauseEnds"] = [*ag["pauseEnds"], [end, start]][-4:]
        return flags, out

    async def read_report(self, st: dict[str, Any]) -> AsyncIterator[Step]:
        c = self.config.connector
        reread = int(c.reread_seconds * 1000)
        floor = st["cursor"] - reread  # rows before it not kept here were done before
        frm = min([floor, *(v[0] for v in st["rows"].values() if v[1] is None)])
        now = int(self.clock() * 1000)
        params = {"date_ini": self.local_text(max(0, frm)), "date_end": self.local_text(now)}
        size = self.config.omni.page_size
        skip = 0
        while True:
            answer = await self._report({**params, "report-skip": str(skip)})
            data = _field(answer, "data") if isinstance(answer, dict) else None
            total = _field(answer, "total") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise Malformed(f"activity-history page {skip}: no data list")
            step = Step()
            for row in data:
                self.rows_read += 1
                try:
                    rid, ident, login, evento, start, end = self.parse_row(row)
                except Malformed as exc:
                    key = "h:" + hashlib.sha1(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
                                              ).hexdigest()[:16]
                    if key not in st["rows"]:
                        st["rows"][key] = [st["cursor"], st["cursor"], 3]
                        step.dead.append((row, f"Omni activity-history row: {exc}"))
                    continue
                known = st["rows"].get(rid)
                if known is None and start < floor:
                    continue  # published and closed before (kept no longer)
                flags, events = self.row_events(st, rid, ident, login, evento, start, end,
                                                known[2] if known else 0)
                st["rows"][rid] = [start, end, flags]
                st["cursor"] = max(st["cursor"], start)
                for ev in events:
                    step.events.append(ev)
                    self._remember(st, ev)
            # closed rows are kept while a query can return them again
            floor = st["cursor"] - reread
            keep = min([floor, *(v[0] for v in st["rows"].values() if v[1] is None)])
            st["rows"] = {k: v for k, v in st["rows"].items() if v[1] is None or v[0] >= keep}
            st["names"] = self.names
            step.events.sort(key=lambda e: (e["timestamp"], e["eventId"]))
            step.state = st
            yield step
            st = orjson.loads(orjson.dumps(st))
            skip += 1
            if len(data) < size or (isinstance(total, int) and skip * size >= total):
                break

    # ------------------------------------------------------------------ the dashboard
    def dashboard_mapping(self, status: Any, chats: int) -> Mapped:
        text = status.strip().casefold() if isinstance(status, str) else repr(status)

        def default() -> Mapped | None:
            if text == "available" and chats > 0:
                return (TALKING, None)
            state = DASHBOARD.get(text)
            return None if state is None else (state, None)

        keys = [f"dashboard:{text}:chat"] if text == "available" and chats > 0 else []
        return self.mapper.map([*keys, f"dashboard:{text}"], default, f"dashboard {text!r}")

    async def read_dashboard(self, st: dict[str, Any]) -> Step:
        if self.organization is None:
            await self._login()
        answer = await self.http.call(
            "GET", self.config.connector.base_url + "/dashboard/chats-dashboard",
            params={"organization": str(self.organization)}, headers=self.headers)
        if not isinstance(answer, list):
            raise Malformed("chats-dashboard: not a list")
        now = int(self.clock() * 1000)
        step = Step()
        for row in answer:
            alias = _field(row, "agent") if isinstance(row, dict) else None
            if not isinstance(alias, str) or not alias.strip():
                step.dead.append((row, "Omni chats-dashboard row: agent: missing"))
                continue
            assert isinstance(row, dict)
            attendance = _field(row, "attendance")
            chats = len(attendance) if isinstance(attendance, list) else 0
            capacity = _field(row, "capacity")
            capacity = capacity if isinstance(capacity, int) and not isinstance(
                capacity, bool) else None
            mapped = self.dashboard_mapping(_field(row, "status"), chats)
            ident = self.dashboard_identity(alias.strip(), _field(row, "user_short_name"))
            last = st["last"].get(ident)
            if last is not None and mapped[0] == last[0] and mapped[1] is None:
                # the dashboard names no pause: the reason the report gave stands
                mapped = (mapped[0], last[1])
            seen = [mapped[0], mapped[1], capacity, chats]
            if last is not None and [last[0], last[1], *last[3:5]] == seen:
                continue
            if last is not None and now <= last[2]:
                continue  # the report is ahead of the dashboard for this agent
            ev = self.event(ident, now, mapped, f"omni:{self.organization}:d:{now}:{alias}",
                            {"chatCapacity": capacity, "chatsInProgress": chats})
            step.events.append(ev)
            self._remember(st, ev)
            if mapped == (NOT_READY, None):  # the report may name this pause later
                ag = st.setdefault("agents", {}).setdefault(
                    ident, {"logins": [], "pauseEnds": [], "dash": []})
                ag["dash"] = [*ag["dash"], now][-4:]
        step.events.sort(key=lambda e: (e["timestamp"], e["eventId"]))
        step.state = st
        return step

    @staticmethod
    def _remember(st: dict[str, Any], ev: dict[str, Any]) -> None:
        ident = ev["acdAgentId"]
        last = st["last"].get(ident)
        if last is None or ev["timestamp"] >= last[2]:
            st["last"][ident] = [ev["gisStateIdentifier"], ev["reasonCode"], ev["timestamp"],
                                 ev.get("chatCapacity", last[3] if last else None),
                                 ev.get("chatsInProgress", last[4] if last else None)]

    # ------------------------------------------------------------------ polling
    async def poll(self) -> AsyncIterator[Step]:
        o = self.config.omni
        st = orjson.loads(orjson.dumps(self.state))
        if o.history and (not self.history_at or time.monotonic() - self.history_at
                          >= o.history_poll_seconds - 0.001):
            async for step in self.read_report(st):
                yield step
                st = orjson.loads(orjson.dumps(step.state))
            self.history_at = time.monotonic()
        if o.dashboard:
            step = await self.read_dashboard(st)
            if step.events or step.dead:
                yield step

    # ------------------------------------------------------------------ metrics
    def figures(self) -> list[Figure]:
        return [
            *self.http.figures(),
            *self.mapper.figures(self.rows_read),
            ("rta_connector_omni_logins_total", "counter", "report logins",
             float(self.logins)),
        ]

