"""What the reducer emits. Plain data, JSON-ready through ``to_json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DaySummaryOut:
    """A changed day summary; ``summary`` None means the day no longer exists."""

    tenant_id: str
    agent_key: str
    date: str
    summary: dict[str, Any] | None

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.agent_key}:{self.date}"


@dataclass(frozen=True, slots=True)
class _AgentOutput:
    tenant_id: str
    agent_key: str

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.agent_key}"


@dataclass(frozen=True, slots=True)
class StatusOut(_AgentOutput):
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertOut(_AgentOutput):
    alert: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input not applied (dead letter): ``reason`` says why."""

    reason: str
    payload: dict[str, Any] = field(default_factory=dict)
    kind: str = "state"


@dataclass(frozen=True, slots=True)
class RecomputeNeeded(_AgentOutput):
    """An input reached days that are final here (before the floor): only a recompute
    from the stored history can apply it. ``first``/``last``: YYYY-MM-DD. ``event``:
    the state event that did (as a state message), None for a schedule change.
    ``moved``: ``{"acdServerId", "acdAgentId", "from", "to"}`` when an identity
    moved to another agent with history that is final here."""

    first: str
    last: str
    event: dict[str, Any] | None = None
    moved: dict[str, Any] | None = None


Output = DaySummaryOut | StatusOut | AlertOut | Rejected | RecomputeNeeded
