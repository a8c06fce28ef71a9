"""The metrics tally: updates gathered in process reach Prometheus as if made one by one."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from egress.metrics import FLUSH_S, TALLY, Tallied

BUCKETS = (0.001, 0.01, 0.1, 1.0)
VALUES = [0.0, 0.0005, 0.001, 0.0010001, 0.05, 0.1, 0.5, 1.0, 2.0, 7.5, -1.0]


def _exposed(reg: CollectorRegistry) -> list[str]:
    """The exposition without `_created` samples (creation times differ between two metrics)."""
    return [ln for ln in generate_latest(reg).decode().splitlines() if "_created" not in ln]


def _pair(kind: type, *labels: str, **kw: object) -> tuple[CollectorRegistry, object, CollectorRegistry, object]:
    """The same metric in two registries: one updated directly, one through the tally."""
    direct_reg, tallied_reg = CollectorRegistry(), CollectorRegistry()
    direct = kind("m", "help", list(labels), registry=direct_reg, **kw)
    tallied = kind("m", "help", list(labels), registry=tallied_reg, **kw)
    return direct_reg, direct, tallied_reg, Tallied(tallied)


def test_histogram_exposition_equals_observing_each_value() -> None:
    """Pins the private `_buckets`/`_sum` the flush writes (prometheus-client==0.26.0)."""
    direct_reg, direct, tallied_reg, tallied = _pair(Histogram, "route", buckets=BUCKETS)
    for v in VALUES:
        direct.labels("a").observe(v)  # type: ignore[attr-defined]
        tallied.labels("a").observe(v)  # type: ignore[attr-defined]
    direct.labels("b").observe(0.2)  # type: ignore[attr-defined]
    tallied.labels("b").observe(0.2)  # type: ignore[attr-defined]
    TALLY.flush()
    assert _exposed(tallied_reg) == _exposed(direct_reg)
    tallied.labels("a").observe(0.003)  # type: ignore[attr-defined]
    direct.labels("a").observe(0.003)  # type: ignore[attr-defined]
    TALLY.flush()
    assert _exposed(tallied_reg) == _exposed(direct_reg)


def test_counters_and_gauges_add_up_deltas() -> None:
    direct_reg, direct, tallied_reg, tallied = _pair(Counter, "kind")
    g_direct_reg, g_direct, g_tallied_reg, g_tallied = _pair(Gauge)
    for i in range(5):
        direct.labels("x").inc(i)  # type: ignore[attr-defined]
        tallied.labels("x").inc(i)  # type: ignore[attr-defined]
        g_direct.inc()  # type: ignore[attr-defined]
        g_tallied.inc()  # type: ignore[attr-defined]
    g_direct.dec(3)  # type: ignore[attr-defined]
    g_tallied.dec(3)  # type: ignore[attr-defined]
    TALLY.flush()
    assert _exposed(tallied_reg) == _exposed(direct_reg)
    assert _exposed(g_tallied_reg) == _exposed(g_direct_reg)


def test_a_wrong_label_count_fails_at_the_call_not_at_the_flush() -> None:
    _, _, _, tallied = _pair(Counter, "kind")
    with pytest.raises(ValueError):
        tallied.labels("x", "y")  # type: ignore[attr-defined]


async def test_updates_reach_prometheus_within_a_flush_interval() -> None:
    reg = CollectorRegistry()
    counter = Tallied(Counter("c", "help", registry=reg))
    counter.inc()
    assert reg.get_sample_value("c_total") == 0.0  # tallied, not yet written
    await asyncio.sleep(FLUSH_S + 0.2)
    assert reg.get_sample_value("c_total") == 1.0


def test_without_an_event_loop_updates_apply_at_once() -> None:
    reg = CollectorRegistry()
    Tallied(Counter("c", "help", registry=reg)).inc(2)
    assert reg.get_sample_value("c_total") == 2.0


def test_a_forked_child_does_not_flush_its_parents_updates() -> None:
    reg = CollectorRegistry()
    counter = Tallied(Counter("c", "help", registry=reg))
    TALLY._deltas[(counter.metric, ())] = 5  # pending in the parent when it forks
    TALLY.forget()
    TALLY.flush()
    assert reg.get_sample_value("c_total") == 0.0


async def test_a_timer_left_on_a_closed_loop_does_not_stop_flushing() -> None:
    other = asyncio.new_event_loop()
    TALLY.flush()
    TALLY._loop, TALLY._timer = other, other.call_later(60, TALLY.flush)
    other.close()
    reg = CollectorRegistry()
    Tallied(Counter("c", "help", registry=reg)).inc()
    await asyncio.sleep(FLUSH_S + 0.2)
    assert reg.get_sample_value("c_total") == 1.0
