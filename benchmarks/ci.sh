#!/usr/bin/env bash
# What CI for the benchmarks runs, in the current environment (the project importable from this checkout):
# the asv suite once (--quick: one sample per combination), recorded under the checkout's commit and
# published, then the benchmark tests and the pytest-benchmark smoke run. About 2.5 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export ASV_PYTHONPATH=$PWD  # asv drops PYTHONPATH; this puts the checkout on the benchmarks' path
"$PY" -m asv machine --yes >/dev/null
"$PY" -m asv run -E "existing:$(command -v "$PY")" --quick --set-commit-hash "$(git rev-parse HEAD)"
"$PY" -m asv publish
PYTHONPATH=$PWD "$PY" -m pytest -q tests/test_benchmarks.py tests/test_timing.py benchmarks/test_speed.py
