"""Shared test settings, and the shared fixtures (``tests/support``) as plugins.

Hypothesis profiles: ``default`` (what CI runs) and ``deep`` (many more
examples, for hunting rare bugs): ``HYPOTHESIS_PROFILE=deep ./scripts/test tests/rta``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# the helpers' asserts explain themselves too (pytest rewrites plugins' asserts only)
pytest.register_assert_rewrite("tests.support")

settings.register_profile(
    "default", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "deep", max_examples=5000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# fixtures and hooks every test directory may use (tests import helpers from
# tests/support, never from one another)
pytest_plugins = ["tests.support.brokers", "tests.support.workers", "tests.support.history",
                  "tests.support.http", "tests.support.fake_backend", "tests.support.browser"]
