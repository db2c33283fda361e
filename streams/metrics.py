"""Prometheus metrics through prometheus-client: one registry per process.

- **One registry per process.** The worker's HTTP API (``streams.api.app.Api``)
  and ``rta forward`` (``streams.wfm.run``) each make one :func:`new_registry`
  and serve it with ``generate_latest(registry)`` and :data:`CONTENT_TYPE`.
  Nothing is registered in prometheus-client's global default registry, and its
  process, platform and GC collectors (``process_*``, ``python_info``,
  ``python_gc_*``) are left out on purpose: ``/metrics`` showed ``rta_`` names
  only before, and the machine's or container's exporter already has those
  figures. Should they be wanted: ``ProcessCollector(registry=registry)``.
- **The engine's figures stay where they are counted** (the runtime's counters,
  the history sink's and the forwarder's attributes): :class:`Figures` is a
  custom collector that reads them at each scrape, no second copy of the state.
  The HTTP API's own counters and histogram are prometheus-client ``Counter``
  and ``Histogram`` objects in its registry.
- **Names, types and labels are those scraped before.** Every counter's name
  ends in ``_total``: prometheus-client strips that suffix from a counter's
  name and writes it back in the text exposition, so ``rta_x_total`` stays
  ``rta_x_total`` (:class:`Figures` refuses a counter named otherwise rather
  than let it be renamed). The ``_created`` series that prometheus-client adds
  to ``Counter`` and ``Histogram`` objects are turned off
  (``disable_created_metrics``, for the process), as they were never exposed.
  :func:`histogram` keeps the bucket bounds' ``le`` values as they were
  written (``le="1"``, ``le="10"``, not prometheus-client's ``le="1.0"``), so
  Prometheus 2 servers see the same series (Prometheus 3 normalises ``le``
  either way). What differs is presentation only: values are written as
  ``3.0`` rather than ``3`` (and large ones in full, no longer rounded to six
  digits), and a sample's labels in name order (``le`` before ``route``).
- **Label values are escaped** by prometheus-client (backslash, double quote,
  newline). Labels are route templates, methods, status codes and kinds, never
  agent or tenant ids, so the number of series stays bounded.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes: text format 0.0.4


@dataclass(frozen=True)
class Labelled:
    """A labelled family's samples: ``labels`` (the label names) and one value per
    tuple of label values. Label values are small fixed sets (topics, kinds), never
    agent or tenant ids."""

    labels: tuple[str, ...]
    values: Mapping[tuple[str, ...], float]


class Buckets:
    """A histogram's counts, kept where it is observed (a worker step) and read by
    :class:`Figures` at each scrape: cumulative per ``le`` bound, a sum, a count."""

    def __init__(self, bounds: Sequence[float] = BUCKETS) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * len(self.bounds)  # per bucket (not cumulative)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        i = bisect.bisect_left(self.bounds, value)
        if i < len(self.counts):
            self.counts[i] += 1

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, n in zip(self.bounds, self.counts, strict=True):
            total += n
            out.append((f"{bound:g}", float(total)))
        out.append(("+Inf", float(self.count)))
        return out


#: (name, "counter", "gauge" or "histogram", help, value): a number (unlabelled), a
#: :class:`Labelled` (counter or gauge) or :class:`Buckets` (histogram)
Figure = tuple[str, str, str, float | Labelled | Buckets]

disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped in prometheus-client)


def new_registry() -> CollectorRegistry:
    """The process's registry (not the global default one; see the module's notes)."""
    return CollectorRegistry(auto_describe=False)


class Figures:
    """A custom collector over figures kept elsewhere.

    ``source()`` is called at every scrape; each ``(name, kind, help, value)``
    it returns becomes one family: a counter or gauge, unlabelled (a number) or
    labelled (:class:`Labelled`), or a histogram (:class:`Buckets`). A counter's
    name must end in ``_total`` (written as given; see the module's notes).
    """

    def __init__(self, source: Callable[[], Iterable[Figure]]) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        for name, kind, help_, value in self.source():
            if kind == "histogram":
                if not isinstance(value, Buckets):
                    raise ValueError(f"histogram {name!r}: its value is a Buckets")
                yield HistogramMetricFamily(name, help_, buckets=value.cumulative(),
                                            sum_value=value.sum)
                continue
            if isinstance(value, Buckets):
                raise ValueError(f"{name!r}: Buckets are a histogram's")
            if kind == "counter":
                if not name.endswith("_total"):
                    raise ValueError(f"counter {name!r}: a counter's name ends in _total")
                family: Metric = (CounterMetricFamily(name, help_, labels=value.labels)
                                  if isinstance(value, Labelled)
                                  else CounterMetricFamily(name, help_, value=value))
            elif kind == "gauge":
                family = (GaugeMetricFamily(name, help_, labels=value.labels)
                          if isinstance(value, Labelled)
                          else GaugeMetricFamily(name, help_, value=value))
            else:
                raise ValueError(f"{name!r}: unknown kind {kind!r} (counter, gauge or "
                                 "histogram)")
            if isinstance(value, Labelled):
                for label_values, v in sorted(value.values.items()):
                    family.add_metric(list(label_values), v)  # type: ignore[attr-defined]
            yield family


def _le(bound: str) -> str:
    return bound if bound == "+Inf" else f"{float(bound):g}"


class _SameBuckets:
    """A histogram's families with ``le`` written as before (``10``, not ``10.0``)."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def describe(self) -> Iterable[Metric]:
        return self.histogram.describe()

    def collect(self) -> Iterable[Metric]:
        for family in self.histogram.collect():
            family.samples = [
                s._replace(labels={**s.labels, "le": _le(s.labels["le"])})
                if "le" in s.labels else s
                for s in family.samples]
            yield family


def histogram(name: str, help_: str, labelnames: Sequence[str],
              registry: CollectorRegistry) -> Histogram:
    """A prometheus-client ``Histogram`` over :data:`BUCKETS`, in ``registry``, whose
    ``le`` values are written as they were before prometheus-client."""
    hist = Histogram(name, help_, labelnames, registry=None, buckets=BUCKETS)
    registry.register(_SameBuckets(hist))
    return hist


async def serve_side(bind: str, port: int, figures: Callable[[], Iterable[Figure]],
                     live: Callable[[], dict[str, Any]]) -> Any:
    """``/metrics`` (a new registry over ``figures``) and ``/livez`` (``live()`` as
    JSON) on ``bind:port``, for the processes beside the workers (``rta forward``,
    ``rta connect``); returns the aiohttp runner to ``cleanup()``."""
    from aiohttp import web
    from prometheus_client import generate_latest

    registry = new_registry()
    registry.register(Figures(figures))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE})

    async def livez(request: web.Request) -> web.Response:
        return web.json_response(live())

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/livez", livez)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind, port).start()
    return runner
