"""The retry helper (streams.retry): growth, cap, jitter, reset, cancellation; and the
delays of the loops it replaced, draw for draw (deterministic: injected random and sleep)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator

import pytest

from streams import retry
from streams.retry import RETRY_PAUSE, Backoff


def draws(*values: float) -> Callable[[], float]:
    it: Iterator[float] = iter(values)
    return lambda: next(it)


def no_random() -> float:
    raise AssertionError("no jitter: random must not be drawn")


def test_delays_double_up_to_the_cap() -> None:
    b = Backoff(0.25, 3.0, random=no_random)
    got = [b.next() for _ in range(7)]
    assert got == [min(0.25 * 2 ** n, 3.0) for n in range(7)]
    assert got[-1] == got[-2] == 3.0


def test_factor() -> None:
    b = Backoff(1.0, 100.0, factor=3.0)
    assert [b.next() for _ in range(5)] == [1.0, 3.0, 9.0, 27.0, 81.0]


def test_the_first_delay_is_the_base_even_above_the_cap() -> None:
    # as the loops did: delay = base; sleep(delay); delay = min(delay * 2, cap)
    b = Backoff(5.0, 2.0)
    assert [b.next() for _ in range(3)] == [5.0, 2.0, 2.0]


def test_reset_starts_again_from_the_base() -> None:
    b = Backoff(0.5, 60.0)
    for _ in range(4):
        b.next()
    assert b.delay == 8.0
    b.reset()
    assert b.delay == 0.5
    assert [b.next(), b.next()] == [0.5, 1.0]


def test_fixed_never_grows_nor_jitters() -> None:
    b = Backoff.fixed()
    assert [b.next() for _ in range(5)] == [RETRY_PAUSE] * 5
    assert RETRY_PAUSE == 1.0  # the pause of the loops it replaced
    assert Backoff.fixed(0.3).next() == 0.3


def test_full_jitter_is_the_random_share_of_the_delay() -> None:
    b = Backoff(1.0, 8.0, jitter="full", random=draws(0.0, 0.5, 0.999, 0.25))
    assert [b.next() for _ in range(4)] == [0.0, 1.0, 4 * 0.999, 8 * 0.25]


def test_spread_jitter_is_half_to_one_and_a_half_times_the_delay() -> None:
    b = Backoff(2.0, 8.0, jitter="spread", random=draws(0.0, 0.5, 0.999))
    assert [b.next() for _ in range(3)] == [1.0, 4.0, 8 * 1.499]


@pytest.mark.parametrize(("jitter", "low", "high"), [("full", 0.0, 1.0), ("spread", 0.5, 1.5)])
def test_jitter_bounds(jitter: retry.Jitter, low: float, high: float) -> None:
    rng = random.Random(11)
    b = Backoff(0.1, 6.4, jitter=jitter, random=rng.random)
    for _ in range(2000):
        delay = b.delay
        got = b.next()
        assert low * delay <= got < high * delay
        if delay == b.cap:
            b.reset()


def test_the_jitter_draws_from_the_random_module_by_default() -> None:
    random.seed(5)
    got = [Backoff(1.0, 1.0, jitter="full").next() for _ in range(3)]
    rng = random.Random(5)
    assert got == [rng.random() for _ in range(3)]


def test_same_delays_as_the_forwarders_loop() -> None:
    # before: await asyncio.sleep(random.uniform(0, delay)); delay = min(delay * 2, max)
    base, cap = 0.5, 60.0
    old, delay, r = [], base, random.Random(3)
    for _ in range(12):
        old.append(r.uniform(0, delay))
        delay = min(delay * 2, cap)
    b = Backoff(base, cap, jitter="full", random=random.Random(3).random)
    assert [b.next() for _ in range(12)] == old


def test_same_delays_as_the_history_sinks_loop() -> None:
    # before: await asyncio.sleep(delay * (0.5 + random.random())); delay = min(delay * 2, 10)
    old, delay, r = [], 0.2, random.Random(4)
    for _ in range(10):
        old.append(delay * (0.5 + r.random()))
        delay = min(delay * 2, 10.0)
    b = Backoff(0.2, 10.0, jitter="spread", random=random.Random(4).random)
    assert [b.next() for _ in range(10)] == old


def test_invalid_settings_are_refused() -> None:
    for kwargs in ({"base": -1.0, "cap": 1.0}, {"base": 1.0, "cap": -1.0},
                   {"base": 1.0, "cap": 2.0, "factor": 0.5}):
        with pytest.raises(ValueError):
            Backoff(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="jitter"):
        Backoff(1.0, 2.0, jitter="half")  # type: ignore[arg-type]


async def test_wait_sleeps_the_delay_it_returns() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    b = Backoff(0.1, 0.4, jitter="spread", random=draws(0.2, 0.4, 0.6, 0.8), sleep=sleep)
    returned = [await b.wait() for _ in range(4)]
    assert slept == returned == pytest.approx([0.07, 0.18, 0.44, 0.52])


async def test_wait_uses_asyncio_sleep_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", sleep)
    await Backoff.fixed().wait()
    await Backoff(0.5, 1.0).wait()
    assert slept == [RETRY_PAUSE, 0.5]


async def test_a_cancelled_wait_raises_at_once() -> None:
    b = Backoff(30.0, 30.0)
    task = asyncio.create_task(b.wait())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)


async def test_a_retry_loop_stops_when_cancelled() -> None:
    """The call sites' shape: failures are retried, a cancel ends the loop."""
    attempts = 0
    b = Backoff(0.001, 0.002)

    async def loop() -> None:
        nonlocal attempts
        while True:
            try:
                attempts += 1
                raise OSError("down")
            except asyncio.CancelledError:
                raise
            except Exception:
                await b.wait()

    task = asyncio.create_task(loop())
    while attempts < 5:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)
    assert task.cancelled()
