"""`neurophys audit`: planted bad implementations fail the right property with a minimal case, the fixed ones
pass, bad --impl strings give one clear line, a hanging implementation times out and the audit goes on, the
output is written atomically, plugins load, and the pytest plugin runs in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import torch

from suite import holographic as hg
from suite import hyperbolic as hy
from suite.audit import audit, check, write
from suite.cli import main as neurophys
from suite.audit import plugins, public
from suite.audit.properties import properties
from suite.audit.run import MARKER, AuditOutputError, public_audit_table

ROOT = Path(__file__).resolve().parents[1]


def irfft_without_n(x, y):
    """The odd-d bug: irfft without n returns d - 1 samples (2 (d // 2)) for odd d."""
    return torch.fft.irfft(torch.fft.rfft(x) * torch.fft.rfft(y))


def project_zero_bin_nan(x):
    """The zero-bin bug: X / |X| is 0/0 = NaN in a zero bin (DC of a zero-mean vector)."""
    X = torch.fft.rfft(x)
    return torch.fft.irfft(X / X.abs(), n=x.shape[-1])


def hangs(x, y):
    time.sleep(60)


def raises(x, y):
    raise RuntimeError("boom")


def wrong_shape(x, y):
    return x[..., :-1]


def prop(pair: str, start: str):
    (p,) = [p for p in properties(pair) if p.name.startswith(start)]
    return p


# ------------------------------------------------------------------------------------------- properties
def test_odd_d_loss_fails_the_shape_property_with_the_smallest_odd_d():
    res = check(prop("holographic.bind", "odd d"), irfft_without_n, "planted", max_examples=10)
    assert res.status == "failed"
    assert res.detail.startswith("odd d loses a sample")
    assert res.example.startswith("d=3,")  # shrunk to the smallest odd d >= 2


def test_nan_on_zero_bins_fails_the_zero_bin_property():
    res = check(prop("holographic.project", "zero spectral bins"), project_zero_bin_nan, "planted", max_examples=8)
    assert res.status == "failed"
    assert "NaN" in res.detail and res.example.startswith("d=2,")
    # ... while on generic input (no zero bin) the same function is unitary: the property is about the bins
    assert check(prop("holographic.project", "output is unitary"), project_zero_bin_nan, max_examples=5).passed


@pytest.mark.parametrize("pair, fn", [("holographic.bind", hg.bind), ("holographic.project", hg.project),
                                      ("holographic.phasor_bind", hg.phasor_bind)])
def test_fixed_versions_pass_every_property(pair, fn):
    for p in properties(pair):
        res = check(p, fn, "fixed", max_examples=5)
        assert res.passed, res


def test_arcosh_lorentz_distance_loses_small_distances_and_the_fixed_one_does_not():
    from baselines.hyperbolic import lorentz_distance_arcosh

    near = prop("hyperbolic.lorentz_distance", "nearby points")
    bad = check(near, lorentz_distance_arcosh, "naive", max_examples=10)
    assert bad.status == "failed" and bad.number > 10 and "cancellation" in bad.detail
    assert check(near, hy.lorentz_distance, "fixed", max_examples=10).passed
    assert not check(prop("hyperbolic.lorentz_distance", "d(x, x)"), lorentz_distance_arcosh, max_examples=10).passed


def test_hrr_projection_is_not_unitary_on_zero_mean_input():
    pytest.importorskip("HRR.with_pytorch")
    fn = public.installed("holographic.project")["hrr_projection"][1]
    res = check(prop("holographic.project", "zero spectral bins"), fn, "hrr", max_examples=5)
    assert res.status == "failed" and res.number == pytest.approx(1.0)  # nan_to_num: an all-zero output


# ------------------------------------------------------------------------------------------- audit()
def test_a_hanging_raising_or_misshapen_impl_is_recorded_and_the_audit_goes_on():
    t0 = time.perf_counter()
    res = audit("holographic.bind", {"hang": hangs, "raise": raises, "shape": wrong_shape, "ok": hg.bind},
                timeout=0.3, quick=True, speed=False, reference=False)
    assert time.perf_counter() - t0 < 20
    by = {(p.impl, p.property): p for p in res.properties}
    assert {p.status for (i, _), p in by.items() if i == "hang"} == {"timeout"}
    assert {p.status for (i, _), p in by.items() if i == "raise"} == {"raised"}
    assert "boom" in by["raise", prop("holographic.bind", "odd d").name].detail
    assert not by["shape", prop("holographic.bind", "odd d").name].passed
    assert by["shape", prop("holographic.bind", "error vs").name].status == "wrong shape"
    assert all(p.passed for (i, _), p in by.items() if i == "ok")
    acc = {a["impl"]: a for a in res.accuracy}
    assert acc["hang"]["status"] == "timeout" and acc["shape"]["status"] == "wrong shape"
    assert acc["ok"]["status"] == "ok" and acc["ok"]["error"] < 1e-5


def test_speed_rows_compare_with_naive_and_fixed_and_write_is_atomic(tmp_path):
    res = audit("holographic.bind", {"mine": hg.bind}, quick=True, reference=False,
                timeout=30)
    (row,) = res.speed
    assert row["impl"] == "mine" and row["median_s"] > 0 and "vs naive" in row["detail"]
    out = write([res], tmp_path / "a")
    assert {p.name for p in out.iterdir()} == {"index.html", "results.csv", "results.json", MARKER}
    page = (out / "index.html").read_text()
    assert "holographic.bind" in page and "http" not in page.split("<body>")[0]
    rows = json.loads((out / "results.json").read_text())
    assert {r["kind"] for r in rows} == {"property", "accuracy", "speed"}
    write([res], out)  # an earlier audit is replaced
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    other = tmp_path / "mine"
    other.mkdir()
    (other / "data.txt").write_text("keep")
    with pytest.raises(AuditOutputError, match="not an earlier audit"):
        write([res], other)
    assert (other / "data.txt").read_text() == "keep"


# ------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "usermod.py").write_text(textwrap.dedent('''
        import torch
        def bad_bind(x, y):
            return torch.fft.irfft(torch.fft.rfft(x) * torch.fft.rfft(y))
        def one_arg(x):
            return x
        notfn = 3
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("spec, words", [
    ("nosuch_mod_xyz:f", "does not import"), ("usermod:nothere", "has no attribute"),
    ("usermod:notfn", "not callable"), ("usermod:one_arg", "does not take the 2 positional"),
    ("usermod", "expected 'package.module:function'")])
def test_bad_impl_gives_one_clear_line_naming_it(user_module, capsys, spec, words):
    rc = neurophys(["audit", "holographic.bind", "--impl", spec, "--out", str(user_module / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and spec in err[0] and words in err[0]
    assert not (user_module / "out").exists()


def test_cli_audits_a_user_function(user_module, capsys):
    rc = neurophys(["audit", "holographic.bind", "--impl", "usermod:bad_bind", "--out", str(user_module / "o"),
                         "--quick", "--no-speed"])
    out = capsys.readouterr().out
    assert rc == 0 and "bad_bind: odd d loses a sample" in out and "[d=3," in out
    assert (user_module / "o" / "index.html").exists()


@pytest.mark.parametrize("argv, words", [
    (["no.such_pair", "--impl", "usermod:bad_bind"], "no pair named 'no.such_pair'"),
    (["holographic.bind"], "nothing to audit"),
    (["all", "--impl", "usermod:bad_bind"], "--impl needs one pair"),
    (["holographic.bind", "--impl", "usermod:bad_bind", "--out", "{tmp}/usermod.py"], "is not an earlier audit"),
    (["holographic.bind", "--impl", "usermod:bad_bind", "--device", "cuda"], "torch.cuda.is_available() is False")])
def test_audit_subcommand_bad_arguments_exit_2_with_one_line(user_module, capsys, argv, words):
    if "--device" in argv and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    argv = [a.format(tmp=user_module) for a in argv]
    rc = neurophys(["audit", *argv] + ([] if "--out" in argv else ["--out", str(user_module / "o")]))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("neurophys audit: error:") and words in err[0]
    assert not (user_module / "o").exists()


def test_audit_is_listed_in_the_neurophys_help_with_its_own(capsys):
    with pytest.raises(SystemExit) as top:
        neurophys(["--help"])
    assert top.value.code == 0 and "audit" in capsys.readouterr().out
    with pytest.raises(SystemExit) as sub:
        neurophys(["audit", "--help"])
    out = capsys.readouterr().out
    assert sub.value.code == 0 and "--impl package.module:function" in out and "Exit status" in out


def test_python_m_suite_audit_runs_in_a_subprocess(user_module):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(user_module)]))
    run = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-m", "suite", "audit",
                          "holographic.project", "--impl", "usermod:one_arg", "--quick", "--no-speed",
                          "--out", str(user_module / "sub")], cwd=user_module, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    # the identity is not a unitary projection: the property says so with the smallest case hypothesis found
    assert "holographic.project one_arg: " in run.stdout and "output is not unitary" in run.stdout
    rows = json.loads((user_module / "sub" / "results.json").read_text())
    assert {r["impl"] for r in rows} == {"naive", "fixed", "one_arg"}


# ------------------------------------------------------------------------------------------- plugins
def test_entry_point_variants_load_with_pair_from_name_or_attribute(monkeypatch):
    def fn(x, y):
        return hg.bind(x, y)
    fn.neurophys_pair = "holographic.bind"
    mod = type(sys)("np_plugin_demo")
    mod.fn, mod.plain = fn, hg.project
    monkeypatch.setitem(sys.modules, "np_plugin_demo", mod)
    eps = [EntryPoint("holographic.project:plainproj", "np_plugin_demo:plain", plugins.GROUP),
           EntryPoint("attrbind", "np_plugin_demo:fn", plugins.GROUP),
           EntryPoint("nopair", "np_plugin_demo:plain", plugins.GROUP),
           EntryPoint("broken", "np_plugin_missing:f", plugins.GROUP)]
    monkeypatch.setattr(plugins, "entry_points", lambda group: [e for e in eps if e.group == group])
    found = plugins.variants()
    assert found == {"holographic.project": {"plainproj": hg.project}, "holographic.bind": {"attrbind": fn}}
    errors = plugins.variant_errors()
    assert "no pair given" in errors["nopair"] and "does not load" in errors["broken"]


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A distribution `np-demo-plugin` installed on sys.path (a dist-info folder) declaring three variants:
    one usable, one whose name clashes with the pair's naive, one for a pair that does not exist."""
    (tmp_path / "np_demo_plugin.py").write_text(textwrap.dedent('''
        from suite import holographic
        def bind(x, y):
            return holographic.bind(x, y)
        bind.neurophys_pair = "holographic.bind"
        def other(x, y):
            return holographic.bind(y, x)
        '''))
    dist = tmp_path / "np_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: np-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[neurophys.variants]\ndemo_bind = np_demo_plugin:bind\n"
                                           "holographic.bind:naive = np_demo_plugin:other\n"
                                           "no.such_pair:x = np_demo_plugin:other\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.installed.cache_clear()
    yield
    plugins.installed.cache_clear()  # the next call rescans, without tmp_path on sys.path


def _fresh_import(monkeypatch, name: str):
    """`name` imported anew for this test only: the module and its parent's attribute are put back (or removed)
    afterwards, so classes generated at import while a plugin is installed do not leak into later tests."""
    import importlib

    parent, _, child = name.rpartition(".")
    monkeypatch.setitem(sys.modules, name, None)
    del sys.modules[name]
    monkeypatch.setattr(importlib.import_module(parent), child, None, raising=False)
    return importlib.import_module(name)


def test_installed_plugin_variants_ride_along_in_registry_report_asv_and_pytest_benchmark(installed_plugin,
                                                                                          monkeypatch):
    from types import SimpleNamespace

    bench_pairs = _fresh_import(monkeypatch, "benchmarks.bench_pairs")
    test_speed = _fresh_import(monkeypatch, "benchmarks.test_speed")
    from suite import registry
    from suite.report.collect import accuracy_rows

    pair = registry.get_pair("holographic.bind")
    impls = pair.impls()
    assert impls["demo_bind"].__module__ == "np_demo_plugin" and impls["naive"] is pair.naive
    errors = registry.plugin_errors()
    assert "taken by the pair's own 'naive'" in errors["holographic.bind:naive"]
    assert "no pair named 'no.such_pair'" in errors["no.such_pair:x"]
    # the report: an accuracy row of its own, judged by the same oracle
    (row,) = [r for r in accuracy_rows(pair, "cpu", 0, lambda msg: None, None) if r["impl"] == "demo_bind"]
    assert row["status"] == "ok" and row["rel_error"] < 1e-5
    # asv: the implementation axis of the pair's class
    cls = bench_pairs._benchmark_class("holographic_bind", pair, {})
    assert "demo_bind" in cls.time_call.params[0] and "demo_bind" in cls.track_rel_error.params[0]
    # pytest-benchmark: one case per size and device
    seen = {}
    meta = SimpleNamespace(fixturenames=["case"], config=SimpleNamespace(getoption=lambda *a: False),
                           parametrize=lambda name, params, ids: seen.update(ids=ids))
    test_speed.pytest_generate_tests(meta)
    assert any(i.startswith("holographic.bind[") and i.endswith("-cpu-demo_bind") for i in seen["ids"])


def test_audit_plugins_option_audits_the_installed_variants(installed_plugin, tmp_path, capsys):
    rc = neurophys(["audit", "holographic.bind", "--plugins", "--quick", "--no-speed", "--out", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert rc == 0 and "holographic.bind demo_bind: passes every property" in out


def test_public_audit_table_is_tidy(monkeypatch):
    fake = public.PublicImpl("demo_bind", "demo", "demo.bind", "holographic.bind", hg.bind, (), "demo")
    absent = public.PublicImpl("demo_absent", "absentlib", "absentlib.f", "holographic.bind", hg.bind,
                               ("absentlib_xyz",), "absentlib")
    monkeypatch.setattr(public, "installed", lambda pair, device: {"demo_bind": (fake, hg.bind)})
    monkeypatch.setattr(public, "missing", lambda pair, device: [(absent, "not installed (pip install absentlib)")])
    df = public_audit_table(["cpu"], quick=True)
    assert list(df.columns) == ["library", "function", "pair", "device", "property", "status", "number",
                                "detail", "example"]
    ran = df[df.library == "demo"]
    assert len(ran) == len(properties("holographic.bind")) + 1 and (ran.status == "passed").all()
    (row,) = df[df.library == "absentlib"].to_dict("records")
    assert row["status"] == "not installed" and "pip install absentlib" in row["detail"]


def test_absent_library_is_simply_absent_and_listed_as_missing(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchhd" else real(name, *a))
    assert "torchhd_bind" not in public.installed()
    why = dict((p.name, w) for p, w in public.missing())
    assert why["torchhd_bind"] == "not installed (pip install torch-hd)"
    assert "runs on cuda only" in why["fla_chunk"] or why["fla_chunk"].startswith("not installed")


def _plugin_option() -> list[str]:
    """`-p suite.audit.pytest_plugin` when running from a source tree; nothing when the package is installed,
    where pytest loads it itself through the pytest11 entry point (naming it again is an error)."""
    from importlib.metadata import entry_points

    installed = any(ep.name == "neurophys" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "suite.audit.pytest_plugin"]


def test_pytest_plugin_runs_the_properties_in_a_subprocess(user_module):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(user_module)]))
    cmd = [sys.executable, "-m", "pytest", *_plugin_option(), "-p", "no:cacheprovider", "-q",
           "--neurophys-impl", "holographic.bind=usermod:bad_bind", "--neurophys-examples", "5",
           "-W", "ignore::DeprecationWarning"]
    run = subprocess.run(cmd, cwd=user_module, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "odd d loses a sample" in run.stdout and "smallest failing case: d=3" in run.stdout
    assert "1 passed" in run.stdout or "passed" in run.stdout
    bad = subprocess.run([*cmd[:-4], "--neurophys-impl", "holographic.bind=usermod:notfn"], cwd=user_module,
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "usermod:notfn" in bad.stderr and "not callable" in bad.stderr


def test_pytest11_entry_point_is_declared_and_costs_nothing_without_the_option(tmp_path):
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["entry-points"]["pytest11"] == {"neurophys": "suite.audit.pytest_plugin"}
    assert {"hypothesis", "torch-hd", "hrr", "torchoptics", "pado-optics", "fla-core"} <= {
        r.split(">")[0].split("=")[0] for r in meta["optional-dependencies"]["audit"]}
    (tmp_path / "test_user.py").write_text(
        "import sys\n\ndef test_nothing_heavy_was_imported():\n"
        "    assert 'torch' not in sys.modules and 'suite.registry' not in sys.modules\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # only this plugin (pytest-benchmark's and hypothesis' own are switched off: they are not under test)
    cmd = [sys.executable, "-m", "pytest", *_plugin_option(), "-p", "no:cacheprovider", "-q",
           "-p", "no:benchmark", "-p", "no:hypothesispytest", str(tmp_path)]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


# ------------------------------------------------------------------------------------------- the report's study
@pytest.fixture
def fake_public(monkeypatch):
    """Two public functions: one installed (a planted odd-d bug), one not installed."""
    bad = public.PublicImpl("demo_bad", "demolib", "demolib.bind", "holographic.bind", irfft_without_n, (), "demolib")
    gone = public.PublicImpl("demo_gone", "gonelib", "gonelib.bind", "holographic.bind", hg.bind,
                             ("gonelib_xyz",), "gonelib")
    monkeypatch.setattr(public, "PUBLIC", (bad, gone))


def test_audit_public_study_renders_one_row_per_function_and_property(fake_public):
    from suite import registry
    from suite.harness import execute

    res = execute(registry.get_study("audit.public"), quick=True, device="cpu", seed=0, results={})
    t = res.table
    assert {"library", "function", "property", "verdict", "number", "smallest failing input"} <= set(t.columns)
    odd = t[(t.library == "demolib") & t.property.str.startswith("odd d")].iloc[0]
    assert odd.verdict == "failed" and odd["smallest failing input"].startswith("d=3,")
    (gone,) = t[t.library == "gonelib"].to_dict("records")
    assert gone["verdict"] == "not installed" and "pip install gonelib" in gone["detail"]
    n_props = len(properties("holographic.bind")) + 1  # and one accuracy row at the quick size
    assert res.measures["properties_passed"] + res.measures["properties_failed"] == n_props
    assert res.measures["properties_failed"] >= 1 and res.measures["functions_not_installed"] == 1
    assert res.figure is not None and "properties_failed" in res.key


def test_audit_public_study_without_hypothesis_says_so(monkeypatch):
    import importlib.util

    from suite import registry
    from suite.harness import execute

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "hypothesis" else real(n, *a))
    res = execute(registry.get_study("audit.public"), quick=True, device="cpu", seed=0, results={})
    assert res.table.verdict.tolist() == ["not run"] and "pip install" in res.table.detail[0]
