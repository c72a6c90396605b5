"""One device-synchronising timer for asv (`timer = suite.timing.timer`), pytest-benchmark
(`--benchmark-timer suite.timing.timer`) and the report (`measure`).

CUDA kernels launch asynchronously: a host clock read without a synchronise measures the launch, not the
work. `timer()` synchronises the current CUDA device (when CUDA is initialised) before reading
`time.perf_counter`, so "stop - start" brackets every kernel queued in between.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


def synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
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


@dataclass(frozen=True)
class Timing:
    median: float  # seconds
    q25: float
    q75: float
    repeats: int

    @property
    def median_ms(self) -> float:
        return self.median * 1e3


def measure(fn: Callable[[], object], *, warmup: int = 2, repeats: int = 7, min_time: float = 0.05,
            max_time: float = 5.0) -> Timing:
    """Median wall time of `fn()` after `warmup` calls.

    Each sample runs `fn` `number` times, with `number` chosen so a sample lasts >= `min_time / repeats`
    (short kernels are not at the clock's resolution); sampling stops early past `max_time` seconds.
    """
    for _ in range(max(warmup, 1)):
        fn()
    t0 = timer()
    fn()
    one = max(timer() - t0, 1e-9)
    number = max(1, int(min_time / repeats / one))
    samples: list[float] = []
    start = timer()
    while len(samples) < repeats:
        t0 = timer()
        for _ in range(number):
            fn()
        samples.append((timer() - t0) / number)
        if timer() - start > max_time and len(samples) >= 3:
            break
    qs = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return Timing(statistics.median(samples), qs[0], qs[2], len(samples))
