"""Recompute day summaries of any past range from the stored history.

For each batch of agents: their schedule messages that touch the range (each
distinct message at its latest receipt, in broker order), their identities'
state events inside the range plus the last instant before it (the state in
progress when the range starts), replayed through the core ``Engine`` exactly
as the live workers apply them. The range has no limit: this is what reaches
behind the workers' lateness horizon.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from rta.calendar import DayCalendar
from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import StateEvent, parse_schedule
from streams.history.schema import agent_directory, day_summaries, schedule_messages, state_events

AGENTS_PER_BATCH = 50  # a month of 50 agents is ~450,000 events in memory at once


@dataclass(frozen=True)
class Range:
    tenant: str
    first: date
    last: date  # inclusive
    start_ms: int
    end_ms: int  # exclusive

    @classmethod
    def of(cls, tenants: TenantsConfig, tenant: str, first: date, last: date) -> Range:
        if last < first:
            raise ValueError(f"--to {last} is before --from {first}")
        cal = DayCalendar(tenants.get(tenant).time_zone)
        return cls(tenant, first, last, cal.bounds(first.toordinal())[0],
                   cal.bounds(last.toordinal())[1])

    def days(self) -> set[str]:
        return {date.fromordinal(o).isoformat()
                for o in range(self.first.toordinal(), self.last.toordinal() + 1)}


async def agents_in_range(conn: AsyncConnection, rng: Range) -> list[str]:
    """Agents with anything in the range: a schedule touching it, an identity, or a
    stored summary of one of its days (which may have to be deleted)."""
    found: set[str] = set()
    q1 = select(schedule_messages.c.agent_id).distinct().where(
        schedule_messages.c.tenant_id == rng.tenant, schedule_messages.c.from_ts < rng.end_ms,
        schedule_messages.c.to_ts > rng.start_ms)
    q2 = select(agent_directory.c.agent_id).distinct().where(
        agent_directory.c.tenant_id == rng.tenant)
    q3 = select(day_summaries.c.agent_id).distinct().where(
        day_summaries.c.tenant_id == rng.tenant, day_summaries.c.day >= rng.first,
        day_summaries.c.day <= rng.last)
    for q in (q1, q2, q3):
        found.update(str(r[0]) for r in await conn.execute(q))
    return sorted(found)


def batches(agents: list[str], size: int = AGENTS_PER_BATCH) -> Iterator[list[str]]:
    for i in range(0, len(agents), size):
        yield agents[i:i + size]


async def load(conn: AsyncConnection, rng: Range, agents: list[str]
               ) -> list[tuple[str, Any]]:
    """The inputs of these agents for the range, in the order to apply them."""
    out: list[tuple[str, Any]] = []
    idents = (await conn.execute(select(
        agent_directory.c.acd_server_id, agent_directory.c.acd_agent_id,
        agent_directory.c.agent_id).where(agent_directory.c.tenant_id == rng.tenant,
                                          agent_directory.c.agent_id.in_(agents)))).all()
    by_agent: dict[str, list[tuple[str, str]]] = {}
    for server, acd, agent in idents:
        by_agent.setdefault(agent, []).append((server, acd))
    # identities first (an empty window: no schedule yet), so every identity's events
    # apply even when no message touching the range names it
    for agent, ids in by_agent.items():
        (server, acd), rest = ids[0], ids[1:]
        out.append(("schedule", parse_schedule({
            "tenantId": rng.tenant, "agentId": _agent_id(agent), "acdServerId": server,
            "acdAgentId": acd, "fromTimestamp": rng.start_ms, "toTimestamp": rng.end_ms,
            "acdIdentities": [{"acdServerId": s, "acdAgentId": a} for s, a in rest],
            "activities": []})))
    msgs = await conn.execute(select(schedule_messages.c.body).where(
        schedule_messages.c.tenant_id == rng.tenant, schedule_messages.c.agent_id.in_(agents),
        schedule_messages.c.from_ts < rng.end_ms, schedule_messages.c.to_ts > rng.start_ms,
    ).order_by(schedule_messages.c.kafka_partition, schedule_messages.c.kafka_offset))
    out += [("schedule", parse_schedule(body)) for (body,) in msgs]
    if not idents:
        return out
    keys = [(rng.tenant, s, a) for s, a, _ in idents]
    ident_cols = (state_events.c.tenant_id, state_events.c.acd_server_id,
                  state_events.c.acd_agent_id)
    mine = tuple_(*ident_cols).in_(keys)
    # the last instant before the range, per identity: the state in progress at its start
    before = select(*ident_cols, func.max(state_events.c.ts).label("ts")).where(
        mine, state_events.c.ts < rng.start_ms).group_by(*ident_cols).subquery()
    cols = (state_events.c.acd_server_id, state_events.c.acd_agent_id, state_events.c.ts,
            state_events.c.state, state_events.c.reason, state_events.c.reason_is_int,
            state_events.c.event_id)
    inside = select(*cols).where(mine, state_events.c.ts >= rng.start_ms,
                                 state_events.c.ts < rng.end_ms)
    edge = select(*cols).join(before, and_(
        state_events.c.tenant_id == before.c.tenant_id,
        state_events.c.acd_server_id == before.c.acd_server_id,
        state_events.c.acd_agent_id == before.c.acd_agent_id,
        state_events.c.ts == before.c.ts))
    rows = [*(await conn.execute(edge)).all(), *(await conn.execute(inside)).all()]
    rows.sort(key=lambda r: r[2])  # by time: nothing is older than the horizon
    for server, acd, ts, state, reason, is_int, eid in rows:
        # stored only after validation (streams.history.rows): built without validating again
        out.append(("state", StateEvent.model_construct(
            tenant_id=rng.tenant, acd_server_id=server, acd_agent_id=acd, state=state,
            timestamp=ts, event_id=eid,
            reason=int(reason) if is_int and reason is not None else reason)))
    return out


def _agent_id(agent: str) -> int | str:
    body = agent[1:] if agent.startswith("-") else agent
    return int(agent) if body.isascii() and body.isdigit() and len(body) < 19 else agent


def compute(inputs: Iterable[tuple[str, Any]], tenants: TenantsConfig, rng: Range,
            as_of: int | None) -> list[dict[str, Any]]:
    """Day summaries of the range's days from these inputs (the core, as live)."""
    engine = Engine(tenants)
    for kind, msg in inputs:
        if kind == "schedule":
            engine.apply_schedule(msg)
        else:
            engine.apply_state(msg)
    days = rng.days()
    return [s for s in engine.summaries(as_of) if s["date"] in days]


async def stored_keys(conn: AsyncConnection, rng: Range, agents: list[str]) -> set[str]:
    """The rta.adherence keys of the summaries stored for these agents and days."""
    rows = await conn.execute(select(day_summaries.c.topic_key).where(
        day_summaries.c.tenant_id == rng.tenant, day_summaries.c.agent_id.in_(agents),
        day_summaries.c.day >= rng.first, day_summaries.c.day <= rng.last))
    return {r[0] for r in rows}
