"""Seeded event logs that stress the stream service where reading order matters.

``hostile_log(seed)`` is two simulated centres of the same agents, months apart
(both DST seasons of one year, America/Chicago), in one log: event time jumps
forward by months in the middle of the backlog. On top of the simulator's late,
duplicate and schedule-change records, multi-channel agents (identities that
hash to different input partitions) and identities known late, it adds:

- events without an ``eventId`` (absent or empty: deduplicated by content),
- an identity that moves: one agent's chat channel belongs to another agent
  from the second season on (named by the other agent's schedules only),
- late events that cross the season jump: a few first-season events of chat
  channels delivered after second-season events of other identities, but before
  any second-season event of their own input partition (so before the input
  watermark passes them: ARCHITECTURE.md, "Watermarks"; later than that they
  would be late beyond what the worker keeps).

The log is a function of the seed; ``describe`` prints what a seed holds.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from streams.kafka import record_key
from streams.local.simulate import CentreSpec, generate

TENANTS_TOML = ('[tenants.northwind]\ntime_zone = "America/Chicago"\n'
                'alert_after_seconds = 2\n')


def hostile_log(seed: int, agents: int = 8, days: int = 2,
                partitions: int = 4) -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def season(start: date, sub: int) -> list[dict[str, Any]]:
        spec = CentreSpec(agents=agents, days=days, start=start, tenant="northwind",
                          time_zone="America/Chicago", seed=seed * 10 + sub,
                          late_fraction=0.05, duplicate_fraction=0.05,
                          overnight_fraction=0.3, multichannel_fraction=0.5,
                          schedule_change_fraction=0.3, identities_known_late_fraction=0.25)
        return list(generate(spec))

    spring = season(date(2026, 3, 7), 1)
    fall = season(date(2026, 10, 31), 2)
    for rec in fall:  # event ids stay unique in the tenant
        if rec["kind"] == "state" and rec["body"].get("eventId"):
            rec["body"]["eventId"] = "fall-" + rec["body"]["eventId"]
    _move_one_chat(rng, fall)
    records = spring + fall
    for rec in records:
        body = rec["body"]
        # (not a LOGOUT: one without an id loses the tie rule to an event of the same
        # instant, and the agent would stay logged in for months)
        if rec["kind"] == "state" and body["gisStateIdentifier"] != 1 and rng.random() < 0.08:
            if rng.random() < 0.5:
                body.pop("eventId", None)
            else:
                body["eventId"] = ""
    # a few spring events of the chat channels held back until after the season jump,
    # each before the first fall event of its input partition
    chats = [i for i, r in enumerate(spring) if r["kind"] == "state"
             and r["body"]["acdServerId"] == "2"]
    late = sorted(rng.sample(chats, min(len(chats), 6)), reverse=True)
    moved = [records.pop(i) for i in late]
    for rec in moved:
        part = partition_of(record_key("state", rec["body"]), partitions)
        first_fall = next((j for j in range(len(spring) - len(moved), len(records))
                           if records[j]["kind"] == "state" and partition_of(
                               record_key("state", records[j]["body"]), partitions) == part),
                          len(records))
        records.insert(rng.randint(len(spring) - len(moved), first_fall), rec)
    return records


def partition_of(key: bytes, partitions: int) -> int:
    """The input partition the producer's default partitioner gives ``key``."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))


def _move_one_chat(rng: random.Random, fall: list[dict[str, Any]]) -> None:
    """From the second season on, one agent's chat channel is another agent's."""
    chats: dict[int, str] = {}
    agents: set[int] = set()
    for rec in fall:
        if rec["kind"] == "schedule":
            body = rec["body"]
            agents.add(body["agentId"])
            for ident in body.get("acdIdentities", []):
                chats[body["agentId"]] = ident["acdAgentId"]
    if not chats or len(agents) < 2:
        return
    giver = rng.choice(sorted(chats))
    taker = rng.choice(sorted(agents - {giver}))
    chat = chats[giver]
    for rec in fall:
        body = rec["body"]
        if rec["kind"] != "schedule":
            continue
        if body["agentId"] == giver:
            body.pop("acdIdentities", None)
        elif body["agentId"] == taker:
            body["acdIdentities"] = [{"acdServerId": "2", "acdAgentId": chat}]


def describe(records: list[dict[str, Any]]) -> str:
    kinds = Counter(r["kind"] for r in records)
    idless = sum(1 for r in records if r["kind"] == "state" and not r["body"].get("eventId"))
    return (f"{len(records)} records: {kinds['state']} states ({idless} without eventId), "
            f"{kinds['schedule']} schedules")
