"""Shared test settings.

Hypothesis profiles: ``default`` (what CI runs) and ``deep`` (many more
examples, for hunting rare bugs): ``HYPOTHESIS_PROFILE=deep ./scripts/test tests/unit``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from streams.local.kafka import KafkaBroker
from tests.support.brokers import DEFAULT_KIND, TestBroker, open_test_broker

settings.register_profile(
    "default", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "deep", max_examples=5000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# -- the broker under the tests (tests/support/brokers.py) ----------------------------



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
