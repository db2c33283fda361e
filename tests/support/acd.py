"""Driving an ACD connector's source in a test: configs for the fakes, a poll loop."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.acd.config import ConnectorConfig
from streams.acd.connector import Source, make_source
from streams.acd.step import Step

CCAI_TOKEN = "ccai-secret-token"
T0 = 1772884800000  # 2026-03-07T12:00:00Z
OMNI_KEY, OMNI_LOGIN, OMNI_PASSWORD = "omni-key", "rta@acme.example", "omni-pw"


def _override(sections: dict[str, Any], over: dict[str, Any]) -> None:
    """``section__key=value`` sets one key of a section; ``section=value`` the whole."""
    for key, value in over.items():
        section, _, name = key.partition("__")
        if name:
            sections.setdefault(section, {})[name] = value
        else:
            sections[section] = value


def ccai_config(url: str, **over: Any) -> ConnectorConfig:
    sections: dict[str, Any] = {
        "connector": {"tenant": "northwind", "acd_server_id": "ccai", "base_url": url,
                      "poll_seconds": 0.05, "rate_limit_per_second": 50.0,
                      "start_from": "2026-03-07T00:00:00Z", "retry_max_seconds": 0.2},
        "ccai": {"subdomain": "acme", "reconcile": False},
    }
    _override(sections, over)
    return ConnectorConfig.from_mapping("ccai", sections, "<test>",
                                        env={"RTA_CCAI_TOKEN": CCAI_TOKEN})


def omni_config(url: str, **over: Any) -> ConnectorConfig:
    sections: dict[str, Any] = {
        "connector": {"tenant": "northwind", "acd_server_id": "omni", "base_url": url,
                      "poll_seconds": 0.05, "rate_limit_per_second": 50.0,
                      "start_from": "2026-03-07 00:00:00", "retry_max_seconds": 0.2},
        "omni": {"organization": "org-1", "login": OMNI_LOGIN, "dashboard": False,
                 "time_zone": "America/Sao_Paulo", "history_poll_seconds": 0.01},
    }
    _override(sections, over)
    return ConnectorConfig.from_mapping(
        "omni", sections, "<test>",
        env={"RTA_OMNI_API_KEY": OMNI_KEY, "RTA_OMNI_PASSWORD": OMNI_PASSWORD})


class Driver:
    """A source polled as the connector polls it, with every step 'published' here
    (events, dead letters) and committed."""

    def __init__(self, config: ConnectorConfig, clock: Any = None,
                 state: dict[str, Any] | None = None) -> None:
        self.source: Source = make_source(config, clock) if clock else make_source(config)
        self.source.restore(state)
        self.events: list[dict[str, Any]] = []
        self.dead: list[tuple[Any, str]] = []
        self.steps: list[Step] = []
        self.state = state

    async def poll(self) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        async for step in self.source.poll():
            self.steps.append(step)
            new.extend(step.events)
            self.dead.extend(step.dead)
            if step.state is not None:
                self.state = step.state
                self.source.committed(step.state)
        self.events.extend(new)
        return new

    def run(self, polls: int = 1) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            out = []
            try:
                for _ in range(polls):
                    out.extend(await self.poll())
            finally:
                await self.source.close()
            return out

        return asyncio.run(go())


def canonical(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Events as (identity, timestamp, state, reason), eventIds aside, in order."""
    return sorted((e["acdServerId"], e["acdAgentId"], e["timestamp"], e["gisStateIdentifier"],
                   e["reasonCode"]) for e in events)


def effective(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Per identity, the state from each instant on (the spec's tie rule: the greatest
    (eventId, state, reason) of an instant), consecutive repeats dropped: what the
    engine makes of the events, whatever their ids."""
    by: dict[tuple[str, str], dict[int, tuple[str, int, str, Any]]] = {}
    for e in events:
        ident = (e["acdServerId"], e["acdAgentId"])
        reason = e["reasonCode"]
        key = (e.get("eventId") or "", e["gisStateIdentifier"],
               "" if reason is None else str(reason), reason)
        at = by.setdefault(ident, {})
        if e["timestamp"] not in at or key[:3] > at[e["timestamp"]][:3]:
            at[e["timestamp"]] = key
    out = []
    for ident, at in sorted(by.items()):
        last = None
        for ts in sorted(at):
            _, state, _, reason = at[ts]
            if (state, reason) != last:
                out.append((*ident, ts, state, reason))
                last = (state, reason)
    return out


def ccai_record(agent: int, at: int, wfm: int, activity: str = "user_status_changed",
                **more: Any) -> dict[str, Any]:
    """A CCAI activity log record (the seed's model) of one of the seed's statuses."""
    from streams.local.fake_ccai import DEFAULT_STATUSES, format_time

    status = next(dict(s) for s in DEFAULT_STATUSES if s["wfm_id"] == wfm)
    return {"agent_id": agent, "whodunnit": None, "status": status,
            "started_at": format_time(at), "ended_at": None, "duration": 0,
            "activity": activity, "call_id": None, "chat_id": None, **more}
