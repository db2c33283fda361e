"""The tenants file: defaults, validation, errors naming the key."""

from __future__ import annotations

import pytest

from rta.config import ConfigError, TenantsConfig
from rta.rules import Adherence, RuleOverride, Rules


def test_tenants_file_example_and_defaults() -> None:
    cfg = TenantsConfig.from_toml(f'''
[tenants.northwind]
time_zone = "America/Chicago"
api_keys = ["sha256:{"ab" * 32}"]
alert_after_seconds = 90
switch_tolerance_seconds = 5
alert_after_seconds_by_category = {{ BREAK = 300 }}
activity_categories = {{ training = "OFF_PHONE" }}

[[tenants.northwind.rule_overrides]]
category = "BREAK"
state = "NOT_READY"
reason_code = 7
adherence = "OUT"

[tenants.acme]
''', default_time_zone="Europe/Paris")
    nw = cfg.get("northwind")
    assert (nw.time_zone, nw.alert_threshold_ms("BREAK"), nw.alert_threshold_ms("IN_SERVICE"),
            nw.switch_tolerance_seconds) == ("America/Chicago", 300_000, 90_000, 5)
    assert nw.rules.category("Training") == "OFF_PHONE"
    assert nw.rules.classify("BREAK", 2, "7") is Adherence.OUT
    assert nw.rules.classify("BREAK", 2, 8) is Adherence.IN
    # a listed tenant without a time zone, and an unlisted one, get the default
    assert cfg.get("acme").time_zone == "Europe/Paris"
    assert cfg.get("other").time_zone == "Europe/Paris"
    assert cfg.get("other").lateness_horizon_seconds == 7 * 86400


@pytest.mark.parametrize(("toml", "message"), [
    ('[tenants.a]\nalert_after = 5', "tenants.a.alert_after: unknown key"),
    ('[tenants.a]\ntime_zone = "Nowhere/City"', "tenants.a.time_zone: unknown "
                                                 "IANA time zone 'Nowhere/City'"),
    ('[tenants.a]\napi_keys = ["plain-secret"]', "api keys are stored hashed"),
    ('[tenants.a]\nactivity_categories = { x = "LUNCHY" }', "category must be one of"),
    ('[tenants.a]\nalert_after_seconds = 0', "tenants.a.alert_after_seconds: Input should be "
                                             "greater than 0"),
    ('[[tenants.a.rule_overrides]]\ncategory = "BREAK"\nstate = "NAP"\nadherence = "IN"',
     "unknown state 'NAP'"),
    ("[tenants.a\n", "invalid TOML"),
    ('[[tenants.a.rule_overrides]]\ncategory = "BREAK"\nstate = 2\nreason_code = 0\n'
     'adherence = "IN"', "numeric reason codes are 1-65535, got 0"),
    ('[[tenants.a.rule_overrides]]\ncategory = "BREAK"\nstate = 2\nreason_code = " "\n'
     'adherence = "IN"', "must not be blank"),
    ('[other]\nx = 1', "unknown top-level key(s) ['other']"),
])
def test_errors_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        TenantsConfig.from_toml(toml, source="t.toml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("t.toml")


def test_override_precedence() -> None:
    rules = Rules(overrides=[
        RuleOverride("BREAK", 2, None, Adherence.NEUTRAL),
        RuleOverride("BREAK", 2, "7", Adherence.OUT),
    ])
    assert rules.classify("BREAK", 2, None) is Adherence.NEUTRAL
    assert rules.classify("BREAK", 2, 7) is Adherence.OUT
    assert rules.classify("IN_SERVICE", 2, 7) is Adherence.OUT  # the default matrix
    assert rules.classify("OFF_PHONE", 3, None) is Adherence.OUT
