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

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import WorkerSettings


async def ensure_topics(settings: WorkerSettings) -> list[str]:
    """Create missing input and output topics; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        internal = internal_topics(settings)
        compacted = {settings.topic_adherence, settings.topic_status, settings.topic_sessions,
                     settings.topic_schedule_sync, settings.topic_acd_checkpoints,
                     *(n for n, c in internal.items() if c)}
        wanted = [*settings.input_topics(), *settings.output_topics(), settings.topic_sessions,
                  settings.topic_recompute, settings.topic_schedule_sync,
                  settings.topic_acd_checkpoints, *internal]
        new = [NewTopic(name, settings.partitions, settings.replication_factor,
                        topic_configs={"cleanup.policy": "compact"} if name in compacted else {})
               for name in wanted if name not in existing]
        if new:
            await admin.create_topics(new)
            await _wait_for_leaders(admin, [t.name for t in new])
        return [t.name for t in new]
    finally:
        await admin.close()


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
