"""Platform statuses to canonical states: the defaults, the file's overrides, UNKNOWN.

The file's ``[mapping]`` table (``streams.acd.config``) is consulted first, by
the keys each source names (CCAI: the status's ``wfm_id``, then its name; Omni:
the pause name, ``Login``, or ``dashboard:<status>``); then the source's
defaults (docs/ACD.md lists them). A status neither maps to is UNKNOWN (state
9): the event is published, never dropped; the status is counted in
``rta_connector_unmapped_total`` and logged once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable

from rta.states import UNKNOWN
from streams.acd.config import Target
from streams.metrics import Figure

log = logging.getLogger("rta.connect")
Mapped = tuple[int, int | str | None]  # (state id, reason code)


class Mapper:
    def __init__(self, overrides: dict[str, Target], name: str) -> None:
        self.overrides = {k.strip().casefold(): t for k, t in overrides.items()}
        self.name = name
        self.unmapped: Counter[str] = Counter()

    def map(self, keys: Iterable[str], default: Callable[[], Mapped | None],
            label: str) -> Mapped:
        """The override of the first key the file names, else ``default()``, else
        UNKNOWN (counted; logged the first time for ``label``)."""
        for key in keys:
            target = self.overrides.get(key.strip().casefold())
            if target is not None:
                return (target.state, target.reason)
        found = default()
        if found is not None:
            return found
        if label not in self.unmapped:
            log.warning("%s: status %s has no mapping: published as UNKNOWN (9); add it to "
                        "[mapping] of the connector file", self.name, label)
        self.unmapped[label] += 1
        return (UNKNOWN, None)

    @property
    def unmapped_total(self) -> int:
        return sum(self.unmapped.values())

    def figures(self, records: int) -> list[Figure]:
        return [
            ("rta_connector_unmapped_total", "counter",
             "events of statuses with no mapping (published as UNKNOWN)",
             float(self.unmapped_total)),
            ("rta_connector_records_total", "counter", "platform records read",
             float(records)),
        ]


def reason_code(value: int | str) -> int | str:
    """A platform id as a reason code: 1-65535 stays a number, anything else text."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    return str(value)
