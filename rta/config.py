"""Tenant settings (the ``[tenants.<id>]`` tables of the tenants file).

Parsing TOML text and validating it is pure; reading the file is the
caller's job (see ``streams.cli``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rta.rules import CATEGORIES, COUNTED_CATEGORIES, Adherence, RuleOverride, Rules
from rta.states import parse_state

DAY_S = 86_400
_API_KEY = re.compile(r"^sha256:[0-9a-f]{64}$")
_PASSWORD = re.compile(r"^pbkdf2_sha256\$[0-9]{4,9}\$[0-9a-f]{16,128}\$[0-9a-f]{64}$")


class UserSettings(BaseModel):
    """A user of the Webex-style session login (``POST /api/rest/authorize``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str = Field(min_length=1)
    password: str  # stored hashed: see ``rta hash-password``

    @field_validator("password")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not _PASSWORD.match(v):
            raise ValueError("passwords are stored hashed: "
                             "'pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>' "
                             "(make one with `rta hash-password`)")
        return v


class RuleOverrideSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Literal["IN_SERVICE", "BREAK", "OFF_PHONE"]
    state: int | str
    reason_code: int | str | None = None
    adherence: Literal["IN", "OUT", "NEUTRAL"]

    @field_validator("state")
    @classmethod
    def _state(cls, v: int | str) -> int:
        return parse_state(v)

    @field_validator("reason_code")
    @classmethod
    def _reason(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, bool):
            raise ValueError("must be 1-65535 or a text string")
        if isinstance(v, int) and not 1 <= v <= 65535:
            raise ValueError(f"numeric reason codes are 1-65535, got {v}")
        if isinstance(v, str) and not v.strip():
            raise ValueError("must not be blank (leave reason_code out to match every reason)")
        return v

    def compile(self) -> RuleOverride:
        reason = None if self.reason_code is None else str(self.reason_code)
        return RuleOverride(self.category, int(self.state), reason, Adherence[self.adherence])


class TenantSettings(BaseModel):
    """One tenant. Unknown keys are an error naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = "UTC"
    api_keys: tuple[str, ...] = ()
    users: tuple[UserSettings, ...] = ()
    alert_after_seconds: int = Field(60, gt=0)
    alert_after_seconds_by_category: dict[str, int] = Field(default_factory=dict)
    switch_tolerance_seconds: int = Field(0, ge=0)
    lateness_horizon_seconds: int = Field(7 * DAY_S, gt=0)
    hold_max_events: int = Field(10_000, gt=0)
    hold_max_seconds: int = Field(7 * DAY_S, gt=0)
    future_tolerance_seconds: int = Field(300, ge=0)
    activity_categories: dict[str, str] = Field(default_factory=dict)
    rule_overrides: tuple[RuleOverrideSettings, ...] = ()

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for key in v:
            if not _API_KEY.match(key):
                raise ValueError("api keys are stored hashed: 'sha256:<64 lowercase hex>' "
                                 "(make one with `rta api-key`)")
        return v

    @field_validator("alert_after_seconds_by_category")
    @classmethod
    def _alert_cats(cls, v: dict[str, int]) -> dict[str, int]:
        for cat, secs in v.items():
            if cat not in COUNTED_CATEGORIES:
                raise ValueError(f"unknown category {cat!r} (use IN_SERVICE, BREAK, OFF_PHONE)")
            if secs <= 0:
                raise ValueError(f"{cat}: threshold must be > 0 seconds")
        return v

    @field_validator("activity_categories")
    @classmethod
    def _cats(cls, v: dict[str, str]) -> dict[str, str]:
        for activity_type, cat in v.items():
            if cat not in CATEGORIES:
                raise ValueError(f"{activity_type}: category must be one of "
                                 f"{', '.join(CATEGORIES)}, got {cat!r}")
        return v

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def rules(self) -> Rules:
        return Rules(self.activity_categories, [o.compile() for o in self.rule_overrides])

    def alert_threshold_ms(self, category: str) -> int:
        return 1000 * self.alert_after_seconds_by_category.get(category, self.alert_after_seconds)


class TenantsConfig:
    """All tenants; tenants not listed get ``default`` settings."""

    def __init__(self, tenants: Mapping[str, TenantSettings] | None = None,
                 default: TenantSettings | None = None) -> None:
        self.tenants = dict(tenants or {})
        self.default = default or TenantSettings()

    def get(self, tenant_id: str) -> TenantSettings:
        return self.tenants.get(tenant_id) or self.default

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, default_time_zone: str = "UTC",
                     source: str = "tenants", strict: bool = False) -> TenantsConfig:
        """Validate ``{"tenants": {id: {...}}}`` or ``{id: {...}}`` shaped data.

        A tenant without ``time_zone`` (or not listed) gets ``default_time_zone``.
        ``strict``: only the ``{"tenants": ...}`` shape, other top-level keys are errors.
        """
        default = TenantSettings(time_zone=default_time_zone)
        if not data:
            return cls({}, default)
        wrapped = "tenants" in data or strict
        body = data.get("tenants", {}) if wrapped else data
        unknown = set(data) - {"tenants"} if wrapped else set()
        if unknown:
            raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{source}: [tenants] must be a table")
        out: dict[str, TenantSettings] = {}
        for tenant_id, raw in body.items():
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{source}: tenants.{tenant_id} must be a table")
            try:
                out[tenant_id] = TenantSettings(**{"time_zone": default_time_zone, **raw})
            except ValidationError as exc:
                raise ConfigError(_explain(exc, f"{source}: tenants.{tenant_id}")) from None
        return cls(out, default)

    @classmethod
    def from_toml(cls, text: str, default_time_zone: str = "UTC",
                  source: str = "tenants file") -> TenantsConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
        return cls.from_mapping(data, default_time_zone, source, strict=True)


class ConfigError(ValueError):
    """A configuration problem, with a message naming where it is."""


def _explain(exc: ValidationError, where: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"{where}.{loc}: unknown key")
        else:
            parts.append(f"{where}.{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
