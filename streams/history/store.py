"""Writing history rows to PostgreSQL (SQLAlchemy 2 async, asyncpg), idempotently.

Every write is an upsert keyed as the topics are, in one transaction per batch,
so writing a batch twice (a redelivery after a crash or rebalance) changes
nothing, and a failed batch leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import orjson
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from streams.history.rows import Rows, event_key
from streams.history.schema import (
    agent_directory,
    alerts,
    day_summaries,
    schedule_messages,
    state_events,
)

CHUNK = 1000  # rows per statement
DEADLOCK_RETRIES = 3


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]


class HistoryStore:
    def __init__(self, url: str, engine: AsyncEngine | None = None) -> None:
        self.engine = engine or create_async_engine(url, pool_size=2, max_overflow=2,
                                                    pool_pre_ping=True)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def day(self, tenant: str, day: str) -> dict[str, bytes]:
        """Every stored summary of the tenant for ``day`` (JSON bytes), by agent id."""
        query = select(day_summaries.c.agent_id, day_summaries.c.summary).where(
            day_summaries.c.tenant_id == tenant,
            day_summaries.c.day == date.fromisoformat(day))
        async with self.engine.connect() as conn:
            return {agent: orjson.dumps(summary)
                    for agent, summary in (await conn.execute(query)).all()}

    async def has_schedule(self, tenant: str, agent: str, sha256: str) -> bool:
        query = select(schedule_messages.c.agent_id).where(
            schedule_messages.c.tenant_id == tenant, schedule_messages.c.agent_id == agent,
            schedule_messages.c.body_sha256 == sha256)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def has_mapping(self, tenant: str, server: str, acd: str, agent: str) -> bool:
        """Whether the directory maps the identity to the agent now."""
        query = select(agent_directory.c.agent_id).where(
            agent_directory.c.tenant_id == tenant, agent_directory.c.acd_server_id == server,
            agent_directory.c.acd_agent_id == acd)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return row is not None and row[0] == agent

    async def has_state_event(self, event: dict[str, Any]) -> bool:
        """Whether the state event (a canonical state message) is stored."""
        key = event_key(event.get("eventId") or None, event["timestamp"],
                        int(event["gisStateIdentifier"]), event.get("reasonCode"))
        query = select(state_events.c.ts).where(
            state_events.c.tenant_id == event["tenantId"],
            state_events.c.acd_server_id == str(event.get("acdServerId", "1")),
            state_events.c.acd_agent_id == event["acdAgentId"],
            state_events.c.event_key == key)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def write(self, rows: Rows) -> None:
        """Every row in one transaction. Writers (a worker's sink, a recompute) upsert
        the tables in the same order and each table's rows in key order, so their row
        locks are taken in one order; a deadlock PostgreSQL reports anyway is retried."""
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                await self._write(rows)
                return
            except DBAPIError as exc:
                if attempt == DEADLOCK_RETRIES or "deadlock" not in str(exc).lower():
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def _write(self, rows: Rows) -> None:
        async with self.engine.begin() as conn:
            state_key = ("tenant_id", "acd_server_id", "acd_agent_id", "event_key")
            for chunk in _chunks(_keyed(_unique(rows.states, state_key), state_key)):
                stmt = insert(state_events).values(chunk)
                # id-less duplicates: a numeric reason wins over the same text (as in the core)
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "acd_server_id", "acd_agent_id", "event_key"],
                    set_={"reason_is_int": text(
                        "GREATEST(state_events.reason_is_int, excluded.reason_is_int)")},
                    where=state_events.c.event_id.is_(None)))
            for chunk in _chunks(_keyed(_latest(rows.schedules),
                                        ("tenant_id", "agent_id", "body_sha256"))):
                stmt = insert(schedule_messages).values(chunk)
                # the same message again: only its latest receipt counts (see schema)
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "agent_id", "body_sha256"],
                    set_={"kafka_partition": stmt.excluded.kafka_partition,
                          "kafka_offset": stmt.excluded.kafka_offset,
                          "received_at": stmt.excluded.received_at},
                    where=schedule_messages.c.received_at <= stmt.excluded.received_at))
            directory = _keyed(list(rows.directory.values()),
                               ("tenant_id", "acd_server_id", "acd_agent_id"))
            for chunk in _chunks(directory):
                stmt = insert(agent_directory).values(chunk)
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "acd_server_id", "acd_agent_id"],
                    set_={"agent_id": stmt.excluded.agent_id,
                          "updated_at": stmt.excluded.updated_at},
                    where=agent_directory.c.updated_at <= stmt.excluded.updated_at))
            gone = sorted(k for k, v in rows.summaries.items() if v is None)
            if gone:
                await conn.execute(delete(day_summaries)
                                   .where(day_summaries.c.topic_key.in_(gone)))
            present = _keyed([v for v in rows.summaries.values() if v is not None],
                             ("tenant_id", "day", "agent_id"))
            for chunk in _chunks(present):
                stmt = insert(day_summaries).values(chunk)
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "day", "agent_id"],
                    set_={"summary": stmt.excluded.summary, "as_of": stmt.excluded.as_of,
                          "updated_at": stmt.excluded.updated_at,
                          "topic_key": stmt.excluded.topic_key}))
            for chunk in _chunks(_keyed(list(rows.alerts.values()), ("tenant_id", "alert_id"))):
                stmt = insert(alerts).values(chunk)
                await conn.execute(stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "alert_id"],
                    set_={"end_ts": stmt.excluded.end_ts, "body": stmt.excluded.body,
                          "updated_at": stmt.excluded.updated_at},
                    where=stmt.excluded.end_ts.is_not(None)))  # STARTED never undoes ENDED


def _keyed(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows in the order of their conflict key (the order their row locks are taken)."""
    return sorted(rows, key=lambda r: tuple(str(r[c]) for c in key))


def _latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per distinct message within a statement: its latest receipt."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:  # in broker order
        out[(r["tenant_id"], r["agent_id"], r["body_sha256"])] = r
    return list(out.values())


def _unique(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per key within a statement (PostgreSQL refuses to upsert a key twice);
    for id-less duplicates the numeric reason wins, as in the core."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        k = tuple(r[c] for c in key)
        known = out.get(k)
        numeric_wins = known is not None and known["event_id"] is None and (
            r["reason_is_int"] > known["reason_is_int"])
        if known is None or numeric_wins:
            out[k] = r
    return list(out.values())
