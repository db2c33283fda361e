"""Day summaries in the Webex Adherence and Conformance shape."""

from __future__ import annotations

from typing import Any

from rta.accounting import DayAcc
from rta.rules import IN_SERVICE
from rta.schedule import Part
from rta.states import RTAS_NAMES


def seconds(ms: int) -> int:
    """Whole seconds, round half up."""
    return (ms + 500) // 1000


def percent(a: int, b: int) -> float | None:
    """``100 * a / b`` to one decimal, round half up; None when ``b`` is 0."""
    if b == 0:
        return None
    return ((2000 * a + b) // (2 * b)) / 10


def build_summary(tenant_id: str, agent_id: int | str, acd_agent_id: str, date: str,
                  ds: int, de: int, parts: list[Part], acc: DayAcc) -> dict[str, Any]:
    scheduled = in_service = 0
    details = []
    for p in parts:
        s, e = max(p.start, ds), min(p.end, de)
        scheduled += e - s
        if p.category == IN_SERVICE:
            in_service += e - s
        d = acc.details.get(p.start)
        actuals = [] if d is None else [
            {
                "actualAgentState": RTAS_NAMES[r.state],
                "gisStateIdentifier": r.state,
                "actualAgentStateStartTime": r.start,
                "actualReasonCode": r.reason,
                "inAdherenceSeconds": seconds(r.in_ms),
                "outOfAdherenceSeconds": seconds(r.out_ms),
            }
            for r in d.runs
        ]
        details.append({
            "scheduledActivityType": p.activity_type,
            "scheduledActivityStartTime": s,
            "inAdherenceSeconds": seconds(d.in_ms) if d else 0,
            "outOfAdherenceSeconds": seconds(d.out_ms) if d else 0,
            "actuals": actuals,
        })
    return {
        "tenantId": tenant_id,
        "agentId": agent_id,
        "acdAgentId": acd_agent_id,
        "date": date,
        "scheduledSeconds": seconds(scheduled),
        "scheduledInServiceSeconds": seconds(in_service),
        "actualInServiceSeconds": seconds(acc.in_service_ms),
        "inAdherenceSeconds": seconds(acc.in_ms),
        "notInAdherenceSeconds": seconds(acc.out_ms),
        "neutralSeconds": seconds(acc.neutral_ms),
        "unscheduledSeconds": seconds(acc.unscheduled_ms),
        "scheduleAdherence": percent(acc.in_ms, acc.in_ms + acc.out_ms),
        "scheduleConformity": percent(acc.in_service_ms, in_service),
        "details": details,
    }


def agent_sort_key(agent_key: str) -> tuple[int, int, str]:
    """Numeric agent ids numerically, before the others (as strings)."""
    body = agent_key[1:] if agent_key.startswith("-") else agent_key
    if body.isascii() and body.isdigit():
        return (0, int(agent_key), agent_key)
    return (1, 0, agent_key)
