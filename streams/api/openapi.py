"""The OpenAPI 3.1 document of the HTTP API (served at ``GET /openapi.json``).

It states every rule the server enforces that OpenAPI can say (types, enums,
bounds, patterns, required fields, array limits); rules that relate two values
or depend on the request's credential or the server clock (``toTime`` after
``fromTime``, the 31-day range, an item's ``tenantId``, the future tolerance of
timestamps) are in the descriptions. ``tests/streams/api/test_contract.py`` runs
schemathesis against a worker with this document, and checks that every route
the server registers is in it or in ``INTERNAL_ROUTES``.
"""

from __future__ import annotations

from typing import Any

from rta.identifiers import SPELLINGS, VALID_KINDS
from rta.models import MAX_CHAT_COUNT, MAX_TIMESTAMP
from rta.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_RANGE_MS

# worker to worker only (signed with the cluster secret): not in the public document
INTERNAL_ROUTES = frozenset({("POST", "/internal/v1/activity")})
# the monitor page and what it reads: the page's own (docs/MONITOR.md), not the
# Webex-compatible API this document describes (an event stream never ends: no tool
# could check it against a schema)
MONITOR_ROUTES = frozenset({
    ("GET", "/"), ("GET", "/monitor"), ("GET", "/monitor/static/{name}"),
    ("POST", "/monitor/v1/signin"), ("POST", "/monitor/v1/signout"),
    ("GET", "/monitor/v1/snapshot"), ("GET", "/monitor/v1/events"),
    ("GET", "/monitor/v1/agents/{agentId}/timeline")})

# what str.strip() removes: the characters Python counts as white space, spelled out so
# that every regular expression engine reads the class alike (ECMA's \s differs from it)
_SPACE = ("\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
          "\\u205f\\u3000")
NOT_BLANK = f"[^{_SPACE}]"  # somewhere a character that is not white space
# JSON integers the server reads exactly (orjson reads larger ones as floats)
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 64 - 1
MAX_MS = MAX_TIMESTAMP - 1



def _spelled(word: str, gaps: str) -> str:
    """``word`` in any case of its ASCII letters, ``gaps`` around each letter."""
    return gaps + "".join(f"[{c.upper()}{c.lower()}]{gaps}" for c in word)


# acdIdentifierKind as the server reads it (rta/identifiers.py): trimmed, a kind's
# spelling in any case with spaces, '_' and '-' anywhere; blank (or null): no kind
_TRIM = f"[{_SPACE}]*"
_KIND_GAPS = "[ _\\-]*"
KIND_PATTERN = (f"^{_TRIM}(?:(?:" + "|".join(_spelled(w, _KIND_GAPS) for w in SPELLINGS)
                + f"){_TRIM})?$")
PHONE_KIND_PATTERN = f"^{_TRIM}{_spelled('phone', _KIND_GAPS)}{_TRIM}$"
# an acdAgentId of kind Phone: trimmed, digits, optionally after a leading '+', with
# spaces, '-', '.', '(' or ')' anywhere
_PHONE_GAPS = "[ .()\\-]*"
PHONE_PATTERN = f"^{_TRIM}(?:{_PHONE_GAPS}\\+)?{_PHONE_GAPS}[0-9][0-9 .()\\-]*{_TRIM}$"

_ERR = {"$ref": "#/components/responses/Error"}
_SECURED: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}, {"session": []}]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    named = {401: "Unauthorized", 503: "Unavailable"}
    return {str(c): {"$ref": f"#/components/responses/{named[c]}"} if c in named else _ERR
            for c in codes}


def _obj(required: list[str], properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **more}


def openapi_document(max_body_bytes: int, max_batch_items: int) -> dict[str, Any]:
    ms = {"type": "integer", "minimum": 0, "maximum": MAX_MS,
          "description": "epoch milliseconds, before the year 10000"}
    integer = {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX,
               "description": "written as an integer (3, not 3.0)"}
    text = {"type": "string", "pattern": NOT_BLANK}
    ident = {"oneOf": [text, integer], "description": "a string that is not blank (it is "
             "trimmed) or an integer (read as its decimal string)"}
    count = {"type": "integer", "minimum": 0}
    anything = {"description": "not interpreted; kept as sent"}
    ignored = {"description": "accepted and ignored (Webex: a string)"}
    limits = (f"A body over {max_body_bytes} bytes is a 413 (body_too_large), more than "
              f"{max_batch_items} items a 413 (batch_too_large), an item over the broker's "
              "message limit a bad item (400).")

    kind = {"oneOf": [{"type": "null"}, {"type": "string", "pattern": KIND_PATTERN}],
            "description": "how acdAgentId names the agent (inContact's AgentIdentifier): "
            f"{VALID_KINDS} (also \"Agent ID\", \"Id\"; any case, with spaces, '_' or "
            "'-' anywhere). Absent, null or blank: a plain acdAgentId, as written. With a "
            "kind the identity is the canonical acdAgentId: Phone \"(46) 78\" is "
            "\"phone:4678\" (the value must be digits, optionally after a '+', with "
            "spaces, '-', '.', '(' or ')'), Username \"Ann@X.com\" is "
            "\"username:ann@x.com\" (likewise crmusername:, systemusername:), AgentId is "
            "the value as written; answers show that canonical acdAgentId"}
    # a Phone's acdAgentId is a phone number (or an integer)
    phone_value: dict[str, Any] = {
        "if": {"required": ["acdIdentifierKind"], "properties": {
            "acdIdentifierKind": {"type": "string", "pattern": PHONE_KIND_PATTERN}}},
        "then": {"properties": {"acdAgentId": {"oneOf": [
            {"type": "string", "pattern": PHONE_PATTERN}, integer]}}}}
    state_item = _obj(["acdAgentId", "gisStateIdentifier", "timestamp"], {
        "acdAgentId": ident,
        "acdIdentifierKind": kind,
        "gisStateIdentifier": {
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": 10},
                      {"type": "string", "pattern": "^0*([1-9]|10)$"}],
            "description": "1 logout, 2 not ready, 3 ready, 4 talking, 5 work not ready, "
                           "6 work ready, 7 busy other, 8 reserved, 9 unknown, 10 hold "
                           "(a number or a string of digits)"},
        "timestamp": {**ms, "description": "epoch milliseconds, before the year 10000, and "
                      "at most the tenant's future tolerance (future_tolerance_seconds, "
                      "300 s by default) ahead of the server clock: a later one is a bad "
                      "item"},
        "reasonCode": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 65535},
                                 {"type": "string"}, {"type": "null"}],
                       "description": "1-65535, a text, or null (a blank text is null)"},
        "eventId": {"oneOf": [{"type": "string"}, integer, {"type": "null"}],
                    "description": "unique per event: makes retries and duplicates "
                                   "harmless (blank: none)"},
        "tenantId": {"type": "null", "description": "leave it out: the tenant is the "
                     "credential's. The credential's own tenant id is accepted too; any "
                     "other value is a bad item"},
        "acdServerId": {"type": "null", "description": "leave it out: it is the "
                        "acdServerId query parameter. That same value (trimmed) is "
                        "accepted too; any other is a bad item"},
        "chatCapacity": {"type": ["integer", "null"], "minimum": 0,
                         "maximum": MAX_CHAT_COUNT,
                         "description": "the agent's maximum of concurrent chats on this "
                         "identity (an ACD with chats, e.g. Omni), if known; for the live "
                         "status only (an integer, not 3.0)"},
        "chatsInProgress": {"type": ["integer", "null"], "minimum": 0,
                            "maximum": MAX_CHAT_COUNT,
                            "description": "the chats (attendances) open on this identity "
                            "at the event's time; for the live status only (an integer, "
                            "not 3.0)"},
    }, description="A Webex realTimeAgentState item (other fields are ignored)", **phone_value)
    states = {"type": "array", "maxItems": max_batch_items,
              "items": {"$ref": "#/components/schemas/StateItem"}}

    activity = _obj(["activityType", "startTime", "endTime"], {
        "activityType": ident, "startTime": ms,
        "endTime": {**ms, "description": "epoch milliseconds, after startTime"},
        "activityTypeLabel": anything, "activityDetailName": anything,
        "serviceQueueId": anything,
    }, description="other fields are kept as sent")
    schedule = _obj(["agentId", "acdAgentId", "fromTimestamp", "toTimestamp", "activities"], {
        "tenantId": {"type": "null", "description": "leave it out: the tenant is the "
                     "credential's. The credential's own tenant id is accepted too; any "
                     "other value is a bad item"},
        "agentId": ident,
        "employeeId": {"oneOf": [{"type": "string"}, integer, {"type": "null"}]},
        "acdServerId": {**ident, "description": "default \"1\""},
        "acdAgentId": ident,
        "acdIdentifierKind": kind,
        "acdIdentities": {"oneOf": [{"type": "null"}, {"type": "array", "items": _obj(
            ["acdAgentId"], {"acdServerId": {**ident, "description": "default \"1\""},
                             "acdAgentId": ident, "acdIdentifierKind": kind},
            **phone_value)}],
            "description": "more ACD identities of the agent"},
        "agentTimeZone": {"description": "informational: adherence days are in the "
                          "tenant's time zone; kept as sent"},
        "fromTimestamp": ms,
        "toTimestamp": {**ms, "description": "epoch milliseconds, after fromTimestamp"},
        "activities": {"type": "array", "items": activity},
    }, description="A Webex Schedule-for-Timespan agent entry and its window; other fields "
                   "are kept as sent", **phone_value)

    actual = _obj(["actualAgentState", "gisStateIdentifier", "actualAgentStateStartTime",
                   "actualReasonCode", "inAdherenceSeconds", "outOfAdherenceSeconds"], {
        "actualAgentState": {"$ref": "#/components/schemas/AgentState"},
        "gisStateIdentifier": {"type": "integer", "minimum": 1, "maximum": 10},
        "actualAgentStateStartTime": ms,
        "actualReasonCode": {"type": ["integer", "string", "null"],
                             "description": "as the state event gave it"},
        "inAdherenceSeconds": count, "outOfAdherenceSeconds": count})
    detail = _obj(["scheduledActivityType", "scheduledActivityStartTime",
                   "inAdherenceSeconds", "outOfAdherenceSeconds", "actuals"], {
        "scheduledActivityType": {"type": "string"}, "scheduledActivityStartTime": ms,
        "inAdherenceSeconds": count, "outOfAdherenceSeconds": count,
        "actuals": {"type": "array", "items": actual}})
    percent = {"type": ["number", "null"], "minimum": 0, "maximum": 100,
               "description": "percent to one decimal; null when there is nothing to divide by"}
    summary = _obj(["tenantId", "agentId", "acdAgentId", "date", "scheduledSeconds",
                    "scheduledInServiceSeconds", "actualInServiceSeconds",
                    "inAdherenceSeconds", "notInAdherenceSeconds", "neutralSeconds",
                    "unscheduledSeconds", "scheduleAdherence", "scheduleConformity",
                    "details"], {
        "tenantId": {"type": "string"}, "date": {"type": "string", "format": "date"},
        "agentId": {"type": ["string", "integer"],
                    "description": "as the latest schedule message wrote it (docs/API.md: "
                                   "Webex has a string)"},
        "acdAgentId": {"type": "string"},
        "scheduledSeconds": count, "scheduledInServiceSeconds": count,
        "actualInServiceSeconds": count, "notInAdherenceSeconds": count,
        "inAdherenceSeconds": count, "neutralSeconds": count, "unscheduledSeconds": count,
        "scheduleAdherence": percent, "scheduleConformity": percent,
        "asOf": {**ms, "description": "when the summary was computed"},
        "details": {"type": "array", "items": detail}})
    status = _obj(["tenantId", "agentId", "acdAgentId", "state", "agentState",
                   "gisStateIdentifier", "reasonCode", "since", "loggedIn", "inService",
                   "activity", "activityCategory", "activityStart", "activityEnd",
                   "adherence", "outOfAdherenceSince", "asOf"], {
        "tenantId": {"type": "string"}, "agentId": {"type": ["string", "integer"]},
        "acdAgentId": {"type": "string"},
        "state": {"type": "string", "enum": [
            "LOGOUT", "NOT_READY", "READY", "TALKING", "WORK_NOT_READY", "WORK_READY",
            "BUSY_OTHER", "RESERVED", "UNKNOWN", "HOLD"]},
        "agentState": {"$ref": "#/components/schemas/AgentState"},
        "gisStateIdentifier": {"type": "integer", "minimum": 1, "maximum": 10},
        "reasonCode": {"type": ["integer", "string", "null"]},
        "since": {"type": ["integer", "null"]}, "loggedIn": {"type": "boolean"},
        "inService": {"type": "boolean"}, "activity": {"type": ["string", "null"]},
        "activityCategory": {"type": "string"},
        "activityStart": {"type": ["integer", "null"]},
        "activityEnd": {"type": ["integer", "null"]},
        "adherence": {"type": "string", "enum": ["IN", "OUT", "NEUTRAL", "UNSCHEDULED"]},
        "outOfAdherenceSince": {"type": ["integer", "null"]},
        "chatCapacity": {"type": ["integer", "null"], "minimum": 0, "description":
                         "the sum of the chatCapacity of the agent's logged-in identities "
                         "(each its latest state event's that had chat figures); null when "
                         "none has one, and while the agent is logged out (absent from "
                         "statuses published before the engine knew chats)"},
        "chatsInProgress": {"type": ["integer", "null"], "minimum": 0, "description":
                            "the sum of the chatsInProgress of the same identities, by the "
                            "same rule"},
        "asOf": ms})
    rtas = {"type": "array", "items": _obj(
        ["agentId", "employeeId", "acdAgentId", "realTimeActivities"], {
            "agentId": {"type": ["integer", "string"],
                        "description": "as the latest schedule message wrote it"},
            "employeeId": {"type": ["string", "null"], "description": "always null"},
            "acdAgentId": {"type": "string"},
            "realTimeActivities": {"type": "array", "items": _obj(
                ["agentState", "reasonCode", "timestamp"], {
                    "agentState": {"$ref": "#/components/schemas/AgentState"},
                    "reasonCode": {"type": ["string", "null"]}, "timestamp": ms})}})}
    activity_body = {"type": "object", "properties": {"agentIds": {
        "oneOf": [{"type": "null"},
                  {"type": "array", "maxItems": max_batch_items, "items": {
                      "oneOf": [{"type": "string"}, integer]}},
                  {"type": "string", "description": "agent ids separated by commas (at "
                   f"most {max_batch_items}, else 413)"}],
        "description": "null, empty or absent: every agent with state data"}},
        "description": "may be empty (all agents); other fields are ignored"}
    accepted = _json(_obj(["accepted"], {"accepted": count}),
                     "accepted: every item is on the broker (acknowledged)")
    login_fields = _obj(["userId", "password"], {
        "userId": {"type": "string", "minLength": 1}, "password": {"type": "string"},
        "tenantId": {"oneOf": [{"type": "string"}, integer, {"type": "null"}],
                     "description": "needed only when the same credentials are valid in "
                                    "several tenants (else 400)"},
        "locale": ignored, "language": ignored})
    form_fields = _obj(["userId", "password"], {
        "userId": {"type": "string", "minLength": 1}, "password": {"type": "string"},
        "tenantId": {"type": "string"}, "locale": {"type": "string"},
        "language": {"type": "string"}})
    multipart_states = _obj(["states"], {
        "states": {**states, "minItems": 1, "description": "the JSON array of state "
                   "items; any part name but userId, password, locale, language and "
                   "tenantId will do"},
        "userId": {"type": "string"}, "password": {"type": "string"},
        "locale": {"type": "string"}, "language": {"type": "string"},
        "tenantId": {"type": "string"}},
        additionalProperties=False,
        description="exactly one part holding the JSON array of state items, and "
                    "optionally the Webex credential parts: userId and password log in "
                    "for this one request when no other credential is sent")
    empty = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "rta: real-time adherence engine", "version": "0.1.0",
                 "description": "Webex WFO-compatible ingest and adherence queries. Every "
                                "credential sees its own tenant only. Request bodies are "
                                f"capped at {max_body_bytes} bytes and batches at "
                                f"{max_batch_items} items. A method a path does not "
                                "support is a 405 with Allow. Errors: "
                                "{\"error\": {\"status\", \"code\", \"message\"}}. "
                                "Integers in bodies are written as JSON integers: "
                                "JSON Schema counts 3.0 as an integer, this server refuses "
                                "it (a float where an integer belongs is a bad value). "
                                "Rules that relate two values, or depend on the "
                                "credential or the server clock, are in the "
                                "descriptions."},
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "the API key as a Bearer token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "hazelcast.sessionId",
                            "description": "from POST /api/rest/authorize"},
            },
            "schemas": {
                "StateItem": state_item, "ScheduleMessage": schedule,
                "DaySummary": summary, "AgentStatus": status,
                "AgentState": {"type": "string", "enum": [
                    "LOGGED_OUT", "READY_WAITING", "TALK", "WORK_AFTER_CONTACT", "HOLD",
                    "NOT_READY_BUSY"]},
                "Error": _obj(["error"], {"error": _obj(["status", "code", "message"], {
                    "status": {"type": "integer"}, "code": {"type": "string"},
                    "message": {"type": "string"},
                    "items": {"type": "array", "items": _obj(["index", "errors"], {
                        "index": count,
                        "errors": {"type": "array", "items": {"type": "string"}}})}})}),
            },
            "responses": {
                "Error": _json({"$ref": "#/components/schemas/Error"},
                               "error (see code and message)"),
                "Unauthorized": {**_json({"$ref": "#/components/schemas/Error"},
                                         "no, wrong or expired credential"),
                                 "headers": {"WWW-Authenticate": {
                                     "required": True, "schema": {"type": "string"}}}},
                "Unavailable": {**_json({"$ref": "#/components/schemas/Error"},
                                        "the broker or the history database did not "
                                        "answer, or the group is rebalancing: retry"),
                                "headers": {"Retry-After": {
                                    "required": True, "schema": {"type": "string"}}}},
            },
        },
        "security": _SECURED,
        "paths": {
            "/api/rest/scheduling/gis/realTimeAgentState": {"post": {
                "summary": "Ingest agent state changes (Webex Real-Time Data Capture); "
                           "all or nothing",
                "description": "Accepted only when every item is valid; otherwise a 400 "
                               "lists every bad item and nothing is sent. " + limits,
                "parameters": [{"name": "acdServerId", "in": "query", "required": False,
                                "schema": {**text, "default": "1"}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": states},
                    "multipart/form-data": {"schema": multipart_states, "encoding": {
                        "states": {"contentType": "application/json"}}}}},
                "responses": {"200": accepted, **_errors(400, 401, 413, 503)}}},
            "/v1/schedules": {"post": {
                "summary": "Ingest schedule messages (one object or an array); all or nothing",
                "description": "fromTimestamp must be before toTimestamp and each "
                               "activity's startTime before its endTime. " + limits,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [{"$ref": "#/components/schemas/ScheduleMessage"},
                              {"type": "array", "maxItems": max_batch_items, "items": {
                                  "$ref": "#/components/schemas/ScheduleMessage"}}]}}}},
                "responses": {"200": accepted, **_errors(400, 401, 413, 503)}}},
            "/api/rest/scheduling/adherence/agent": {"get": {
                "summary": "Adherence and conformance per agent and day (Webex shape plus "
                           "tenantId, date, inAdherenceSeconds, neutralSeconds, "
                           "unscheduledSeconds, asOf)",
                "description": "Sorted by agent id. A day older than the days the workers "
                               "keep, without a history database, is a 404 (day_not_kept); "
                               "an agentId the tenant does not have is a 404 "
                               "(agent_not_found).",
                "parameters": [
                    {"name": "date", "in": "query", "required": True,
                     "schema": {"type": "string", "format": "date",
                                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}},
                    {"name": "agentId", "in": "query", "schema": {"type": "string"}},
                    {"name": "pageSize", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                "default": DEFAULT_PAGE_SIZE}},
                    {"name": "pageNumber", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "default": 1}}],
                "responses": {"200": _json({"type": "array", "items": {
                    "$ref": "#/components/schemas/DaySummary"}}),
                    **_errors(400, 401, 404, 503)}}},
            "/api/rest/scheduling/realTime/activity/detail": {"post": {
                "summary": "Real-time agent states in [fromTime, toTime), with the state "
                           "already in progress at fromTime",
                "description": f"toTime must be after fromTime, and at most "
                               f"{MAX_RANGE_MS // 86_400_000} days after it (a 400 "
                               "otherwise). Agents without state data are left out.",
                "parameters": [
                    {"name": "fromTime", "in": "query", "required": True, "schema": ms},
                    {"name": "toTime", "in": "query", "required": True,
                     "schema": {**ms, "minimum": 1, "description": "epoch milliseconds, "
                                "after fromTime and at most 31 days after it"}}],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": activity_body}}},
                "responses": {"200": _json(rtas), **_errors(400, 401, 413, 503)}}},
            "/v1/agents/{agentId}/status": {"get": {
                "summary": "Live status of one agent",
                "parameters": [{"name": "agentId", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"$ref": "#/components/schemas/AgentStatus"}),
                              **_errors(401, 404, 503)}}},
            "/api/rest/authorize": {
                "post": {"summary": "Log in (Webex Authorize): a session for the "
                                    "hazelcast.sessionId cookie, ended after its idle "
                                    "timeout (2 h by default) or by DELETE",
                         "security": [],
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": login_fields},
                             "application/x-www-form-urlencoded": {"schema": form_fields},
                             "multipart/form-data": {"schema": {
                                 **form_fields, "additionalProperties": False}}}},
                         "responses": {"200": {**_json(_obj(
                             ["sessionId", "userId", "tenantId", "sessionTimeout"], {
                                 "sessionId": {"type": "string"},
                                 "userId": {"type": "string"},
                                 "tenantId": {"type": "string"},
                                 "sessionTimeout": {"type": "string",
                                                    "description": "minutes"}})),
                             "headers": {"Set-Cookie": {"required": True,
                                                        "schema": {"type": "string"}}}},
                             **_errors(400, 401, 413, 503)}},
                "delete": {"summary": "End the session of the cookie",
                           "security": [{"session": []}],
                           "responses": {"200": _json(_obj(["ended"], {
                               "ended": {"type": "boolean", "const": True}})),
                               **_errors(401, 503)}}},
            "/livez": {"get": {"summary": "The event loop is responsive", "security": [],
                               "responses": {"200": _json(empty), "503": _json(empty)}}},
            "/readyz": {"get": {"summary": "Broker reachable, partitions assigned, tables "
                                           "recovered, query views caught up",
                                "security": [],
                                "responses": {"200": _json(empty), "503": _json(empty)}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (rta_ names)", "security": [],
                                 "responses": {"200": {
                                     "description": "Prometheus text format 0.0.4",
                                     "content": {"text/plain": {"schema": {
                                         "type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": _json(empty)}}},
        },
    }
