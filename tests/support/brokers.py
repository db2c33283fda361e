"""The broker under the tests: Apache Kafka by default, Tansu for the smoke set.

One Apache Kafka broker serves the whole test session (it takes seconds to
start); each test gets a namespace of its own on it: an app id (hence faust's
group, internal topics and the engine's other groups) and public topic names
``<ns>.agent-state`` etc., set as ``RTA_*`` environment variables, so the
workers and tools a test starts, in-process or as subprocesses, see only that
test's data. ``broker.topic("rta.adherence")`` names a topic in the test's
namespace.

Tansu is started afresh per test (milliseconds) with the default names. Tests
marked ``@pytest.mark.tansu`` run on both brokers; ``RTA_TEST_BROKER=tansu``
runs every broker test on Tansu.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.local.broker import BROKER_KINDS, TansuBroker
from streams.local.kafka import KafkaBroker
from streams.settings import WorkerSettings
from streams.topics import ensure_topics

DEFAULT_KIND = os.environ.get("RTA_TEST_BROKER", "kafka")
if DEFAULT_KIND not in BROKER_KINDS:
    raise RuntimeError(f"RTA_TEST_BROKER={DEFAULT_KIND!r}: one of {', '.join(BROKER_KINDS)}")

PUBLIC = ("state", "schedule", "adherence", "status", "alerts", "deadletter")
_counter = itertools.count(1)


def run_sync(coro: Any) -> Any:
    """``asyncio.run``, also where a loop already runs in this thread (Playwright's
    sync API keeps one running while a browser is open): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def namespace_env(ns: str) -> dict[str, str]:
    """``RTA_*`` variables that put the engine's topics and groups under ``ns``."""
    defaults = WorkerSettings.model_fields
    env = {"RTA_APP_ID": ns}
    for name in PUBLIC:
        default = str(defaults[f"topic_{name}"].default)  # rta.agent-state, ...
        env[f"RTA_TOPIC_{name.upper()}"] = ns + default.removeprefix("rta")
    return env


@dataclass
class TestBroker:
    """A running broker and the namespace of one test (or one test module)."""

    __test__ = False  # not a test class

    server: TansuBroker | KafkaBroker
    namespace: str

    @property
    def kind(self) -> str:
        return self.server.kind

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def bootstrap(self) -> str:
        return self.server.bootstrap

    @property
    def log(self) -> Path | None:
        return self.server.log

    @property
    def env(self) -> dict[str, str]:
        return namespace_env(self.namespace) if self.namespace != "rta" else {}

    def topic(self, name: str) -> str:
        """``rta.adherence`` -> this namespace's name for it (also ``rta-...`` ones)."""
        if name.startswith((f"{self.namespace}.", f"{self.namespace}-")):
            return name  # already this namespace's
        if not name.startswith("rta"):
            raise ValueError(f"not an engine topic name: {name!r}")
        return self.namespace + name.removeprefix("rta")

    def settings(self, **over: object) -> WorkerSettings:
        return WorkerSettings(broker_url=self.url, **over)  # type: ignore[arg-type]

    def behind(self, group: str, topics: list[str]) -> int:
        """Records of ``topics`` past the offsets ``group`` committed (its whole lag: a
        partition it never committed counts from the log start)."""
        return asyncio.run(_behind(self.bootstrap, group, [self.topic(t) for t in topics]))


async def _behind(bootstrap: str, group: str, topics: list[str]) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(consumer.partitions_for_topic(t) or set())]
        if not tps:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(t, p) for t in topics
                   for p in sorted(consumer.partitions_for_topic(t) or set())]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        total = 0
        for tp in tps:
            committed = await consumer.committed(tp)
            total += ends[tp] - (starts[tp] if committed is None else committed)
        return total
    finally:
        await consumer.stop()


@contextlib.contextmanager
def open_test_broker(kind: str, kafka: Callable[[], KafkaBroker], tmp: Path,
                     mp: pytest.MonkeyPatch) -> Iterator[TestBroker]:
    """A broker of ``kind`` with a fresh namespace (set in the environment through
    ``mp``) and the engine's topics created in it."""
    with contextlib.ExitStack() as stack:
        if kind == "tansu":
            server: TansuBroker | KafkaBroker = stack.enter_context(
                TansuBroker(log=tmp / "broker.log"))
            tb = TestBroker(server, "rta")
        else:
            tb = TestBroker(kafka(), f"rta{next(_counter):03d}")
        for k, v in tb.env.items():
            mp.setenv(k, v)
        run_sync(ensure_topics(tb.settings()))
        yield tb


# -- fixtures (registered by tests/conftest.py) ---------------------------------------

def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.tansu`` tests run on Apache Kafka and on Tansu."""
    if "broker_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("tansu"):
        kinds = sorted({DEFAULT_KIND, "tansu"}, key=["kafka", "tansu"].index)
        metafunc.parametrize("broker_kind", kinds)


@pytest.fixture
def broker_kind() -> str:
    return DEFAULT_KIND


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One Apache Kafka for the session, started when a test first needs it."""
    with KafkaBroker(log=tmp_path_factory.mktemp("kafka") / "broker.log") as server:
        yield server


@pytest.fixture
def broker(broker_kind: str, request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[TestBroker]:
    """The test's broker and namespace, the engine's topics created."""
    with open_test_broker(broker_kind, lambda: request.getfixturevalue("kafka_server"),
                          tmp_path, monkeypatch) as b:
        yield b
