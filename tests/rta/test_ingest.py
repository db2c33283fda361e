"""All-or-nothing validation of HTTP ingest batches."""

from __future__ import annotations

import pytest

from rta.config import TenantSettings
from rta.ingest import BatchError, validate_schedules, validate_states

NOW = 1_790_000_000_000
S = TenantSettings()


def item(**kw: object) -> dict[str, object]:
    return {"acdAgentId": "42", "gisStateIdentifier": "4", "timestamp": NOW, **kw}


def test_states_take_tenant_and_server_from_the_request() -> None:
    [ev] = validate_states([item(reasonCode=5, eventId="e1")], "nw", "2", S, NOW, 10)
    assert (ev.tenant_id, ev.acd_server_id, ev.acd_agent_id, ev.state, ev.reason,
            ev.event_id) == ("nw", "2", "42", 4, 5, "e1")
    # naming them is allowed when they agree
    assert validate_states([item(tenantId="nw", acdServerId="2")], "nw", "2", S, NOW, 10)


def test_every_bad_item_is_named_and_nothing_is_returned() -> None:
    body = [item(), item(tenantId="other"), item(acdServerId="9"), 7,
            item(gisStateIdentifier="12", timestamp="x"), item(timestamp=NOW + 301_000)]
    with pytest.raises(BatchError) as err:
        validate_states(body, "nw", "1", S, NOW, 10)
    e = err.value
    assert not e.too_large
    assert [p.index for p in e.items] == [1, 2, 3, 4, 5]
    assert "5 of 6" in e.message
    by = {p.index: " ".join(p.errors) for p in e.items}
    assert "not the tenant of the credential" in by[1]
    assert "differs from the acdServerId query parameter" in by[2]
    assert "must be a JSON object" in by[3]
    assert "gisStateIdentifier" in by[4] and "timestamp" in by[4]
    assert "ahead of the worker clock" in by[5]


def test_batch_shape_and_size() -> None:
    for body in ({"acdAgentId": "1"}, "x", None):
        with pytest.raises(BatchError, match="must be a JSON array"):
            validate_states(body, "nw", "1", S, NOW, 10)
    with pytest.raises(BatchError) as err:
        validate_states([item()] * 11, "nw", "1", S, NOW, 10)
    assert err.value.too_large
    assert validate_states([], "nw", "1", S, NOW, 10) == []


def test_schedules_one_or_many() -> None:
    msg = {"agentId": 7, "acdAgentId": "42", "fromTimestamp": 0, "toTimestamp": 10,
           "activities": []}
    [one] = validate_schedules(msg, "nw", 5)
    assert (one.tenant_id, one.agent_id) == ("nw", 7)
    assert len(validate_schedules([msg, {**msg, "agentId": 8}], "nw", 5)) == 2
    with pytest.raises(BatchError) as err:
        validate_schedules([msg, {**msg, "toTimestamp": 0}, {**msg, "tenantId": "x"}], "nw", 5)
    assert [p.index for p in err.value.items] == [1, 2]
    with pytest.raises(BatchError) as err:
        validate_schedules([msg] * 6, "nw", 5)
    assert err.value.too_large
    with pytest.raises(BatchError, match="schedule message"):
        validate_schedules("x", "nw", 5)
