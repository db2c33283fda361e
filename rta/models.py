"""Canonical input messages, validated precisely.

Accepted variations are exactly those the spec allows (and the decisions in
docs/SEMANTICS.md): numeric-string state ids, blank reason codes, any case of
activity type, integer identifiers, ACD identities named by kind and value
(``acdIdentifierKind``: turned into the canonical ``acdAgentId`` at once,
rta/identifiers.py). A state event may carry an agent's chat figures
(``chatCapacity``, ``chatsInProgress``: null or an integer 0-10,000), which only
the live status reads. Everything else is rejected with an
:class:`InputError` naming each bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rta.identifiers import Kind, canonical_agent_id, parse_kind
from rta.states import STATE_NAMES

MAX_TIMESTAMP = 253_402_300_800_000  # year 10000, exclusive
MAX_CHAT_COUNT = 10_000  # chatCapacity, chatsInProgress: 0 to this, inclusive
M = TypeVar("M", bound=BaseModel)


class InputError(ValueError):
    """A message that cannot be applied; ``str()`` names each problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _ident(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("must be a string")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v.strip()
    raise ValueError(f"must be a string, got {type(v).__name__}")


def _required_ident(v: Any) -> Any:
    v = _ident(v)
    if not v:
        raise ValueError("must not be blank")
    return v


def _optional_ident(v: Any) -> Any:
    if v is None:
        return None
    return _ident(v) or None


def _timestamp(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be an integer of epoch milliseconds, got {v!r}")
    if not 0 <= v < MAX_TIMESTAMP:
        raise ValueError(f"epoch milliseconds out of range: {v}")
    return v


def _state_id(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"must be a state id 1-10, got {v!r}")
    if isinstance(v, str) and v.isascii() and v.isdigit():
        n = int(v)
    elif isinstance(v, int):
        n = v
    else:
        raise ValueError(f"must be a state id 1-10 (number or numeric string), got {v!r}")
    if n not in STATE_NAMES:
        raise ValueError(f"unknown state id {v!r} (valid: 1-10)")
    return n


def _reason(v: Any) -> int | str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError(f"must be null, 1-65535 or a text string, got {v!r}")
    if isinstance(v, int):
        if not 1 <= v <= 65535:
            raise ValueError(f"numeric reason codes must be 1-65535, got {v}")
        return v
    if isinstance(v, str):
        return v if v.strip() else None
    raise ValueError(f"must be null, 1-65535 or a text string, got {type(v).__name__}")


def _chat_count(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be null or an integer 0-{MAX_CHAT_COUNT}, got {v!r}")
    if not 0 <= v <= MAX_CHAT_COUNT:
        raise ValueError(f"must be 0-{MAX_CHAT_COUNT}, got {v}")
    return v


MAX_LABEL = 200  # team and agent names: characters kept


def _label(v: Any) -> str | None:
    """A name for people, best effort: never a reason to refuse a schedule (bodies
    already on the topics are parsed again): text or a number, spaces collapsed,
    cut at ``MAX_LABEL`` characters; anything else is no name."""
    if isinstance(v, bool) or not isinstance(v, str | int):
        return None
    text = " ".join(str(v).split())[:MAX_LABEL].strip()
    return text or None


def _kind(v: Any) -> Kind | None:
    if isinstance(v, Kind):
        return v
    return parse_kind(v)  # ValueError names the valid kinds


Ident = Annotated[str, BeforeValidator(_required_ident)]
OptIdent = Annotated[str | None, BeforeValidator(_optional_ident)]
Millis = Annotated[int, BeforeValidator(_timestamp)]
ChatCount = Annotated[int | None, BeforeValidator(_chat_count)]
OptLabel = Annotated[str | None, BeforeValidator(_label)]
# acdIdentifierKind: read before acdAgentId (declared before it), which it turns into the
# canonical acdAgentId (rta/identifiers.py); then forgotten, so that an identity is its
# canonical acdAgentId alone, whichever way it was written
KindField = Annotated[Kind | None, BeforeValidator(_kind)]


class _Identified(BaseModel):
    """A model naming an ACD identity: ``acd_identifier_kind`` (declared before
    ``acd_agent_id``) and ``acd_agent_id``, made canonical."""

    @field_validator("acd_agent_id", mode="after", check_fields=False)
    @classmethod
    def _canonical(cls, v: str, info: ValidationInfo) -> str:
        # (an invalid kind is not in info.data: its own error is reported)
        kind = info.data.get("acd_identifier_kind")
        return v if kind is None else canonical_agent_id(kind, v)

    @model_validator(mode="after")
    def _forget_kind(self) -> Self:
        if getattr(self, "acd_identifier_kind", None) is not None:
            object.__setattr__(self, "acd_identifier_kind", None)  # frozen
        return self


class StateEvent(_Identified):
    """A Webex realTimeAgentState item plus tenancy."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    tenant_id: Ident = Field(alias="tenantId")
    acd_server_id: Ident = Field("1", alias="acdServerId")
    acd_identifier_kind: KindField = Field(
        None, alias="acdIdentifierKind", exclude=True, repr=False)
    acd_agent_id: Ident = Field(alias="acdAgentId")
    state: Annotated[int, BeforeValidator(_state_id)] = Field(alias="gisStateIdentifier")
    timestamp: Millis
    reason: Annotated[int | str | None, BeforeValidator(_reason)] = Field(
        None, alias="reasonCode")
    event_id: OptIdent = Field(None, alias="eventId")
    # the agent's chat figures on this identity (an ACD with chats, e.g. Omni's
    # dashboard): for the live status only, not part of duplicate detection, the tie
    # rule or the timeline (docs/SEMANTICS.md, "Live status")
    chat_capacity: ChatCount = Field(None, alias="chatCapacity")
    chats_in_progress: ChatCount = Field(None, alias="chatsInProgress")

    @property
    def identity(self) -> tuple[str, str]:
        return (self.acd_server_id, self.acd_agent_id)

    @property
    def chat(self) -> tuple[int | None, int | None] | None:
        """``(chatCapacity, chatsInProgress)``, or None when the event carries neither."""
        if self.chat_capacity is None and self.chats_in_progress is None:
            return None
        return (self.chat_capacity, self.chats_in_progress)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tenantId": self.tenant_id, "acdServerId": self.acd_server_id,
            "acdAgentId": self.acd_agent_id, "gisStateIdentifier": self.state,
            "timestamp": self.timestamp, "reasonCode": self.reason,
        }
        if self.event_id is not None:
            out["eventId"] = self.event_id
        if self.chat_capacity is not None:
            out["chatCapacity"] = self.chat_capacity
        if self.chats_in_progress is not None:
            out["chatsInProgress"] = self.chats_in_progress
        return out


class Activity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    activity_type: Ident = Field(alias="activityType")
    start: Millis = Field(alias="startTime")
    end: Millis = Field(alias="endTime")

    @model_validator(mode="after")
    def _order(self) -> Activity:
        if self.end <= self.start:
            raise ValueError(f"endTime {self.end} must be after startTime {self.start}")
        return self


class AcdIdentity(_Identified):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    acd_server_id: Ident = Field("1", alias="acdServerId")
    acd_identifier_kind: KindField = Field(
        None, alias="acdIdentifierKind", exclude=True, repr=False)
    acd_agent_id: Ident = Field(alias="acdAgentId")


class ScheduleMessage(_Identified):
    """A Webex Schedule-for-Timespan agent entry plus its window."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    tenant_id: Ident = Field(alias="tenantId")
    agent_id: int | str = Field(alias="agentId")
    employee_id: OptIdent = Field(None, alias="employeeId")
    acd_server_id: Ident = Field("1", alias="acdServerId")
    acd_identifier_kind: KindField = Field(
        None, alias="acdIdentifierKind", exclude=True, repr=False)
    acd_agent_id: Ident = Field(alias="acdAgentId")
    acd_identities: tuple[AcdIdentity, ...] = Field((), alias="acdIdentities")
    from_ts: Millis = Field(alias="fromTimestamp")
    to_ts: Millis = Field(alias="toTimestamp")
    activities: tuple[Activity, ...]
    # who the agent is, for people (the live status and the monitor): optional, the
    # latest message applied wins. ``team`` or Webex's ``mainTeam: {"name": ...}``;
    # ``agentName`` or Webex's ``firstName`` + ``lastName``
    team: OptLabel = None
    agent_name: OptLabel = Field(None, alias="agentName")

    @model_validator(mode="before")
    @classmethod
    def _people(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = data
        main = data.get("mainTeam")
        if _label(data.get("team")) is None and isinstance(main, Mapping):
            out = {**out, "team": main.get("name")}
        first, last = data.get("firstName"), data.get("lastName")
        if _label(data.get("agentName")) is None and (first or last):
            out = {**out, "agentName": " ".join(
                x for x in (_label(first), _label(last)) if x is not None)}
        return out

    @field_validator("agent_id", mode="before")
    @classmethod
    def _agent(cls, v: Any) -> int | str:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise ValueError(f"must be a number or a string, got {v!r}")
        if isinstance(v, str) and not v.strip():
            raise ValueError("must not be blank")
        return v.strip() if isinstance(v, str) else v

    @field_validator("acd_identities", mode="before")
    @classmethod
    def _idents(cls, v: Any) -> Any:
        return () if v is None else v

    @model_validator(mode="after")
    def _window(self) -> ScheduleMessage:
        if self.to_ts <= self.from_ts:
            raise ValueError(
                f"toTimestamp {self.to_ts} must be after fromTimestamp {self.from_ts}")
        return self

    @property
    def agent_key(self) -> str:
        return str(self.agent_id)

    @property
    def identities(self) -> list[tuple[str, str]]:
        seen = [(self.acd_server_id, self.acd_agent_id)]
        for ident in self.acd_identities:
            key = (ident.acd_server_id, ident.acd_agent_id)
            if key not in seen:
                seen.append(key)
        return seen


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "message"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "missing":
            msg = "is required"
        out.append(f"{loc}: {msg}")
    return out


def _parse(model: type[M], data: Any, what: str) -> M:
    if not isinstance(data, Mapping):
        raise InputError([f"{what} must be a JSON object, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(_problems(exc)) from None


def parse_state_event(data: Any) -> StateEvent:
    return _parse(StateEvent, data, "state event")


def parse_schedule(data: Any) -> ScheduleMessage:
    return _parse(ScheduleMessage, data, "schedule message")
