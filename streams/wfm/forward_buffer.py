"""What the forwarder has read and not yet delivered, per partition, in offset order.

Pure bookkeeping (no I/O), so the ordering and commit rules can be tested alone:

- A batch is the oldest undelivered records of the partitions (oldest heads
  first), up to a size; it is posted as one request per ACD server (the WFM takes
  one ``acdServerId`` per request), each holding that server's records in offset
  order. So an ACD identity (one key, so one partition, one server) keeps the
  order of ``rta.agent-state``, and the whole batch is what is in flight.
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
    entries: list[tuple[Partition, Pending]] = field(default_factory=list)

    def by_server(self) -> dict[str, list[tuple[Partition, Pending]]]:
        """The batch's requests: each ACD server's records, in batch order."""
        out: dict[str, list[tuple[Partition, Pending]]] = {}
        for tp, p in self.entries:
            assert p.server is not None
            out.setdefault(p.server, []).append((tp, p))
        return out

    def partitions(self) -> set[Partition]:
        return {tp for tp, _ in self.entries}

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
        self.queued = 0  # entries held, skips included (what memory the buffer takes)

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
            self.queued += 1
            if entry.server is not None:
                self.size += 1
        return fresh

    def _pop(self, q: deque[Pending]) -> Pending:
        entry = q.popleft()
        self.queued -= 1
        if entry.server is not None:
            self.size -= 1
        return entry

    def _advance(self, tp: Partition, to: int) -> None:
        if to > self.done_to.get(tp, -1):
            self.done_to[tp] = to
            self._dirty.add(tp)

    def next_batch(self, max_items: int) -> Batch | None:
        """The next batch: each partition's oldest records (the partitions with the
        oldest heads first), up to ``max_items``."""
        heads = [(q[0].arrived, tp) for tp, q in self.queues.items() if q]
        if not heads:
            return None
        heads.sort()
        batch = Batch()
        for _, tp in heads:
            for entry in self.queues[tp]:
                if entry.server is None:
                    continue  # a skip between two records: popped with them
                if len(batch) >= max_items:
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
                self._advance(tp, self._pop(q).offset + 1)
            if not q or q[0].offset != entry.offset:
                continue  # the partition was dropped (rebalance) meanwhile
            self._advance(tp, self._pop(q).offset + 1)
            while q and q[0].server is None:
                self._advance(tp, self._pop(q).offset + 1)

    def drop(self, tps: set[Partition]) -> None:
        """Partitions this member no longer owns (or re-reads from the committed
        offset): forget what was read of them."""
        for tp in tps:
            q = self.queues.pop(tp, None)
            if q:
                self.size -= sum(e.server is not None for e in q)
                self.queued -= len(q)
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
