"""pytest-benchmark over the registry: `pytest --benchmark-only` times every pair, size, device and
implementation, grouped so naive and fixed sit side by side (group = pair, device, size).

Plain `pytest` runs each case once at its quick size as a smoke test (the root conftest disables timing).
"""

import pytest
import torch

from benchmarks.cases import case_id, cases, devices, prepare


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    timing = metafunc.config.getoption("benchmark_only", False)
    params, ids = [], []
    for pair, size in cases(quick=not timing):
        for device in devices():
            if device not in pair.devices:
                continue
            for impl in pair.impls():
                params.append((pair, size, device, impl))
                ids.append(f"{case_id(pair, size)}-{device}-{impl}")
    metafunc.parametrize("case", params, ids=ids)


def test_speed(benchmark, case):
    pair, size, device, impl = case
    try:
        fn, args = prepare(pair, size, impl, device)
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    benchmark.group = f"{pair.name} {device} {pair.size_label}={size}"
    benchmark.extra_info.update(pair=pair.name, impl=impl, device=device, size=size)
    with torch.no_grad():
        out = benchmark(fn, *args)
    assert bool(torch.isfinite(pair.select(out)).all()) or impl != "fixed", "fixed implementation produced NaN/Inf"
