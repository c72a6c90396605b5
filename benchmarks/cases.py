"""The benchmark cases, read from the registry: shared by the asv classes and the pytest-benchmark module.

Imports are guarded: asv installs each commit's package but imports these modules from the working tree,
so on an older commit a name may be missing; its cases are then skipped, not broken.
"""

from __future__ import annotations

try:
    from suite import registry
    from suite.checks import relative_error
    from suite.timing import timer
except ImportError:  # an old commit without the harness
    registry = None
    relative_error = None
    import timeit

    timer = timeit.default_timer


def _pairs():
    """Registered pairs, or none when the harness is absent or a domain is broken (asv discovery survives)."""
    if registry is None:
        return []
    try:
        return registry.pairs()
    except Exception:  # noqa: BLE001 - a broken domain module must not hide every other benchmark
        return []


def case_id(pair, size) -> str:
    return f"{pair.name}[{pair.size_label}={size}]"


def cases(quick: bool = False) -> list[tuple]:
    """(pair, size) for every pair and timing size."""
    return [(p, s) for p in _pairs() for s in p.timing_sizes(quick)]


def devices() -> list[str]:
    return registry.available_devices() if registry is not None else ["cpu"]


def find(case: str):
    """(pair, size) for an asv case id; raises NotImplementedError (asv: skip) when absent here."""
    for p, s in cases():
        if case_id(p, s) == case:
            return p, s
    raise NotImplementedError(f"{case} is not registered in this version")


def prepare(pair, size: int, impl: str, device: str, seed: int = 0):
    """(callable, args) ready to time, or NotImplementedError when the combination cannot run here."""
    if impl not in pair.impls():
        raise NotImplementedError(f"{pair.name} has no implementation {impl}")
    if device not in pair.devices or device not in devices():
        raise NotImplementedError(f"{pair.name} does not run on {device} here")
    reason = pair.skip_reason(impl, size, device)
    if reason:
        raise NotImplementedError(reason)
    return pair.impl(impl), pair.inputs(size, device, seed)
