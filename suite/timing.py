"""Timing that a reader can trust on a shared machine: one synchronising clock, torch.utils.benchmark's
sampling, and with every timing the spread, the thread count and the machine's load.

One clock for everything: `timer()` is asv's `timer` attribute, pytest-benchmark's `--benchmark-timer`
and the clock `measure` hands to `torch.utils.benchmark.Timer`. CUDA kernels launch asynchronously, so a
host clock read without a synchronise measures the launch, not the work: `timer()` synchronises the
current CUDA device (when this process has initialised CUDA) before reading `time.perf_counter`, so
"stop - start" brackets every kernel queued in between. (torch.utils.benchmark's own default clock does
the same through `torch.accelerator.synchronize()`; passing ours keeps one definition for all three tools.)

Reading timings from a loaded machine. Other processes only ever add time, so the low quantiles of the
samples are the best estimate of what the code costs and the upper ones measure the interference. Two
timings are told apart only when their interquartile ranges do not overlap (`distinguishable`); a machine
whose 1-minute load average exceeds its core count is "loaded" (`machine_loaded`, `load_warning`) and its
absolute times should be read as upper bounds.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.utils.benchmark as tbench


def synchronize() -> None:
    """Wait for queued CUDA work, without touching CUDA in a process that has not used it.

    `torch.cuda.is_initialized()` reads a flag; `is_available()` would query the driver, which makes a
    later fork unable to use CUDA (asv's forkserver forks after importing the benchmarks).
    """
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


@contextlib.contextmanager
def threads(n: int):
    """Run a block (or, as `@threads(n)`, a function) on `n` intra-op threads, restoring the setting after.

    Loops over tiny tensors are dominated by OpenMP hand-off when several threads must meet at each op's
    barrier (badly so when other processes share the cores): one thread makes them both faster and steadier.
    """
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def timer() -> float:
    """Seconds on a monotonic clock, after all queued CUDA work has finished."""
    synchronize()
    return time.perf_counter()


def load_average() -> float:
    """The machine's 1-minute load average (runnable processes, this one included); NaN where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return math.nan


def cpu_count() -> int:
    return os.cpu_count() or 1


def _quantile(sorted_xs: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of an ascending list."""
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median and spread of `repeats` samples, each the mean of `number` calls.

    `load` is the 1-minute load average (the larger of its values at the start and the end of the
    measurement), `threads` the intra-op thread count the calls ran with, `cores` the machine's CPU count.
    """

    median: float
    q25: float
    q75: float
    repeats: int
    q10: float = math.nan
    number: int = 1
    threads: int = 0
    load: float = math.nan
    cores: int = field(default_factory=cpu_count)

    @property
    def median_ms(self) -> float:
        return self.median * 1e3

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (torch.utils.benchmark warns above 0.1)."""
        return self.iqr / self.median if self.median > 0 else math.inf

    @property
    def loaded(self) -> bool:
        """The machine ran more runnable processes than it has cores while this was measured."""
        return self.load > self.cores

    @classmethod
    def from_samples(cls, samples: Iterable[float], **fields) -> Timing:
        xs = sorted(samples)
        if not xs:
            raise ValueError("samples must not be empty")
        return cls(median=_quantile(xs, 0.5), q25=_quantile(xs, 0.25), q75=_quantile(xs, 0.75),
                   repeats=len(xs), q10=_quantile(xs, 0.1), **fields)


def distinguishable(a: Timing, b: Timing) -> bool:
    """Whether two timings differ by more than their noise: their interquartile ranges do not overlap.

    The rule a speed verdict must pass before it says "a is faster than b": with half of each timing's
    samples inside its IQR, disjoint IQRs mean that the typical sample of one lies outside the typical
    range of the other. Overlapping IQRs mean no verdict, whatever the ratio of the medians.
    """
    return a.q75 < b.q25 or b.q75 < a.q25


def speedup(slow: Timing, fast: Timing) -> float | None:
    """`slow.median / fast.median` when the two are distinguishable, else None (no verdict)."""
    return slow.median / fast.median if distinguishable(slow, fast) else None


def machine_loaded(timings: Iterable[Timing]) -> bool:
    """Whether any of the timings was taken while the load average exceeded the core count."""
    return any(t.loaded for t in timings)


def load_warning(timings: Iterable[Timing]) -> str | None:
    """A sentence for a report when the machine was loaded during some of `timings`, else None."""
    loaded = [t for t in timings if t.loaded]
    if not loaded:
        return None
    worst = max(loaded, key=lambda t: t.load)
    return (f"{len(loaded)} timing(s) were taken while the machine was loaded (1-minute load average up to "
            f"{worst.load:.1f} on {worst.cores} cores): other processes competed for the CPU, so absolute "
            "times are upper bounds and only differences whose interquartile ranges do not overlap count.")


STABLE_REPEATS = 10  # samples that give a usable 10% quantile; taken whenever they fit in half of max_time
BLOCK_TIME = 0.01  # seconds of calls per sample: the synchronising clock (~10-50 us) stays below 0.5 % of it


def measure(fn: Callable[[], object], *, warmup: int = 2, repeats: int = 7, min_time: float = 0.05,
            max_time: float = 5.0, num_threads: int | None = None) -> Timing:
    """Time `fn()` with `torch.utils.benchmark.Timer` and the synchronising `timer`, in blocks of ~10 ms.

    After `warmup` calls (the fastest after the first fixes the block: `number = ceil(BLOCK_TIME / one call)` calls per
    sample, 1 for calls longer than a block), samples are taken with `Timer.timeit(number)` until there are
    `repeats` of them (at least `STABLE_REPEATS` when they fit in half of `max_time`) and `min_time` seconds
    have been spent, stopping past `max_time` seconds once there are 3. (`blocked_autorange` grows its block
    by factors of 10 until it passes 50 ms, so ten samples of a 2 ms call cost about 2 s; fixed 10 ms blocks
    give the same quantiles for a tenth of that.) `num_threads` defaults to the caller's
    `torch.get_num_threads()` (Timer's own default is 1), so a `threads(n)` block around the call is respected.
    """
    n_threads = torch.get_num_threads() if num_threads is None else num_threads
    load = load_average()
    t = tbench.Timer("fn()", globals={"fn": fn}, timer=timer, num_threads=n_threads)
    with threads(n_threads):
        warm = []
        for _ in range(warmup):
            t0 = timer()
            fn()
            warm.append(timer() - t0)
    # the fastest warm call after the first (which carries one-off costs: allocation, compilation), so that
    # one pre-empted call does not make the blocks too short
    one = min(warm[1:] or warm) if warm else 0.0
    want = max(repeats, STABLE_REPEATS) if one * STABLE_REPEATS <= max_time / 2 else repeats
    number = max(1, math.ceil(BLOCK_TIME / one)) if one > 0 else 1
    samples: list[float] = []
    spent = 0.0
    while True:
        m = t.timeit(number)
        samples += m.times
        spent += sum(m.raw_times)
        if (len(samples) >= want and spent >= min_time) or (spent >= max_time and len(samples) >= min(3, want)):
            break
    return Timing.from_samples(samples, number=number, threads=n_threads,
                               load=max(load, load_average()))
