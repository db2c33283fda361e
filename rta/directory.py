"""The routing semantics: which agent an ACD identity belongs to, the events of
identities not known yet (held), and what a schedule message naming an identity
does (adopt it, move it, release its held events).

One implementation, used by ``rta replay``'s :class:`rta.engine.Engine` (one
process, every identity in memory) and by the stream worker's directory step
(``streams/worker/directory.py``: one identity's entry and hold at a time, from
its tables). The moves themselves (a timeline handed from one agent's reducer to
another's) are :meth:`rta.agent.AgentReducer.remove_identity` and
``add_identity``.

A held event is ``[timestamp, arrival, payload, held_at]``: ``arrival`` is its
place in the input (unique per event; a copy read again adds nothing), the hold
is sorted by ``(timestamp, arrival)``, and held events are released in arrival
order (of two bodies under one eventId the first to arrive is kept, as on the
direct path). ``held_at`` is the worker clock when it was held (None in replay).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple

from rta.config import TenantSettings
from rta.models import StateEvent

Held = list[Any]  # [timestamp, arrival, payload, held_at | None]


def future_rejection(ev: StateEvent, now: int, settings: TenantSettings) -> str | None:
    """Why ``ev`` is too far ahead of the worker clock ``now``, or None."""
    ahead = settings.future_tolerance_seconds * 1000
    if ev.timestamp > now + ahead:
        return (f"timestamp {ev.timestamp} is more than {settings.future_tolerance_seconds} s "
                f"ahead of the worker clock ({now})")
    return None


def bound_hold(held: list[Any], settings: TenantSettings, by_span: bool = True) -> list[Any]:
    """Trim a hold sorted by ``(timestamp, arrival, ...)`` to the tenant's bounds
    (count, and event-time span unless ``by_span`` is false); returns what fell out,
    oldest first."""
    span = settings.hold_max_seconds * 1000
    out = []
    while held and (len(held) > settings.hold_max_events
                    or (by_span and held[0][0] < held[-1][0] - span)):
        out.append(held.pop(0))
    return out


def hold_overflow_reason(identity: str, settings: TenantSettings) -> str:
    return (f"ACD identity {identity} is not in the directory; held events exceed "
            f"{settings.hold_max_events} events or {settings.hold_max_seconds} s, so the "
            "oldest was dropped from the hold")


def hold(held: list[Held], events: Iterable[tuple[int, int, Any]],
         settings: TenantSettings, now: int | None = None,
         grace_ms: int = 0) -> list[Any]:
    """Add ``(timestamp, arrival, payload)`` events to an identity's hold (in place)
    and trim it to the tenant's bounds; returns the payloads pushed out, oldest first.

    The count bound applies at once. The span bound applies once the identity has
    been held for ``grace_ms`` of the worker clock ``now`` (``now`` None, as in
    ``rta replay``: at once). In the worker the two input topics are read at their
    own pace, so an identity the log names before its events can look unknown for a
    moment; bounded at once, a backlog spanning months would lose all but its last
    week."""
    known = {x[1] for x in held}
    for ts, arrival, payload in events:
        if arrival not in known:  # (ts, arrival) is unique: the payload is never compared
            known.add(arrival)
            insort(held, [ts, arrival, payload, now])
    by_span = True
    if now is not None and held:
        since = min((x[3] if len(x) > 3 and x[3] is not None else 0) for x in held)
        by_span = now - since >= grace_ms
    return [x[2] for x in bound_hold(held, settings, by_span)]


def release(held: Iterable[Held]) -> list[Any]:
    """The payloads of a hold, in arrival order: how they are applied to the agent
    that adopts the identity."""
    return [x[2] for x in sorted(held, key=lambda x: x[1])]


Change = Literal["adopt", "move", "same", "older", "again"]
Rank = tuple[int, str]  # (window start of the schedule message, agent key)


class Mapping(NamedTuple):
    """What a schedule message naming an identity does to its directory entry."""

    change: Change  # adopt: it was unknown; move: another agent had it; same: no
    # change; older: another agent has it by a later schedule; again: read again
    owner: str | None  # the identity's agent after the message
    previous: str | None  # its agent before
    seen: dict[str, int]  # the latest schedule offset applied, per schedule partition
    rank: Rank | None  # the owner's rank after the message


def map_identity(owner: str | None, owner_rank: Rank | None, seen: dict[str, int],
                 agent: str, rank: Rank, src: tuple[int, int] | None = None) -> Mapping:
    """A schedule message of ``agent`` whose window starts at ``rank[0]`` names an
    identity that ``owner`` has (by a message of rank ``owner_rank``).

    **The latest mapping** is the one of the schedule with the latest window: the
    greatest ``(window start, agent key)``. Not the latest in the log: two agents'
    schedules are in different partitions of the schedule topic, which the worker
    reads at their own pace, so their order in the log is not something it can
    know; a result that depended on it would change with the reading order. So a
    re-sent spring schedule of the agent a channel belonged to does not take back
    the channel that an autumn schedule gave to another agent; the latest mapping
    then applies to all of the identity's events, before and after.

    ``src`` is the message's place in the schedule topic (partition, offset), in the
    worker: a message read again (at-least-once, after a crash or a rebalance)
    changes nothing (``again``). ``owner_rank`` None (an entry older than ranks)
    lets any other agent's message move the identity.
    """
    if src is not None:
        part, offset = str(src[0]), src[1]
        if seen.get(part, -1) >= offset:
            return Mapping("again", owner, owner, seen, owner_rank)
        seen = {**seen, part: offset}
    if owner is None:
        return Mapping("adopt", agent, None, seen, rank)
    if owner == agent:
        return Mapping("same", agent, owner, seen,
                       rank if owner_rank is None else max(rank, owner_rank))
    if owner_rank is not None and rank < owner_rank:
        return Mapping("older", owner, owner, seen, owner_rank)
    return Mapping("move", agent, owner, seen, rank)
