"""Waiting before trying again: exponential back-off, with or without jitter.

Every retry loop of the adapters waits through a :class:`Backoff`::

    backoff = Backoff(0.2, 10.0, jitter="spread")
    while True:
        try:
            await write()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning(...)
            await backoff.wait()

The delays before jitter are ``base``, ``base * factor``, ``base * factor**2``
... up to ``cap`` (the first one is ``base`` even above ``cap``, as in the
loops this replaced). :meth:`Backoff.fixed` waits the same time every turn (the
loops that pause a second and read again). Jitter spreads the retries of many
clients:

- ``"none"``: the delay itself;
- ``"full"``: uniform in ``[0, delay)`` (the WFM forwarder's requests);
- ``"spread"``: uniform in ``[delay / 2, 3 * delay / 2)`` (the history sink).

Cancellation is not caught: a task cancelled while it waits gets its
``CancelledError`` at once, and the loops re-raise it before their ``except
Exception``. ``random`` and ``sleep`` can be given (tests).
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Awaitable, Callable
from typing import Literal

Jitter = Literal["none", "full", "spread"]
RETRY_PAUSE = 1.0  # seconds: the fixed pause of the loops that read or write again


class Backoff:
    def __init__(self, base: float, cap: float, *, factor: float = 2.0,
                 jitter: Jitter = "none",
                 random: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        """Delays from ``base`` seconds, multiplied by ``factor`` after each wait, up
        to ``cap``. ``random()`` returns a float in [0, 1) for the jitter (default:
        the ``random`` module's); ``sleep`` waits (default: ``asyncio.sleep``)."""
        if base < 0 or cap < 0 or factor < 1:
            raise ValueError("base and cap must be >= 0 and factor >= 1")
        if jitter not in ("none", "full", "spread"):
            raise ValueError(f"unknown jitter {jitter!r}")
        self.base, self.cap, self.factor, self.jitter = base, cap, factor, jitter
        self._random, self._sleep = random, sleep
        self._delay = base

    @classmethod
    def fixed(cls, seconds: float = RETRY_PAUSE, *,
              sleep: Callable[[float], Awaitable[None]] | None = None) -> Backoff:
        """The same pause every time, no jitter."""
        return cls(seconds, seconds, factor=1.0, sleep=sleep)

    @property
    def delay(self) -> float:
        """The delay before jitter of the next wait."""
        return self._delay

    def next(self) -> float:
        """The time to wait now (jitter applied); the delay grows for the next one."""
        delay = self._delay
        self._delay = min(delay * self.factor, self.cap)
        if self.jitter == "none":
            return delay
        r = (self._random or _random.random)()
        return delay * r if self.jitter == "full" else delay * (0.5 + r)

    def reset(self) -> None:
        """Back to ``base`` (after a success, for a loop that goes on)."""
        self._delay = self.base

    async def wait(self) -> float:
        """Sleep :meth:`next` seconds; returns them."""
        seconds = self.next()
        await (self._sleep or asyncio.sleep)(seconds)
        return seconds
