"""Activity categories and the adherence rule matrix, as configuration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from rta.states import (
    BUSY_OTHER,
    HOLD,
    LOGOUT,
    NOT_READY,
    READY,
    RESERVED,
    STATE_NAMES,
    TALKING,
    UNKNOWN,
    WORK_NOT_READY,
    WORK_READY,
)


class Adherence(IntEnum):
    """How one counted millisecond is classified."""

    IN = 0
    OUT = 1
    NEUTRAL = 2


IN_SERVICE: Final = "IN_SERVICE"
BREAK: Final = "BREAK"
OFF_PHONE: Final = "OFF_PHONE"
OFF: Final = "OFF"
CATEGORIES: Final = (IN_SERVICE, BREAK, OFF_PHONE, OFF)
COUNTED_CATEGORIES: Final = frozenset({IN_SERVICE, BREAK, OFF_PHONE})

DEFAULT_ACTIVITY_CATEGORIES: Final[Mapping[str, str]] = {
    "in_service": IN_SERVICE,
    "in_service_msg": IN_SERVICE,
    "overtime": IN_SERVICE,
    "overtime_msg": IN_SERVICE,
    "break": BREAK,
    "lunch": BREAK,
    "assignment": OFF_PHONE,
    "project": OFF_PHONE,
    "exception": OFF_PHONE,
    "closed_service": OFF_PHONE,
    "closed_service_msg": OFF_PHONE,
    "not_available": OFF,
    "available": OFF,
}

_I, _O, _N = Adherence.IN, Adherence.OUT, Adherence.NEUTRAL
_WORKING = (TALKING, HOLD, WORK_NOT_READY, WORK_READY, BUSY_OTHER)


def _row(logout: Adherence, not_ready: Adherence, ready: Adherence, working: Adherence,
         unknown: Adherence) -> dict[int, Adherence]:
    row = {LOGOUT: logout, NOT_READY: not_ready, READY: ready, RESERVED: ready,
           UNKNOWN: unknown}
    row.update({s: working for s in _WORKING})
    return row


#: The spec's matrix (ADHERENCE.md §4).
DEFAULT_MATRIX: Final[Mapping[str, Mapping[int, Adherence]]] = {
    IN_SERVICE: _row(_O, _O, _I, _I, _N),
    BREAK: _row(_I, _I, _O, _O, _N),
    OFF_PHONE: _row(_I, _I, _O, _O, _N),
}


@dataclass(frozen=True, slots=True)
class RuleOverride:
    category: str
    state: int
    reason_code: str | None  # string form; None matches every reason
    adherence: Adherence


def reason_key(reason: int | str | None) -> str | None:
    """The string form reasons are compared by."""
    return None if reason is None else str(reason)


class Rules:
    """Compiled rules: category of an activity type, adherence of a second."""

    __slots__ = ("_by_reason", "_categories", "_matrix", "has_reason_overrides")

    def __init__(self, activity_categories: Mapping[str, str] | None = None,
                 overrides: Iterable[RuleOverride] = ()) -> None:
        cats = dict(DEFAULT_ACTIVITY_CATEGORIES)
        for activity_type, category in (activity_categories or {}).items():
            if category not in CATEGORIES:
                raise ValueError(
                    f"activity type {activity_type!r}: category must be one of "
                    f"{', '.join(CATEGORIES)}, got {category!r}")
            cats[activity_type.lower()] = category
        self._categories = cats
        matrix = {cat: dict(row) for cat, row in DEFAULT_MATRIX.items()}
        by_reason: dict[tuple[str, int, str], Adherence] = {}
        for o in overrides:
            if o.category not in COUNTED_CATEGORIES:
                raise ValueError(f"rule override: category {o.category!r} is not one of "
                                 f"{', '.join(sorted(COUNTED_CATEGORIES))}")
            if o.state not in STATE_NAMES:
                raise ValueError(f"rule override: unknown state {o.state!r}")
            if o.reason_code is None:
                matrix[o.category][o.state] = o.adherence
            else:
                by_reason[(o.category, o.state, o.reason_code)] = o.adherence
        self._matrix = matrix
        self._by_reason = by_reason
        self.has_reason_overrides = bool(by_reason)

    def category(self, activity_type: str) -> str:
        return self._categories.get(activity_type.lower(), OFF)

    def classify(self, category: str, state: int, reason: int | str | None) -> Adherence:
        """IN/OUT/NEUTRAL for a counted category (never call with OFF)."""
        if self.has_reason_overrides and reason is not None:
            hit = self._by_reason.get((category, state, str(reason)))
            if hit is not None:
                return hit
        return self._matrix[category][state]
