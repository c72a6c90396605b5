"""The asv suite's shape (one class per Pair, real parameter axes, fixed versions, units) and a tiny real
`asv run` + `asv publish` (publish once hung on an Infinity in the results: every track must be finite)."""

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def asv_benchmarks():
    discovery = pytest.importorskip("asv_runner.discovery")
    return {b.name: b for b in discovery.disc_benchmarks(str(ROOT / "benchmarks"))}


def test_one_class_per_pair_with_impl_size_device_axes(asv_benchmarks):
    from benchmarks.cases import devices

    for pair in registry.pairs():
        if not devices(pair):
            continue
        cls = pair.name.replace(".", "_")
        timed = asv_benchmarks[f"bench_pairs.{cls}.time_call"]
        assert timed.param_names == ["impl", pair.size_label, "device"]
        assert timed._params == [list(pair.impls()), sorted({*pair.sizes, *pair.cuda_sizes}), devices(pair)]
        assert timed.version == "1"
        tracks = [n for n in asv_benchmarks if n.startswith(f"bench_pairs.{cls}.track_")]
        assert bool(tracks) == (pair.oracle is not None)
        for name in tracks:
            assert asv_benchmarks[name]._params[1] == list(pair.timing_sizes(True))
            assert asv_benchmarks[name].unit not in ("", "unit")


def test_tracks_are_finite_even_for_a_nonfinite_output(asv_benchmarks):
    """The capped error and the NaN/Inf count for a pair whose naive output is forced to NaN."""
    import torch

    from benchmarks.cases import ERROR_CAP, capped_error, nonfinite

    pair = next(p for p in registry.pairs() if p.oracle is not None)
    args = pair.inputs(pair.timing_sizes(True)[0], "cpu", 0)
    with torch.no_grad():
        out = pair.select(pair.fixed(*args)).clone()
    out.view(-1)[:3] = float("nan")
    assert capped_error(pair, out, args) == ERROR_CAP and nonfinite(pair, out) == 3


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def test_asv_run_and_publish_finish_with_finite_results(tmp_path):
    """A tiny `asv run -E existing --quick` (one pair) in a scratch config, then `asv publish`."""
    pytest.importorskip("asv")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    pair = next(p for p in registry.pairs() if p.oracle is not None and "cpu" in p.devices)
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    conf.update(repo=str(ROOT), branches=["HEAD"], benchmark_dir=str(ROOT / "benchmarks"),
                results_dir=str(tmp_path / "results"), html_dir=str(tmp_path / "html"), env_dir=str(tmp_path / "env"))
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    env = dict(os.environ, HOME=str(tmp_path), ASV_PYTHONPATH=str(ROOT))
    asv = [sys.executable, "-m", "asv"]

    def run(*args: str, timeout: float = 240) -> str:
        res = subprocess.run([*asv, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        return res.stdout

    run("machine", "--yes", "--machine", "ci")
    run("run", "-E", f"existing:{sys.executable}", "--quick", "--machine", "ci", "--set-commit-hash",
        _git("rev-parse", "HEAD"), "-b", f"^bench_pairs\\.{pair.name.replace('.', '_')}\\.")
    results = [p for p in (tmp_path / "results" / "ci").glob("*.json") if p.name != "machine.json"]
    assert len(results) == 1
    data = json.loads(results[0].read_text())
    tracks = {k: v for k, v in data["results"].items() if ".track_" in k}
    assert tracks and all(x is None or math.isfinite(x) for v in tracks.values() for x in v[0])
    run("publish", timeout=60)
    index = json.loads((tmp_path / "html" / "index.json").read_text())
    name = f"bench_pairs.{pair.name.replace('.', '_')}.track_rel_error"
    assert index["benchmarks"][name]["unit"] == "relative error (capped at 1)"
    assert list((tmp_path / "html" / "graphs").rglob(f"{name}.json"))
    n_combos = len(list(itertools.product(*index["benchmarks"][name]["params"])))
    assert n_combos == len(pair.impls()) * len(pair.timing_sizes(True))


def test_groups_sort_by_numeric_size():
    from benchmarks.cases import size_key

    names = ["holographic.bind cpu d=1024", "holographic.bind cpu d=256", "holographic.bind cpu d=64"]
    assert sorted(names, key=size_key) == names[::-1]
