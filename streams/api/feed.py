"""Live updates for the monitor: what the query views read, fanned out per tenant.

The views (``streams.api.views``) call :meth:`LiveFeed.publish` for every status,
day summary and alert they read; each open event stream of the monitor holds a
:class:`Subscription` of its tenant's. A subscription buffers a bounded number of
events: a client too slow to take them is cut off (``overflowed``) and reconnects
with a fresh snapshot, rather than the worker buffering without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from streams.api.ports import Unavailable

Event = tuple[str, bytes]  # (event name, JSON data)


class Subscription:
    def __init__(self, feed: LiveFeed, tenant: str, limit: int) -> None:
        self.feed, self.tenant, self.limit = feed, tenant, limit
        self.events: deque[Event] = deque()
        self.overflowed = False
        self.closed = False
        self._ready = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.closed or self.overflowed:
            return
        if len(self.events) >= self.limit:
            self.overflowed = True
            self.events.clear()
        else:
            self.events.append(event)
        self._ready.set()

    async def take(self, timeout: float) -> list[Event]:
        """The events buffered so far (waiting up to ``timeout`` s for one; [] if none
        came, or the subscription overflowed or was closed)."""
        if not self.events and not self.closed and not self.overflowed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        out = list(self.events)
        self.events.clear()
        return out

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self.feed.forget(self)


class LiveFeed:
    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._subs: dict[str, set[Subscription]] = {}
        self.closing = False

    def subscribe(self, tenant: str) -> Subscription:
        if self.closing:  # the worker is stopping: the page goes elsewhere
            raise Unavailable("this worker is stopping; retry")
        sub = Subscription(self, tenant, self.limit)
        self._subs.setdefault(tenant, set()).add(sub)
        return sub

    def forget(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.tenant)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.tenant]

    def publish(self, tenant: str, event: str, data: bytes) -> None:
        for sub in self._subs.get(tenant, ()):
            sub.offer((event, data))

    def wants(self, tenant: str) -> bool:
        """Whether anyone listens to ``tenant`` (skip building what nobody reads)."""
        return tenant in self._subs

    def count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def close_all(self) -> None:
        """End every stream (the worker is stopping): their clients reconnect; no new
        one is opened."""
        self.closing = True
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()


#: The day figures the monitor shows, of a day summary (rta.summary.build_summary).
SUMMARY_FIELDS = ("agentId", "date", "scheduleAdherence", "scheduleConformity",
                  "inAdherenceSeconds", "notInAdherenceSeconds", "neutralSeconds",
                  "unscheduledSeconds", "scheduledSeconds", "scheduledInServiceSeconds",
                  "actualInServiceSeconds", "asOf")


def short_summary(summary: dict[str, object]) -> dict[str, object]:
    """A day summary without its details: what a tile and a team total need."""
    return {k: summary.get(k) for k in SUMMARY_FIELDS}
