"""The shared timer: structure only (speed itself is measured by benchmarks, never asserted in tests)."""

import torch

from suite.timing import measure, timer


def test_timer_is_monotonic():
    a = timer()
    torch.randn(1000).sum()
    assert timer() >= a


def test_measure_warms_up_and_orders_quantiles():
    calls = []

    def fn():
        calls.append(1)
        return torch.randn(256, 256) @ torch.randn(256, 256)

    t = measure(fn, warmup=2, repeats=5, min_time=0.01)
    assert t.repeats == 5 and len(calls) >= 2 + 1 + 5
    assert 0 < t.q25 <= t.median <= t.q75
    assert t.median_ms == t.median * 1e3


def test_measure_stops_at_max_time():
    t = measure(lambda: torch.randn(64).sum(), repeats=10_000, min_time=0.0, max_time=0.05)
    assert 3 <= t.repeats < 10_000
