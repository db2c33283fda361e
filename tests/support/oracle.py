"""Naive reference oracle for the real-time adherence engine.

Deliberately independent of ``rta/`` and deliberately slow: it first settles
the *final* inputs (directory, deduplicated state timelines, resolved
schedules) and then evaluates every elementary interval between two
consecutive boundary instants on its own.

Contract: shared/spec/ADHERENCE.md, shared/spec/INTERFACES.md and the
project decisions in docs/SEMANTICS.md.  Points where those left room for
more than one reading are marked ``# DECISION:``.

Public functions:

* ``reference_summaries(records, tenants=None, default_time_zone="UTC", as_of=None)``
  -> list of day-summary dicts (Webex Adherence API shape + tenantId, date,
  inAdherenceSeconds, neutralSeconds, unscheduledSeconds), ordered by
  tenant, date, agent.
* ``reference_alerts(steps, tenants=None, default_time_zone="UTC")`` -> the alert
  outputs of a sequence of input records and evaluations (see its docstring).
* ``reference_ms(records, tenants=None, default_time_zone="UTC", as_of=None)``
  -> {(tenantId, agentKey, "YYYY-MM-DD"): {scheduled, scheduled_in_service,
  actual_in_service, in, out, neutral, unscheduled}} in exact milliseconds.

Standard library only.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["reference_alerts", "reference_ms", "reference_summaries"]

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

LOGOUT = 1

CANONICAL_NAMES = {
    1: "LOGOUT",
    2: "NOT_READY",
    3: "READY",
    4: "TALKING",
    5: "WORK_NOT_READY",
    6: "WORK_READY",
    7: "BUSY_OTHER",
    8: "RESERVED",
    9: "UNKNOWN",
    10: "HOLD",
}
NAME_TO_STATE = {v: k for k, v in CANONICAL_NAMES.items()}

RTA_NAMES = {
    1: "LOGGED_OUT",
    2: "NOT_READY_BUSY",
    3: "READY_WAITING",
    4: "TALK",
    5: "WORK_AFTER_CONTACT",
    6: "WORK_AFTER_CONTACT",
    7: "TALK",
    8: "READY_WAITING",
    9: "NOT_READY_BUSY",
    10: "HOLD",
}

IN_SERVICE_STATES = frozenset({3, 4, 5, 6, 7, 8, 10})

# Multi-channel order, highest first.
RANK_ORDER = [4, 10, 7, 5, 6, 8, 3, 2, 9, 1]
RANK = {state: len(RANK_ORDER) - i for i, state in enumerate(RANK_ORDER)}

IN_SERVICE = "IN_SERVICE"
BREAK = "BREAK"
OFF_PHONE = "OFF_PHONE"
OFF = "OFF"
CATEGORIES = (IN_SERVICE, BREAK, OFF_PHONE, OFF)

DEFAULT_CATEGORY_MAP = {
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
}

IN = "IN"
OUT = "OUT"
NEUTRAL = "NEUTRAL"


def _default_rule(category: str, state: int) -> str:
    """The default matrix of ADHERENCE.md section 4 (category is never OFF)."""
    if state == 9:  # UNKNOWN
        return NEUTRAL
    if category == IN_SERVICE:
        if state in (1, 2):  # LOGOUT, NOT_READY
            return OUT
        return IN  # READY, RESERVED, TALKING, HOLD, WORK_*, BUSY_OTHER
    # BREAK, OFF_PHONE
    if state in (1, 2):
        return IN
    return OUT


# ---------------------------------------------------------------------------
# Value normalisation (inputs are assumed valid)
# ---------------------------------------------------------------------------


def _ident(value: Any) -> str:
    """Identifier: a string, or an integer turned into its decimal string."""
    if isinstance(value, bool):  # not expected (invalid), keep obvious
        return str(value)
    if isinstance(value, int):
        return str(value)
    return value


# acdIdentifierKind: spellings as compared (trimmed; spaces, '_' and '-' removed; ASCII
# letters lowered) -> the prefix of the canonical acdAgentId ("" for AgentId)
_KIND_PREFIX = {
    "agentid": "", "id": "",
    "phone": "phone:",
    "username": "username:", "crmusername": "crmusername:",
    "systemusername": "systemusername:",
}


def _acd(value: Any, kind: Any = None) -> str:
    """The canonical acdAgentId of an ACD identity named by ``acdAgentId`` and, maybe,
    ``acdIdentifierKind`` (SEMANTICS.md, "ACD identifiers of several kinds")."""
    plain = _ident(value).strip()
    if kind is None or not kind.strip():
        return plain  # no kind: as written (trimmed)
    spelled = re.sub("[ _-]", "", kind.strip())
    prefix = _KIND_PREFIX[spelled.lower()]  # inputs are valid (ASCII spellings)
    if prefix == "phone:":
        number = re.sub(r"[ .()\-]", "", plain)
        return prefix + (number[1:] if number.startswith("+") else number)
    if prefix:  # the user names: case-insensitive
        return prefix + plain.casefold().strip()
    return plain


def _server(value: Any) -> str:
    if value is None:
        return "1"
    s = _ident(value)
    # DECISION: a blank acdServerId is treated like a missing one ("1").
    if isinstance(s, str) and s.strip() == "":
        return "1"
    return s


def _event_id(value: Any) -> str | None:
    if value is None:
        return None
    s = _ident(value)
    # SEMANTICS.md: "eventId blank = none" (spec: "empty"); blank covers empty.
    if s.strip() == "":
        return None
    return s


def _state(value: Any) -> int:
    return int(value)


def _reason(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip() == "":
        return None
    return value  # integer or verbatim non-blank text


def _reason_str(reason: int | str | None) -> str:
    """String form used wherever reasons are compared; null -> ""."""
    if reason is None:
        return ""
    return str(reason)


def _same_reason(a: int | str | None, b: int | str | None) -> bool:
    # DECISION: runs ("one effective state and reason") compare the reason as
    # received, type included: 12 and "12" are different reasons for runs,
    # because a run reports one actualReasonCode value.  SEMANTICS.md lists
    # string-form comparison only for overrides, duplicates and same-ts order.
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------
# Time zone helpers
# ---------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000


def _local_date(t_ms: int, tz_name: str) -> date:
    return (_EPOCH + timedelta(milliseconds=t_ms)).astimezone(ZoneInfo(tz_name)).date()


@cache
def _day_start(d: date, tz_name: str) -> int:
    """First epoch ms whose local date (in tz) is >= d: the local midnight.

    Found by binary search so that zones whose midnight falls into a DST gap
    still get the first instant of the day.
    """
    tz = ZoneInfo(tz_name)
    guess = (datetime(d.year, d.month, d.day, tzinfo=tz) - _EPOCH) // timedelta(milliseconds=1)
    lo = guess - 2 * _DAY_MS  # local date < d
    hi = guess + 2 * _DAY_MS  # local date >= d
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _local_date(mid, tz_name) >= d:
            hi = mid
        else:
            lo = mid
    return hi


def _day_end(d: date, tz_name: str) -> int:
    return _day_start(d + timedelta(days=1), tz_name)


# ---------------------------------------------------------------------------
# Data holders
# ---------------------------------------------------------------------------


@dataclass
class _Event:
    tenant: str
    server: str
    acd: str
    ts: int
    state: int
    reason: int | str | None
    event_id: str | None
    arrival: int

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.tenant, self.server, self.acd)

    def order_key(self) -> tuple[str, int, str]:
        # Same-timestamp order: (eventId or "", state id, reason string or "").
        return (self.event_id or "", self.state, _reason_str(self.reason))


@dataclass(frozen=True)
class _Part:
    start: int
    end: int
    activity_type: str


@dataclass
class _Run:
    start: int
    end: int
    state: int
    reason: int | str | None
    in_ms: int = 0
    out_ms: int = 0


@dataclass
class _Detail:
    part: _Part
    start: int  # max(part.start, day start)
    in_ms: int = 0
    out_ms: int = 0
    runs: list[_Run] = field(default_factory=list)


@dataclass
class _DayAcc:
    day: date
    start: int
    end: int
    scheduled: int = 0
    scheduled_in_service: int = 0
    actual_in_service: int = 0
    in_ms: int = 0
    out_ms: int = 0
    neutral: int = 0
    unscheduled: int = 0
    logged_in: int = 0
    details: list[_Detail] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Tenant configuration
# ---------------------------------------------------------------------------


class _TenantConfig:
    def __init__(self, cfg: dict | None, default_time_zone: str):
        cfg = cfg or {}
        self.time_zone: str = cfg.get("time_zone") or default_time_zone
        self.tolerance_ms: int = round(float(cfg.get("switch_tolerance_seconds", 0) or 0) * 1000)
        self.alert_ms: int = int(cfg.get("alert_after_seconds", 60)) * 1000
        self.alert_ms_by_category: dict = {
            str(k): int(v) * 1000
            for k, v in (cfg.get("alert_after_seconds_by_category") or {}).items()}
        cmap = dict(DEFAULT_CATEGORY_MAP)
        for k, v in (cfg.get("activity_categories") or {}).items():
            cmap[str(k).lower()] = str(v).upper()
        self.category_map = cmap
        self.overrides = []
        for o in cfg.get("rule_overrides") or []:
            cat = str(o["category"]).upper()
            st = o["state"]
            if isinstance(st, int):
                state = st
            elif isinstance(st, str) and st.strip().isdigit():
                state = int(st.strip())
            else:
                state = NAME_TO_STATE[str(st).strip().upper()]
            rc = o.get("reason_code")
            if rc is not None and isinstance(rc, str) and rc.strip() == "":
                rc = None
            rc_str = None if rc is None else str(rc)
            self.overrides.append((cat, state, rc_str, str(o["adherence"]).upper()))

    def category(self, activity_type: str) -> str:
        return self.category_map.get(str(activity_type).lower(), OFF)

    def rule(self, category: str, state: int, reason: int | str | None) -> str:
        """IN / OUT / NEUTRAL for a counted (non-OFF) category."""
        # DECISION: overrides naming category OFF are never consulted: the
        # spec says OFF time is never IN or OUT (it is only "unscheduled").
        rs = _reason_str(reason)
        with_reason = None
        without_reason = None
        for cat, st, rc, adh in self.overrides:
            if cat != category or st != state:
                continue
            # DECISION: when several overrides match at the same precedence
            # level, the later-listed one wins.
            if rc is None:
                without_reason = adh
            elif rc == rs:
                with_reason = adh
        if with_reason is not None:
            return with_reason
        if without_reason is not None:
            return without_reason
        return _default_rule(category, state)


# ---------------------------------------------------------------------------
# Step 1: settle the final inputs
# ---------------------------------------------------------------------------


def _message_identities(body: dict) -> list[tuple[str, str]]:
    idents = [(_server(body.get("acdServerId")),
               _acd(body["acdAgentId"], body.get("acdIdentifierKind")))]
    for extra in body.get("acdIdentities") or []:
        # DECISION: acdServerId inside acdIdentities also defaults to "1".
        idents.append((_server(extra.get("acdServerId")),
                       _acd(extra["acdAgentId"], extra.get("acdIdentifierKind"))))
    return idents


def _paint_message(body: dict) -> tuple[int, int, list[_Part]]:
    """Clip a message's activities to its window; later-listed wins."""
    frm = body["fromTimestamp"]
    to = body["toTimestamp"]
    pieces: list[_Part] = []
    for act in body.get("activities") or []:
        s = max(act["startTime"], frm)
        e = min(act["endTime"], to)
        if s >= e:
            continue  # entirely outside the window
        new: list[_Part] = []
        for p in pieces:
            if p.end <= s or p.start >= e:
                new.append(p)
                continue
            if p.start < s:
                new.append(_Part(p.start, s, p.activity_type))
            if p.end > e:
                new.append(_Part(e, p.end, p.activity_type))  # own part from e
        new.append(_Part(s, e, act["activityType"]))
        pieces = new
    return frm, to, pieces


def _apply_window(schedule: list[_Part], frm: int, to: int, pieces: list[_Part]) -> list[_Part]:
    out: list[_Part] = []
    for p in schedule:
        if p.end <= frm or p.start >= to:
            out.append(p)
            continue
        if p.start < frm:
            out.append(_Part(p.start, frm, p.activity_type))
        if p.end > to:
            out.append(_Part(to, p.end, p.activity_type))  # own part from toTimestamp
    out.extend(pieces)
    out.sort(key=lambda p: (p.start, p.end))
    return out


@dataclass
class _Inputs:
    directory: dict  # (tenant, server, acd) -> (tenant, agent_str)
    agent_display: dict  # (tenant, agent_str) -> (raw agentId, primary acdAgentId str)
    schedules: dict  # (tenant, agent_str) -> list[_Part] (all categories)
    events: dict  # identity -> list[_Event] sorted by (ts, order key)


def _settle(records: list[dict]) -> _Inputs:
    directory: dict = {}
    claims: dict = {}  # identity -> (window start, agent) of the mapping that holds
    agent_display: dict = {}
    schedules: dict = {}
    known: set = set()
    held: dict = {}
    applied: list[_Event] = []

    for arrival, rec in enumerate(records):
        body = rec["body"]
        if rec["kind"] == "schedule":
            tenant = _ident(body["tenantId"])
            agent = (tenant, _ident(body["agentId"]))
            agent_display[agent] = (body["agentId"],
                                    _acd(body["acdAgentId"], body.get("acdIdentifierKind")))
            frm, to, pieces = _paint_message(body)
            schedules[agent] = _apply_window(schedules.get(agent, []), frm, to, pieces)
            for server, acd in _message_identities(body):
                identity = (tenant, server, acd)
                # the latest mapping wins: latest by the schedule's window (its start,
                # then the agent key), not by the log, whose order across agents'
                # schedule partitions a stream worker cannot know
                claim = (body["fromTimestamp"], agent[1])
                mine = directory.get(identity) == agent
                if identity not in directory or mine or claim > claims[identity]:
                    directory[identity] = agent
                    claims[identity] = max(claim, claims.get(identity, claim)) if mine \
                        else claim
                if identity not in known:
                    known.add(identity)
                    # Held events are released in arrival order (the first body
                    # to arrive under an eventId is kept, as on the direct path).
                    for ev in sorted(held.pop(identity, []), key=lambda e: e.arrival):
                        applied.append(ev)
        elif rec["kind"] == "state":
            ev = _Event(
                tenant=_ident(body["tenantId"]),
                server=_server(body.get("acdServerId")),
                acd=_acd(body["acdAgentId"], body.get("acdIdentifierKind")),
                ts=body["timestamp"],
                state=_state(body["gisStateIdentifier"]),
                reason=_reason(body.get("reasonCode")),
                event_id=_event_id(body.get("eventId")),
                arrival=arrival,
            )
            if ev.identity in known:
                applied.append(ev)
            else:
                held.setdefault(ev.identity, []).append(ev)
        else:  # pragma: no cover - inputs are valid
            raise ValueError(f"unknown record kind {rec['kind']!r}")
    # Events of identities that never became known stay held: they never count.

    # Deduplicate per ACD identity, in applied order.
    events: dict = {}
    seen_ids: dict = {}
    seen_plain: dict = {}
    for ev in applied:
        ident = ev.identity
        if ev.event_id is not None:
            ids = seen_ids.setdefault(ident, set())
            if ev.event_id in ids:
                continue  # duplicate or conflict: the first applied is kept
            ids.add(ev.event_id)
            events.setdefault(ident, []).append(ev)
        else:
            # DECISION: id-less events are only compared with id-less events
            # (an id-less event never duplicates one that carries an eventId).
            key = (ev.ts, ev.state, _reason_str(ev.reason))
            plain = seen_plain.setdefault(ident, {})
            if key in plain:
                kept = plain[key]
                # Integer form of the reason is kept whatever the arrival order.
                if isinstance(ev.reason, int) and not isinstance(kept.reason, int):
                    kept.reason = ev.reason
                continue
            plain[key] = ev
            events.setdefault(ident, []).append(ev)
    for lst in events.values():
        lst.sort(key=lambda e: (e.ts, e.order_key()))
    return _Inputs(directory, agent_display, schedules, events)


# ---------------------------------------------------------------------------
# Step 2: evaluate each agent, interval by interval
# ---------------------------------------------------------------------------


def _identity_state(evs: list[_Event], ts_list: list[int], t: int) -> tuple[int, int | str | None]:
    i = bisect.bisect_right(ts_list, t) - 1
    if i < 0:
        return (LOGOUT, None)  # before the identity's first event
    return (evs[i].state, evs[i].reason)


def _effective(per_identity: list[tuple[int, int | str | None]]) -> tuple[int, int | str | None]:
    """Highest-ranked state; reason of the first identity (sorted) in it."""
    # DECISION: every identity currently mapped to the agent takes part,
    # including ones with no event yet (LOGOUT, reason null); so when the
    # effective state is LOGOUT the reason may come from such an identity.
    if not per_identity:
        return (LOGOUT, None)
    best = max(RANK[s] for s, _ in per_identity)
    for s, r in per_identity:  # identities ordered by (acdServerId, acdAgentId)
        if RANK[s] == best:
            return (s, r)
    raise AssertionError  # pragma: no cover


def _adherence(cfg: _TenantConfig, part: _Part, a: int, state: int,
               reason: int | str | None) -> str:
    """IN / OUT / NEUTRAL of an elementary interval starting at ``a`` inside the
    counted part ``part`` (rules, then the switch tolerance)."""
    adh = cfg.rule(cfg.category(part.activity_type), state, reason)
    if adh == OUT and a < part.start + cfg.tolerance_ms:
        adh = NEUTRAL  # switch tolerance after the part's start
    return adh


def _part_bounds(parts: list[_Part], cfg: _TenantConfig) -> set[int]:
    """Instants where a schedule part starts, ends, or its switch tolerance ends."""
    out: set[int] = set()
    for p in parts:
        out.update((p.start, p.end))
        if cfg.tolerance_ms > 0:
            out.add(p.start + cfg.tolerance_ms)
    return out


def _evaluate_agent(agent, identities, events, parts_all, cfg: _TenantConfig, as_of):
    tz = cfg.time_zone
    parts = [p for p in parts_all if cfg.category(p.activity_type) != OFF]
    parts.sort(key=lambda p: p.start)
    id_events = [events.get(i, []) for i in identities]
    id_ts = [[e.ts for e in evs] for evs in id_events]
    all_ts = [t for lst in id_ts for t in lst]

    if not all_ts and not parts:
        return []

    if as_of is None:
        # "End of time": days up to the day holding the last known instant.
        last_known = max(all_ts + [p.end - 1 for p in parts])
        eval_end = _day_end(_local_date(last_known, tz), tz)
    else:
        eval_end = as_of

    lo_t = min(all_ts + [p.start for p in parts])
    hi_t = max([eval_end] + [p.end for p in parts])  # exclusive
    if hi_t <= lo_t:
        return []  # nothing scheduled, nothing before the evaluation time
    first_day = _local_date(lo_t, tz)
    last_day = _local_date(hi_t - 1, tz)

    days: list[_DayAcc] = []
    d = first_day
    while d <= last_day:
        days.append(_DayAcc(day=d, start=_day_start(d, tz), end=_day_end(d, tz)))
        d = d + timedelta(days=1)
    range_start = days[0].start
    range_end = days[-1].end
    day_starts = [acc.start for acc in days]

    # Details entries: one per counted part inside each day, in start order.
    detail_of: dict = {}
    for acc in days:
        for p in parts:
            if p.start < acc.end and p.end > acc.start:
                det = _Detail(part=p, start=max(p.start, acc.start))
                acc.details.append(det)
                detail_of[(id(p), acc.day)] = det

    # Every boundary instant.
    bounds = set(day_starts)
    bounds.add(range_end)
    bounds.update(all_ts)
    bounds.update(_part_bounds(parts, cfg))
    bounds.add(eval_end)
    bs = sorted(b for b in bounds if range_start <= b <= range_end)

    for a, b in itertools.pairwise(bs):
        length = b - a
        acc = days[bisect.bisect_right(day_starts, a) - 1]
        assert acc.start <= a and b <= acc.end
        part = None
        for p in parts:
            if p.start <= a < p.end:
                part = p
                break
        category = cfg.category(part.activity_type) if part is not None else OFF

        if category != OFF:
            acc.scheduled += length
            if category == IN_SERVICE:
                acc.scheduled_in_service += length

        if a >= eval_end:
            continue  # state figures run only up to the evaluation time

        state, reason = _effective(
            [_identity_state(evs, tss, a) for evs, tss in zip(id_events, id_ts, strict=False)]
        )
        if state in IN_SERVICE_STATES:
            acc.actual_in_service += length
        if state != LOGOUT:
            acc.logged_in += length

        if category == OFF:
            if state != LOGOUT:
                acc.unscheduled += length
            continue

        adh = _adherence(cfg, part, a, state, reason)
        det = detail_of[(id(part), acc.day)]
        if det.runs and det.runs[-1].end == a and det.runs[-1].state == state \
                and _same_reason(det.runs[-1].reason, reason):
            run = det.runs[-1]
            run.end = b
        else:
            run = _Run(start=a, end=b, state=state, reason=reason)
            det.runs.append(run)
        if adh == IN:
            acc.in_ms += length
            det.in_ms += length
            run.in_ms += length
        elif adh == OUT:
            acc.out_ms += length
            det.out_ms += length
            run.out_ms += length
        else:
            acc.neutral += length

    return [acc for acc in days if acc.scheduled > 0 or acc.logged_in > 0]


def _agent_sort_key(agent_str: str):
    # DECISION: "numeric" = optional minus sign and ASCII digits; numeric ids
    # sort by value (ties by string), then non-numeric ids as strings.
    if re.fullmatch(r"-?[0-9]+", agent_str):
        return (0, int(agent_str), agent_str)
    return (1, 0, agent_str)


def _compute(records, tenants, default_time_zone, as_of):
    tenants = tenants or {}
    inputs = _settle(records)
    configs: dict = {}

    def cfg_for(tenant: str) -> _TenantConfig:
        if tenant not in configs:
            configs[tenant] = _TenantConfig(tenants.get(tenant), default_time_zone)
        return configs[tenant]

    results = []  # (tenant, agent_str, acc)
    for agent in inputs.agent_display:
        tenant, agent_str = agent
        identities = sorted(
            (i for i, a in inputs.directory.items() if a == agent),
            # DECISION: identities are ordered by (acdServerId, acdAgentId)
            # as plain strings (not numerically).
            key=lambda i: (i[1], i[2]),
        )
        accs = _evaluate_agent(
            agent, identities, inputs.events, inputs.schedules.get(agent, []),
            cfg_for(tenant), as_of,
        )
        for acc in accs:
            results.append((tenant, agent_str, acc))
    results.sort(key=lambda r: (r[0], r[2].day, _agent_sort_key(r[1])))
    return inputs, results


# ---------------------------------------------------------------------------
# Rounding and output
# ---------------------------------------------------------------------------


def _sec(ms: int) -> int:
    return (ms + 500) // 1000


def _pct(a: int, b: int) -> float | None:
    if b == 0:
        return None
    return ((2000 * a + b) // (2 * b)) / 10


def reference_summaries(records: list[dict], tenants: dict[str, dict] | None = None,
                        default_time_zone: str = "UTC", as_of: int | None = None) -> list[dict]:
    inputs, results = _compute(records, tenants, default_time_zone, as_of)
    out = []
    for tenant, agent_str, acc in results:
        raw_agent_id, primary_acd = inputs.agent_display[(tenant, agent_str)]
        details = []
        for det in acc.details:
            details.append({
                "scheduledActivityType": det.part.activity_type,
                "scheduledActivityStartTime": det.start,
                "inAdherenceSeconds": _sec(det.in_ms),
                "outOfAdherenceSeconds": _sec(det.out_ms),
                "actuals": [
                    {
                        "actualAgentState": RTA_NAMES[run.state],
                        "gisStateIdentifier": run.state,
                        "actualAgentStateStartTime": run.start,
                        "actualReasonCode": run.reason,
                        "inAdherenceSeconds": _sec(run.in_ms),
                        "outOfAdherenceSeconds": _sec(run.out_ms),
                    }
                    for run in det.runs
                ],
            })
        out.append({
            "tenantId": tenant,
            "agentId": raw_agent_id,
            # DECISION: acdAgentId is the primary id of the latest schedule
            # message as a string (identifiers are normalised to strings;
            # only agentId is reported "as written").
            "acdAgentId": primary_acd,
            "date": acc.day.isoformat(),
            "scheduledSeconds": _sec(acc.scheduled),
            "scheduledInServiceSeconds": _sec(acc.scheduled_in_service),
            "actualInServiceSeconds": _sec(acc.actual_in_service),
            "inAdherenceSeconds": _sec(acc.in_ms),
            "notInAdherenceSeconds": _sec(acc.out_ms),
            "neutralSeconds": _sec(acc.neutral),
            "unscheduledSeconds": _sec(acc.unscheduled),
            "scheduleAdherence": _pct(acc.in_ms, acc.in_ms + acc.out_ms),
            # DECISION: conformity divides by the whole day's scheduled
            # in-service time even on a day evaluated only part-way.
            "scheduleConformity": _pct(acc.actual_in_service, acc.scheduled_in_service),
            "details": details,
        })
    return out


def reference_ms(records: list[dict], tenants: dict[str, dict] | None = None,
                 default_time_zone: str = "UTC", as_of: int | None = None) -> dict:
    _, results = _compute(records, tenants, default_time_zone, as_of)
    out = {}
    for tenant, agent_str, acc in results:
        out[(tenant, agent_str, acc.day.isoformat())] = {
            "scheduled": acc.scheduled,
            "scheduled_in_service": acc.scheduled_in_service,
            "actual_in_service": acc.actual_in_service,
            "in": acc.in_ms,
            "out": acc.out_ms,
            "neutral": acc.neutral,
            "unscheduled": acc.unscheduled,
        }
    return out


# ---------------------------------------------------------------------------
# Real-time alerts (ADHERENCE.md section 6, SEMANTICS.md "Alerts")
# ---------------------------------------------------------------------------
#
# Brute force at every evaluation: settle the input known so far, classify
# every elementary interval up to and including the instant ``now``, merge the
# OUT intervals, take away the time covered by the alerts already started, and
# apply the rules to what is left. Nothing is carried from one evaluation to
# the next but the alerts themselves (and the agent's first evaluation time).


def _out_intervals(identities, events, parts_all, cfg: _TenantConfig, now: int) -> list[list[int]]:
    """One agent's OUT time up to and including the instant ``now`` as maximal
    intervals ``[a, b)``; ``b == now + 1`` means OUT at the instant ``now``."""
    parts = [p for p in parts_all if cfg.category(p.activity_type) != OFF]
    id_events = [events.get(i, []) for i in identities]
    id_ts = [[e.ts for e in evs] for evs in id_events]
    bounds = {now, now + 1}
    for lst in id_ts:
        bounds.update(lst)
    bounds.update(_part_bounds(parts, cfg))
    out: list[list[int]] = []
    for a, b in itertools.pairwise(sorted(x for x in bounds if x <= now + 1)):
        part = next((p for p in parts if p.start <= a < p.end), None)
        if part is None:
            continue  # OFF time is never OUT
        state, reason = _effective(
            [_identity_state(evs, tss, a) for evs, tss in zip(id_events, id_ts, strict=False)]
        )
        if _adherence(cfg, part, a, state, reason) != OUT:
            continue
        if out and out[-1][1] == a:
            out[-1][1] = b
        else:
            out.append([a, b])
    return out


def _minus(intervals: list[list[int]], covered: list[tuple[int, int | None]]) -> list[list[int]]:
    """``intervals`` without the ``covered`` ones (end None: for ever), in order."""
    pieces = [list(iv) for iv in intervals]
    for cs, ce in covered:
        nxt: list[list[int]] = []
        for a, b in pieces:
            if b <= cs or (ce is not None and a >= ce):  # no overlap
                nxt.append([a, b])
                continue
            if a < cs:
                nxt.append([a, cs])
            if ce is not None and b > ce:
                nxt.append([ce, b])
        pieces = nxt
    return sorted(pieces)


def reference_alerts(steps: list[dict], tenants: dict[str, dict] | None = None,
                     default_time_zone: str = "UTC") -> list[dict]:
    """Alerts for ``steps``: input records (``{"kind": "state"|"schedule", "body"}``,
    as the other functions take) and evaluations ``{"kind": "eval", "now": ms}`` of
    every agent known then. Returns, in emission order, ``{"step", "tenantId",
    "agentKey", "type", "alertId", "start", "end"}`` (``end`` None for a start).

    Per agent and evaluation (``now`` never goes back: an earlier one counts as
    the latest so far):

    * an alert covers ``[start, end)`` once ended (at least its start instant),
      ``[start, now)`` while open;
    * the open alert ends at the end of the OUT run from its start as now known,
      if that is not past ``now`` (its duration may be below the threshold);
    * the OUT time up to the instant ``now`` minus the covered time falls into
      runs; in start order, a run holding at ``now`` that lasted its threshold
      (``now - start``) starts an alert, an ended run that lasted its threshold
      starts and ends one, unless it ended at or before the agent's first
      evaluation; when the agent had no state event at its first evaluation,
      alerting starts at the earliest of its events at the first evaluation that
      has any, if that is earlier.
    """
    tenants = tenants or {}
    configs: dict = {}
    records: list[dict] = []
    books: dict = {}  # agent -> {"first", "last", "ended": [(s, e)], "open": s | None}
    out: list[dict] = []
    for step, item in enumerate(steps):
        if item["kind"] != "eval":
            records.append(item)
            continue
        inputs = _settle(records)
        for agent in inputs.agent_display:
            tenant, agent_str = agent
            if tenant not in configs:
                configs[tenant] = _TenantConfig(tenants.get(tenant), default_time_zone)
            cfg = configs[tenant]
            book = books.setdefault(agent, {"first": None, "last": None, "ended": [],
                                            "open": None, "blind": False})
            now = item["now"] if book["last"] is None else max(item["now"], book["last"])
            book["last"] = now
            identities = sorted((i for i, a in inputs.directory.items() if a == agent),
                                key=lambda i: (i[1], i[2]))
            earliest = min((e.ts for i in identities for e in inputs.events.get(i, [])),
                           default=None)
            if book["first"] is None:
                book["first"] = now
                book["blind"] = earliest is None
            elif book["blind"] and earliest is not None:
                book["blind"] = False
                book["first"] = min(book["first"], earliest)
            parts_all = inputs.schedules.get(agent, [])
            outs = _out_intervals(identities, inputs.events, parts_all, cfg, now)

            def emit(kind: str, start: int, end: int | None,
                     tenant: str = tenant, agent_str: str = agent_str, step: int = step) -> None:
                out.append({"step": step, "tenantId": tenant, "agentKey": agent_str,
                            "type": kind, "alertId": f"{tenant}:{agent_str}:{start}",
                            "start": start, "end": end})

            s = book["open"]
            if s is not None:
                e = next((b for a, b in outs if a <= s < b), s)  # first instant not OUT
                if e <= now:
                    emit("ALERT_ENDED", s, e)
                    book["ended"].append((s, e))
                    book["open"] = None
            covered: list[tuple[int, int | None]] = [
                (s, max(e, s + 1)) for s, e in book["ended"]]
            if book["open"] is not None:
                covered.append((book["open"], None))
            for x, y in _minus(outs, covered):
                part = next(p for p in parts_all
                            if p.start <= x < p.end and cfg.category(p.activity_type) != OFF)
                category = cfg.category(part.activity_type)
                threshold = cfg.alert_ms_by_category.get(category, cfg.alert_ms)
                if y == now + 1:  # holds at now
                    if now - x >= threshold:
                        emit("ALERT_STARTED", x, None)
                        book["open"] = x
                elif y > book["first"] and y - x >= threshold:
                    emit("ALERT_STARTED", x, None)
                    emit("ALERT_ENDED", x, y)
                    book["ended"].append((x, y))
    return out
