"""The connector file (TOML) of ``rta connect SOURCE --config FILE``.

One file describes one platform account and the engine tenant it feeds::

    [connector]
    tenant = "northwind"             # the engine's tenantId
    acd_server_id = "ccai"           # the acdServerId its agents are published under
    base_url = "https://acme.example-ccai.com"
    poll_seconds = 5.0
    rate_limit_per_second = 1.0      # all calls of this connector share it

    [ccai]                           # or [omni]: the platform's own keys
    subdomain = "acme"
    token_file = "/run/secrets/ccai-token"     # or RTA_CCAI_TOKEN

    [mapping]                        # platform status -> state (and reason)
    "45" = { state = "NOT_READY", reason = "LUNCH" }
    "Special Task" = "BUSY_OTHER"

    [identities]                     # platform agent -> identifier kind and value
    "118" = { kind = "Phone", value = "4678" }

Credentials come from the environment or a secrets file only: a ``token``,
``api_key`` or ``password`` key in the file is an error, and they are kept as
``SecretStr`` (never in a repr, a log line or an exception text). Unknown keys
are errors naming the key and the file.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from rta.states import STATE_IDS, STATE_NAMES
from streams.settings import check_base_url, read_toml

SOURCES = ("ccai", "omni")
SECRET_KEYS = {"ccai": ("token",), "omni": ("api_key", "password")}


class ConnectorConfigError(ValueError):
    """A connector file that cannot be used; the text names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_time(value: str | int) -> int:
    """Epoch ms from an ISO-8601 time (UTC when it has no offset) or epoch ms."""
    if isinstance(value, int):
        return value
    text = value.strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class Connection(_Section):
    source: Literal["ccai", "omni"] | None = None
    name: str | None = None  # the checkpoint's key part (default: the source)
    tenant: str = Field(min_length=1)
    acd_server_id: str = Field("1", min_length=1)
    base_url: str
    poll_seconds: float = Field(5.0, gt=0)
    rate_limit_per_second: float = Field(1.0, gt=0)
    timeout_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(60.0, gt=0)  # back-off cap on 429 / 5xx / network
    # records are read again this far behind the cursor (a platform writes some late)
    reread_seconds: float = Field(300.0, ge=0)
    # where a connector with no checkpoint starts: an ISO time or epoch ms; default:
    # initial_lookback_seconds before now
    start_from: str | int | None = None
    initial_lookback_seconds: float = Field(86400.0, ge=0)
    max_pages_per_poll: int = Field(50, ge=1)
    # a step's events and its checkpoint in one Kafka transaction: "auto" where the
    # broker has transactions (Apache Kafka; not Tansu), "on" (required), "off"
    transactions: Literal["auto", "on", "off"] = "auto"

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("start_from")
    @classmethod
    def _start(cls, v: str | int | None) -> str | int | None:
        if v is not None:
            try:
                parse_time(v)
            except (ValueError, OverflowError):
                raise ValueError(f"not an ISO-8601 time or epoch milliseconds: {v!r}") from None
        return v


def _check_url(v: str) -> str:
    return check_base_url(v, "the environment or a secrets file")


class Ccai(_Section):
    subdomain: str = Field(min_length=1)  # the basic-auth user
    token_file: Path | None = None  # or RTA_CCAI_TOKEN
    per_page: int = Field(100, ge=1, le=1000)
    reconcile: bool = True  # agents/current_status: HOLD, and corrections
    reconcile_after_seconds: float = Field(120.0, ge=0)
    statuses_refresh_seconds: float = Field(600.0, gt=0)


class Omni(_Section):
    history_url: str | None = None  # the report API (default: base_url)
    organization: str | None = None  # without it: the loginApi flow finds the one
    login: str | None = None  # report login (e-mail); or RTA_OMNI_LOGIN
    api_key_file: Path | None = None  # or RTA_OMNI_API_KEY
    password_file: Path | None = None  # or RTA_OMNI_PASSWORD
    time_zone: str = "UTC"  # the organization's: the report's times are local
    dashboard: bool = True  # chats-dashboard, the live source
    history: bool = True  # activity-history, the report (exact times)
    history_poll_seconds: float = Field(60.0, gt=0)
    page_size: int = Field(1000, ge=1)  # the report's documents per report-skip page
    aliases: dict[str, str] = Field(default_factory=dict)  # dashboard alias -> e-mail

    @field_validator("history_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _check_url(v)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v


class Target(_Section):
    """What a platform status maps to."""

    state: int
    reason: int | str | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, v: Any) -> int:
        return state_id(v)

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and not 1 <= v <= 65535:
            raise ValueError(f"numeric reason codes must be 1-65535, got {v}")
        return v


def state_id(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v in STATE_NAMES:
        return v
    if isinstance(v, str):
        name = v.strip().upper()
        if name in STATE_IDS:
            return STATE_IDS[name]
        if name.isdigit() and int(name) in STATE_NAMES:
            return int(name)
    raise ValueError(f"unknown state {v!r} (a name: {', '.join(STATE_IDS)}; or 1-10)")


class Identity(_Section):
    kind: str = "AgentId"
    value: str = Field(min_length=1)


class ConnectorFile(_Section):
    connector: Connection
    ccai: Ccai | None = None
    omni: Omni | None = None
    mapping: dict[str, Target] = Field(default_factory=dict)
    identities: dict[str, Identity] = Field(default_factory=dict)

    @field_validator("mapping", mode="before")
    @classmethod
    def _targets(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: {"state": t} if isinstance(t, str | int) else t for k, t in v.items()}
        return v


class ConnectorConfig:
    """The parsed file plus the credentials (environment or secrets files)."""

    def __init__(self, file: ConnectorFile, source: str, secrets: dict[str, SecretStr],
                 path: str = "<config>", login: str | None = None) -> None:
        self.file, self.source, self.secrets, self.path = file, source, secrets, path
        self.login = login

    @property
    def connector(self) -> Connection:
        return self.file.connector

    @property
    def name(self) -> str:
        return self.connector.name or self.source

    @property
    def checkpoint_key(self) -> str:
        return f"{self.source}:{self.connector.tenant}:{self.name}"

    @property
    def ccai(self) -> Ccai:
        assert self.file.ccai is not None
        return self.file.ccai

    @property
    def omni(self) -> Omni:
        assert self.file.omni is not None
        return self.file.omni

    def secret(self, key: str) -> str:
        return self.secrets[key].get_secret_value()

    def __repr__(self) -> str:  # never a credential
        return (f"ConnectorConfig({self.source!r}, {self.connector.base_url!r}, "
                f"tenant={self.connector.tenant!r}, credentials=***)")

    @classmethod
    def load(cls, source: str, path: str | Path,
             env: dict[str, str] | None = None) -> ConnectorConfig:
        data = read_toml(path, "connector config file", ConnectorConfigError)
        return cls.from_mapping(source, data, str(path), env)

    @classmethod
    def from_mapping(cls, source: str, data: dict[str, Any], path: str = "<config>",
                     env: dict[str, str] | None = None) -> ConnectorConfig:
        env = dict(os.environ) if env is None else env
        if source not in SOURCES:
            raise ConnectorConfigError(f"unknown source {source!r} (valid: "
                                       f"{', '.join(SOURCES)})")
        for section in ("connector", *SOURCES):
            table = data.get(section)
            if isinstance(table, dict):
                for key in ("token", "api_key", "password"):
                    if key in table:
                        raise ConnectorConfigError(
                            f"{path}: [{section}] {key}: credentials are not kept in this "
                            f"file; use the environment or a secrets file (docs/ACD.md)")
        try:
            parsed = ConnectorFile.model_validate(data)
        except ValidationError as exc:
            raise ConnectorConfigError(f"{path}: " + "; ".join(_problem(e)
                                                               for e in exc.errors())) from None
        if parsed.connector.source not in (None, source):
            raise ConnectorConfigError(f"{path}: [connector] source is "
                                       f"{parsed.connector.source!r}, not {source!r}")
        other = "omni" if source == "ccai" else "ccai"
        if getattr(parsed, other) is not None:
            raise ConnectorConfigError(f"{path}: [{other}]: this is a {source} connector")
        if getattr(parsed, source) is None:
            raise ConnectorConfigError(f"{path}: [{source}]: required for rta connect "
                                       f"{source}")
        _check_identities(parsed, path)
        secrets: dict[str, SecretStr] = {}
        login = None
        if source == "ccai":
            assert parsed.ccai is not None
            secrets["token"] = _secret(env, "RTA_CCAI_TOKEN", parsed.ccai.token_file,
                                       f"{path}: [ccai] token_file", path, "CCAI token")
        else:
            assert parsed.omni is not None
            secrets["api_key"] = _secret(env, "RTA_OMNI_API_KEY", parsed.omni.api_key_file,
                                         f"{path}: [omni] api_key_file", path, "Omni x-api-key")
            if not parsed.omni.history and parsed.omni.organization is None:
                raise ConnectorConfigError(f"{path}: [omni] organization: required when "
                                           "history = false (the dashboard is read per "
                                           "organization, and only the report's login "
                                           "can find it)")
            if parsed.omni.history:
                login = env.get("RTA_OMNI_LOGIN") or parsed.omni.login
                if not login:
                    raise ConnectorConfigError(f"{path}: no Omni report login: set [omni] "
                                               "login or RTA_OMNI_LOGIN")
                secrets["password"] = _secret(env, "RTA_OMNI_PASSWORD",
                                              parsed.omni.password_file,
                                              f"{path}: [omni] password_file", path,
                                              "Omni report password")
        return cls(parsed, source, secrets, path, login)


def _problem(err: Any) -> str:
    loc = ".".join(str(x) for x in err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{loc}: {msg}"


def _check_identities(parsed: ConnectorFile, path: str) -> None:
    from rta.identifiers import canonical_agent_id

    for agent, ident in parsed.identities.items():
        try:
            canonical_agent_id(ident.kind, ident.value)
        except ValueError as exc:
            raise ConnectorConfigError(f"{path}: identities.{agent}: {exc}") from None


def _secret(env: dict[str, str], var: str, file: Path | None, where: str, path: str,
            what: str) -> SecretStr:
    value = env.get(var) or None  # empty (compose's ${VAR:-}) counts as unset
    if value is None and file is not None:
        f = file if file.is_absolute() else Path(path).parent / file
        try:
            value = f.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConnectorConfigError(f"{where} {f}: {exc.strerror or exc}") from None
    if not value:
        raise ConnectorConfigError(f"{path}: no {what}: set {var} or {where.split(': ', 1)[1]}")
    return SecretStr(value)


def load_any(path: str | Path, env: dict[str, str] | None = None) -> ConnectorConfig:
    """A connector file that names its source (``[connector] source``): the form a
    worker runs inside itself (``RTA_CONNECT_CONFIG``)."""
    p = Path(path)
    data = read_toml(p, "connector config file", ConnectorConfigError)
    table = data.get("connector")
    source = table.get("source") if isinstance(table, dict) else None
    if source not in SOURCES:
        raise ConnectorConfigError(f"{p}: [connector] source: must be one of "
                                   f"{', '.join(SOURCES)} for a connector inside a worker")
    return ConnectorConfig.from_mapping(str(source), data, str(p), env)
