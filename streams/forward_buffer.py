"""What the forwarder has read and not yet delivered, per partition, in offset order.

Pure bookkeeping (no I/O), so the ordering and commit rules can be tested alone:

- A batch is for one ACD server (the WFM takes one ``acdServerId`` per request)
  and is made of each partition's *head run*: its oldest undelivered records,
  as long as they are for that server. So records are delivered in offset order
  per partition, and an ACD identity (one key, so one partition) keeps the order
  of ``rta.agent-state``.
- Records the forwarder does not send (another tenant, another ACD server, not
  a valid state event, an event id already seen) are *skips*: done as soon as
  every earlier record of their partition is.
- A partition's commit offset only moves past records that are done, so a
  committed offset never skips an undelivered record (at least once), and
  after a crash only the batch in flight is sent again.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Pending:
    offset: int
    server: str | None  # None: a skip
    item: dict[str, Any] | None  # the WFM's realTimeAgentState item
    key: bytes | None = None
    value: bytes | None = None  # the original record (dead letters)
    arrived: float = 0.0


@dataclass
class Batch:
    server: str
    entries: list[tuple[Partition, Pending]] = field(default_factory=list)

    @property
    def items(self) -> list[dict[str, Any]]:
        return [p.item for _, p in self.entries if p.item is not None]

    def __len__(self) -> int:
        return len(self.entries)


class Seen:
    """The last ``size`` dedup keys of a partition (bounded, oldest forgotten)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """True when the key is new."""
        if self.size <= 0:
            return True
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True


class ForwardBuffer:
    def __init__(self, dedup_lookback: int) -> None:
        self.lookback = dedup_lookback
        self.queues: dict[Partition, deque[Pending]] = {}
        self.seen: dict[Partition, Seen] = {}
        self.done_to: dict[Partition, int] = {}  # next offset after the done prefix
        self._dirty: set[Partition] = set()  # done_to moved since the last commit
        self.size = 0  # records to send (skips not counted)

    def _seen(self, tp: Partition) -> Seen:
        s = self.seen.get(tp)
        if s is None:
            s = self.seen[tp] = Seen(self.lookback)
        return s

    def remember(self, tp: Partition, dedup_key: str) -> None:
        """A record before the committed offset (re-read only to fill the seen keys)."""
        self._seen(tp).add(dedup_key)

    def add(self, tp: Partition, entry: Pending, dedup_key: str | None) -> bool:
        """Queue a record; False when it is a duplicate (then queued as a skip)."""
        fresh = dedup_key is None or self._seen(tp).add(dedup_key)
        if not fresh or entry.server is None:
            entry = Pending(entry.offset, None, None, arrived=entry.arrived)
        q = self.queues.setdefault(tp, deque())
        if entry.server is None and not q:
            self._advance(tp, entry.offset + 1)
        else:
            q.append(entry)
            if entry.server is not None:
                self.size += 1
        return fresh

    def _advance(self, tp: Partition, to: int) -> None:
        if to > self.done_to.get(tp, -1):
            self.done_to[tp] = to
            self._dirty.add(tp)

    def next_batch(self, max_items: int) -> Batch | None:
        """The next batch: the server of the oldest head, and every partition's head
        run for that server (oldest partitions first), up to ``max_items``."""
        heads = [(q[0].arrived, tp) for tp, q in self.queues.items() if q]
        if not heads:
            return None
        heads.sort()
        server = self.queues[heads[0][1]][0].server
        assert server is not None
        batch = Batch(server)
        for _, tp in heads:
            for entry in self.queues[tp]:
                if entry.server is None:
                    continue  # a skip between two records: popped with them
                if len(batch) >= max_items or entry.server != server:
                    break
                batch.entries.append((tp, entry))
            if len(batch) >= max_items:
                break
        return batch

    def complete(self, batch: Batch) -> None:
        """The batch is delivered (or dead-lettered): pop it and the skips after it."""
        for tp, entry in batch.entries:
            q = self.queues.get(tp)
            while q and q[0].server is None and q[0].offset < entry.offset:
                self._advance(tp, q.popleft().offset + 1)
            if not q or q[0].offset != entry.offset:
                continue  # the partition was dropped (rebalance) meanwhile
            q.popleft()
            self.size -= 1
            self._advance(tp, entry.offset + 1)
            while q and q[0].server is None:
                self._advance(tp, q.popleft().offset + 1)

    def drop(self, tps: set[Partition]) -> None:
        """Partitions this member no longer owns (or re-reads from the committed
        offset): forget what was read of them."""
        for tp in tps:
            q = self.queues.pop(tp, None)
            if q:
                self.size -= sum(e.server is not None for e in q)
            self.done_to.pop(tp, None)
            self.seen.pop(tp, None)
            self._dirty.discard(tp)

    def has_commits(self) -> bool:
        return bool(self._dirty)

    def commits(self) -> dict[Partition, int]:
        """Offsets to commit (those that moved since the last call)."""
        out = {tp: self.done_to[tp] for tp in self._dirty}
        self._dirty.clear()
        return out

    def oldest_arrival(self) -> float | None:
        arrivals = [q[0].arrived for q in self.queues.values() if q]
        return min(arrivals) if arrivals else None
