"""Schedule sync, the pure part: call windows, agent sets, day messages, digests.

No I/O and no clock: the caller passes the time in. The sync (``streams.wfm.schedule_sync``)
pulls schedules with Webex Schedule for Timespan and publishes canonical schedule
messages (``../shared/spec/INTERFACES.md``), one per agent per local day of the
tenant, and only the days whose content changed since they were last published.

- **Range.** Local days ``[today - days_back, today + days_ahead]`` of the tenant.
- **Call windows** (:func:`plan_windows`): consecutive local days, cut at local
  midnights, each holding at most ``days_per_call`` days *and* lasting at most
  ``days_per_call`` x 24 h. Webex refuses more than nine days for several agents;
  nine local days that hold a fall-back day last 9 x 24 h + 1 h, so such a window
  holds eight days. A window always holds at least one day.
- **Agent sets** (:func:`agent_sets`): at most ``agents_per_call`` agent ids per call.
- **Day messages** (:func:`day_messages`): the window of a message is one local
  day; the agent's activities overlapping it are clipped to it, in the WFM's order
  (where activities overlap, the later-listed one wins). The sync builds days
  only for agents the WFM's answer lists (an empty list: empty days).
- **Change detection** (:func:`should_publish`): a day is published when its
  digest differs from the one last published for it; a day never published whose
  activities are empty is not (there is nothing to clear), and a day published
  with activities that is now empty is published with ``activities: []`` (a
  deleted shift clears the day).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeGuard

import orjson

from rta.calendar import DayCalendar
from rta.models import MAX_TIMESTAMP

DAY_MS = 86_400_000
#: activity fields a schedule message carries (when the WFM gives them, not null)
ACTIVITY_FIELDS = ("activityType", "activityTypeLabel", "activityDetailName", "startTime",
                   "endTime", "serviceQueueId", "multiSkillGroupId", "color", "paid")
#: the message fields the digest covers: what the engine applies (the agent's
#: identity, the window, the activities); employeeId and agentTimeZone are carried
#: but do not make a day "changed"
DIGEST_FIELDS = ("acdServerId", "acdAgentId", "fromTimestamp", "toTimestamp", "activities")


# ---------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Window:
    """Local days ``first..last`` (ordinals, inclusive): ``[start_ms, end_ms)``."""

    first: int
    last: int
    start_ms: int
    end_ms: int

    @property
    def days(self) -> range:
        return range(self.first, self.last + 1)


def day_range(cal: DayCalendar, now_ms: int, days_back: int, days_ahead: int
              ) -> tuple[int, int]:
    """First and last local day (ordinals, inclusive) the sync covers at ``now_ms``."""
    today = cal.ordinal(now_ms)
    return today - days_back, today + days_ahead


def plan_windows(cal: DayCalendar, first: int, last: int, days_per_call: int
                 ) -> list[Window]:
    """Call windows tiling local days ``first..last``, greedily as long as allowed."""
    if days_per_call < 1:
        raise ValueError("days_per_call must be at least 1")
    limit = days_per_call * DAY_MS
    out: list[Window] = []
    d = first
    while d <= last:
        start, end = cal.bounds(d)
        e = d
        while e < last and e + 1 - d < days_per_call:
            nxt_end = cal.bounds(e + 1)[1]
            if nxt_end - start > limit:
                break
            e, end = e + 1, nxt_end
        out.append(Window(d, e, start, end))
        d = e + 1
    return out


def plan(cal: DayCalendar, now_ms: int, days_back: int, days_ahead: int, days_per_call: int
         ) -> list[Window]:
    first, last = day_range(cal, now_ms, days_back, days_ahead)
    return plan_windows(cal, first, last, days_per_call)


def agent_sets(agent_ids: Sequence[int], per_call: int) -> list[list[int]]:
    """Consecutive chunks of at most ``per_call`` agent ids."""
    if per_call < 1:
        raise ValueError("per_call must be at least 1")
    return [list(agent_ids[i:i + per_call]) for i in range(0, len(agent_ids), per_call)]


# ---------------------------------------------------------------------- agents
@dataclass(frozen=True)
class SyncAgent:
    agent_id: int
    acd_agent_id: str
    employee_number: str | None = None


def sync_agents(rows: Iterable[Mapping[str, Any]]) -> tuple[list[SyncAgent], list[Any]]:
    """Agent API rows -> the agents to sync (sorted by id) and the ids skipped
    because they have no ACD id (their states could not be matched)."""
    agents: dict[int, SyncAgent] = {}
    skipped: list[Any] = []
    for row in rows:
        agent_id = _agent_id(row.get("agentId"))
        if agent_id is None:
            skipped.append(row.get("agentId"))
            continue
        acd = _text(row.get("acdId"))
        if acd is None:
            skipped.append(agent_id)
            continue
        agents[agent_id] = SyncAgent(agent_id, acd, _text(row.get("employeeNumber")))
    return [agents[k] for k in sorted(agents)], skipped


def _agent_id(v: Any) -> int | None:
    """Webex agent ids are numbers (Schedule for Timespan takes Longs)."""
    if isinstance(v, bool) or not isinstance(v, int | str):
        return None
    try:
        return int(v)
    except ValueError:
        return None


def _text(v: Any) -> str | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v.strip() or None
    return None


# ---------------------------------------------------------------------- answers
@dataclass(frozen=True)
class AgentEntry:
    """One agent's part of a Schedule for Timespan answer: valid activities only."""

    activities: tuple[dict[str, Any], ...]
    employee_id: str | None = None
    time_zone: str | None = None
    invalid: int = 0  # activities dropped (no type, bad or empty times)


def entries_by_agent(answer: Iterable[Mapping[str, Any]]) -> dict[int, AgentEntry]:
    """A Schedule for Timespan answer by agent id; an agent listed twice gets its
    activities in the order listed."""
    out: dict[int, AgentEntry] = {}
    for row in answer:
        agent_id = _agent_id(row.get("agentId"))
        if agent_id is None:
            continue
        acts, invalid = valid_activities(row.get("activities"))
        prev = out.get(agent_id)
        emp = _text(row.get("employeeID", row.get("employeeId")))
        tz = _text(row.get("agentTimeZone"))
        if prev is not None:
            acts = [*prev.activities, *acts]
            invalid += prev.invalid
            emp, tz = prev.employee_id or emp, prev.time_zone or tz
        out[agent_id] = AgentEntry(tuple(acts), emp, tz, invalid)
    return out


def valid_activities(raw: Any) -> tuple[list[dict[str, Any]], int]:
    """The activities a schedule message can carry, with the kept fields only, and
    how many were dropped (the engine would refuse a message holding one)."""
    if not isinstance(raw, list):
        return [], 0
    out: list[dict[str, Any]] = []
    invalid = 0
    for a in raw:
        if not isinstance(a, Mapping):
            invalid += 1
            continue
        kind, start, end = a.get("activityType"), a.get("startTime"), a.get("endTime")
        if (not isinstance(kind, str) or not kind.strip() or not _millis(start)
                or not _millis(end) or end <= start):
            invalid += 1
            continue
        out.append({k: a[k] for k in ACTIVITY_FIELDS if a.get(k) is not None})
    return out, invalid


def _millis(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_TIMESTAMP


def clip(activities: Iterable[Mapping[str, Any]], start: int, end: int
         ) -> list[dict[str, Any]]:
    """The activities overlapping ``[start, end)``, cut to it, in their order."""
    out = []
    for a in activities:
        s, e = a["startTime"], a["endTime"]
        if s < end and e > start:
            out.append({**a, "startTime": max(s, start), "endTime": min(e, end)})
    return out


# ---------------------------------------------------------------------- messages
@dataclass(frozen=True)
class DayMessage:
    """The schedule message of one agent's local day, and its digest."""

    tenant: str
    agent_id: int
    day: str  # YYYY-MM-DD
    message: dict[str, Any]
    digest: str

    @property
    def key(self) -> str:
        """Key of the digests topic (and of the published-digests map)."""
        return digest_key(self.tenant, self.agent_id, self.day)

    @property
    def record_key(self) -> str:
        """Key of ``rta.schedule``."""
        return f"{self.tenant}:{self.agent_id}"

    @property
    def empty(self) -> bool:
        return not self.message["activities"]


def digest_key(tenant: str, agent_id: int | str, day: str) -> str:
    return f"{tenant}:{agent_id}:{day}"


def split_digest_key(key: str) -> tuple[str, str, str] | None:
    """``(tenant, agentId, YYYY-MM-DD)``; None for a key of another shape."""
    parts = key.rsplit(":", 2)
    if len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


def digest(message: Mapping[str, Any]) -> str:
    """A stable digest of what the engine applies from ``message``."""
    body = {k: message.get(k) for k in DIGEST_FIELDS}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def day_messages(tenant: str, acd_server_id: str, agent: SyncAgent, entry: AgentEntry | None,
                 cal: DayCalendar, window: Window) -> list[DayMessage]:
    """One message per local day of ``window`` for ``agent`` (``entry`` None: the WFM
    returned nothing for the agent, so every day is empty)."""
    acts = entry.activities if entry is not None else ()
    out = []
    for d in window.days:
        start, end = cal.bounds(d)
        msg: dict[str, Any] = {"tenantId": tenant, "agentId": agent.agent_id}
        employee = (entry.employee_id if entry is not None else None) or agent.employee_number
        if employee is not None:
            msg["employeeId"] = employee
        msg["acdServerId"] = acd_server_id
        msg["acdAgentId"] = agent.acd_agent_id
        if entry is not None and entry.time_zone is not None:
            msg["agentTimeZone"] = entry.time_zone
        msg["fromTimestamp"], msg["toTimestamp"] = start, end
        msg["activities"] = clip(acts, start, end)
        out.append(DayMessage(tenant, agent.agent_id, date.fromordinal(d).isoformat(), msg,
                              digest(msg)))
    return out


# ---------------------------------------------------------------------- changes
def should_publish(msg: DayMessage, previous: str | None) -> bool:
    """Publish a day whose digest changed; a day never published that has no
    activities is not published (nothing to clear)."""
    if previous is None:
        return not msg.empty
    return previous != msg.digest


def changed(messages: Iterable[DayMessage], published: Mapping[str, str]) -> list[DayMessage]:
    return [m for m in messages if should_publish(m, published.get(m.key))]


def stale_keys(published: Iterable[str], tenant: str, first: int, last: int) -> list[str]:
    """Digest keys of ``tenant`` for days outside ``first..last``: no longer synced,
    so no longer worth keeping (the caller deletes them)."""
    lo, hi = date.fromordinal(first).isoformat(), date.fromordinal(last).isoformat()
    out = []
    for key in published:
        parts = split_digest_key(key)
        if parts is None or parts[0] != tenant:
            continue
        if not lo <= parts[2] <= hi:
            out.append(key)
    return out
