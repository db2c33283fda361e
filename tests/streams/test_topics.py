"""The topics `ensure_topics` creates before a worker starts include every
internal topic faust would declare (a list kept by hand in streams/topics.py)."""

from __future__ import annotations

from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.topics import internal_topics
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
