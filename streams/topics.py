"""Create the engine's public topics when they are missing (internal ones: faust)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import WorkerSettings


async def ensure_topics(settings: WorkerSettings) -> list[str]:
    """Create missing input and output topics; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        compacted = {settings.topic_adherence, settings.topic_status, settings.topic_sessions,
                     settings.topic_schedule_sync}
        wanted = [*settings.input_topics(), *settings.output_topics(), settings.topic_sessions,
                  settings.topic_recompute, settings.topic_schedule_sync]
        new = [NewTopic(name, settings.partitions, settings.replication_factor,
                        topic_configs={"cleanup.policy": "compact"} if name in compacted else {})
               for name in wanted if name not in existing]
        if new:
            await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()
