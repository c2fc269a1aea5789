"""Counter and histogram families for the request path: plain numbers, scraped on demand.

prometheus_client's ``Counter`` and ``Histogram`` take a lock and run several method calls
per update, and ``labels(...)`` per lookup on top; the request path makes about eight updates
per request, all on the event loop's thread. These families keep each series as plain floats
(a histogram's as one count per bucket and a sum), found by the label values as the caller
passes them, and build the samples only when the registry is collected: the same metric
names, help texts, types, label order, bucket bounds and ``_created`` series as
prometheus_client's own families (``PROMETHEUS_DISABLE_CREATED_SERIES`` included), so
``/metrics`` reads exactly as before.

``family.inc(labels, amount)`` / ``family.observe(labels, amount)`` update the series of
``labels``; ``family.series(labels)`` hands out the series itself, for a caller that keeps it
to update it again without the lookup. A series exists from its first update or hand-out, as
a prometheus_client child exists from its first ``labels()``.

Updates must all come from one thread (the event loop's); a scrape may come from any thread:
it copies the series before reading them. Label values are strings, integers or ``None``: the
series are found by the values as passed, so values that are equal in Python but print
differently (``1``, ``1.0``, ``True``) must not be mixed in one family.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Hashable, Iterable, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

CACHED_LABELS = 4096
"""label tuples remembered as passed (``200`` beside ``"200"``) per family; label values are
bounded by the config, so this bounds memory, not the series a family may hold"""

Labels = tuple[Hashable, ...]


def created_series() -> bool:
    """Whether ``*_created`` series are exposed: prometheus_client's own switch
    (``PROMETHEUS_DISABLE_CREATED_SERIES``, ``disable_created_metrics()``)."""
    return bool(getattr(prometheus_metrics, "_use_created", True))


class CounterSeries:
    """One labelled series of a counter."""

    __slots__ = ("created", "name", "value")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(
                f"metric {self.name}: got an increment of {amount}; counters only go up"
            )
        self.value += amount


class HistogramSeries:
    """One labelled series of a histogram: a count per bucket (not cumulative) and the sum."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0.0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        bounds = self.bounds
        # the first bucket whose bound is at least ``amount`` (none for NaN)
        index = bisect_left(bounds, amount)
        if amount <= bounds[index]:
            self.counts[index] += 1.0


Series = TypeVar("Series", CounterSeries, HistogramSeries)


class _Family(Collector, Generic[Series]):
    """Series by label values; label values are turned into strings like ``labels()``."""

    _type = ""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        registry: CollectorRegistry | None,
    ) -> None:
        if not labelnames:
            raise ValueError(f"metric {name}: expected at least one label name, got none")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._by_text: dict[tuple[str, ...], Series] = {}
        self._by_labels: dict[Labels, Series] = {}
        if registry is not None:
            registry.register(self)

    def series(self, labels: Labels) -> Series:
        """The series of ``labels``, made on first use."""
        series = self._by_labels.get(labels)
        if series is not None:
            return series
        if len(labels) != len(self.labelnames):
            raise ValueError(
                f"metric {self.name}: got label values {labels!r}; expected one for each of "
                f"{', '.join(self.labelnames)}"
            )
        text = tuple(str(value) for value in labels)
        series = self._by_text.get(text)
        if series is None:
            series = self._by_text[text] = self._make()
        if len(self._by_labels) < CACHED_LABELS:
            self._by_labels[labels] = series
        return series

    def _make(self) -> Series:
        raise NotImplementedError

    def _snapshot(self) -> list[tuple[tuple[str, ...], Series]]:
        return list(self._by_text.copy().items())

    def describe(self) -> Iterable[Metric]:
        return [Metric(self.name, self.documentation, self._type)]


class LoopCounter(_Family[CounterSeries]):
    """A labelled counter; ``inc(("chat", 200), 3)`` is ``labels("chat", 200).inc(3)``."""

    _type = "counter"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        registry: CollectorRegistry | None,
    ) -> None:
        # the name without ``_total``, which the samples add, as prometheus_client's Counter
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry=registry)

    def _make(self) -> CounterSeries:
        return CounterSeries(self.name)

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        series = self._by_labels.get(labels)
        (series if series is not None else self.series(labels)).inc(amount)

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        created = created_series()
        for text, series in self._snapshot():
            family.add_metric(text, series.value, series.created if created else None)
        return [family]


class LoopHistogram(_Family[HistogramSeries]):
    """A labelled histogram; ``observe(("chat",), 0.2)`` is ``labels("chat").observe(0.2)``."""

    _type = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry | None,
    ) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds) or (bounds and bounds[0] < 0):
            raise ValueError(
                f"metric {name}: got buckets {list(buckets)}; expected non-negative bounds, sorted"
            )
        if "le" in labelnames:
            raise ValueError(f"metric {name}: 'le' is the bucket label, not a label name")
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.bounds = tuple(bounds)
        # prometheus_client's own rendering of ``le`` (untyped there)
        self._le = tuple(floatToGoString(b) for b in bounds)  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry=registry)

    def _make(self) -> HistogramSeries:
        return HistogramSeries(self.bounds)

    def observe(self, labels: Labels, amount: float) -> None:
        series = self._by_labels.get(labels)
        (series if series is not None else self.series(labels)).observe(amount)

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        created = created_series()
        for text, series in self._snapshot():
            counts, total = list(series.counts), series.sum
            cumulative, buckets = 0.0, []
            for le, count in zip(self._le, counts, strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(text, buckets, total)
            if created:
                family.add_sample(
                    self.name + "_created",
                    dict(zip(self.labelnames, text, strict=True)),
                    series.created,
                )
        return [family]
