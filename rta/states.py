"""Canonical agent states (Webex ``gisStateIdentifier`` numbers)."""

from __future__ import annotations

from typing import Final

LOGOUT: Final = 1
NOT_READY: Final = 2
READY: Final = 3
TALKING: Final = 4
WORK_NOT_READY: Final = 5
WORK_READY: Final = 6
BUSY_OTHER: Final = 7
RESERVED: Final = 8
UNKNOWN: Final = 9
HOLD: Final = 10

STATE_NAMES: Final[dict[int, str]] = {
    LOGOUT: "LOGOUT",
    NOT_READY: "NOT_READY",
    READY: "READY",
    TALKING: "TALKING",
    WORK_NOT_READY: "WORK_NOT_READY",
    WORK_READY: "WORK_READY",
    BUSY_OTHER: "BUSY_OTHER",
    RESERVED: "RESERVED",
    UNKNOWN: "UNKNOWN",
    HOLD: "HOLD",
}
STATE_IDS: Final[dict[str, int]] = {name: sid for sid, name in STATE_NAMES.items()}

#: Name used by the Webex Real-Time Agent States API and in ``actuals``.
RTAS_NAMES: Final[dict[int, str]] = {
    LOGOUT: "LOGGED_OUT",
    NOT_READY: "NOT_READY_BUSY",
    READY: "READY_WAITING",
    TALKING: "TALK",
    WORK_NOT_READY: "WORK_AFTER_CONTACT",
    WORK_READY: "WORK_AFTER_CONTACT",
    BUSY_OTHER: "TALK",
    RESERVED: "READY_WAITING",
    UNKNOWN: "NOT_READY_BUSY",
    HOLD: "HOLD",
}

IN_SERVICE_STATES: Final = frozenset(
    {READY, TALKING, WORK_NOT_READY, WORK_READY, BUSY_OTHER, RESERVED, HOLD}
)

#: Multi-channel precedence: the effective state is the highest rank.
RANK: Final[dict[int, int]] = {
    sid: rank
    for rank, sid in enumerate(
        reversed(
            [TALKING, HOLD, BUSY_OTHER, WORK_NOT_READY, WORK_READY, RESERVED, READY,
             NOT_READY, UNKNOWN, LOGOUT]
        )
    )
}


def parse_state(value: object) -> int:
    """A state given by id (int or digit string) or canonical name."""
    if isinstance(value, bool):
        raise ValueError(f"state must be an id 1-10 or a name, got {value!r}")
    if isinstance(value, int) and value in STATE_NAMES:
        return value
    if isinstance(value, str):
        if value.isdigit() and int(value) in STATE_NAMES:
            return int(value)
        if value.upper() in STATE_IDS:
            return STATE_IDS[value.upper()]
    raise ValueError(
        f"unknown state {value!r}: use an id 1-10 or one of {', '.join(STATE_IDS)}"
    )
