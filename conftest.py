"""Root conftest: how pytest-benchmark shows the registry's benchmarks.

- Plain `pytest` runs the benchmark module as a one-call smoke test; `--benchmark-only` times it.
  (pytest-benchmark's own configure hook runs last, so it sees the option set here.)
- Groups (one per pair, device and size) are listed in numeric size order: "d=256" before "d=1024".
- After pytest-benchmark's tables, one line per group gives the fixed/naive ratio of the medians, or says
  that the two cannot be told apart (their interquartile ranges overlap: `suite.timing.distinguishable`).
"""

import pytest

# Doctest collection imports every module of suite/; the Triton kernels import triton at module level, which a
# CPU install need not have (they hold no examples).
collect_ignore = ["suite/fastweights/_triton.py"]

_GROUPS: list = []


def pytest_configure(config):
    if not config.getoption("benchmark_only", False) and not config.getoption("benchmark_enable", False):
        config.option.benchmark_disable = True


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_benchmark_group_stats(config, benchmarks, group_by):
    from benchmarks.cases import size_key

    groups = sorted((yield), key=lambda g: size_key(g[0] or ""))
    _GROUPS[:] = groups
    return groups


def _ratio_lines(groups) -> list[str]:
    from suite.timing import Timing, distinguishable

    lines = []
    for name, benches in groups:
        by_impl = {(b.get("extra_info") or {}).get("impl"): b for b in benches if b.get("source") in (None, False, "NOW")}
        if "naive" not in by_impl or "fixed" not in by_impl:
            continue
        naive, fixed = (Timing(b["median"], b["q1"], b["q3"], b["rounds"]) for b in (by_impl["naive"], by_impl["fixed"]))
        verdict = "" if distinguishable(naive, fixed) else "   (IQRs overlap: not distinguishable)"
        lines.append(f"{name:<48} fixed/naive = {fixed.median / naive.median:8.3g}{verdict}")
    return lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    lines = _ratio_lines(_GROUPS)
    if lines:
        terminalreporter.section("fixed/naive (median time ratio; < 1: fixed is faster)", sep="-")
        for line in lines:
            terminalreporter.write_line(line)
