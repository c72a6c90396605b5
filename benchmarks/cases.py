"""What both benchmark front ends (asv's classes, the pytest-benchmark module) read from the registry.

Imports are guarded: asv installs each commit's package but imports these modules from the working tree,
so on an older commit a name may be missing; its benchmarks are then skipped, not broken.
"""

from __future__ import annotations

import math
import re

import torch

try:
    from suite import registry
except ImportError:  # a commit before the registry existed
    registry = None

try:
    from suite.timing import timer
except ImportError:  # a commit before the shared timer: the same clock, defined here
    import time

    def timer() -> float:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return time.perf_counter()

try:
    from suite.checks import relative_error
except ImportError:
    relative_error = None

# asv's accuracy track: an error of 1 is what an all-zero output scores, so larger errors (and NaN/Inf
# outputs, counted by their own track) are recorded as 1: asv cannot store or plot Infinity.
ERROR_CAP = 1.0


def pairs() -> list:
    """Registered pairs, or none when the harness is absent or a domain is broken (discovery survives)."""
    if registry is None:
        return []
    try:
        return list(registry.pairs())
    except Exception:  # noqa: BLE001 - a broken domain module must not hide every other benchmark
        return []


def devices(pair=None) -> list[str]:
    """Devices this torch build could time (those of `pair`, if given), decided without touching CUDA.

    asv's forkserver imports the benchmarks once and forks for each one; a CUDA query before the fork
    (even `torch.cuda.is_available()`) leaves the children unable to use CUDA. Whether a GPU is present
    is checked in `prepare`, in the child.
    """
    built = ["cpu", "cuda"] if torch.backends.cuda.is_built() else ["cpu"]
    return [d for d in built if pair is None or d in pair.devices]


def timing_sizes(pair, quick: bool, device: str) -> list[int]:
    """The sizes the report times `pair` at on `device` (per-device full sizes; older registries: one list)."""
    try:
        return list(pair.timing_sizes(quick, device))
    except TypeError:  # a registry before per-device sizes
        return list(pair.timing_sizes(quick))


def all_sizes(pair) -> list[int]:
    """Every full-mode timing size on any device (asv's size axis; other devices' sizes are n/a there)."""
    return sorted({*pair.sizes, *getattr(pair, "cuda_sizes", ())})


def accuracy_sizes(pair) -> list[int]:
    """Sizes at which the error is tracked: the quick sizes, as in the report's accuracy table."""
    return list(pair.timing_sizes(True))


def size_key(text: str) -> tuple:
    """Sort key that orders embedded numbers by value ("d=256" before "d=1024")."""
    return tuple(int(s) if s.isdigit() else s for s in re.split(r"(\d+)", text))


def prepare(pair, size: int, impl: str, device: str, seed: int = 0):
    """(callable, args) ready to time, or NotImplementedError (asv: n/a) when the combination cannot run."""
    if impl not in pair.impls():
        raise NotImplementedError(f"{pair.name} has no implementation {impl!r} in this version")
    if device not in pair.devices:
        raise NotImplementedError(f"{pair.name} does not run on {device}")
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device here")
    reason = pair.skip_reason(impl, size, device)
    if reason:
        raise NotImplementedError(reason)
    return with_threads(pair.impl(impl), getattr(pair, "threads", None)), pair.inputs(size, device, seed)


def with_threads(fn, n: int | None):
    """`fn` run on the pair's declared intra-op thread count (as the report times it), or unchanged."""
    if n is None:
        return fn
    from suite.timing import threads

    def call(*args):
        with threads(n):
            return fn(*args)
    return call


def capped_error(pair, out, args) -> float:
    """Relative error of the selected output against the pair's oracle, in [0, ERROR_CAP]."""
    err = relative_error(pair.select(out), pair.oracle(*args))
    return ERROR_CAP if not math.isfinite(err) else min(err, ERROR_CAP)


def nonfinite(pair, out) -> int:
    return int((~torch.isfinite(pair.select(out))).sum())
