"""CCAI Platform (``rta connect ccai``): agent activity logs in, live status reconciled.

Reading (``../shared/seeds/003_*``): ``GET /manager/api/v1/agent_activity_logs``
with basic auth (subdomain as user, token as password),
``sort_column=started_at&sort_direction=ASC``, ``started_at[from]`` = the cursor
minus ``reread_seconds`` (records a platform writes a little late, and open
statuses gaining their ``ended_at``, are read again; their ids are remembered,
so a record is published once), then keyset paging: the next page starts 1 ms
before the newest ``started_at`` of the last (``page`` 1; ``page`` 2, 3 ... only
while a page brings no newer instant), until an empty page, or a short one once
the platform has shown it fills pages of ``per`` (a platform that caps pages
below ``per_page`` is read until an empty page). A poll reads at most
``max_pages_per_poll`` pages; the next one then goes on from the cursor, without
the re-read, so a backlog always moves forward. Each page is one step
(``streams.acd.connector``): published, then checkpointed.

Records to events (the record's ``started_at`` is the event's timestamp, its
``id`` the event id ``ccai:<subdomain>:log:<id, 20 digits>``, so that events at
one instant are ordered as the platform created them by the spec's tie rule):

- ``user_status_changed``: the status the record names (:meth:`CcaiSource.status`);
- ``logout``: LOGOUT;
- ``login``: the record's status if it maps to a logged-in state, else UNKNOWN
  (logged in, status not known yet; the platform writes the status record at
  the same instant, which then wins the tie);
- every other activity (call and chat notifications, pick-ups) is not a state
  change of the widget: counted in ``rta_connector_ccai_skipped_total``.

Statuses (``GET /manager/api/v1/user_statuses``, read at start and every
``statuses_refresh_seconds``): the file's ``[mapping]`` by ``wfm_id`` or name;
then the built-in statuses by their fixed ids (Available 0 → READY, In-call -7
and In-chat -8 → TALKING, Wrap-up -6 → WORK_READY, Offline -10 → LOGOUT); any
other status the platform lists (Unavailable, Break, Meal, Special Task, Missed
Call, custom ones) → NOT_READY with ``reasonCode`` = its ``wfm_id`` (stable across
renames), so the tenants file's reason-code rules apply; a status it does not
list → UNKNOWN (``streams.acd.mapping``).

Reconciling (``GET /manager/api/v1/agents/current_status``, after every poll that
read the log to its end, when ``reconcile``; never while catching up): an agent
``on_hold`` gets HOLD from ``now - on_hold_duration``, and its live status again
when the hold ends; an agent whose live status (or absence: logged out) differs
from the last state published for it for longer than ``reconcile_after_seconds``
gets a corrective event at its ``status_updated_at`` (or now, if that is not after
the last event).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from rta.identifiers import canonical_agent_id
from rta.states import HOLD, LOGOUT, NOT_READY, READY, TALKING, UNKNOWN, WORK_READY
from streams.acd.config import ConnectorConfig, parse_time
from streams.acd.http import PlatformHttp
from streams.acd.mapping import Mapped, Mapper, reason_code
from streams.acd.step import Step
from streams.metrics import Figure

log = logging.getLogger("rta.connect.ccai")
LOGS = "/manager/api/v1/agent_activity_logs"
STATUSES = "/manager/api/v1/user_statuses"
CURRENT = "/manager/api/v1/agents/current_status"
#: the built-in statuses' fixed ids (``user_statuses`` in the seed)
BUILT_IN: dict[int, int] = {0: READY, -7: TALKING, -8: TALKING, -6: WORK_READY, -10: LOGOUT}


class Malformed(ValueError):
    pass


def iso_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise Malformed(f"{what}: not a time: {value!r}")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"{what}: not an ISO-8601 time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


class CcaiSource:
    name = "ccai"

    def __init__(self, config: ConnectorConfig, clock: Callable[[], float] = time.time,
                 http: PlatformHttp | None = None) -> None:
        c = config.connector
        self.config, self.clock = config, clock
        self.http = http or PlatformHttp(c.rate_limit_per_second, c.timeout_seconds,
                                         c.retry_max_seconds)
        basic = base64.b64encode(f"{config.ccai.subdomain}:{config.secret('token')}".encode())
        self.headers = {"Authorization": "Basic " + basic.decode("ascii")}
        self.mapper = Mapper(config.file.mapping, config.name)
        self.tenant, self.server = c.tenant, c.acd_server_id
        self.prefix = f"ccai:{config.ccai.subdomain}"
        self.state: dict[str, Any] = {}
        self.statuses: dict[int, dict[str, Any]] = {}  # by wfm_id
        self.status_ids: dict[int, dict[str, Any]] = {}  # by status id
        self.statuses_at = 0.0  # monotonic time of the last read
        self.mismatch: dict[str, tuple[float, Mapped]] = {}  # agent -> (since, live)
        self.skipped = 0
        self.records = 0
        self.full_pages = False  # a page of per_page records was seen
        self.identities = {k: canonical_agent_id(v.kind, v.value)
                           for k, v in config.file.identities.items()}

    # ------------------------------------------------------------------ cursor state
    def restore(self, state: dict[str, Any] | None) -> None:
        if state is None:
            c = self.config.connector
            start = (parse_time(c.start_from) if c.start_from is not None
                     else int((self.clock() - c.initial_lookback_seconds) * 1000))
            state = {"cursor": start, "seen": {}, "last": {}, "hold": {}}
        self.state = state

    def committed(self, state: dict[str, Any]) -> None:
        self.state = state

    def next_poll_in(self) -> float:
        return self.config.connector.poll_seconds

    @property
    def platform_up(self) -> bool:
        return self.http.up

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------------ platform
    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.http.call("GET", self.config.connector.base_url + path,
                                    params=params, headers=self.headers)

    async def refresh_statuses(self, force: bool = False) -> None:
        due = time.monotonic() - self.statuses_at >= self.config.ccai.statuses_refresh_seconds
        if not (force or due or not self.statuses_at):
            return
        answer = await self._get(STATUSES)
        if not isinstance(answer, list):
            raise Malformed("user_statuses: not a list")
        by_wfm, by_id = {}, {}
        for s in answer:
            if isinstance(s, dict) and isinstance(s.get("wfm_id"), int):
                by_wfm[s["wfm_id"]] = s
                if isinstance(s.get("id"), int):
                    by_id[s["id"]] = s
        self.statuses, self.status_ids = by_wfm, by_id
        self.statuses_at = time.monotonic()

    def status(self, status: Any) -> Mapped:
        """A status object (``{"id", "name", "wfm_id"}``) as (state, reason)."""
        if not isinstance(status, dict):
            return self.mapper.map((), lambda: None, repr(status))
        wfm, sid, name = status.get("wfm_id"), status.get("id"), status.get("name")
        keys = [str(wfm)] if wfm is not None else []
        if isinstance(name, str):
            keys.append(name)

        def default() -> Mapped | None:
            if isinstance(sid, int) and sid in BUILT_IN:
                return (BUILT_IN[sid], None)
            if isinstance(wfm, int) and wfm in self.statuses:
                listed = self.statuses[wfm]
                if listed.get("id") in BUILT_IN:
                    return (BUILT_IN[listed["id"]], None)
                return (NOT_READY, reason_code(wfm))
            return None

        return self.mapper.map(keys, default, f"{name!r} (wfm_id {wfm})")

    def identity(self, agent: Any) -> str:
        key = str(agent)
        return self.identities.get(key, key)

    def event(self, agent: str, ts: int, mapped: Mapped, event_id: str) -> dict[str, Any]:
        return {"tenantId": self.tenant, "acdServerId": self.server,
                "acdAgentId": self.identity(agent), "gisStateIdentifier": mapped[0],
                "timestamp": ts, "reasonCode": mapped[1], "eventId": event_id}

    def record_event(self, rec: Any) -> tuple[str, int, dict[str, Any] | None]:
        """(record id, started_at, event or None for activities that set no state);
        raises Malformed naming what is wrong."""
        if not isinstance(rec, dict):
            raise Malformed(f"not an object: {type(rec).__name__}")
        rid = rec.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
            raise Malformed(f"id: not a record id: {rid!r}")
        agent = rec.get("agent_id")
        if not isinstance(agent, int | str) or isinstance(agent, bool) or agent == "":
            raise Malformed(f"record {rid}: agent_id: not an agent id: {agent!r}")
        ts = parse_iso(rec.get("started_at"), f"record {rid}: started_at")
        activity = rec.get("activity")
        eid = f"{self.prefix}:log:{rid:020d}"
        if activity == "user_status_changed":
            if not isinstance(rec.get("status"), dict):
                raise Malformed(f"record {rid}: status: missing")
            return str(rid), ts, self.event(str(agent), ts, self.status(rec["status"]), eid)
        if activity == "logout":
            return str(rid), ts, self.event(str(agent), ts, (LOGOUT, None), eid)
        if activity == "login":
            mapped = self.status(rec["status"]) if isinstance(rec.get("status"), dict) \
                else (UNKNOWN, None)
            if mapped[0] == LOGOUT:
                mapped = (UNKNOWN, None)
            return str(rid), ts, self.event(str(agent), ts, mapped, eid)
        if not isinstance(activity, str):
            raise Malformed(f"record {rid}: activity: missing")
        return str(rid), ts, None

    # ------------------------------------------------------------------ polling
    async def poll(self) -> AsyncIterator[Step]:
        await self.refresh_statuses()
        c = self.config.connector
        st = orjson.loads(orjson.dumps(self.state))  # a working copy
        reread = int(c.reread_seconds * 1000)
        # a poll that ended at max_pages_per_poll is continued where it stopped; one
        # that read to the end is followed by one that reads reread_seconds again
        frm = max(0, st["cursor"] - (1 if st.get("more") else reread))
        per = self.config.ccai.per_page
        page = 1
        for _ in range(c.max_pages_per_poll):
            answer = await self._get(LOGS, {
                "sort_column": "started_at", "sort_direction": "ASC",
                "started_at[from]": iso_ms(frm), "page": str(page), "per": str(per)})
            if not isinstance(answer, list):
                raise Malformed(f"agent_activity_logs page {page}: not a list")
            step = Step()
            refreshed = False
            newest = -1
            for rec in answer:
                self.records += 1
                rid_raw = rec.get("id") if isinstance(rec, dict) else None
                if isinstance(rid_raw, int) and str(rid_raw) in st["seen"]:
                    newest = max(newest, st["seen"][str(rid_raw)])  # read before
                    continue
                if not refreshed and self._new_status(rec):
                    # a status created since the last read of user_statuses
                    await self.refresh_statuses(force=True)
                    refreshed = True
                try:
                    rid, ts, ev = self.record_event(rec)
                    newest = max(newest, ts)
                except Malformed as exc:
                    key = (f"m:{rid_raw}" if isinstance(rid_raw, int) else "h:" + hashlib.sha1(
                        orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16])
                    if key not in st["seen"]:
                        step.dead.append((rec, f"CCAI activity log record: {exc}"))
                    st["seen"][key] = st["cursor"]  # (kept while it may be read again)
                    continue
                st["seen"][rid] = ts
                st["cursor"] = max(st["cursor"], ts)
                if ev is None:
                    self.skipped += 1
                    continue
                step.events.append(ev)
                self._remember(st, ev)
            if len(answer) >= per:
                self.full_pages = True  # the platform gives pages of per_page records
            # the end: an empty page, or a short one from a platform known to fill its
            # pages (one that caps pages below per_page is read until an empty page)
            end = not answer or (len(answer) < per and self.full_pages)
            floor = st["cursor"] - reread
            st["seen"] = {k: v for k, v in st["seen"].items() if v >= floor}
            st["more"] = not end
            step.events.sort(key=lambda e: (e["timestamp"], e["eventId"]))
            step.state = st
            yield step
            st = orjson.loads(orjson.dumps(st))
            if end:
                break
            # keyset paging: the next page starts 1 ms before the newest record read
            # (started_at[from] may be exclusive; the records read again are skipped as
            # seen); while a page brings no newer instant, the next page of the same
            # start
            if newest - 1 > frm:
                frm, page = newest - 1, 1
            else:
                page += 1
        if self.config.ccai.reconcile and not st.get("more"):
            # only once the log is read to its end: while catching up, the live view is
            # ahead of what was read, and a correction at 'now' would put the agent's
            # older events behind the lateness horizon
            step = await self.reconcile(st)
            if step.events:
                yield step

    def _new_status(self, rec: Any) -> bool:
        status = rec.get("status") if isinstance(rec, dict) else None
        if not isinstance(status, dict) or rec.get("activity") != "user_status_changed":
            return False
        wfm, sid = status.get("wfm_id"), status.get("id")
        return (isinstance(wfm, int) and wfm not in self.statuses
                and sid not in BUILT_IN and str(wfm) not in self.mapper.overrides)

    @staticmethod
    def _remember(st: dict[str, Any], ev: dict[str, Any]) -> None:
        agent = ev["acdAgentId"]
        last = st["last"].get(agent)
        if last is None or ev["timestamp"] >= last[2]:
            st["last"][agent] = [ev["gisStateIdentifier"], ev["reasonCode"], ev["timestamp"]]

    async def reconcile(self, st: dict[str, Any]) -> Step:
        answer = await self._get(CURRENT)
        if not isinstance(answer, list):
            raise Malformed("agents/current_status: not a list")
        now = int(self.clock() * 1000)
        mono = time.monotonic()
        after = self.config.ccai.reconcile_after_seconds
        step = Step()
        live: dict[str, tuple[Mapped, int, bool, int]] = {}
        for row in answer:
            if not isinstance(row, dict) or not isinstance(row.get("id"), int | str):
                step.dead.append((row, "CCAI current_status row: id: missing"))
                continue
            status = self.status_ids.get(row.get("status_id"))  # type: ignore[arg-type]
            mapped = self.status(status if status is not None else
                                 {"id": row.get("status_id"), "name": row.get("status")})
            try:
                since = parse_iso(row.get("status_updated_at"), "status_updated_at")
            except Malformed:
                since = now
            held = int(row.get("on_hold_duration") or 0) if row.get("on_hold") else -1
            live[self.identity(row["id"])] = (mapped, since, bool(row.get("on_hold")), held)
        for agent, last in list(st["last"].items()):
            if agent not in live and last[0] != LOGOUT:
                live[agent] = ((LOGOUT, None), now, False, -1)
        for agent, (mapped, since, on_hold, held) in live.items():
            last = st["last"].get(agent)
            hold_start = st["hold"].get(agent)
            if on_hold and hold_start is None:
                # whole seconds: a poll redone after a crash computes the same start
                start = max((now - held * 1000) // 1000 * 1000, last[2] + 1 if last else 0)
                ev = self._event_for(agent, start, (HOLD, None), f"hold:{start}")
                st["hold"][agent] = start
            elif not on_hold and hold_start is not None:
                del st["hold"][agent]
                ev = self._event_for(agent, now, mapped, f"unhold:{now}")
            elif on_hold:
                continue
            elif last is not None and (last[0], last[1]) == mapped:
                self.mismatch.pop(agent, None)
                continue
            elif last is None and mapped[0] == LOGOUT:
                continue
            else:
                seen = self.mismatch.get(agent)
                if seen is None or seen[1] != mapped:
                    self.mismatch[agent] = (mono, mapped)
                    if after > 0:
                        continue
                elif mono - seen[0] < after:
                    continue
                self.mismatch.pop(agent, None)
                ts = since if last is None or since > last[2] else max(now, last[2] + 1)
                ev = self._event_for(agent, ts, mapped, f"fix:{ts}")
            step.events.append(ev)
            self._remember(st, ev)
        step.events.sort(key=lambda e: (e["timestamp"], e["eventId"]))
        step.state = st
        return step

    def _event_for(self, agent: str, ts: int, mapped: Mapped, tag: str) -> dict[str, Any]:
        return {"tenantId": self.tenant, "acdServerId": self.server, "acdAgentId": agent,
                "gisStateIdentifier": mapped[0], "timestamp": ts, "reasonCode": mapped[1],
                "eventId": f"{self.prefix}:{tag}:{agent}"}

    # ------------------------------------------------------------------ metrics
    def figures(self) -> list[Figure]:
        return [
            *self.http.figures(),
            *self.mapper.figures(self.records),
            ("rta_connector_ccai_skipped_total", "counter",
             "activity records that set no state (notifications, pick-ups)",
             float(self.skipped)),
        ]

