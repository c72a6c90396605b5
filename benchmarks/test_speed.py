"""pytest-benchmark over the registry: `pytest --benchmark-only` times every pair, size, device and
implementation; one group per pair, device and size, so naive, fixed and the variants sit side by side
(the root conftest orders the groups by size and prints each group's fixed/naive ratio).

Plain `pytest` runs each case once at its quick size as a smoke test (the root conftest disables timing).
"""

import pytest
import torch

from benchmarks.cases import devices, pairs, prepare, timing_sizes


def group_name(pair, device: str, size: int) -> str:
    return f"{pair.name} {device} {pair.size_label}={size}"


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    timing = metafunc.config.getoption("benchmark_only", False)
    params, ids = [], []
    for pair in pairs():
        for device in devices(pair):
            if device == "cuda" and not torch.cuda.is_available():
                continue
            for size in timing_sizes(pair, not timing, device):
                for impl in pair.impls():
                    params.append((pair, size, device, impl))
                    ids.append(f"{pair.name}[{pair.size_label}={size}]-{device}-{impl}")
    metafunc.parametrize("case", params, ids=ids)


def test_speed(benchmark, case):
    pair, size, device, impl = case
    try:
        fn, args = prepare(pair, size, impl, device)
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    benchmark.group = group_name(pair, device, size)
    benchmark.extra_info.update(pair=pair.name, impl=impl, device=device, size=size)
    with torch.no_grad():
        out = benchmark(fn, *args)
    assert bool(torch.isfinite(pair.select(out)).all()) or impl != "fixed", "fixed implementation produced NaN/Inf"
