"""The history tables (PostgreSQL; SQLAlchemy Core). Migrations: streams/history/migrations.

What users query, and the keys the stream topics use, shape them:

* ``state_events``: every accepted state event, once per event id (events
  without one are keyed by their content, as the core deduplicates them);
  one identity over a time range is an index scan.
* ``schedule_messages``: every distinct schedule message as received, with the
  broker position of its latest receipt (one agent's messages share a
  partition). Recompute applies them in that order: as each message replaces
  its window, applying every distinct message at its last receipt gives what
  applying the whole sequence gives, and sending the same message again
  (a WFM re-publishing, a replayed log) adds no row.
* ``agent_directory``: ACD identity -> agent, from the schedule messages.
* ``day_summaries``: the latest summary per tenant, agent and date (the
  ``rta.adherence`` key); one agent over dates, or one tenant and date.
* ``alerts``: one row per alert id, started and ended merged.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s"})

state_events = Table(
    "state_events", metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("acd_server_id", Text, primary_key=True),
    Column("acd_agent_id", Text, primary_key=True),
    Column("event_key", Text, primary_key=True),  # eventId, or "ts|state|reason"
    Column("ts", BigInteger, nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("reason", Text),  # as sent; reason_is_int tells 5 from "5"
    Column("reason_is_int", SmallInteger, nullable=False, server_default="0"),
    Column("event_id", Text),
    Column("received_at", BigInteger, nullable=False),
)
Index("ix_state_events_identity_ts", state_events.c.tenant_id, state_events.c.acd_server_id,
      state_events.c.acd_agent_id, state_events.c.ts)

schedule_messages = Table(
    "schedule_messages", metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("agent_id", Text, primary_key=True),
    Column("body_sha256", Text, primary_key=True),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("from_ts", BigInteger, nullable=False),
    Column("to_ts", BigInteger, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("received_at", BigInteger, nullable=False),
)
Index("ix_schedule_messages_window", schedule_messages.c.tenant_id,
      schedule_messages.c.from_ts, schedule_messages.c.to_ts)
Index("ix_schedule_messages_order", schedule_messages.c.tenant_id, schedule_messages.c.agent_id,
      schedule_messages.c.kafka_partition, schedule_messages.c.kafka_offset)

agent_directory = Table(
    "agent_directory", metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("acd_server_id", Text, primary_key=True),
    Column("acd_agent_id", Text, primary_key=True),
    Column("agent_id", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_agent_directory_agent", agent_directory.c.tenant_id, agent_directory.c.agent_id)

day_summaries = Table(
    "day_summaries", metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("agent_id", Text, primary_key=True),
    Column("summary", JSONB, nullable=False),
    Column("as_of", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
    Column("topic_key", Text, nullable=False, unique=True),  # the rta.adherence key
)
Index("ix_day_summaries_agent_day", day_summaries.c.tenant_id, day_summaries.c.agent_id,
      day_summaries.c.day)

alerts = Table(
    "alerts", metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("alert_id", Text, primary_key=True),
    Column("agent_id", Text, nullable=False),
    Column("start_ts", BigInteger, nullable=False),
    Column("end_ts", BigInteger),
    Column("body", JSONB, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_alerts_agent_start", alerts.c.tenant_id, alerts.c.agent_id, alerts.c.start_ts)
