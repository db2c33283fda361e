"""Worker configuration: flags, ``RTA_*`` environment variables, defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    """Everything a stream worker needs; environment names are ``RTA_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="RTA_", extra="forbid")

    broker_url: str = "kafka://localhost:9092"
    tenants_file: Path | None = None
    default_time_zone: str = "UTC"
    web_port: int = Field(6066, ge=1, le=65535)  # the HTTP API
    web_enabled: bool = True
    web_bind: str = "0.0.0.0"
    # how other workers reach this one (requests for agents it owns are sent here)
    web_advertised_url: str | None = None
    api_max_body_bytes: int = Field(10_000_000, gt=0)
    api_max_batch_items: int = Field(10_000, gt=0)
    api_history_days: int = Field(8, gt=0)  # days of summaries each worker keeps for queries
    session_idle_seconds: int = Field(7200, gt=0)  # Webex: two hours of inactivity
    # signs requests between workers (real-time agent states); the same on every
    # worker of a group. Unset: a random one, which is enough for a single worker.
    cluster_secret: SecretStr | None = None
    app_id: str = "rta"
    data_dir: Path = Path("var/worker")
    store: str = "memory://"  # "rocksdb://" in production
    partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1)
    # create missing topics at start-up (idempotent: workers starting together may
    # race); false for a managed cluster where the app may not create topics: the
    # topics are only checked, and a missing one is an error naming it
    create_topics: bool = True

    topic_state: str = "rta.agent-state"
    topic_schedule: str = "rta.schedule"
    topic_adherence: str = "rta.adherence"
    topic_status: str = "rta.agent-status"
    topic_alerts: str = "rta.alerts"
    topic_deadletter: str = "rta.deadletter"

    tick_seconds: float = Field(0.2, gt=0)  # alert timer resolution
    emit_seconds: float = Field(1.0, gt=0)  # changed day summaries are built this often
    refresh_seconds: float = Field(60.0, gt=0)  # today's summary of logged-in agents
    # input watermarks (docs/ARCHITECTURE.md, "Watermarks"): each router re-sends its
    # partitions' marks this often, and a partition read to its end that stays silent
    # this long no longer holds the watermark back (default: a week, the horizon)
    watermark_seconds: float = Field(10.0, gt=0)
    watermark_idle_seconds: float = Field(7 * 86400.0, gt=0)
    # an unknown identity's held events are bounded by event-time span
    # (hold_max_seconds) only once it has been unknown this long here: the schedule
    # naming it may still be on its way (docs/SEMANTICS.md, "The stream service")
    hold_grace_seconds: float = Field(300.0, ge=0)
    # a worker whose tables have not recovered after a rebalance for this long, or
    # with a partition whose reading stands still (records left, nothing read or
    # committed) for this long, stops (exit 70) so its supervisor restarts it
    # (faust recovery that hangs; faust_fixes fix 7)
    recovery_stall_seconds: float = Field(300.0, gt=0)
    max_message_bytes: int = Field(1_000_000, gt=0)

    broker_session_timeout: float = 10.0
    broker_heartbeat_interval: float = 3.0
    broker_commit_interval: float = 1.0
    fetch_max_wait_ms: int = Field(100, ge=0)  # faust hard-codes 1500 (latency)
    batch_max: int = Field(2000, ge=1)  # input events routed per batch
    batch_within: float = Field(0.02, gt=0)  # seconds a batch waits to fill
    reduce_batch_max: int = Field(200, ge=1)  # agent-input records reduced per batch
    items_per_record: int = Field(500, ge=1)  # events per internal agent-input record
    producer_linger: float = 0.01
    producer_max_batch_size: int = 16384
    log_level: str = "info"
    # text (the default) or JSON lines on stderr (streams/logs.py), for every process
    log_format: Literal["text", "json"] = "text"
    # SIGTERM: how long the worker may take to finish the batch in hand, publish what
    # is pending and commit, before it stops anyway (docs/ARCHITECTURE.md, "Shutdown")
    shutdown_grace_seconds: float = Field(20.0, gt=0)
    # history in PostgreSQL: postgresql+asyncpg://USER@HOST:PORT/DB (None: no history)
    database_url: str | None = None
    history_batch_max: int = Field(2000, ge=1)  # records per history database transaction
    # a WFM file (as for rta forward --config): its forwarder runs inside this worker
    forward_config: Path | None = None
    # a connector file (as for rta connect --config): the ACD connector runs inside
    # this worker (its [connector] source names the platform)
    connect_config: Path | None = None
    stats_seconds: float = Field(30.0, gt=0)  # period of the "rta stats" log line

    @field_validator("cluster_secret", mode="before")
    @classmethod
    def _secret(cls, v: object) -> object:
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None  # blank: as if unset (a random secret per worker)
        if isinstance(raw, str) and len(raw) < 16:
            raise ValueError("must be at least 16 characters (it signs requests between "
                             "workers)")
        if isinstance(raw, str) and raw.strip().lower().startswith("replace-with"):
            raise ValueError("is still the placeholder of .env.example / deploy/k8s/"
                             "secret.yaml: set a long random one (e.g. openssl rand -hex 32)")
        return v

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, v: str) -> str:
        if "://" not in v:
            v = f"kafka://{v}"
        if not v.startswith("kafka://"):
            raise ValueError(f"broker URL must look like kafka://HOST:PORT, got {v!r}")
        return v

    @property
    def bootstrap(self) -> str:
        """``HOST:PORT[,HOST:PORT]`` for plain Kafka clients."""
        return self.broker_url.removeprefix("kafka://").rstrip("/").replace(";", ",")

    @property
    def topic_recompute(self) -> str:
        return f"{self.app_id}-recompute"

    @property
    def topic_sessions(self) -> str:
        return f"{self.app_id}-sessions"

    @property
    def topic_schedule_sync(self) -> str:
        """Compacted: the digest of each agent-day ``rta schedules sync`` published."""
        return f"{self.app_id}-schedule-sync"

    @property
    def topic_acd_checkpoints(self) -> str:
        """Compacted: each ACD connector's cursor (``rta connect``, docs/ACD.md)."""
        return f"{self.app_id}-acd-checkpoints"

    @property
    def advertised_url(self) -> str:
        if self.web_advertised_url:
            return self.web_advertised_url.rstrip("/")
        import socket

        return f"http://{socket.gethostname()}:{self.web_port}"

    def input_topics(self) -> list[str]:
        return [self.topic_state, self.topic_schedule]

    def output_topics(self) -> list[str]:
        return [self.topic_adherence, self.topic_status, self.topic_alerts,
                self.topic_deadletter]


def check_base_url(v: str, credentials: str) -> str:
    """A platform's base URL (a config file's ``base_url``): http(s), no
    ``user:password@`` (``credentials`` says where they go instead), no trailing /."""
    if not v.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    if "@" in v.split("://", 1)[1].split("/", 1)[0]:
        raise ValueError(f"must not hold credentials (user:password@): they go in "
                         f"{credentials}")
    return v.rstrip("/")


def read_toml(path: str | Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """A config file's TOML (the WFM and connector files); ``error`` names the path:
    ``<what> not found: PATH`` or ``PATH: not valid TOML: ...``."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise error(f"{what} not found: {p}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{p}: not valid TOML: {exc}") from None
