"""Malformed bodies against the running service: never a 500, never a lost valid
batch, never part of a rejected one. Also the body and batch size limits."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.kafka import read_topic
from tests.support.http import KEYS, Service

pytestmark = pytest.mark.slow  # starts a broker, workers or PostgreSQL

WORKER_ENV = {"RTA_API_MAX_BODY_BYTES": "20000", "RTA_API_MAX_BATCH_ITEMS": "20"}
NW = KEYS["northwind"]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ids = itertools.count()
accepted: set[str] = set()  # eventIds of batches answered 200
refused: set[str] = set()  # eventIds of batches answered 4xx

def dumps(value: Any) -> bytes:
    """Any value as JSON text (big integers and infinities too: the server must cope)."""
    return json.dumps(value).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                               max_size=5),
    max_leaves=20)
state_ids = st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "3", "10", "0", "11", -1, "x",
                             None, True, 3.5])
timestamps = st.one_of(st.integers(1_700_000_000_000, 1_790_000_000_000),
                       st.sampled_from([-1, 0, "1790000000000", None, 2**63, 1.5e12]))
reasons = st.one_of(st.none(), st.integers(-5, 70_000), st.text(max_size=8), st.booleans())
agents = st.one_of(st.sampled_from(["fz-1", "fz-2", 1234]), st.text(max_size=6), st.none())


@st.composite
def state_items(draw: Any) -> Any:
    """Mostly state-item shaped objects, some valid, some broken in one or more fields."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    item: dict[str, Any] = {"acdAgentId": draw(agents), "gisStateIdentifier": draw(state_ids),
                            "timestamp": draw(timestamps)}
    if draw(st.booleans()):
        item["reasonCode"] = draw(reasons)
    for k in draw(st.sets(st.sampled_from(list(item)), max_size=1)):
        del item[k]
    item["eventId"] = f"fz-{next(ids)}"
    return item


valid_items = st.builds(
    lambda agent, state, ts, reason: {"acdAgentId": agent, "gisStateIdentifier": state,
                                      "timestamp": ts, "reasonCode": reason,
                                      "eventId": f"fz-{next(ids)}"},
    st.sampled_from(["fz-1", "fz-2", "1234"]), st.integers(1, 10),
    st.integers(1_700_000_000_000, 1_790_000_000_000), st.none() | st.integers(1, 65535))
bodies = st.one_of(
    st.lists(valid_items, min_size=1, max_size=5).map(dumps),
    st.lists(state_items(), max_size=25).map(dumps),
    json_values.map(dumps),
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
)
content_types = st.sampled_from(["application/json", "text/plain", "multipart/form-data",
                                 "multipart/form-data; boundary=x", "application/x-www-form-"
                                 "urlencoded", ""])


def event_ids(raw: bytes) -> set[str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return set()
    if not isinstance(body, list):
        return set()
    return {i["eventId"] for i in body if isinstance(i, dict) and isinstance(i.get("eventId"),
                                                                            str)}


def check_answer(r: Any) -> None:
    assert r.status in (200, 400, 401, 413), (r.status, r.body[:300])
    body = r.json  # always JSON
    if r.status != 200:
        assert set(body["error"]) >= {"status", "code", "message"}
        assert body["error"]["status"] == r.status


@FUZZ
@given(body=bodies, ctype=content_types,
       server=st.sampled_from(["1", "1", "2", "", " ", "ü", "1&x=2"]))
def test_state_ingest_never_500_and_all_or_nothing(service: Service, body: bytes, ctype: str,
                                                   server: str) -> None:
    from urllib.parse import quote

    r = service.api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState?acdServerId="
                                 + quote(server), raw=body, key=NW,
                         headers={"Content-Type": ctype} if ctype else {})
    check_answer(r)
    (accepted if r.status == 200 else refused).update(event_ids(body))


@FUZZ
@given(body=st.one_of(json_values.map(dumps), st.binary(max_size=200),
                      st.lists(st.fixed_dictionaries({
                          "agentId": agents, "acdAgentId": agents,
                          "fromTimestamp": timestamps, "toTimestamp": timestamps,
                          "activities": st.lists(st.fixed_dictionaries({
                              "activityType": st.sampled_from(["IN_SERVICE", "BREAK", "", 7]),
                              "startTime": timestamps, "endTime": timestamps}), max_size=3)}),
                          max_size=3).map(dumps)))
def test_schedule_ingest_never_500(service: Service, body: bytes) -> None:
    check_answer(service.api.call("POST", "/v1/schedules", raw=body, key=NW))


@FUZZ
@given(body=st.one_of(json_values.map(dumps), st.binary(max_size=100)),
       query=st.sampled_from(["fromTime=0&toTime=1000", "fromTime=1&toTime=0", "", "fromTime=a",
                              "fromTime=1790000000000&toTime=1790000001000"]))
def test_queries_and_login_never_500(service: Service, body: bytes, query: str) -> None:
    api = service.api
    check_answer(api.call("POST", f"/api/rest/scheduling/realTime/activity/detail?{query}",
                          raw=body, key=NW))
    r = api.call("POST", "/api/rest/authorize", raw=body)
    check_answer(r)
    assert r.status != 200


header_values = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"),
                        max_size=40)
part_names = st.sampled_from(["data", "file", "userId", "password", "locale", "tenantId", "",
                              'a"b', "x" * 300])


@st.composite
def multipart_bodies(draw: Any) -> tuple[bytes, str]:
    """Well-formed multipart framing around random parts, headers and contents."""
    boundary = draw(st.sampled_from(["B", "----x1", "a" * 70]))
    out = b""
    for _ in range(draw(st.integers(0, 4))):
        disposition = draw(st.sampled_from([
            'form-data; name="{}"', "form-data; name={}", "form-data", "attachment; name={}",
            'form-data; name="{}"; filename="x.json"', 'form-data; name*=UTF-8\'\'{}']))
        headers = [f"Content-Disposition: {disposition.format(draw(part_names))}"]
        for name in draw(st.lists(st.sampled_from([
                "Content-Type", "Content-Transfer-Encoding", "Content-Encoding", "X-Long"]),
                max_size=3, unique=True)):
            value = draw(st.one_of(header_values, st.sampled_from(
                ["base64", "quoted-printable", "gzip", "deflate", "binary", "8bit", "foo",
                 "application/json; charset=latin-1", "text/plain; charset=nope",
                 "y" * 9000])))
            headers.append(f"{name}: {value}")
        content = draw(st.one_of(st.lists(valid_items, max_size=3).map(dumps),
                                 st.binary(max_size=100), json_values.map(dumps)))
        out += (f"--{boundary}\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode(
            "latin-1") + content + b"\r\n"
    if draw(st.booleans()):
        out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


@FUZZ
@given(body=multipart_bodies(), path=st.sampled_from([
    "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1", "/api/rest/authorize"]),
    with_key=st.booleans())
def test_multipart_bodies_never_500(service: Service, body: tuple[bytes, str], path: str,
                                    with_key: bool) -> None:
    raw, ctype = body
    r = service.api.call("POST", path, raw=raw, key=NW if with_key else None,
                         headers={"Content-Type": ctype})
    check_answer(r)


def test_every_accepted_batch_is_on_the_topic_and_no_refused_one(service: Service) -> None:
    # runs after the fuzzers above (file order)
    assert accepted and refused, "the fuzzers produced both outcomes"
    got = {orjson.loads(v).get("eventId") for _, v in asyncio.run(
        read_topic(service.broker.settings(), service.broker.topic("rta.agent-state")))}
    assert accepted <= got
    assert not refused & got


def test_body_and_batch_limits(service: Service) -> None:
    api = service.api
    item = {"acdAgentId": "lim", "gisStateIdentifier": 3, "timestamp": 1_790_000_000_000}
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", [item] * 21, key=NW)
    assert r.status == 413 and r.json["error"]["code"] == "batch_too_large"
    assert "20" in r.json["error"]["message"]
    assert api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", [item] * 20,
                    key=NW).status == 200
    big = orjson.dumps([{**item, "reasonCode": "x" * 2000}] * 12)  # > 20,000 bytes
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", raw=big, key=NW)
    assert r.status == 413 and r.json["error"]["code"] == "body_too_large"
    r = api.call("POST", "/v1/schedules", raw=big, key=NW)
    assert r.status == 413
    boundary = "b0undary"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n"
                 ).encode() + big + f"\r\n--{boundary}--\r\n".encode()
    r = api.call("POST", "/api/rest/scheduling/gis/realTimeAgentState", raw=multipart, key=NW,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 413
    many = {"agentIds": list(range(21))}
    r = api.call("POST", "/api/rest/scheduling/realTime/activity/detail?fromTime=0&toTime=1",
                 many, key=NW)
    assert r.status == 413
