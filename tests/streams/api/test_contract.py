"""The HTTP API keeps its own contract: schemathesis, driven by the API's OpenAPI document.

A worker on a real broker serves ``/openapi.json``; schemathesis reads it there, as any
client would, generates requests for every operation (the coverage phase: every
boundary, every missing or wrong value, the methods a path does not support; then the
fuzzing phase; valid and invalid data) and runs all its checks on each answer: no 5xx,
status codes, content types, headers and bodies as documented, valid data accepted and
invalid data refused, 405 with ``Allow``, credentials enforced.

It is the command README's "The HTTP API" gives for any deployment, run as it is
(schemathesis's own command line; its pytest integration does not run on pytest 9),
with the same settings files: with an API key (``tests/support/schemathesis.toml``:
seed 20261207, 25 examples per operation in the fuzzing phase, the hooks for the rules
OpenAPI cannot state, ``tests/support/contract_hooks.py``), and with a session
(``tests/support/schemathesis-session.toml``: the same, logging in with
``POST /api/rest/authorize``, and again after the ``DELETE`` case ends the session).

The worker's batch limit is lowered (``RTA_API_MAX_BATCH_ITEMS``; the document says
it), so that the boundary batches stay small and the run short.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.http import KEYS, PASSWORDS, Service

pytestmark = pytest.mark.slow  # starts a broker and a worker

ROOT = Path(__file__).resolve().parents[3]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# sessions outlive the run (the service fixture's default idle timeout is 3 s)
WORKER_ENV = {"RTA_SESSION_IDLE_SECONDS": "3600", "RTA_API_MAX_BATCH_ITEMS": "50"}
TENANT = "northwind"
OPERATIONS = 10  # in the public document


def fuzz(service: Service, settings: str, env: dict[str, str]) -> str:
    """The README's command against the worker; its report."""
    done = subprocess.run(
        [str(SCHEMATHESIS), "--no-color", "--config-file", f"tests/support/{settings}",
         "run", f"{service.api.base}/openapi.json", "--checks", "all"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=900,
        check=False)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert re.search(rf"Tested: {OPERATIONS}\b", report), report
    # every case passed (no failure, no error), and there were cases
    cases = re.search(r"(\d+) generated, (\d+) passed(, \d+ skipped)?\n", report)
    assert cases and cases[1] == cases[2] and int(cases[1]) >= 500, report
    print(f"{settings}: {cases[0].strip()}")  # shown with -rP
    return report


def test_the_api_keeps_its_contract_with_an_api_key(service: Service) -> None:
    fuzz(service, "schemathesis.toml", {"RTA_API_KEY": KEYS[TENANT]})


def test_the_api_keeps_its_contract_with_a_session(service: Service) -> None:
    user, password = PASSWORDS[TENANT]
    report = fuzz(service, "schemathesis-session.toml",
                  {"RTA_USER": user, "RTA_PASSWORD": password})
    assert "Re-authenticated" in report  # its DELETE case ended the session
