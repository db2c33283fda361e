"""Process settings for long-running commands (workers, benchmarks)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer cyclic-GC passes: the engine allocates many small, long-lived objects
    (timeline entries, runs) and few cycles, so the default gen-0 threshold (700)
    makes the collector rescan a large heap far too often (~20 % of CPU in
    ``rta bench core``). Reference counting still frees everything promptly."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
