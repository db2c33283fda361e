"""Day summaries in the Webex Adherence and Conformance shape."""

from __future__ import annotations

from typing import Any

from rta.accounting import DayAcc, seconds
from rta.rules import IN_SERVICE
from rta.schedule import Part


def percent(a: int, b: int) -> float | None:
    """``100 * a / b`` to one decimal, round half up; None when ``b`` is 0."""
    if b == 0:
        return None
    return ((2000 * a + b) // (2 * b)) / 10


def build_summary(tenant_id: str, agent_id: int | str, acd_agent_id: str, date: str,
                  ds: int, de: int, parts: list[Part], acc: DayAcc,
                  overlay: DayAcc | None = None) -> dict[str, Any]:
    """The summary of one day: ``acc`` (accounted runs) plus ``overlay`` (the rest)."""
    scheduled = in_service = 0
    details = []
    extra = overlay.details if overlay is not None else {}
    for p in parts:
        s, e = max(p.start, ds), min(p.end, de)
        scheduled += e - s
        if p.category == IN_SERVICE:
            in_service += e - s
        d, d2 = acc.details.get(p.start), extra.get(p.start)
        in_ms = (d.in_ms if d else 0) + (d2.in_ms if d2 else 0)
        out_ms = (d.out_ms if d else 0) + (d2.out_ms if d2 else 0)
        actuals = list(d.actuals) if d else []
        if d2:
            actuals += d2.actuals
        details.append({
            "scheduledActivityType": p.activity_type,
            "scheduledActivityStartTime": s,
            "inAdherenceSeconds": seconds(in_ms),
            "outOfAdherenceSeconds": seconds(out_ms),
            "actuals": actuals,
        })
    t = acc if overlay is None else merged_totals(acc, overlay)
    return {
        "tenantId": tenant_id,
        "agentId": agent_id,
        "acdAgentId": acd_agent_id,
        "date": date,
        "scheduledSeconds": seconds(scheduled),
        "scheduledInServiceSeconds": seconds(in_service),
        "actualInServiceSeconds": seconds(t.in_service_ms),
        "inAdherenceSeconds": seconds(t.in_ms),
        "notInAdherenceSeconds": seconds(t.out_ms),
        "neutralSeconds": seconds(t.neutral_ms),
        "unscheduledSeconds": seconds(t.unscheduled_ms),
        "scheduleAdherence": percent(t.in_ms, t.in_ms + t.out_ms),
        "scheduleConformity": percent(t.in_service_ms, in_service),
        "details": details,
    }


def merged_totals(a: DayAcc, b: DayAcc) -> DayAcc:
    """Day totals of two spans (details left out)."""
    t = DayAcc()
    t.in_ms = a.in_ms + b.in_ms
    t.out_ms = a.out_ms + b.out_ms
    t.neutral_ms = a.neutral_ms + b.neutral_ms
    t.unscheduled_ms = a.unscheduled_ms + b.unscheduled_ms
    t.in_service_ms = a.in_service_ms + b.in_service_ms
    t.logged_in_ms = a.logged_in_ms + b.logged_in_ms
    return t


def agent_sort_key(agent_key: str) -> tuple[int, int, str]:
    """Numeric agent ids numerically, before the others (as strings)."""
    body = agent_key[1:] if agent_key.startswith("-") else agent_key
    if body.isascii() and body.isdigit() and len(body) <= 1000:  # int() caps digits
        return (0, int(agent_key), agent_key)
    return (1, 0, agent_key)
