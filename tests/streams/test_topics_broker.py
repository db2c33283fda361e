"""Creating the topics on a real broker (docs/BROKERS.md, "Topics"): two workers
starting at once race to create them, and the loser does not fail; every topic
gets the partitions and replication factor configured; with RTA_CREATE_TOPICS=false
nothing is created and the missing topics are named."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from streams.settings import WorkerSettings
from streams.topics import MissingTopics, ensure_topics, wanted_topics
from tests.support.brokers import TestBroker

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL


def fresh(broker: TestBroker, ns: str, **over: Any) -> WorkerSettings:
    """Settings whose every topic is new on the broker."""
    names = {f"topic_{n}": f"{ns}.{n}" for n in ("state", "schedule", "adherence", "status",
                                                  "alerts", "deadletter")}
    return broker.settings(app_id=ns, **names, **over)


class Racing:
    """An admin client whose topic listing waits for the other one's: both see the
    topics missing, then both ask to create them."""

    def __init__(self, admin: AIOKafkaAdminClient, barrier: asyncio.Barrier) -> None:
        self.admin, self.barrier = admin, barrier

    async def list_topics(self) -> list[str]:
        names: list[str] = await self.admin.list_topics()
        await self.barrier.wait()
        return names

    def __getattr__(self, name: str) -> Any:
        return getattr(self.admin, name)


async def race(settings: WorkerSettings) -> tuple[list[str], list[str]]:
    admins = [AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap) for _ in range(2)]
    for a in admins:
        await a.start()
    try:
        barrier = asyncio.Barrier(2)
        first, second = await asyncio.gather(*(ensure_topics(settings, Racing(a, barrier))
                                               for a in admins))
        return first, second
    finally:
        for a in admins:
            await a.close()


async def describe(settings: WorkerSettings, names: list[str]) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        return {t["topic"]: t for t in await admin.describe_topics(names)}
    finally:
        await admin.close()


def test_two_workers_creating_the_topics_at_once(broker: TestBroker) -> None:
    settings = fresh(broker, f"{broker.namespace}race", partitions=3)
    wanted = sorted(wanted_topics(settings))
    first, second = asyncio.run(race(settings))  # neither raised
    # each topic was created by one of the two; the other took "already exists"
    assert sorted(first + second) == wanted
    assert not set(first) & set(second)
    topics = asyncio.run(describe(settings, wanted))
    for name in wanted:
        parts = topics[name]["partitions"]
        assert topics[name]["error_code"] == 0 and len(parts) == 3, name
        assert all(len(p["replicas"]) == 1 and p["leader"] >= 0 for p in parts), name
    # and again, with nothing to do
    assert asyncio.run(ensure_topics(settings)) == []


def test_create_topics_false_names_the_missing_topics(broker: TestBroker) -> None:
    settings = fresh(broker, f"{broker.namespace}check", create_topics=False)
    with pytest.raises(MissingTopics) as err:
        asyncio.run(ensure_topics(settings))
    assert f"{settings.app_id}-agents-changelog" in str(err.value)
    assert f"{settings.topic_state}" in str(err.value)
    assert asyncio.run(describe(settings, [settings.topic_state]))[settings.topic_state][
        "error_code"] != 0  # not created
    # once an operator made them (here: the creating mode), the check passes
    asyncio.run(ensure_topics(fresh(broker, f"{broker.namespace}check")))
    assert asyncio.run(ensure_topics(settings)) == []
