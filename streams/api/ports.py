"""What the HTTP API needs from the rest of the engine (implemented for a worker in
``streams.api.backend``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rta.config import TenantSettings
from rta.models import ScheduleMessage, StateEvent
from streams.metrics import Figure

if TYPE_CHECKING:
    from streams.api.feed import LiveFeed


@dataclass(frozen=True)
class Session:
    tenant: str
    user: str
    created: int  # epoch ms
    last_seen: int  # epoch ms; the idle timeout counts from here


class Unavailable(Exception):
    """The engine cannot answer right now (broker down, rebalancing): HTTP 503."""


class SessionStore(Protocol):
    async def get(self, key: str) -> Session | None:
        """The session stored under ``key`` (a digest), seen by every worker."""

    async def create(self, key: str, session: Session) -> None:
        """Store a new session; returns once the broker has it."""

    async def touch(self, key: str, now: int) -> None:
        """Record a use of the session (the idle timeout counts from the last one); the
        other workers hear of it now and then (returns once the broker has it, if sent)."""

    async def end(self, key: str) -> None:
        """End the session for good (a touch racing with it cannot revive it)."""


#: What a worker's reducers answer for: Webex Real-Time Agent States entries
#: (``rta.queries.activity_detail``) or the monitor's timeline (``rta.queries.timeline``).
VIEWS = ("rtas", "timeline")


class Backend(Protocol):
    @property
    def sessions(self) -> SessionStore: ...

    @property
    def feed(self) -> LiveFeed:
        """Live updates of the query views, per tenant (the monitor's event streams)."""

    def tenant_settings(self, tenant: str) -> TenantSettings: ...

    async def publish_states(self, events: list[StateEvent]) -> None:
        """Send to the state topic; returns once the broker acknowledged every record."""

    async def publish_schedules(self, messages: list[tuple[ScheduleMessage, dict[str, Any]]]
                                ) -> None:
        """Send (parsed, as received) schedule messages to the schedule topic."""

    def status(self, tenant: str, agent_id: str) -> dict[str, Any] | None:
        """The agent's latest live status, or None if the tenant has no such agent."""

    async def summaries(self, tenant: str, date: str
                        ) -> tuple[Mapping[str, bytes], Sequence[str]] | None:
        """The tenant's day summaries for ``date`` as JSON by agent id, and the agent
        ids in page order (None: the date is older than the days kept and there is no
        history database)."""

    def live(self, tenant: str, date: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """The tenant's live statuses, its day summaries of ``date`` and its alerts kept,
        as the topics' JSON; Unavailable while the views have not read the topics up
        to where they ended when the worker started."""

    async def activity(self, tenant: str, agent_ids: list[str] | None, from_ts: int,
                       to_ts: int, view: str = "rtas") -> list[dict[str, Any]]:
        """Real-Time Agent States entries (``view`` "timeline": the monitor's timelines)
        of these agents (None: all), whichever worker owns them."""

    async def local_activity(self, tenant: str, agent_ids: list[str] | None, from_ts: int,
                             to_ts: int, view: str = "rtas"
                             ) -> tuple[list[dict[str, Any]], list[int]]:
        """The entries of agents this worker owns, and the partitions it answered for."""

    def cluster_signature(self, body: bytes) -> str:
        """How workers vouch for their requests to one another (HMAC of the body)."""

    def health(self) -> dict[str, Any]:
        """``{"ready": bool, "checks": {name: {"ok": bool, ...}}}``."""

    def engine_metrics(self) -> list[Figure]:
        """Engine figures for ``/metrics``: (name, "counter" or "gauge", help, value)."""
