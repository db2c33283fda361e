"""Input watermarks in the worker's runtime (no broker: ``Runtime`` alone)."""

from __future__ import annotations

from rta.config import TenantsConfig
from streams.settings import WorkerSettings
from streams.worker.runtime import NO_BOUND, Runtime


def runtime(partitions: int = 2) -> Runtime:
    return Runtime(WorkerSettings(partitions=partitions), TenantsConfig())


def test_a_mark_never_passes_a_record_not_yet_routed() -> None:
    """faust can leave fetched records unprocessed and process later ones (they are
    read again later): the mark stays at the last record routed without a hole."""
    rt = runtime()
    rt.read_state(0, 5, 900, start=3)  # 3 and 4 are not routed yet
    assert 0 not in rt.source_max
    rt.read_state(0, 3, 100, start=3)
    assert rt.source_max[0] == 100
    rt.read_state(0, 4, 200, start=3)
    assert rt.source_max[0] == 900


def test_the_watermark_is_unknown_until_every_partition_has_a_mark() -> None:
    rt = runtime()
    rt.set_mark(0, {"k": "wm", "s": 0, "m": 500, "i": False})
    assert rt.watermark(0) is None
    rt.set_mark(0, {"k": "wm", "s": 1, "m": 300, "i": False})
    assert rt.watermark(0) == 300
    rt.set_mark(0, {"k": "wm", "s": 1, "m": 200, "i": False})  # a new owner, behind
    assert rt.watermark(0) == 300  # marks only move forward
    rt.set_mark(0, {"k": "wm", "s": 1, "m": None, "i": True})  # idle: left out
    assert rt.watermark(0) == 500
    rt.set_mark(0, {"k": "wm", "s": 0, "m": None, "i": True})
    assert rt.watermark(0) == NO_BOUND


def test_silent_partitions_become_idle_and_drained_ones_have_no_mark_after_a_restart(
        ) -> None:
    rt = runtime()
    assert rt.due_marks({0: "empty", 1: "done"}, force=False) == []  # no mark yet
    rt.started -= rt.settings.watermark_idle_seconds  # silent for that long
    marks = rt.due_marks({0: "empty", 1: "done"}, force=False)
    assert marks == [{"k": "wm", "s": 0, "m": None, "i": True},
                     {"k": "wm", "s": 1, "m": None, "i": True}]
    rt.read_state(1, 0, 700, start=0)  # input again: no longer idle
    assert rt.due_marks({1: "behind"}, force=False) == [{"k": "wm", "s": 1, "m": 700, "i": False}]
    assert rt.due_marks({1: "behind"}, force=False) == []  # sent; not moved by an hour
    assert len(rt.due_marks({0: "empty", 1: "behind"}, force=True)) == 2


def test_agent_input_progress_is_contiguous_and_marks_wait_for_the_records_before() -> None:
    """faust can process agent-input records past one it has not delivered yet (heal
    reads it again later). ``input_through`` (saved in snapshots: what a restart reads
    again) stops at the first record not processed, and a record of marks read past
    it is applied only once that record is processed: the marks were sent after its
    events, which must not be made final before they are applied."""
    rt = runtime()
    for p in range(2):  # a mark of state partition 1 known on agent-input partition 0
        rt.set_mark(0, {"k": "wm", "s": p, "m": 100, "i": False})
    rt.input_done(0, 10, start=10)
    rt.input_done(0, 12, start=10)  # 11 not delivered yet
    assert rt.input_through(0) == 10
    rt.take_marks(0, 13, [{"k": "wm", "s": 0, "m": 900, "i": False},
                          {"k": "wm", "s": 1, "m": 800, "i": False}], start=10)
    assert rt.watermark(0) == 100  # held back behind record 11
    rt.input_done(0, 11, start=10)
    assert rt.input_through(0) == 13
    assert rt.watermark(0) == 800
    # another partition is independent; no start known: from the first record done
    rt.input_done(1, 5, start=None)
    assert rt.input_through(1) == 5 and rt.input_through(0) == 13


def test_a_watermark_that_moves_sends_the_partitions_agents_to_retention() -> None:
    """Retention follows the watermark also for agents without new input: once it is
    known, and each time it moves by an hour, the partition's agents are pending (the
    emit timer prunes them). They used to be pruned only after changes of their own."""
    from rta.agent import AgentReducer, TenantContext
    from rta.config import TenantSettings

    rt = runtime()
    ctx = TenantContext("t", TenantSettings())
    keys = [f"t:{n}" for n in range(20)]
    for k in keys:
        rt.reducers[k] = AgentReducer(ctx, k[2:])
    mine = {k for k in keys if rt.partition_of(k) == 0}
    assert mine and mine != set(keys)
    h = 3_600_000

    def marks(offset: int, newest: int) -> None:
        rt.take_marks(0, offset, [{"k": "wm", "s": 0, "m": newest, "i": False},
                                  {"k": "wm", "s": 1, "m": newest, "i": False}], start=0)

    marks(0, 10 * h)
    assert rt.pending == mine  # the watermark became known
    rt.pending.clear()
    marks(1, 10 * h + h // 2)
    assert rt.pending == set()  # moved by less than an hour
    marks(2, 11 * h)
    assert rt.pending == mine


def wm(source: object, newest: int | None, idle: bool = False) -> dict[str, object]:
    return {"k": "wm", "s": source, "m": newest, "i": idle}


def test_a_directory_partition_passes_on_the_minimum_of_every_input_partition() -> None:
    """The reducers' watermark covers the directory hop and the schedule topic: a
    directory partition's mark is the minimum over the state and the schedule
    partitions' marks read there, none until each has one (a schedule partition still
    at March holds it at March however far the state partitions have read)."""
    rt = runtime()
    h = 3_600_000
    assert rt.directory_done(0, 0, 0, [wm(0, 900 * h), wm(1, 800 * h)]) is None
    assert rt.directory_done(0, 1, 0, [wm("c0", 100 * h)]) is None  # c1 unknown yet
    mark = rt.directory_done(0, 2, 0, [wm("c1", 700 * h)])
    assert mark == wm("d0", 100 * h)
    assert rt.directory_done(0, 3, 0) is None  # a held event or a mapping: no marks
    assert rt.directory_done(0, 4, 0, [wm("c0", 100 * h + 1)]) is None  # not an hour
    assert rt.directory_done(0, 5, 0, [wm("c0", None, idle=True)]) == wm("d0", 700 * h)
    for s in (0, 1, "c1"):
        rt.directory_done(0, 6, 0, [wm(s, None, idle=True)])
    assert rt.dir_sent[0][:2] == (None, True)


def test_directory_marks_wait_for_the_records_before_them() -> None:
    """faust can process a directory record past one it has not delivered yet: a
    mark read there must not pass the held event or the mapping not yet handled."""
    rt = runtime()
    marks = [wm(0, 500), wm(1, 500), wm("c0", 500), wm("c1", 500)]
    assert rt.directory_done(1, 12, 10, marks) is None  # 10 and 11 not done yet
    assert rt.directory_done(1, 10, 10) is None
    assert rt.directory_done(1, 11, 10) == wm("d1", 500)


def test_the_reducers_watermark_is_made_of_the_directory_partitions_marks() -> None:
    rt = runtime()
    rt.take_marks(0, 0, [wm("d0", 300)], start=0)
    assert rt.watermark(0) is None  # d1 not known yet
    rt.take_marks(0, 1, [wm("d1", 200)], start=0)
    assert rt.watermark(0) == 200


def test_an_empty_schedule_partition_is_idle_at_once() -> None:
    rt = runtime()
    assert rt.due_marks({"c0": "empty", 0: "empty"}, force=False) == [
        {"k": "wm", "s": "c0", "m": None, "i": True}]
    rt.read_state("c1", 0, 700, start=0)
    assert rt.due_marks({"c1": "done"}, force=False) == [
        {"k": "wm", "s": "c1", "m": 700, "i": False}]
