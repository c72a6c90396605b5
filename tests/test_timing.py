"""The shared timer and the timing-side rules (structure only: speed is measured by benchmarks, never
asserted in tests)."""

import math

import pytest
import torch

from suite.timing import (STABLE_REPEATS, Timing, distinguishable, load_warning, machine_loaded, measure,
                          speedup, threads, timer)


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
    assert t.repeats >= STABLE_REPEATS and len(calls) >= 2 + t.repeats * t.number
    assert 0 < t.q10 <= t.q25 <= t.median <= t.q75
    assert t.median_ms == t.median * 1e3
    assert t.iqr == t.q75 - t.q25 and t.spread == t.iqr / t.median


def test_measure_stops_at_max_time():
    t = measure(lambda: torch.randn(64).sum(), repeats=10_000, min_time=0.0, max_time=0.05)
    assert 3 <= t.repeats < 10_000


def test_measure_takes_few_repeats_of_a_slow_call():
    """A call too slow for STABLE_REPEATS samples within max_time gets the `repeats` asked for, one call per
    sample (a call longer than BLOCK_TIME): each `Timer.timeit(number)` gives one sample, and sampling
    stops as soon as there are `repeats` of them and `min_time` has passed."""
    import time

    t = measure(lambda: time.sleep(0.02), warmup=1, repeats=3, min_time=0.0, max_time=0.1)
    assert t.repeats == 3 and t.number == 1


def test_measure_blocks_a_fast_call_to_about_block_time():
    """A call much shorter than BLOCK_TIME is timed in blocks of several calls per sample (the block is fixed
    by the fastest warm call after the first, so one pre-empted warm call does not shorten it)."""
    t = measure(lambda: torch.zeros(4).add_(1), warmup=5, repeats=3, min_time=0.0, max_time=1.0)
    assert t.number > 1 and t.repeats >= STABLE_REPEATS


def test_measure_records_threads_and_load_and_respects_the_callers_threads():
    prev = torch.get_num_threads()
    with threads(1):
        t = measure(lambda: torch.randn(64).sum(), repeats=3, min_time=0.0, max_time=0.05)
    assert t.threads == 1 and torch.get_num_threads() == prev
    assert t.cores >= 1 and (math.isnan(t.load) or t.load >= 0)
    t2 = measure(lambda: torch.randn(64).sum(), repeats=3, min_time=0.0, max_time=0.05, num_threads=1)
    assert t2.threads == 1 and torch.get_num_threads() == prev


def test_from_samples_uses_linear_quantiles():
    t = Timing.from_samples([5.0, 1.0, 3.0, 2.0, 4.0], threads=2, load=0.5, cores=2)
    assert (t.q10, t.q25, t.median, t.q75, t.repeats) == (1.4, 2.0, 3.0, 4.0, 5)
    with pytest.raises(ValueError, match="samples"):
        Timing.from_samples([])


def test_distinguishable_needs_disjoint_interquartile_ranges():
    a = Timing(1.0, 0.9, 1.1, 10)
    assert distinguishable(a, Timing(2.0, 1.2, 2.4, 10)) and speedup(Timing(2.0, 1.2, 2.4, 10), a) == 2.0
    overlapping = Timing(2.0, 1.05, 3.0, 10)  # medians 2x apart, but the spreads overlap
    assert not distinguishable(a, overlapping) and not distinguishable(overlapping, a)
    assert speedup(overlapping, a) is None


def test_load_warning_only_when_load_exceeds_cores():
    calm, busy = Timing(1.0, 0.9, 1.1, 10, load=1.5, cores=2), Timing(1.0, 0.9, 1.1, 10, load=3.2, cores=2)
    assert not calm.loaded and busy.loaded
    assert not machine_loaded([calm]) and machine_loaded([calm, busy])
    assert load_warning([calm]) is None
    assert "3.2 on 2 cores" in load_warning([calm, busy])
    assert not Timing(1.0, 0.9, 1.1, 10).loaded  # unknown load (NaN) is not "loaded"
