"""ACD identifiers of several kinds: the canonical ``acdAgentId`` of each.

inContact WFO names an agent by an AgentIdentifier of one of several kinds (Agent
ID, CrmUsername, Phone, SystemUsername, Username) and a value. A state event or a
schedule message (its primary identity, each of its ``acdIdentities``) may name an
ACD identity that way, with ``acdIdentifierKind``; the models turn the pair into
one canonical ``acdAgentId`` right away, so the directory, the keys, replay, the
worker and the HTTP API only ever see that string (docs/SEMANTICS.md, "ACD
identifiers of several kinds").

- No kind, or ``AgentId``: the value as written (trimmed), as before kinds existed,
  so every existing log keeps its meaning.
- ``Phone``: trimmed; spaces, ``-``, ``.``, ``(`` and ``)`` are removed; what remains
  must be ASCII digits, optionally after one leading ``+`` (dropped):
  ``phone:<digits>``.
- ``Username``, ``CrmUsername``, ``SystemUsername``: trimmed and case-folded (these
  logins and e-mail addresses are case-insensitive): ``username:<v>``,
  ``crmusername:<v>``, ``systemusername:<v>``.

The prefixes are reserved: a plain ``acdAgentId`` is taken as written, so a plain
``"phone:4678"`` *is* the identity of kind Phone and value ``4678`` (and
``canonical_agent_id`` read again as a plain id gives itself). A plain id written
``"Phone:4678"`` (capital P) is a different, plain identity. Two kinds never alias
each other: Phone ``4678`` is ``phone:4678``, AgentId ``4678`` is ``4678``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from enum import Enum


class Kind(Enum):
    """An AgentIdentifier kind; the value is its canonical spelling."""

    AGENT_ID = "AgentId"
    CRM_USERNAME = "CrmUsername"
    PHONE = "Phone"
    SYSTEM_USERNAME = "SystemUsername"
    USERNAME = "Username"


VALID_KINDS = ", ".join(sorted(k.value for k in Kind))

# spellings, compared trimmed, with spaces, '_' and '-' removed and ASCII letters lowered
_SPELLINGS: dict[str, Kind] = {
    "agentid": Kind.AGENT_ID,  # "AgentId", "Agent ID", "AgentID", "agent_id"
    "id": Kind.AGENT_ID,  # inContact's own examples: {"AgentIdentifier": "Id", ...}
    "crmusername": Kind.CRM_USERNAME,
    "phone": Kind.PHONE,
    "systemusername": Kind.SYSTEM_USERNAME,
    "username": Kind.USERNAME,
}
SPELLINGS = tuple(_SPELLINGS)  # the accepted spellings, normalised

#: the canonical prefix of each kind that has one (AgentId has none)
PREFIXES: dict[Kind, str] = {
    Kind.PHONE: "phone:",
    Kind.USERNAME: "username:",
    Kind.CRM_USERNAME: "crmusername:",
    Kind.SYSTEM_USERNAME: "systemusername:",
}

KIND_SEPARATORS = " _-"  # removed from a kind's spelling (after trimming it)
PHONE_SEPARATORS = " -.()"  # removed from a phone number (after trimming it)


def parse_kind(kind: str | None) -> Kind | None:
    """The kind ``kind`` spells: trimmed, without spaces, '_' and '-', in any case of its
    letters. None for None or a blank string (no kind: the value is a plain
    ``acdAgentId``). ValueError for anything else."""
    if kind is None:
        return None
    if not isinstance(kind, str):
        raise ValueError(f"must be a string naming a kind (valid: {VALID_KINDS}), "
                         f"got {kind!r}")
    trimmed = kind.strip()
    if not trimmed:
        return None
    key = "".join(c for c in trimmed if c not in KIND_SEPARATORS)
    found = _SPELLINGS.get(key.lower()) if key.isascii() else None
    if found is None:
        raise ValueError(f"unknown kind {kind!r} (valid: {VALID_KINDS})")
    return found


def _phone(value: str) -> str:
    digits = "".join(c for c in value if c not in PHONE_SEPARATORS)
    if digits.startswith("+"):
        digits = digits[1:]
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"{value!r} is not a phone number (digits, optionally after a "
                         "leading '+', with spaces, '-', '.', '(' or ')' between them)")
    return digits


def canonical_agent_id(kind: str | Kind | None, value: str) -> str:
    """The canonical ``acdAgentId`` of the identity of kind ``kind`` and value ``value``
    (a kind's spelling, a :class:`Kind` or None for a plain id). ValueError when the kind
    is unknown, the value blank or not of that kind (a Phone that is not a number)."""
    k = kind if isinstance(kind, Kind) else parse_kind(kind)
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    v = value.strip()
    if not v:
        raise ValueError("must not be blank")
    if k is None or k is Kind.AGENT_ID:
        return v
    if k is Kind.PHONE:
        return PREFIXES[k] + _phone(v)
    return PREFIXES[k] + v.casefold().strip()
