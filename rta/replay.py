"""Offline replay of an event log through the same reducer the workers run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from rta.config import TenantsConfig
from rta.engine import Engine
from rta.models import InputError, parse_schedule, parse_state_event
from rta.outputs import Rejected


@dataclass
class ReplayResult:
    summaries: list[dict[str, Any]]
    rejected: list[tuple[int, str]] = field(default_factory=list)
    held: int = 0  # events of identities no schedule ever named
    held_identities: list[str] = field(default_factory=list)
    engine: Engine | None = None


def parse_record(record: Any) -> tuple[str, Any]:
    """Validate one event-log record: ``(kind, parsed message)``."""
    if not isinstance(record, Mapping):
        raise InputError([f"record must be a JSON object, got {type(record).__name__}"])
    kind = record.get("kind")
    if "body" not in record:
        raise InputError(["body: is required"])
    if kind == "state":
        return kind, parse_state_event(record["body"])
    if kind == "schedule":
        return kind, parse_schedule(record["body"])
    raise InputError([f"kind: must be 'state' or 'schedule', got {kind!r}"])


def replay_log(records: Iterable[Any], tenants: TenantsConfig | Mapping[str, Any] | None = None,
               default_time_zone: str = "UTC", as_of: int | None = None) -> ReplayResult:
    """Apply records in order; ``rejected`` holds ``(index, reason)`` of those not applied,
    ``index`` counting from 0."""
    if not isinstance(tenants, TenantsConfig):
        tenants = TenantsConfig.from_mapping(tenants, default_time_zone)
    return _replay(enumerate(records), tenants, as_of)


def replay_lines(lines: Iterable[bytes | str], tenants: TenantsConfig | None = None,
                 as_of: int | None = None) -> ReplayResult:
    """Like :func:`replay_log`, over JSON Lines; ``rejected`` carries 1-based line numbers."""
    return _replay(read_lines(lines), tenants or TenantsConfig(), as_of)


def _replay(numbered: Iterable[tuple[int, Any]], tenants: TenantsConfig,
            as_of: int | None) -> ReplayResult:
    engine = Engine(tenants)
    rejected: list[tuple[int, str]] = []
    for n, record in numbered:
        try:
            if isinstance(record, InputError):
                raise record
            kind, msg = parse_record(record)
        except InputError as exc:
            rejected.append((n, str(exc)))
            continue
        outs = engine.apply_state(msg) if kind == "state" else engine.apply_schedule(msg)
        rejected.extend((n, o.reason) for o in outs if isinstance(o, Rejected))
    return ReplayResult(engine.summaries(as_of), rejected, engine.held_count(),
                        engine.held_identities(), engine)


def read_lines(lines: Iterable[bytes | str]) -> Iterable[tuple[int, Any]]:
    """``(line number, parsed JSON or InputError)`` for each non-blank line."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield n, InputError([f"not valid JSON ({exc.msg} at column {exc.colno})"])
