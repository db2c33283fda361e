"""A source's unit of work: events, dead letters, the cursor after them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    events: list[dict[str, Any]] = field(default_factory=list)
    dead: list[tuple[Any, str]] = field(default_factory=list)  # (platform record, why)
    state: dict[str, Any] | None = None  # the cursor after this step (None: unchanged)
