"""Create the engine's topics when they are missing, and wait until they are usable.

The worker's internal topics (faust's: its repartition topics and the tables'
changelogs) are created here too, before the worker joins its group. faust
would declare them itself, but Apache Kafka gives a new topic's partitions their
leaders a moment after CreateTopics returns, and faust's partition assignor
silently leaves out a topic whose partitions its metadata does not show yet
("Ignoring missing topic"): a worker could then run a whole generation with no
reducer partitions at all. ``tests/streams/test_topics.py`` checks this list
against what faust declares."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from streams.settings import WorkerSettings


class TopicsError(OSError):
    """The topics the engine needs are not there and cannot be made (an error of the
    environment, like a port in use: the commands exit with status 2)."""


class MissingTopics(TopicsError):
    """``RTA_CREATE_TOPICS=false`` and topics the engine needs do not exist."""


def wanted_topics(settings: WorkerSettings) -> dict[str, bool]:
    """Every topic the engine uses (public, internal, the side processes') ->
    compacted or not. All get ``RTA_PARTITIONS`` partitions and
    ``RTA_REPLICATION_FACTOR`` replicas."""
    internal = internal_topics(settings)
    compacted = {settings.topic_adherence, settings.topic_status, settings.topic_sessions,
                 settings.topic_schedule_sync, settings.topic_acd_checkpoints,
                 *(n for n, c in internal.items() if c)}
    names = [*settings.input_topics(), *settings.output_topics(), settings.topic_sessions,
             settings.topic_recompute, settings.topic_schedule_sync,
             settings.topic_acd_checkpoints, *internal]
    return {name: name in compacted for name in names}


def new_topics(settings: WorkerSettings, names: list[str]) -> list[NewTopic]:
    wanted = wanted_topics(settings)
    return [NewTopic(name, settings.partitions, settings.replication_factor,
                     topic_configs={"cleanup.policy": "compact"} if wanted[name] else {})
            for name in names]


def create_command(settings: WorkerSettings, names: list[str]) -> str:
    """How an operator creates ``names`` by hand (Kafka's own tool)."""
    wanted = wanted_topics(settings)
    return "\n".join(
        f"  kafka-topics.sh --bootstrap-server {settings.bootstrap} --create "
        f"--if-not-exists --topic {name} --partitions {settings.partitions} "
        f"--replication-factor {settings.replication_factor}"
        + (" --config cleanup.policy=compact" if wanted[name] else "")
        for name in names)


async def ensure_topics(settings: WorkerSettings, admin: Any = None) -> list[str]:
    """Create the missing topics; returns the names this call created.

    Idempotent, and safe when several processes start at once: a topic another one
    created meanwhile (``TopicAlreadyExistsError``, from the broker or in its answer)
    counts as there. With ``RTA_CREATE_TOPICS=false`` nothing is created: a missing
    topic raises :class:`MissingTopics`, naming each and how to create it.
    ``admin``: an admin client already started (tests); by default one is made."""
    own = admin is None
    if own:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
        await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted_topics(settings) if name not in existing]
        await _check_partitions(admin, settings,
                                [n for n in wanted_topics(settings) if n in existing])
        if not missing:
            return []
        if not settings.create_topics:
            raise MissingTopics(
                f"RTA_CREATE_TOPICS is false and {len(missing)} topics do not exist: "
                f"{', '.join(missing)}. Create them (RTA_PARTITIONS={settings.partitions} "
                f"partitions each, RTA_REPLICATION_FACTOR={settings.replication_factor}), "
                f"for example:\n{create_command(settings, missing)}\nor let the worker "
                "create them (RTA_CREATE_TOPICS=true, the default; it needs the "
                "CreateTopics permission)")
        created = await _create(admin, new_topics(settings, missing))
        await _wait_for_leaders(admin, missing)
        return created
    finally:
        if own:
            await admin.close()


async def _check_partitions(admin: Any, settings: WorkerSettings, names: list[str]) -> None:
    """Existing topics must have RTA_PARTITIONS partitions: the engine keys agents
    and identities onto partitions by that count, so a topic created with another
    (another process's default, a changed setting) would misplace or lose records."""
    if not names:
        return
    described = await admin.describe_topics(names)
    wrong = [f"{t['topic']} has {len(t['partitions'])}"
             for t in described if t.get("error_code") == 0 and t.get("partitions")
             and len(t["partitions"]) != settings.partitions]
    if wrong:
        raise TopicsError(
            f"RTA_PARTITIONS is {settings.partitions} but {'; '.join(wrong)} partitions. "
            "Every process of one engine (workers, rta forward, rta connect, the schedule "
            "sync) must have the same RTA_PARTITIONS, and it cannot change once the topics "
            "exist (docs/BROKERS.md, Topics)")


async def _create(admin: Any, topics: list[NewTopic]) -> list[str]:
    """CreateTopics; the names this request created. A topic that exists by now (a
    worker starting at the same time won the race) is not an error."""
    try:
        response = await admin.create_topics(topics)
    except TopicAlreadyExistsError:
        return []  # (raised when every topic of the request existed)
    created, failed = [], []
    for name, code, *rest in getattr(response, "topic_errors", ()):
        if code == 0:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            message = rest[0] if rest and rest[0] else error.description
            failed.append(f"{name} ({error.__name__}: {message})")
    if failed:
        raise TopicsError(
            f"the broker refused to create {len(failed)} topics: {'; '.join(failed)}. "
            "Where the app may not create topics, create them beforehand and set "
            "RTA_CREATE_TOPICS=false (docs/BROKERS.md, \"Topics\")")
    return created


TABLES = ("directory", "held", "agents")  # the worker's tables (streams/worker/context.py)


def internal_topics(settings: WorkerSettings) -> dict[str, bool]:
    """The worker's internal topic names (faust's naming) -> compacted or not."""
    app = settings.app_id
    out = {f"{app}-directory": False, f"{app}-agent-input": False}
    out.update({f"{app}-{table}-changelog": True for table in TABLES})
    return out


async def partitions_of(settings: WorkerSettings, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (empty if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["error_code"] == 0
                  for p in t["partitions"])


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str],
                            timeout: float = 30.0) -> None:
    """Apache Kafka creates a topic's partitions asynchronously: until each has a
    leader, clients see the topic without partitions. Wait for that."""
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics(names)
        ready = all(t["error_code"] == 0 and t["partitions"]
                    and all(p["error_code"] == 0 and p["leader"] >= 0 for p in t["partitions"])
                    for t in described)
        if ready:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {', '.join(names)} have no leader after {timeout} s")
        await asyncio.sleep(0.05)
