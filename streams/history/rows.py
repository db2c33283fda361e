"""Topic records -> history rows (pure: no database, no broker).

A record that is not valid input is skipped here: the stream dead-letters it.
Every valid state event is kept, also one too late for the live horizon, because
`rta recompute` is what reaches behind the horizon.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from rta.models import InputError, parse_schedule, parse_state_event


@dataclass
class Rows:
    states: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    directory: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # by topic key
    alerts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    skipped: int = 0

    def __len__(self) -> int:
        return (len(self.states) + len(self.schedules) + len(self.summaries)
                + len(self.alerts))


def event_key(event_id: str | None, ts: int, state: int, reason: Any) -> str:
    """How a stored event is told apart: its id, else its content (the core treats
    two id-less events with the same instant, state and reason as one)."""
    if event_id is not None:
        return f"id:{event_id}"
    return f"{ts}|{state}|{'' if reason is None else reason}"


def _json(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def add_state(rows: Rows, value: bytes | None, received_at: int) -> None:
    try:
        ev = parse_state_event(_json(value))
    except InputError:
        rows.skipped += 1
        return
    rows.states.append({
        "tenant_id": ev.tenant_id, "acd_server_id": ev.acd_server_id,
        "acd_agent_id": ev.acd_agent_id,
        "event_key": event_key(ev.event_id, ev.timestamp, ev.state, ev.reason),
        "ts": ev.timestamp, "state": ev.state,
        "reason": None if ev.reason is None else str(ev.reason),
        "reason_is_int": int(isinstance(ev.reason, int)), "event_id": ev.event_id,
        "received_at": received_at})


def add_schedule(rows: Rows, value: bytes | None, partition: int, offset: int,
                 received_at: int) -> None:
    body = _json(value)
    try:
        msg = parse_schedule(body)
    except InputError:
        rows.skipped += 1
        return
    agent = str(msg.agent_id)
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    rows.schedules.append({
        "tenant_id": msg.tenant_id, "agent_id": agent, "body_sha256": digest,
        "kafka_partition": partition,
        "kafka_offset": offset, "from_ts": msg.from_ts, "to_ts": msg.to_ts, "body": body,
        "received_at": received_at})
    for server, acd in msg.identities:
        key = (msg.tenant_id, server, acd)
        known = rows.directory.get(key)
        if known is None or known["updated_at"] <= received_at:
            rows.directory[key] = {"tenant_id": msg.tenant_id, "acd_server_id": server,
                                   "acd_agent_id": acd, "agent_id": agent,
                                   "updated_at": received_at}


def add_summary(rows: Rows, key: bytes | None, value: bytes | None, received_at: int) -> None:
    if key is None:
        rows.skipped += 1
        return
    topic_key = key.decode("utf-8", "replace")
    if value is None:
        rows.summaries[topic_key] = None  # the day no longer exists
        return
    s = _json(value)
    try:
        row = {"tenant_id": str(s["tenantId"]), "day": date.fromisoformat(s["date"]),
               "agent_id": str(s["agentId"]), "summary": s, "as_of": s.get("asOf"),
               "updated_at": received_at, "topic_key": topic_key}
    except (TypeError, KeyError, ValueError):
        rows.skipped += 1
        return
    rows.summaries[topic_key] = row


def add_alert(rows: Rows, value: bytes | None, received_at: int) -> None:
    a = _json(value)
    try:
        key = (str(a["tenantId"]), str(a["alertId"]))
        row = {"tenant_id": key[0], "alert_id": key[1], "agent_id": str(a["agentId"]),
               "start_ts": int(a["start"]), "end_ts": a.get("end"), "body": a,
               "updated_at": received_at}
    except (TypeError, KeyError, ValueError):
        rows.skipped += 1
        return
    known = rows.alerts.get(key)
    if known is None or known["end_ts"] is None:  # the ended one wins
        rows.alerts[key] = row
