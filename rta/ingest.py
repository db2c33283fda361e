"""Validating what the HTTP ingest endpoints receive: whole batches, all or nothing.

A batch is accepted only when every item is valid; otherwise the caller gets
every bad item's index and problems, and nothing is applied. The tenant comes
from the credential: an item naming another tenant is a bad item. The clock
(``now``) is passed in, for the same future-timestamp check the stream makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rta.config import TenantSettings
from rta.directory import future_rejection
from rta.models import InputError, ScheduleMessage, StateEvent, parse_schedule, parse_state_event

T = TypeVar("T")


@dataclass(frozen=True)
class ItemProblems:
    index: int
    errors: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "errors": self.errors}


@dataclass
class BatchError(ValueError):
    """A rejected batch: ``message`` says what, ``items`` which items and why."""

    message: str
    items: list[ItemProblems] = field(default_factory=list)
    too_large: bool = False  # over the batch size cap (HTTP 413)

    def __str__(self) -> str:
        return self.message


def _tenant_problem(item: dict[str, Any], tenant: str) -> str | None:
    given = item.get("tenantId")
    if given is None or given == tenant:
        return None
    return (f"tenantId: {given!r} is not the tenant of the credential used "
            "(leave tenantId out: it is taken from the credential)")


def validate_states(body: Any, tenant: str, acd_server_id: str, settings: TenantSettings,
                    now: int, max_items: int) -> list[StateEvent]:
    """The state events of a Webex realTimeAgentState body (a JSON array of items)."""
    if not isinstance(body, list):
        raise BatchError(f"the body must be a JSON array of state items, got "
                         f"{_kind(body)}")

    def check(item: dict[str, Any], problems: list[str]) -> StateEvent | None:
        server = item.get("acdServerId")
        if server is not None and str(server).strip() != acd_server_id:
            problems.append(f"acdServerId: {server!r} differs from the acdServerId query "
                            f"parameter ({acd_server_id!r})")
        ev = parse_state_event({**item, "tenantId": tenant, "acdServerId": acd_server_id})
        too_far = future_rejection(ev, now, settings)
        if too_far:
            problems.append(too_far)
        return ev

    return _all_or_nothing(body, tenant, max_items, "state items", check)


def validate_schedules(body: Any, tenant: str, max_items: int) -> list[ScheduleMessage]:
    """Schedule messages: one JSON object or an array of them."""
    if not isinstance(body, list | dict):
        raise BatchError(f"the body must be a schedule message (JSON object) or an array of "
                         f"them, got {_kind(body)}")

    def check(item: dict[str, Any], problems: list[str]) -> ScheduleMessage | None:
        return parse_schedule({**item, "tenantId": tenant})

    return _all_or_nothing(body if isinstance(body, list) else [body], tenant, max_items,
                           "schedule messages", check)


def _all_or_nothing(items: list[Any], tenant: str, max_items: int, what: str,
                    check: Callable[[dict[str, Any], list[str]], T | None]) -> list[T]:
    """``check`` each item (it may add problems, or raise InputError); every item's
    problems, or every item's value."""
    if len(items) > max_items:
        raise BatchError(f"{len(items)} {what} exceed the batch limit of {max_items}; "
                         "split the batch", too_large=True)
    out: list[T] = []
    bad: list[ItemProblems] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            bad.append(ItemProblems(i, [f"must be a JSON object, got {_kind(item)}"]))
            continue
        problems: list[str] = []
        wrong_tenant = _tenant_problem(item, tenant)
        if wrong_tenant:
            problems.append(wrong_tenant)
        try:
            value = check(item, problems)
        except InputError as exc:
            problems.extend(exc.problems)
        else:
            if not problems and value is not None:
                out.append(value)
        if problems:
            bad.append(ItemProblems(i, problems))
    if bad:
        raise BatchError(f"{len(bad)} of {len(items)} {what} are invalid; none was "
                         "accepted", bad)
    return out


def schedule_json(msg: ScheduleMessage, raw: dict[str, Any]) -> dict[str, Any]:
    """The message as published: what was received, with the tenant filled in."""
    return {**raw, "tenantId": msg.tenant_id}


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)
