"""The HTTP API keeps its own contract: schemathesis, driven by the API's OpenAPI document.

A worker on a real broker serves ``/openapi.json``; schemathesis reads it there, as any
client would, generates requests for every operation (the coverage phase: every
boundary, every missing or wrong value, the methods a path does not support; then the
fuzzing phase; valid and invalid data) and runs all its checks on each answer: no 500
(nor 503), status codes, content types, headers and bodies as documented, valid data
accepted and invalid data refused, 405 with ``Allow``, credentials enforced.

Twice, as README's "The HTTP API" runs it against any deployment, with the same
settings files: with an API key (``tests/support/schemathesis.toml``: a fixed seed,
25 examples per operation in the fuzzing phase, the hooks for the rules OpenAPI cannot
state, ``tests/support/contract_hooks.py``), and with a session
(``tests/support/schemathesis-session.toml``: the same, logging in with
``POST /api/rest/authorize`` and again after the ``DELETE`` case ends the session).

The worker's batch limit is lowered (``RTA_API_MAX_BATCH_ITEMS``; the document says
it), so that the boundary batches stay small and the run short.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from tests.support.http import KEYS, PASSWORDS, Service

pytestmark = pytest.mark.slow  # starts a broker and a worker

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = ROOT / "tests" / "support"
# sessions outlive the run (the service fixture's default idle timeout is 3 s)
WORKER_ENV = {"RTA_SESSION_IDLE_SECONDS": "3600", "RTA_API_MAX_BATCH_ITEMS": "50"}
TENANT = "northwind"


def load(service: Service, settings: str) -> Any:
    """The document as the worker serves it, run with these settings (their paths are
    relative to the repository root, as on the command line)."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        config = SchemathesisConfig.from_path(str(SETTINGS / settings))
        return schemathesis.openapi.from_url(f"{service.api.base}/openapi.json",
                                             config=config)
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def with_key_schema(service: Service) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RTA_API_KEY", KEYS[TENANT])
        yield load(service, "schemathesis.toml")


@pytest.fixture(scope="module")
def with_session_schema(service: Service) -> Iterator[Any]:
    user, password = PASSWORDS[TENANT]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RTA_USER", user)
        mp.setenv("RTA_PASSWORD", password)
        yield load(service, "schemathesis-session.toml")


with_key = schemathesis.pytest.from_fixture("with_key_schema")
with_session = schemathesis.pytest.from_fixture("with_session_schema")


@with_key.parametrize()
def test_the_api_keeps_its_contract_with_an_api_key(case: Case) -> None:
    case.call_and_validate()


@with_session.parametrize()
def test_the_api_keeps_its_contract_with_a_session(case: Case) -> None:
    case.call_and_validate()
