"""The OpenAPI 3.1 document of the HTTP API (served at ``GET /openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERR = {"$ref": "#/components/responses/Error"}
_SECURED: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}, {"session": []}]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _ERR for c in codes}


def openapi_document(max_body_bytes: int, max_batch_items: int) -> dict[str, Any]:
    ms = {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}
    ident = {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}
    state_item = {
        "type": "object", "required": ["acdAgentId", "gisStateIdentifier", "timestamp"],
        "properties": {
            "acdAgentId": ident,
            "gisStateIdentifier": {"oneOf": [{"type": "string", "pattern": "^[0-9]+$"},
                                             {"type": "integer"}],
                                   "description": "1 logout, 2 not ready, 3 ready, 4 talking, "
                                                  "5 work not ready, 6 work ready, 7 busy "
                                                  "other, 8 reserved, 9 unknown, 10 hold"},
            "timestamp": ms,
            "reasonCode": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 65535},
                                     {"type": "string"}, {"type": "null"}]},
            "eventId": {"type": "string", "description": "unique per event: makes retries "
                                                         "and duplicates harmless"},
            "tenantId": {"type": "string", "description": "optional; must be the "
                                                          "credential's tenant"},
            "acdServerId": {"type": "string", "description": "optional; must equal the "
                                                             "query parameter"},
        }}
    activity = {"type": "object", "required": ["activityType", "startTime", "endTime"],
                "properties": {"activityType": {"type": "string"}, "startTime": ms,
                               "endTime": ms, "activityTypeLabel": {"type": "string"},
                               "activityDetailName": {"type": "string"}}}
    schedule = {
        "type": "object",
        "required": ["agentId", "acdAgentId", "fromTimestamp", "toTimestamp", "activities"],
        "properties": {
            "tenantId": {"type": "string"}, "agentId": ident, "employeeId": {"type": "string"},
            "acdServerId": {"type": "string"}, "acdAgentId": ident,
            "acdIdentities": {"type": "array", "items": {
                "type": "object", "required": ["acdAgentId"],
                "properties": {"acdServerId": {"type": "string"}, "acdAgentId": ident}}},
            "agentTimeZone": {"type": "string"}, "fromTimestamp": ms, "toTimestamp": ms,
            "activities": {"type": "array", "items": activity},
        }}
    actual = {"type": "object", "properties": {
        "actualAgentState": {"type": "string"}, "actualAgentStateStartTime": ms,
        "actualReasonCode": {}, "inAdherenceSeconds": {"type": "integer"},
        "outOfAdherenceSeconds": {"type": "integer"}}}
    summary = {"type": "object", "properties": {
        "tenantId": {"type": "string"}, "date": {"type": "string", "format": "date"},
        "agentId": ident, "acdAgentId": {"type": "string"},
        "scheduledSeconds": {"type": "integer"}, "scheduledInServiceSeconds": {"type": "integer"},
        "actualInServiceSeconds": {"type": "integer"}, "notInAdherenceSeconds": {"type": "integer"},
        "inAdherenceSeconds": {"type": "integer"}, "neutralSeconds": {"type": "integer"},
        "unscheduledSeconds": {"type": "integer"},
        "scheduleAdherence": {"type": ["number", "null"]},
        "scheduleConformity": {"type": ["number", "null"]},
        "asOf": ms,
        "details": {"type": "array", "items": {"type": "object", "properties": {
            "scheduledActivityType": {"type": "string"}, "scheduledActivityStartTime": ms,
            "inAdherenceSeconds": {"type": "integer"}, "outOfAdherenceSeconds": {"type": "integer"},
            "actuals": {"type": "array", "items": actual}}}}}}
    status = {"type": "object", "properties": {
        "tenantId": {"type": "string"}, "agentId": ident, "acdAgentId": {"type": "string"},
        "state": {"type": "string"}, "agentState": {"type": "string"},
        "gisStateIdentifier": {"type": "integer"}, "reasonCode": {},
        "since": {"type": ["integer", "null"]}, "loggedIn": {"type": "boolean"},
        "inService": {"type": "boolean"}, "activity": {"type": ["string", "null"]},
        "activityCategory": {"type": "string"},
        "activityStart": {"type": ["integer", "null"]},
        "activityEnd": {"type": ["integer", "null"]},
        "adherence": {"type": "string", "enum": ["IN", "OUT", "NEUTRAL", "UNSCHEDULED"]},
        "outOfAdherenceSince": {"type": ["integer", "null"]}, "asOf": ms}}
    rtas = {"type": "array", "items": {"type": "object", "properties": {
        "agentId": ident, "employeeId": {"type": ["string", "null"]},
        "acdAgentId": {"type": "string"},
        "realTimeActivities": {"type": "array", "items": {"type": "object", "properties": {
            "agentState": {"type": "string", "enum": [
                "LOGGED_OUT", "READY_WAITING", "TALK", "WORK_AFTER_CONTACT", "HOLD",
                "NOT_READY_BUSY"]},
            "reasonCode": {"type": ["string", "null"]}, "timestamp": ms}}}}}}
    accepted = _json({"type": "object", "properties": {"accepted": {"type": "integer"}}},
                     "accepted: every item is on the broker (acknowledged)")
    return {
        "openapi": "3.1.0",
        "info": {"title": "rta: real-time adherence engine", "version": "0.1.0",
                 "description": "Webex WFO-compatible ingest and adherence queries. Every "
                                "credential sees its own tenant only. Request bodies are "
                                f"capped at {max_body_bytes} bytes and batches at "
                                f"{max_batch_items} items."},
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "hazelcast.sessionId"},
            },
            "schemas": {"StateItem": state_item, "ScheduleMessage": schedule,
                        "DaySummary": summary, "AgentStatus": status,
                        "Error": {"type": "object", "required": ["error"], "properties": {
                            "error": {"type": "object", "required": ["status", "code",
                                                                     "message"],
                                      "properties": {
                                          "status": {"type": "integer"},
                                          "code": {"type": "string"},
                                          "message": {"type": "string"},
                                          "items": {"type": "array", "items": {
                                              "type": "object", "properties": {
                                                  "index": {"type": "integer"},
                                                  "errors": {"type": "array", "items": {
                                                      "type": "string"}}}}}}}}}},
            "responses": {"Error": _json({"$ref": "#/components/schemas/Error"},
                                         "error (see code and message)")},
        },
        "security": _SECURED,
        "paths": {
            "/api/rest/scheduling/gis/realTimeAgentState": {"post": {
                "summary": "Ingest agent state changes (Webex Real-Time Data Capture); "
                           "all or nothing",
                "parameters": [{"name": "acdServerId", "in": "query", "required": False,
                                "schema": {"type": "string", "default": "1"}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "array", "items": {
                        "$ref": "#/components/schemas/StateItem"}}},
                    "multipart/form-data": {"schema": {"type": "object", "description":
                        "one part holding the JSON array; optional userId, password, "
                        "locale, tenantId parts log in instead of a header credential"}}}},
                "responses": {"200": accepted, **_errors(400, 401, 413, 503)}}},
            "/v1/schedules": {"post": {
                "summary": "Ingest schedule messages (one object or an array); all or nothing",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [{"$ref": "#/components/schemas/ScheduleMessage"},
                              {"type": "array", "items": {
                                  "$ref": "#/components/schemas/ScheduleMessage"}}]}}}},
                "responses": {"200": accepted, **_errors(400, 401, 413, 503)}}},
            "/api/rest/scheduling/adherence/agent": {"get": {
                "summary": "Adherence and conformance per agent and day (Webex shape plus "
                           "inAdherenceSeconds, neutralSeconds, unscheduledSeconds)",
                "parameters": [
                    {"name": "date", "in": "query", "required": True,
                     "schema": {"type": "string", "format": "date"}},
                    {"name": "agentId", "in": "query", "schema": {"type": "string"}},
                    {"name": "pageSize", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 25}},
                    {"name": "pageNumber", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "default": 1}}],
                "responses": {"200": _json({"type": "array", "items": {
                    "$ref": "#/components/schemas/DaySummary"}}), **_errors(400, 401, 404)}}},
            "/api/rest/scheduling/realTime/activity/detail": {"post": {
                "summary": "Real-time agent states in [fromTime, toTime), with the state "
                           "already in progress at fromTime; at most 31 days",
                "parameters": [{"name": n, "in": "query", "required": True, "schema": ms}
                               for n in ("fromTime", "toTime")],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"agentIds": {
                        "type": "array", "items": ident}}}}}},
                "responses": {"200": _json(rtas), **_errors(400, 401, 413, 503)}}},
            "/v1/agents/{agentId}/status": {"get": {
                "summary": "Live status of one agent",
                "parameters": [{"name": "agentId", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"$ref": "#/components/schemas/AgentStatus"}),
                              **_errors(401, 404)}}},
            "/api/rest/authorize": {
                "post": {"summary": "Log in (Webex Authorize): a session for the "
                                    "hazelcast.sessionId cookie; 2 h idle timeout",
                         "security": [],
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"type": "object", "required": ["userId", "password"],
                                        "properties": {"userId": {"type": "string"},
                                                       "password": {"type": "string"},
                                                       "tenantId": {"type": "string"},
                                                       "locale": {"type": "string"},
                                                       "language": {"type": "string"}}}}}},
                         "responses": {"200": _json({"type": "object", "properties": {
                             "sessionId": {"type": "string"}, "userId": {"type": "string"},
                             "tenantId": {"type": "string"},
                             "sessionTimeout": {"type": "string"}}}),
                             **_errors(400, 401)}},
                "delete": {"summary": "End the session of the cookie",
                           "security": [{"session": []}],
                           "responses": {"200": _json({"type": "object"}), **_errors(401)}}},
            "/internal/v1/activity": {"post": {
                "summary": "Between workers only: the real-time agent states of the agents "
                           "this worker owns. Signed with the cluster secret "
                           "(x-rta-cluster: HMAC-SHA256 of the body); user credentials "
                           "are refused",
                "security": [],
                "parameters": [{"name": "x-rta-cluster", "in": "header", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object",
                               "required": ["tenant", "fromTime", "toTime", "sentAt"]}}}},
                "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 503)}}},
            "/livez": {"get": {"summary": "The event loop is responsive", "security": [],
                               "responses": {"200": _json({"type": "object"}),
                                             "503": _json({"type": "object"})}}},
            "/readyz": {"get": {"summary": "Broker reachable, partitions assigned, tables "
                                           "recovered, query views caught up",
                                "security": [],
                                "responses": {"200": _json({"type": "object"}),
                                              "503": _json({"type": "object"})}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (rta_ names)", "security": [],
                                 "responses": {"200": {"description": "text format 0.0.4"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": _json({"type": "object"})}}},
        },
    }
