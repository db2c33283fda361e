"""Schemathesis hooks: what the data it generates must respect beyond the OpenAPI document.

The document (``streams/api/openapi.py``) states every rule a schema can; a few relate
two values or the server clock, and are in its descriptions only:

- ``realTimeAgentState``: an item's ``timestamp`` at most the tenant's future tolerance
  ahead of the server clock;
- ``/v1/schedules``: ``fromTimestamp`` before ``toTimestamp``, each activity's
  ``startTime`` before its ``endTime``;
- ``realTime/activity/detail``: ``fromTime`` before ``toTime``, at most 31 days apart;
- integers are written as integers: JSON Schema counts ``3.0`` as an integer, the
  server refuses it where an integer belongs.

``map_case`` brings the cases schemathesis generates as valid (positive) inside those
rules, and leaves negative cases alone; so positive_data_acceptance asks the server to
accept what the document and its descriptions allow. It also keeps the times of valid
states and schedules within two days of now (windows of at most a day): the API accepts
any time from 1970 to the year 10000, but one identity's events decades apart, or a
schedule spanning centuries, make the engine compute years of day summaries at once
(seconds of a blocked worker, answered 503), which is the engine's cost, not the HTTP
contract under test.

``filter_case`` works around schemathesis 4.32.5: for an optional request body it may
draw a "negative" case whose only negative part is the body, left out; that request is
valid (``realTime/activity/detail`` without a body asks for every agent), so it is
dropped rather than sent as invalid data.

Loaded through ``tests/support/schemathesis.toml`` and ``schemathesis-session.toml``
(``hooks``), by the command line and by ``tests/streams/api/test_contract.py`` alike.
"""

from __future__ import annotations

import time
from typing import Any

import schemathesis
from schemathesis import Case, HookContext
from schemathesis.core import NOT_SET

from rta.models import MAX_TIMESTAMP
from rta.queries import MAX_RANGE_MS

MAX_MS = MAX_TIMESTAMP - 1
DAY = 86_400_000
STATES = "/api/rest/scheduling/gis/realTimeAgentState"
SCHEDULES = "/v1/schedules"
DETAIL = "/api/rest/scheduling/realTime/activity/detail"


def _as_int(v: Any) -> int | None:
    """An integer value as generated: an int, or a query string of digits."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and v.isascii() and v.isdigit():
        return int(v)
    return None


def _is_ms(v: Any) -> bool:
    n = _as_int(v)
    return n is not None and 0 <= n <= MAX_MS


def whole(value: Any) -> Any:
    """``value`` with every whole float (3.0) written as an integer (3): JSON Schema counts
    3.0 as an integer, the server reads integers as written and refuses 3.0 (the
    document's descriptions say so)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [whole(v) for v in value]
    if isinstance(value, dict):
        return {k: whole(v) for k, v in value.items()}
    return value


def _has_whole_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, list):
        return any(_has_whole_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_whole_float(v) for v in value.values())
    return False


def _near(v: int, now: int) -> int:
    """``v`` moved to within two days of ``now``."""
    return now - 2 * DAY + v % (4 * DAY)


def _fix_window(obj: Any, start: str, end: str, now: int) -> None:
    """A window near now, its end after its start and at most a day later."""
    if isinstance(obj, dict) and _is_ms(obj.get(start)) and _is_ms(obj.get(end)):
        a = _near(obj[start], now)
        obj[start], obj[end] = a, a + 1 + obj[end] % DAY


def _fix_schedule(message: Any, now: int) -> None:
    _fix_window(message, "fromTimestamp", "toTimestamp", now)
    if isinstance(message, dict) and isinstance(message.get("activities"), list):
        for activity in message["activities"]:
            _fix_window(activity, "startTime", "endTime", now)


def _fix_states(items: Any, now: int) -> None:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and _is_ms(item.get("timestamp")):
            item["timestamp"] = now - item["timestamp"] % (2 * DAY)  # not ahead of the clock


def _fix_range(query: dict[str, Any]) -> None:
    a, b = _as_int(query.get("fromTime")), _as_int(query.get("toTime"))
    if a is None or b is None or not (_is_ms(a) and _is_ms(b)) or 0 < b - a <= MAX_RANGE_MS:
        return
    a = min(a, MAX_MS - 1)
    b = min(MAX_MS, a + 1 + b % MAX_RANGE_MS)
    as_text = isinstance(query["fromTime"], str)
    query["fromTime"], query["toTime"] = (str(a), str(b)) if as_text else (a, b)


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    # (assigned only when something changes: an assigned part is validated again, and
    # schemathesis 4.32.5 then takes a left-out optional body for an invalid one)
    if isinstance(case.query, dict) and _has_whole_float(case.query):
        case.query = whole(case.query)
    if isinstance(case.body, list | dict) and _has_whole_float(case.body):
        case.body = whole(case.body)
    if case.method != "POST":
        return case
    now = int(time.time() * 1000)
    if case.path == STATES:
        body = case.body
        _fix_states(body.get("states") if isinstance(body, dict) else body, now)
    elif case.path == SCHEDULES:
        for message in case.body if isinstance(case.body, list) else [case.body]:
            _fix_schedule(message, now)
    elif case.path == DETAIL and isinstance(case.query, dict):
        _fix_range(case.query)
    return case


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative or case.body is not NOT_SET:
        return True
    negated = [location for location, info in meta.components.items()
               if info.mode.is_negative]
    return [str(location.value) for location in negated] != ["body"]
