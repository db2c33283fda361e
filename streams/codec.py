"""Bytes in, bytes out: decoding input messages, encoding outputs and dead letters."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import orjson

from rta.models import InputError, StateEvent, parse_state_event

#: Larger values are dead-lettered with their first bytes only (and their size).
DEAD_LETTER_VALUE_BYTES = 65_536


class DecodeError(ValueError):
    """An input message that cannot be applied; the text is the dead-letter reason."""


def load_json(raw: bytes | None, max_bytes: int) -> Any:
    """The JSON value of a message, or DecodeError (empty, too big, not JSON)."""
    if raw is None:
        raise DecodeError("empty message (no value)")
    if len(raw) > max_bytes:
        raise DecodeError(f"message of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}") from None


def decode_state(raw: bytes | None, max_bytes: int) -> StateEvent:
    try:
        return parse_state_event(load_json(raw, max_bytes))
    except InputError as exc:
        raise DecodeError(str(exc)) from None


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def dead_letter(topic: str, partition: int | None, offset: int | None, key: bytes | None,
                value: bytes | None, reason: str, now_ms: int) -> bytes:
    """The dead-letter record: where the message came from, its bytes, and why."""
    def text(b: bytes | None) -> dict[str, str] | None:
        if b is None:
            return None
        try:
            return {"utf8": b.decode("utf-8")}
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(b).decode("ascii")}

    size = None if value is None else len(value)
    truncated = size is not None and size > DEAD_LETTER_VALUE_BYTES
    if truncated and value is not None:
        value = value[:DEAD_LETTER_VALUE_BYTES]
    return orjson.dumps({
        "sourceTopic": topic, "partition": partition, "offset": offset,
        "key": text(key), "value": text(value), "valueBytes": size, "truncated": truncated,
        "reason": reason, "deadLetteredAt": now_ms,
    })


def compact_state(ev: StateEvent, pos: int | None = None) -> list[Any]:
    """The internal form of a validated state event (trusted downstream), as the
    routers, the directory's hold and the agent-input items carry it:
    ``[acdServerId, acdAgentId, state, timestamp, reasonCode, eventId, place in the
    log]``, and ``[chatCapacity, chatsInProgress]`` after them when the event carries
    either. Records written before the chat figures have 7 elements, older ones 6:
    ``compact_parts`` reads them all."""
    out = [ev.acd_server_id, ev.acd_agent_id, ev.state, ev.timestamp, ev.reason,
           ev.event_id, pos]
    chat = ev.chat
    if chat is not None:
        out.append(list(chat))
    return out


def compact_parts(compact: list[Any]) -> tuple[int | None, tuple[int | None, int | None] | None]:
    """The place in the log and the chat figures of a compact state event (None:
    not there)."""
    pos = compact[6] if len(compact) > 6 else None
    chat = compact[7] if len(compact) > 7 and compact[7] is not None else None
    return pos, None if chat is None else (chat[0], chat[1])


def state_json(tenant: str, compact: list[Any]) -> dict[str, Any]:
    """The public (rta.agent-state) form of a compact state event."""
    server, acd, state, ts, reason, eid = compact[:6]
    out = {"tenantId": tenant, "acdServerId": server, "acdAgentId": acd,
           "gisStateIdentifier": state, "timestamp": ts, "reasonCode": reason}
    if eid is not None:
        out["eventId"] = eid
    _, chat = compact_parts(compact)
    if chat is not None:
        if chat[0] is not None:
            out["chatCapacity"] = chat[0]
        if chat[1] is not None:
            out["chatsInProgress"] = chat[1]
    return out


def identity_key(tenant: str, server: str, acd: str) -> str:
    return f"{tenant}:{server}:{acd}"


def agent_key(tenant: str, agent: str) -> str:
    return f"{tenant}:{agent}"


PACK_OVER_BYTES = 200_000  # table values larger than this are stored compressed


def pack_value(value: Any) -> tuple[Any, bytes]:
    """A table value as stored (in memory and in its changelog) and its JSON bytes.

    A large value (an agent's snapshot with a busy week of history, a full hold of
    10,000 events) is stored as ``{"z": base64(zlib(JSON))}``: JSON event lists
    shrink about threefold (base64 included), so a value of up to about 3 MB of JSON
    stays under the broker's record limit (about 1 MB), which it would otherwise pass
    and stop the worker at every save. ``unpack_value`` gives the value back."""
    data = orjson.dumps(value)
    if len(data) <= PACK_OVER_BYTES:
        return value, data
    packed = {"z": base64.b64encode(zlib.compress(data, 6)).decode("ascii")}
    return packed, orjson.dumps(packed)


def unpack_value(value: Any) -> Any:
    """The value ``pack_value`` stored (values stored before packing existed as is)."""
    if isinstance(value, dict) and len(value) == 1 and "z" in value:
        return orjson.loads(zlib.decompress(base64.b64decode(value["z"])))
    return value


def fit_summary(summary: dict[str, Any], limit: int) -> tuple[bytes, int]:
    """A day summary as published, within ``limit`` bytes, and how many ``actuals``
    entries had to be left out for that (0: none). A day of tens of thousands of state
    changes does not fit one record of the broker (about 1 MB): its figures are
    published whole, its ``details`` without their ``actuals`` lists, and
    ``actualsOmitted`` says how many runs they held (the history database and the
    Real-Time Agent States endpoint still have every state)."""
    data = orjson.dumps(summary)
    if len(data) <= limit:
        return data, 0
    omitted = sum(len(d.get("actuals") or []) for d in summary.get("details") or [])
    trimmed = {**summary, "details": [{**d, "actuals": []} for d in summary.get("details") or []],
               "actualsOmitted": omitted}
    return orjson.dumps(trimmed), omitted
