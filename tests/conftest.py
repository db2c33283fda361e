"""Shared test settings.

Hypothesis profiles: ``default`` (what CI runs) and ``deep`` (many more
examples, for hunting rare bugs): ``HYPOTHESIS_PROFILE=deep ./scripts/test tests/unit``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "deep", max_examples=5000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
