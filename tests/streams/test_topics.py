"""The topics `ensure_topics` creates before a worker starts include every
internal topic faust would declare (a list kept by hand in streams/topics.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import TopicAlreadyExistsError

from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.topics import (
    MissingTopics,
    TopicsError,
    ensure_topics,
    internal_topics,
    wanted_topics,
)
from streams.worker.app import build_app


def test_internal_topics_are_what_faust_declares() -> None:
    settings = WorkerSettings(broker_url="kafka://127.0.0.1:1", app_id="x", web_enabled=False)
    app = build_app(settings, TenantsConfig.from_mapping(None, "UTC"))
    declared: dict[str, bool] = {}
    for agent in app.agents.values():
        channel = agent.channel
        if channel.internal:
            declared[channel.get_topic_name()] = bool(channel.compacting)
    for table in app.tables.values():
        topic = table.changelog_topic
        declared[topic.get_topic_name()] = bool(topic.compacting)
    assert declared == internal_topics(settings)


# -- RTA_CREATE_TOPICS, the partition count and replication factor, races (fake admin) --

class FakeAdmin:
    """An admin client's answers: the topics that exist, and per name the error code
    CreateTopics answers (0 created, 36 already exists, 29 not authorized)."""

    def __init__(self, existing: set[str], codes: dict[str, int] | None = None,
                 raises: Exception | None = None, partitions: int = 6) -> None:
        self.existing, self.codes, self.raises = set(existing), codes or {}, raises
        self.requests: list[list[Any]] = []
        self.partitions = dict.fromkeys(existing, partitions)  # of the topics that exist

    async def list_topics(self) -> list[str]:
        return sorted(self.existing)

    async def create_topics(self, topics: list[Any]) -> Any:
        self.requests.append(topics)
        if self.raises is not None:
            raise self.raises
        errors = []
        for t in topics:
            code = self.codes.get(t.name, 0)
            if code in (0, 36):
                self.existing.add(t.name)
                self.partitions.setdefault(t.name, t.num_partitions)
            errors.append((t.name, code, None if code in (0, 36) else "denied by ACL"))
        return SimpleNamespace(topic_errors=errors)

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"topic": n, "error_code": 0,
                 "partitions": [{"partition": p, "error_code": 0, "leader": 1}
                                for p in range(self.partitions.get(n, 1))]}
                for n in names]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_every_topic_gets_the_partitions_and_replication_factor_configured() -> None:
    settings = WorkerSettings(partitions=6, replication_factor=3, app_id="x")
    admin = FakeAdmin(set())
    created = run(ensure_topics(settings, admin))
    [request] = admin.requests
    assert sorted(t.name for t in request) == sorted(created) == sorted(wanted_topics(settings))
    assert {(t.num_partitions, t.replication_factor) for t in request} == {(6, 3)}
    names = {t.name: t for t in request}
    # the internal ones (faust's changelogs and repartition topics) and the side processes'
    for name in ("x-agents-changelog", "x-directory", "x-agent-input", "x-acd-checkpoints",
                 "x-schedule-sync", "x-sessions", "x-recompute", "rta.agent-state"):
        assert name in names, name
    assert names["x-acd-checkpoints"].topic_configs == {"cleanup.policy": "compact"}
    assert names["x-agents-changelog"].topic_configs == {"cleanup.policy": "compact"}
    assert names["rta.agent-state"].topic_configs == {}


def test_create_topics_false_only_checks_and_names_the_missing_ones() -> None:
    settings = WorkerSettings(create_topics=False, partitions=6, replication_factor=3)
    everything = set(wanted_topics(settings))
    some = everything - {"rta.alerts", "rta-agents-changelog"}
    admin = FakeAdmin(some)
    with pytest.raises(MissingTopics) as err:
        run(ensure_topics(settings, admin))
    assert admin.requests == []  # nothing created
    text = str(err.value)
    assert "RTA_CREATE_TOPICS" in text and "2 topics do not exist" in text
    assert "rta.alerts, rta-agents-changelog" in text or "rta-agents-changelog, rta.alerts" \
        in text
    assert ("--topic rta-agents-changelog --partitions 6 --replication-factor 3 "
            "--config cleanup.policy=compact") in text
    assert "--topic rta.alerts --partitions 6 --replication-factor 3\n" in text
    # all there: fine, and still nothing created
    admin = FakeAdmin(everything)
    assert run(ensure_topics(settings, admin)) == [] and admin.requests == []


def test_existing_topics_with_another_partition_count_are_an_error() -> None:
    """rta forward or rta connect started first with the default 4 partitions, the
    workers with 8: the engine would key agents onto partitions that do not exist."""
    settings = WorkerSettings(partitions=8)
    admin = FakeAdmin({"rta.agent-state", "rta.alerts"}, partitions=4)
    with pytest.raises(TopicsError) as err:
        run(ensure_topics(settings, admin))
    text = str(err.value)
    assert "RTA_PARTITIONS is 8" in text and "rta.agent-state has 4" in text
    assert admin.requests == []
    # the same count: fine
    admin = FakeAdmin({"rta.agent-state", "rta.alerts"}, partitions=8)
    run(ensure_topics(settings, admin))


def test_a_topic_another_worker_created_meanwhile_is_not_an_error() -> None:
    settings = WorkerSettings()
    names = list(wanted_topics(settings))
    # the broker answers "already exists" for the topics the other worker made first
    admin = FakeAdmin(set(), codes={n: 36 for n in names[::2]})
    assert run(ensure_topics(settings, admin)) == names[1::2]
    # or raises it (aiokafka raises when the whole request failed that way)
    admin = FakeAdmin(set(), raises=TopicAlreadyExistsError())
    assert run(ensure_topics(settings, admin)) == []


def test_a_refused_creation_names_the_topic_and_the_way_out() -> None:
    settings = WorkerSettings()
    admin = FakeAdmin(set(), codes={"rta.alerts": 29})
    with pytest.raises(TopicsError) as err:
        run(ensure_topics(settings, admin))
    assert "rta.alerts (TopicAuthorizationFailedError: denied by ACL)" in str(err.value)
    assert "RTA_CREATE_TOPICS=false" in str(err.value)
    assert isinstance(err.value, OSError)  # the commands' "environment" errors: exit 2


def test_faust_declares_no_topic_when_the_worker_may_not_create_them() -> None:
    for create in (True, False):
        settings = WorkerSettings(broker_url="kafka://127.0.0.1:1", app_id="x",
                                  web_enabled=False, create_topics=create, partitions=5,
                                  replication_factor=2)
        app = build_app(settings, TenantsConfig.from_mapping(None, "UTC"))
        assert app.conf.topic_allow_declare is create
        assert (app.conf.topic_partitions, app.conf.topic_replication_factor) == (5, 2)
