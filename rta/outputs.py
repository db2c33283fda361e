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
    """A schedule change reached days that are final here (before the floor): only a
    recompute from the stored history can apply it. ``first``/``last``: YYYY-MM-DD."""

    first: str
    last: str


Output = DaySummaryOut | StatusOut | AlertOut | Rejected | RecomputeNeeded
