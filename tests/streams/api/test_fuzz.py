"""Malformed bodies: never a 500, never a lost valid batch, never part of a rejected
one. Also the body and batch size limits.

The API on a fake backend (``fake_service``, no broker) answers every fuzzed
request, and what its backend was given shows each answer true: a batch answered
200 was given whole, a refused one not at all. On a worker and a broker (marked
slow), one fuzzer checks the same end to end: every accepted batch is on the
state topic and no refused one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from streams.kafka import read_topic
from tests.support.fake_backend import FakeBackend, FakeService
from tests.support.http import KEYS, Http, Service

WORKER_ENV = {"RTA_API_MAX_BODY_BYTES": "20000", "RTA_API_MAX_BATCH_ITEMS": "20"}
NW = KEYS["northwind"]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ids = itertools.count()
STATE = "/api/rest/scheduling/gis/realTimeAgentState?acdServerId="
VALID = [{"acdAgentId": "fz-1", "gisStateIdentifier": 3, "timestamp": 1_790_000_000_000,
          "eventId": "fz-valid-1"},
         {"acdAgentId": "fz-2", "gisStateIdentifier": 1, "timestamp": 1_790_000_000_000,
          "eventId": "fz-valid-2"}]
HALF_VALID = [{**VALID[0], "eventId": "fz-half-1"}, {**VALID[1], "gisStateIdentifier": 99,
                                                     "eventId": "fz-half-2"}]


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
    event(f"HTTP {r.status}")  # (--hypothesis-show-statistics)
    assert r.status in (200, 400, 401, 413), (r.status, r.body[:300])
    body = r.json  # always JSON
    if r.status != 200:
        assert set(body["error"]) >= {"status", "code", "message"}
        assert body["error"]["status"] == r.status


def given_whole_or_not_at_all(backend: FakeBackend, before: tuple[int, int], r: Any) -> None:
    """A batch answered 200 reached the backend whole (as many items as accepted), a
    refused one not at all."""
    new = len(backend.states) - before[0] + len(backend.schedules) - before[1]
    assert new == (r.json["accepted"] if r.status == 200 else 0), (r.status, r.body[:300])


def written(backend: FakeBackend) -> tuple[int, int]:
    return len(backend.states), len(backend.schedules)


def post_state(api: Http, body: bytes, ctype: str, server: str) -> Any:
    return api.call("POST", STATE + quote(server), raw=body, key=NW,
                    headers={"Content-Type": ctype} if ctype else {})


servers = st.sampled_from(["1", "1", "2", "", " ", "ü", "1&x=2"])


@FUZZ
@given(body=bodies, ctype=content_types, server=servers)
@example(body=dumps(VALID), ctype="application/json", server="1")
@example(body=dumps(HALF_VALID), ctype="application/json", server="1")
def test_state_ingest_never_500_and_all_or_nothing(fake_service: FakeService, body: bytes,
                                                   ctype: str, server: str) -> None:
    backend = fake_service.backend
    before = written(backend)
    r = post_state(fake_service.api, body, ctype, server)
    check_answer(r)
    given_whole_or_not_at_all(backend, before, r)
    if r.status == 200:  # every item of the batch, in order, in the credential's tenant
        new = backend.states[before[0]:]
        assert [e.event_id for e in new] == [i["eventId"] for i in json.loads(body)]
        assert {e.tenant_id for e in new} <= {"northwind"}


@FUZZ
@given(body=st.one_of(json_values.map(dumps), st.binary(max_size=200),
                      st.lists(st.fixed_dictionaries({
                          "agentId": agents, "acdAgentId": agents,
                          "fromTimestamp": timestamps, "toTimestamp": timestamps,
                          "activities": st.lists(st.fixed_dictionaries({
                              "activityType": st.sampled_from(["IN_SERVICE", "BREAK", "", 7]),
                              "startTime": timestamps, "endTime": timestamps}), max_size=3)}),
                          max_size=3).map(dumps)))
def test_schedule_ingest_never_500(fake_service: FakeService, body: bytes) -> None:
    before = written(fake_service.backend)
    r = fake_service.api.call("POST", "/v1/schedules", raw=body, key=NW)
    check_answer(r)
    given_whole_or_not_at_all(fake_service.backend, before, r)
    if r.status == 200:  # every message of the batch
        sent = json.loads(body)
        assert r.json["accepted"] == (len(sent) if isinstance(sent, list) else 1)


@FUZZ
@given(body=st.one_of(json_values.map(dumps), st.binary(max_size=100)),
       query=st.sampled_from(["fromTime=0&toTime=1000", "fromTime=1&toTime=0", "", "fromTime=a",
                              "fromTime=1790000000000&toTime=1790000001000"]))
def test_queries_and_login_never_500(fake_service: FakeService, body: bytes, query: str
                                     ) -> None:
    api = fake_service.api
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
@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader",
                            "ignore::aiohttp.multipart.BadContentDispositionParam")
@given(body=multipart_bodies(), path=st.sampled_from([
    "/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1", "/api/rest/authorize"]),
    with_key=st.booleans())
@example(body=(b'--B\r\nContent-Disposition: form-data; name="data"\r\n\r\n' + dumps(VALID)
               + b"\r\n--B--\r\n", "multipart/form-data; boundary=B"),
         path="/api/rest/scheduling/gis/realTimeAgentState?acdServerId=1", with_key=True)
def test_multipart_bodies_never_500(fake_service: FakeService, body: tuple[bytes, str],
                                    path: str, with_key: bool) -> None:
    raw, ctype = body
    before = written(fake_service.backend)
    r = fake_service.api.call("POST", path, raw=raw, key=NW if with_key else None,
                              headers={"Content-Type": ctype})
    check_answer(r)
    if path.startswith("/api/rest/scheduling"):
        given_whole_or_not_at_all(fake_service.backend, before, r)


@pytest.mark.slow  # starts a broker and a worker
def test_every_accepted_batch_is_on_the_topic_and_no_refused_one(service: Service) -> None:
    accepted: set[str] = set()  # eventIds of batches answered 200
    refused: set[str] = set()  # eventIds of batches answered 4xx

    @settings(FUZZ, max_examples=60)
    @given(body=bodies, ctype=content_types, server=servers)
    @example(body=dumps(VALID), ctype="application/json", server="1")
    @example(body=dumps(HALF_VALID), ctype="application/json", server="1")
    def send(body: bytes, ctype: str, server: str) -> None:
        r = post_state(service.api, body, ctype, server)
        check_answer(r)
        (accepted if r.status == 200 else refused).update(event_ids(body))

    send()
    assert accepted and refused, "the fuzzer produced both outcomes"
    got = {orjson.loads(v).get("eventId") for _, v in asyncio.run(
        read_topic(service.broker.settings(), service.broker.topic("rta.agent-state")))
        if v is not None}
    assert accepted <= got
    assert not refused & got


def test_body_and_batch_limits(fake_service: FakeService) -> None:
    api, backend = fake_service.api, fake_service.backend
    before = written(backend)
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
    # only the batch of 20 reached the backend
    assert written(backend) == (before[0] + 20, before[1])
