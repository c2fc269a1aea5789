"""The request path's metric families read exactly like prometheus_client's own.

:mod:`gateway.telemetry.families` keeps plain numbers instead of prometheus_client's locked
children; scraped, a family must give the same exposition (text format and OpenMetrics) as a
``Counter`` or ``Histogram`` that saw the same updates, over many random ones.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.exposition import choose_encoder

from gateway.telemetry.families import CACHED_LABELS, LoopCounter, LoopHistogram

BUCKETS = (0.0001, 0.001, 0.01, 0.1, 1.0, 10.0)
LABEL_VALUES: list[Any] = ["chat", "chat-eu", "none", "", "a b", 'quo"te', 200, 429, 0, None]
AMOUNTS: list[float] = [0, 1, 3, 0.5, 1e-9, 12345.678, 10**12]
OBSERVED = [
    0.0,
    -0.0,
    0.00005,
    0.0001,
    0.00010001,
    0.5,
    1.0,
    10.0,
    10.5,
    1e9,
    math.inf,
    math.nan,
    -1.0,
]


@contextmanager
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One creation time for every series of both implementations."""
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: 1_750_000_000.25)
        yield


def expositions(registry: CollectorRegistry) -> tuple[bytes, bytes]:
    """The text format and OpenMetrics, as ``GET /metrics`` encodes them."""
    openmetrics, _ = choose_encoder("application/openmetrics-text; version=1.0.0")
    return generate_latest(registry), openmetrics(registry)


def random_labels(rng: random.Random, count: int) -> tuple[Any, ...]:
    return tuple(rng.choice(LABEL_VALUES) for _ in range(count))


def replay(
    seed: int,
    update: Callable[[tuple[Any, ...], float], None],
    width: int,
    amounts: list[float],
) -> None:
    """3000 updates of random series by random amounts; the same ones for the same seed."""
    rng = random.Random(seed)
    for _ in range(3000):
        update(random_labels(rng, width), rng.choice(amounts))


@pytest.mark.parametrize("created", [True, False])
def test_counter_reads_like_prometheus_clients(
    monkeypatch: pytest.MonkeyPatch, created: bool
) -> None:
    monkeypatch.setattr(prometheus_metrics, "_use_created", created)
    with frozen_clock(monkeypatch):
        theirs, ours = CollectorRegistry(), CollectorRegistry()
        counter = Counter("things", "Things counted", ["model", "status"], registry=theirs)
        family = LoopCounter("things", "Things counted", ["model", "status"], registry=ours)
        replay(1, lambda labels, n: counter.labels(*labels).inc(n), 2, AMOUNTS)
        replay(1, family.inc, 2, AMOUNTS)
    assert expositions(ours) == expositions(theirs)
    assert ours.get_sample_value("things_total", {"model": "chat", "status": "200"}) == (
        theirs.get_sample_value("things_total", {"model": "chat", "status": "200"})
    )


def test_a_name_ending_in_total_is_the_counters_name_without_it() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    Counter("things_total", "Things", ["kind"], registry=theirs).labels("a").inc()
    LoopCounter("things_total", "Things", ["kind"], registry=ours).inc(("a",))
    assert [m.name for m in ours.collect()] == [m.name for m in theirs.collect()] == ["things"]


@pytest.mark.parametrize("created", [True, False])
def test_histogram_reads_like_prometheus_clients(
    monkeypatch: pytest.MonkeyPatch, created: bool
) -> None:
    monkeypatch.setattr(prometheus_metrics, "_use_created", created)
    with frozen_clock(monkeypatch):
        theirs, ours = CollectorRegistry(), CollectorRegistry()
        histogram = Histogram(
            "latency_seconds", "Latency", ["model"], buckets=BUCKETS, registry=theirs
        )
        family = LoopHistogram(
            "latency_seconds", "Latency", ["model"], buckets=BUCKETS, registry=ours
        )
        replay(2, lambda labels, x: histogram.labels(*labels).observe(x), 1, OBSERVED)
        replay(2, family.observe, 1, OBSERVED)
    assert expositions(ours) == expositions(theirs)


def test_a_histogram_with_its_own_infinite_bucket_reads_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with frozen_clock(monkeypatch):
        theirs, ours = CollectorRegistry(), CollectorRegistry()
        histogram = Histogram("h", "H", ["m"], buckets=(1, 2, math.inf), registry=theirs)
        family = LoopHistogram("h", "H", ["m"], buckets=(1, 2, math.inf), registry=ours)
        for value in (0.5, 1, 1.5, 2, 3, math.inf):
            histogram.labels("x").observe(value)
            family.observe(("x",), value)
    assert expositions(ours) == expositions(theirs)


def test_label_values_print_like_labels_does_and_share_their_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with frozen_clock(monkeypatch):
        theirs, ours = CollectorRegistry(), CollectorRegistry()
        counter = Counter("c", "C", ["status"], registry=theirs)
        family = LoopCounter("c", "C", ["status"], registry=ours)
        for value in (200, "200", None, "None"):
            counter.labels(value).inc()
            family.inc((value,))
    assert expositions(ours) == expositions(theirs)
    assert ours.get_sample_value("c_total", {"status": "200"}) == 2.0
    assert family.series((200,)) is family.series(("200",))


def test_label_tuples_beyond_the_cache_still_count() -> None:
    family = LoopCounter("c", "C", ["n"], registry=None)
    for n in range(CACHED_LABELS + 10):
        family.inc((n,))
    family.inc((CACHED_LABELS + 5,), 2)
    assert family.series((CACHED_LABELS + 5,)).value == 3.0
    (metric,) = family.collect()
    totals = [s for s in metric.samples if s.name == "c_total"]
    assert len(totals) == CACHED_LABELS + 10


def test_a_negative_increment_is_refused_but_the_series_exists_like_a_child() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    counter = Counter("c", "C", ["kind"], registry=theirs)
    family = LoopCounter("c", "C", ["kind"], registry=ours)
    with pytest.raises(ValueError):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError, match="metric c: got an increment of -1; counters only go up"):
        family.inc(("x",), -1)
    assert ours.get_sample_value("c_total", {"kind": "x"}) == 0.0
    assert theirs.get_sample_value("c_total", {"kind": "x"}) == 0.0


def test_the_wrong_number_of_label_values_is_refused_naming_the_labels() -> None:
    family = LoopHistogram("h", "H", ["model", "deployment"], buckets=BUCKETS, registry=None)
    with pytest.raises(ValueError, match=r"got label values \('chat',\); expected one for each "):
        family.observe(("chat",), 1.0)


@pytest.mark.parametrize(
    ("buckets", "labels", "message"),
    [
        ((1.0, 0.5), ["m"], "expected non-negative bounds, sorted"),
        ((-1.0, 1.0), ["m"], "expected non-negative bounds, sorted"),
        ((1.0,), ["le"], "'le' is the bucket label"),
        ((1.0,), [], "expected at least one label name"),
    ],
)
def test_bad_histogram_definitions_are_refused(
    buckets: tuple[float, ...], labels: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LoopHistogram("h", "H", labels, buckets=buckets, registry=None)


def test_a_name_taken_in_the_registry_is_refused() -> None:
    registry = CollectorRegistry()
    Counter("things", "Things", ["kind"], registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        LoopCounter("things", "Things", ["kind"], registry=registry)
