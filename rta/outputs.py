"""What the reducer emits. Plain data, JSON-ready through ``to_json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


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


#: Why an input was not applied, in a few fixed kinds (the dead letters' metric label):
#: not a valid message; timestamped too far in the future; older than the lateness
#: horizon (or reaching days that are final); an unknown identity's hold full; an
#: eventId applied before with another body; anything else.
Cause = Literal["malformed", "future", "horizon", "hold_overflow", "conflict", "other"]
CAUSES: tuple[Cause, ...] = ("malformed", "future", "horizon", "hold_overflow", "conflict",
                             "other")


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input not applied (dead letter): ``reason`` says why, ``cause`` in which of
    the fixed kinds (:data:`CAUSES`)."""

    reason: str
    payload: dict[str, Any] = field(default_factory=dict)
    kind: str = "state"
    cause: Cause = "other"


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
