"""What a worker does on SIGTERM (or Ctrl-C) before faust stops it: the batch in
hand is finished and committed (docs/ARCHITECTURE.md, "Shutdown").

faust's own stop suspends the flow first and then waits for the streams: with
faust_fixes fix 1 (no ack while the flow is stopped, so a rebalance never commits
past an unprocessed event), the batch in hand was then never acked, and the
events since the last periodic commit were all processed again by the next
owner. Here, first: fetching stops (every assigned partition paused), the
records already delivered to the streams are processed and acked with the flow
still active, the emit timer finishes a pass after them (the pending day
summaries are published, and the snapshots that say so saved), the alert outbox
empties, and the offsets are committed. Then faust stops as before: the tables,
the producer (flushed), the consumer (which leaves the group, so the group
rebalances at once rather than after the session timeout), and the services
(history sink, WFM forwarder, ACD connector, HTTP API), each finishing what it
has in hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from streams.worker.context import Worker

log = logging.getLogger("rta.worker")
POLL_SECONDS = 0.05


def _busy(consumer: Any) -> int:
    """Records delivered to the streams and not yet acked."""
    return len(getattr(consumer, "_unacked_messages", ()))


async def drain(w: Worker, grace: float) -> dict[str, Any]:
    """Finish the batch in hand, publish what is pending, commit; at most ``grace``
    seconds (then faust's stop goes on all the same: what is not committed is read
    again by the next owner, as after a crash). Returns what was done (logged)."""
    app, rt = w.app, w.rt
    began = time.monotonic()
    deadline = began + grace
    rt.stopping = True
    report: dict[str, Any] = {"drained": False, "committed": False}
    consumer = getattr(app, "_consumer", None)
    if consumer is None:
        return report
    try:
        assignment = set(consumer.assignment())
    except Exception:  # not started yet
        return report
    if not assignment:
        return report
    in_hand = _busy(consumer)
    log.info("stopping: finishing the batch in hand (%d records delivered, not yet done) "
             "and committing, at most %g s", in_hand, grace)
    consumer.pause_partitions(assignment)  # nothing more is fetched

    def settled() -> bool:
        return _busy(consumer) == 0

    async def until(check: Any) -> bool:
        while time.monotonic() < deadline:
            if app.rebalancing:
                return False  # the group moved on: faust's stop takes it from here
            if check():
                return True
            await asyncio.sleep(POLL_SECONDS)
        return False

    report["drained"] = await until(settled)
    if report["drained"]:
        # a whole emit pass after the last batch: its summaries and their snapshots
        passes = rt.emit_passes
        await until(lambda: rt.emit_passes >= passes + 2)
        await until(lambda: not rt.outbox)
    if not app.rebalancing:
        try:
            # (False when a periodic commit was under way: it is awaited, then ours)
            for _ in range(2):
                await asyncio.wait_for(consumer.commit(),
                                       max(1.0, deadline - time.monotonic()))
        except Exception as exc:  # the next owner reads again from the last commit
            log.warning("stopping: the final commit failed (%r); the next owner reads "
                        "again from the previous one", exc)
    # every acked offset committed: nothing of what was done is left to do again
    left = sum(len(v) for v in getattr(consumer, "_acked", {}).values())
    report["committed"] = not app.rebalancing and left == 0
    report["seconds"] = round(time.monotonic() - began, 3)
    report["unfinished"] = _busy(consumer)
    log.info("stopping: batch in hand %s, offsets %s in %.2f s; leaving the group",
             "finished" if report["drained"] else
             f"not finished ({report['unfinished']} records left to the next owner)",
             "committed" if report["committed"] else
             f"not all committed ({left} acked offsets past a hole or a rebalance)",
             report["seconds"])
    return report
