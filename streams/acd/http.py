"""HTTP to a platform: one rate limit for all calls, back-off on 429 and 5xx.

Every request of a connector takes a token from one :class:`TokenBucket` first
(CCAI Platform documents 1 request per second per customer: burst 1, and the
spacing is kept 5 % wider than the rate so that arrival jitter on the way does
not bring two requests closer than a second at the platform). A 429 or a 5xx
answer, a timeout or a refused connection is retried after ``Retry-After`` when
the platform gives one, else after an exponential, jittered back-off; after
``attempts`` tries the call fails with :class:`Transient` and the poll is tried
again at the next interval. 401 is :class:`Unauthorized` (the Omni client logs in
again); any other 4xx is :class:`Permanent`.

Nothing here logs a header or a credential: requests are named by method and
path only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from streams.metrics import Figure
from streams.retry import Backoff

log = logging.getLogger("rta.acd.http")
MARGIN = 1.05  # the bucket's spacing, relative to 1 / rate


class Transient(Exception):
    """The platform did not answer usefully after the retries (down, throttling)."""


class Permanent(Exception):
    """The platform refused the request (a 4xx other than 401 and 429)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:200]}")
        self.status = status


class Unauthorized(Permanent):
    pass


class TokenBucket:
    """At most ``rate`` calls a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.interval = MARGIN / rate
        self.burst = burst
        self.clock, self.sleep = clock, sleep
        self.tokens = float(burst)
        self.stamp = clock()
        self.lock = asyncio.Lock()
        self.waited = 0.0  # seconds spent waiting for a token

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) / self.interval)
        self.stamp = now

    async def take(self) -> None:
        async with self.lock:
            self._refill()
            if self.tokens < 1.0:
                wait = (1.0 - self.tokens) * self.interval
                self.waited += wait
                await self.sleep(wait)
                self._refill()
            self.tokens = max(0.0, self.tokens - 1.0)

    def hold_off(self, seconds: float) -> None:
        """The platform asked for a pause (Retry-After): no token before it ends."""
        self._refill()
        self.tokens = min(self.tokens, 1.0 - seconds / self.interval)


class PlatformHttp:
    """GET/POST JSON through the bucket, with retries; counts what it did."""

    def __init__(self, rate: float, timeout: float, retry_max: float, attempts: int = 6,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket = TokenBucket(rate, clock=clock)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retry_max, self.attempts = retry_max, attempts
        self.session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.statuses: Counter[int] = Counter()  # answers by status (0: no answer)
        self.retries = 0
        self.up = True  # the last call got a useful answer

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def call(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
                   headers: Mapping[str, str] | None = None, json: Any = None) -> Any:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=self.timeout)
        backoff = Backoff(0.5, self.retry_max, jitter="full")
        name = f"{method} {url.split('://', 1)[-1].split('/', 1)[-1].split('?')[0]}"
        last = ""
        for attempt in range(self.attempts):
            await self.bucket.take()
            self.requests += 1
            retry_after: float | None = None
            try:
                async with self.session.request(method, url, params=params, headers=headers,
                                                json=json) as resp:
                    self.statuses[resp.status] += 1
                    body = await resp.read()
                    if resp.status < 300:
                        self.up = True
                        try:
                            return orjson.loads(body) if body else None
                        except orjson.JSONDecodeError:
                            raise Permanent(resp.status, "the answer is not JSON: "
                                            + body[:100].decode(errors="replace")) from None
                    text = body.decode(errors="replace")
                    if resp.status == 401:
                        raise Unauthorized(401, text)
                    if resp.status != 429 and resp.status < 500:
                        raise Permanent(resp.status, text)
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                    last = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.statuses[0] += 1
                last = f"{type(exc).__name__}: {exc}"
            self.retries += 1
            wait = retry_after if retry_after is not None else backoff.next()
            if retry_after is not None:
                self.bucket.hold_off(retry_after)
                wait = 0.0  # the bucket waits
            log.info("%s: %s (try %d of %d); again in %.1f s", name, last, attempt + 1,
                     self.attempts, retry_after if retry_after is not None else wait)
            await asyncio.sleep(wait)
        self.up = False
        raise Transient(f"{name}: {last} after {self.attempts} tries")


    def figures(self) -> list[Figure]:
        return [
            ("rta_connector_requests_total", "counter", "requests made to the platform",
             float(self.requests)),
            ("rta_connector_throttled_total", "counter",
             "requests the platform answered 429 (rate limit)", float(self.statuses[429])),
            ("rta_connector_server_errors_total", "counter",
             "requests the platform answered 5xx", float(sum(
                 n for s, n in self.statuses.items() if s >= 500))),
            ("rta_connector_retries_total", "counter",
             "requests tried again (429, 5xx, no answer)", float(self.retries)),
            ("rta_connector_rate_wait_seconds_total", "counter",
             "seconds spent waiting for the rate limit", self.bucket.waited),
        ]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 300.0))
    except ValueError:
        return None  # an HTTP date: the back-off instead
