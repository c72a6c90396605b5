"""Root conftest: plain `pytest` runs the benchmark module as a one-call smoke test; `--benchmark-only`
times it. (pytest-benchmark's own configure hook runs last, so it sees the option set here.)"""


def pytest_configure(config):
    if not config.getoption("benchmark_only", False) and not config.getoption("benchmark_enable", False):
        config.option.benchmark_disable = True
