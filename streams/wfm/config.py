"""The WFM connection file (TOML) of ``rta forward`` and ``rta schedules sync``.

One file describes one Webex WFO-style WFM and the engine tenant it serves::

    [wfm]
    base_url = "https://wfo.example.com"
    tenant = "northwind"            # the engine's tenantId these states/schedules belong to
    user_id = "rta-api"             # or RTA_WFM_USER_ID
    password_file = "/run/secrets/wfm-password"   # or RTA_WFM_PASSWORD

    [forward]                       # optional: every key has a default
    batch_max_items = 500
    [forward.state_map]             # state ids Webex does not document
    7 = 4

    [sync]                          # optional
    days_back = 14

Credentials come from the environment or a secrets file only: a ``password`` key
in the file is an error. Unknown keys are errors naming the key and the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from streams.settings import check_base_url, read_toml

#: Webex documents states 1-6 and 10; the engine's 7 (busy other), 8 (reserved) and
#: 9 (unknown) are sent as these unless the file says otherwise. The reason is kept.
DEFAULT_STATE_MAP = {7: 4, 8: 3, 9: 2}
WEBEX_STATES = frozenset({1, 2, 3, 4, 5, 6, 10})


class WfmConfigError(ValueError):
    """A WFM connection file that cannot be used; the text names the file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Connection(_Section):
    base_url: str
    tenant: str = Field(min_length=1)
    user_id: str | None = None
    password_file: Path | None = None
    wfm_tenant_id: int | None = None  # "tenantId" of the Authorize request, when needed
    language: str = "en"
    locale: str = "en_US"
    timeout_seconds: float = Field(30.0, gt=0)
    # the WFM ends a session after two hours without a request; re-authorise before
    session_idle_seconds: float = Field(7200.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_base_url(v, "RTA_WFM_USER_ID / RTA_WFM_PASSWORD or password_file")


class Forward(_Section):
    batch_max_items: int = Field(500, ge=1, le=100_000)
    batch_max_wait_ms: int = Field(200, ge=0)  # a batch waits at most this to fill
    retry_base_ms: int = Field(500, ge=1)
    retry_max_ms: int = Field(60_000, ge=1)  # back-off cap (jittered)
    buffer_max_records: int = Field(20_000, ge=1)  # read ahead; beyond it reading pauses
    # remembered event ids per partition (duplicates on the topic are forwarded once)
    dedup_lookback: int = Field(50_000, ge=0)
    start_from: str = Field("earliest", pattern="^(earliest|latest)$")  # a new group
    state_map: dict[int, int] = Field(default_factory=lambda: dict(DEFAULT_STATE_MAP))
    acd_servers: list[str] = Field(default_factory=list)  # empty: every ACD server

    @field_validator("state_map")
    @classmethod
    def _states(cls, v: dict[int, int]) -> dict[int, int]:
        merged = {**DEFAULT_STATE_MAP, **v}
        for src, dst in merged.items():
            if not 1 <= src <= 10:
                raise ValueError(f"state {src} is not an engine state (1-10)")
            if dst not in WEBEX_STATES:
                raise ValueError(f"{src} -> {dst}: the WFM documents states "
                                 f"{sorted(WEBEX_STATES)} only")
        return merged


class Sync(_Section):
    interval_seconds: float = Field(300.0, gt=0)
    days_back: int = Field(14, ge=0, le=366)  # retroactive edits this far back are seen
    days_ahead: int = Field(14, ge=0, le=366)
    days_per_call: int = Field(9, ge=1, le=9)  # Webex: at most 9 days for several agents
    agents_per_call: int = Field(1000, ge=1, le=1000)  # Webex: at most 1,000 agents
    acd_server_id: str = "1"  # the ACD server of the Agent API's acdId
    time_zone: str | None = None  # default: the tenant's (tenants file)
    only_active: bool = True  # Agent API activeAgent=true


class WfmFile(_Section):
    wfm: Connection
    forward: Forward = Field(default_factory=Forward)
    sync: Sync = Field(default_factory=Sync)


class WfmConfig:
    """The parsed file plus the credentials (environment or secrets file)."""

    def __init__(self, file: WfmFile, user_id: str, password: SecretStr,
                 source: str = "<config>") -> None:
        self.file, self.user_id, self.password, self.source = file, user_id, password, source

    @property
    def wfm(self) -> Connection:
        return self.file.wfm

    @property
    def forward(self) -> Forward:
        return self.file.forward

    @property
    def sync(self) -> Sync:
        return self.file.sync

    def __repr__(self) -> str:  # never the password
        return f"WfmConfig({self.wfm.base_url!r}, tenant={self.wfm.tenant!r}, user=***)"

    @classmethod
    def load(cls, path: str | Path, env: dict[str, str] | None = None) -> WfmConfig:
        data = read_toml(path, "WFM config file", WfmConfigError)
        return cls.from_mapping(data, str(path), env)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "<config>",
                     env: dict[str, str] | None = None) -> WfmConfig:
        env = dict(os.environ) if env is None else env
        wfm = data.get("wfm")
        if isinstance(wfm, dict) and "password" in wfm:
            raise WfmConfigError(
                f"{source}: [wfm] password: credentials are not kept in this file; set "
                "RTA_WFM_PASSWORD or password_file (a file holding only the password)")
        try:
            parsed = WfmFile.model_validate(data)
        except ValidationError as exc:
            raise WfmConfigError(f"{source}: " + "; ".join(
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
            )) from None
        user = env.get("RTA_WFM_USER_ID") or parsed.wfm.user_id
        if not user:
            raise WfmConfigError(f"{source}: no WFM user: set [wfm] user_id or "
                                 "RTA_WFM_USER_ID")
        password = env.get("RTA_WFM_PASSWORD") or None  # empty counts as unset
        if password is None and parsed.wfm.password_file is not None:
            pf = parsed.wfm.password_file
            if not pf.is_absolute():
                pf = Path(source).parent / pf
            try:
                password = pf.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise WfmConfigError(f"{source}: [wfm] password_file {pf}: "
                                     f"{exc.strerror or exc}") from None
        if not password:
            raise WfmConfigError(f"{source}: no WFM password: set RTA_WFM_PASSWORD or "
                                 "[wfm] password_file")
        return cls(parsed, user, SecretStr(password), source)
