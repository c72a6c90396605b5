"""The report generator and CLI, on a small fake registry (fast) and on the real one (quick mode)."""

import json
import math
import re

import pandas as pd
import pytest
import torch

from suite import registry
from suite.claims import CLAIMS
from suite.cli import main
from suite.registry import Pair, Rule, Study, StudyResult, Verdict
from suite.report import generate
from suite.report.collect import StepTimeout, time_limit


def _naive_nan(x):
    return x / (x - x)  # 0/0: NaN everywhere, the kind of failure the report must count


def _study_ok(ctx):
    g = ctx.generator()
    vals = torch.rand(4, generator=g)
    return StudyResult(table=pd.DataFrame({"k": range(4), "value": vals.tolist()}),
                       verdicts=[Verdict("H1", "confirmed" if vals.max() < 2 else "refuted", f"max {vals.max():.3f} < 2",
                                         float(vals.max()))], key=f"max {vals.max():.3f}")


def _study_broken(ctx):
    raise RuntimeError("this study is broken on purpose")


@pytest.fixture
def fake_registry(monkeypatch):
    pairs = {
        "demo.scale": Pair(name="demo.scale", naive=_naive_nan, fixed=lambda x: 2 * x,
                           make_inputs=lambda n, dev, dt, g: (torch.randn(n, generator=g, dtype=dt).to(dev),),
                           sizes=(64, 256), quick_sizes=(32,), oracle=lambda x: 2 * x.double(), claim="H1",
                           devices=("cpu",), variants={"slow": lambda x: x + x},
                           skip=lambda impl, n, dev: "too big" if impl == "slow" and n > 100 else None),
    }
    studies = {
        "demo.ok": Study("demo.ok", "A working study", _study_ok, claims=("H1",)),
        "demo.broken": Study("demo.broken", "A broken study", _study_broken, claims=("H2",)),
    }
    monkeypatch.setattr(registry, "_PAIRS", pairs)
    monkeypatch.setattr(registry, "_STUDIES", studies)
    monkeypatch.setattr(registry, "_LOAD_ERRORS", {})
    monkeypatch.setattr(registry, "_loaded", True)
    return pairs, studies


def test_report_counts_nan_records_failures_and_is_complete(fake_registry, tmp_path):
    out = tmp_path / "rep"
    res = generate(out, devices=["cpu"], quick=True)
    assert sorted(p.name for p in (out).iterdir()) == [".neurophys-report", "index.html", "machine.json",
                                                       "results.csv", "results.json"]
    html = (out / "index.html").read_text()
    assert "A working study" in html and "this study is broken on purpose" in html
    assert "data:image/png;base64," not in html or "<img" in html
    acc = {(r["impl"]): r for r in res.accuracy}
    assert acc["naive"]["nonfinite"] == 32 and math.isinf(acc["naive"]["rel_error"])
    assert acc["fixed"]["rel_error"] < 1e-6 and acc["fixed"]["nonfinite"] == 0
    data = json.loads((out / "results.json").read_text())
    claims = {c["claim"]: c for c in data["claims"]}
    assert set(claims) == set(CLAIMS)
    assert claims["H1"]["verdict"] == "confirmed" and claims["H2"]["verdict"] == "not measured"
    assert [s["error"] for s in data["studies"] if s["name"] == "demo.broken"][0].startswith("RuntimeError")
    csv = pd.read_csv(out / "results.csv")
    assert set(csv.kind) == {"accuracy", "speed"}
    assert (csv[(csv.kind == "speed") & (csv.status == "ok")].median_ms > 0).all()
    machine = json.loads((out / "machine.json").read_text())
    assert machine["mode"] == "quick" and machine["devices"] == ["cpu"] and machine["torch"] == torch.__version__


def _base(ctx):
    return StudyResult(table=pd.DataFrame({"x": [1]}), measures={"x": float(torch.rand(1)), "threads": torch.get_num_threads()})


def _dependent(ctx):
    base = ctx.result("demo.base").measures["x"]
    return StudyResult(table=pd.DataFrame({"x": [base]}), measures={"gain": 10.0 + base, "noise": ctx.p.noise})


def test_declared_studies_run_in_order_with_rules_seeds_threads(fake_registry, tmp_path):
    _, studies = fake_registry
    studies.clear()
    studies["demo.a_dependent"] = Study("demo.a_dependent", "Depends on base", _dependent, needs=("demo.base",),
                                        sweep={"noise": (1, 2)}, key=("gain",),
                                        rules=(Rule("H3", "gain > 5", qualified="gain > 1", shows=("noise",)),))
    studies["demo.base"] = Study("demo.base", "Base", _base, threads=1)
    threads_before = torch.get_num_threads()
    res = generate(tmp_path / "r", devices=["cpu"], quick=True, speed=False)
    assert torch.get_num_threads() == threads_before
    assert [r.study.name for r in res.studies] == ["demo.base", "demo.a_dependent"]
    assert res.studies[0].result.measures["threads"] == 1
    dep = res.studies[1].result
    assert dep.measures["noise"] == 1 and dep.key.startswith("gain 10.")
    assert [(v.claim, v.verdict) for v in dep.verdicts] == [("H3", "confirmed")]
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    h3 = {c["claim"]: c for c in data["claims"]}["H3"]
    assert h3["by_device"] == {"cpu": "confirmed"} and not h3["devices_disagree"]
    html = (tmp_path / "r" / "index.html").read_text()
    assert "confirmed if gain &gt; 5; qualified if gain &gt; 1; otherwise refuted" in html  # Methods lists rules
    again = generate(tmp_path / "s", devices=["cpu"], quick=True, speed=False, seed=0)
    other = generate(tmp_path / "t", devices=["cpu"], quick=True, speed=False, seed=1)
    x = [r.result.measures["x"] for r in (res.studies[0], again.studies[0], other.studies[0])]
    assert x[0] == x[1] != x[2], "the study seed follows --seed, and the same seed repeats"


def test_failed_need_fails_its_dependents(fake_registry, tmp_path):
    _, studies = fake_registry
    studies["demo.needs_broken"] = Study("demo.needs_broken", "Needs a broken one", _dependent,
                                         needs=("demo.broken",), sweep={"noise": (1, 2)})
    res = generate(tmp_path / "r", devices=["cpu"], quick=True, speed=False)
    err = {r.study.name: r.error for r in res.studies}
    assert err["demo.broken"].startswith("RuntimeError") and "demo.broken" in err["demo.needs_broken"]


def test_domain_that_fails_to_import_is_listed(fake_registry, tmp_path):
    registry._LOAD_ERRORS["brokendomain"] = "SyntaxError: invalid syntax"
    generate(tmp_path / "r", devices=["cpu"], quick=True, speed=False)
    assert "suite.studies.brokendomain failed to import: SyntaxError" in (tmp_path / "r" / "index.html").read_text()


def test_skip_rule_is_reported_not_crashed(fake_registry, tmp_path):
    res = generate(tmp_path / "r", devices=["cpu"], quick=False, only=["demo"])
    slow = [r for r in res.speed if r["impl"] == "slow"]
    assert {r["size"]: r["status"] for r in slow} == {64: "ok", 256: "skipped"}


def test_accuracy_columns_are_reproducible(fake_registry, tmp_path):
    a = generate(tmp_path / "a", devices=["cpu"], quick=True, speed=False)
    b = generate(tmp_path / "b", devices=["cpu"], quick=True, speed=False)
    assert a.accuracy == b.accuracy
    assert [r.result.table.equals(s.result.table) for r, s in zip(a.studies, b.studies) if r.result] == [True]


def test_failed_generation_leaves_previous_report_intact(fake_registry, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    generate(out, devices=["cpu"], quick=True, speed=False)
    before = (out / "index.html").read_text()

    def boom(res, folder, *rest):
        (folder / "index.html").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr("suite.report.write_all", boom)
    with pytest.raises(OSError):
        generate(out, devices=["cpu"], quick=True, speed=False)
    assert (out / "index.html").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_time_limit_raises():
    with pytest.raises(StepTimeout):
        with time_limit(0.05):
            while True:
                torch.randn(100).sum()


def test_cli_list_and_report(fake_registry, tmp_path, capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "demo.scale" in listed and "demo.ok" in listed
    assert main(["report", "--out", str(tmp_path / "r"), "--device", "cpu", "--quick", "--only", "demo",
                 "--silent"]) == 1  # demo.broken fails: exit 1
    assert (tmp_path / "r" / "index.html").exists()
    capsys.readouterr()
    assert main(["report", "--only", "nosuchdomain", "--out", str(tmp_path / "x")]) == 2
    assert "neurophys: error: --only got unknown domain(s) ['nosuchdomain']" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["report", "--device", "cuda", "--out", str(tmp_path / "y")]) == 2
        assert "--device cuda was asked for" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_compare_puts_reports_side_by_side(fake_registry, tmp_path):
    generate(tmp_path / "a", devices=["cpu"], quick=True)
    generate(tmp_path / "b", devices=["cpu"], quick=True)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 0
    speed = pd.read_csv(tmp_path / "c" / "speed.csv")
    assert any(c.startswith("a: ") for c in speed.columns) and any(c.startswith("b: ") for c in speed.columns)
    claims = pd.read_csv(tmp_path / "c" / "claims.csv")
    h1 = claims.set_index("claim").loc["H1"]
    assert [c.split(" / ")[-1] for c in h1.index] == ["cpu", "cpu", "disagree"]
    assert h1.tolist()[:2] == ["confirmed", "confirmed"] and pd.isna(h1["disagree"])
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "d")]) == 2


def test_real_registry_quick_report_runs_every_study_and_judges_every_claim(tmp_path):
    """End to end on the real registry (quick mode, accuracy and studies; timing is the benchmarks' job)."""
    res = generate(tmp_path / "real", devices=["cpu"], quick=True, speed=False, timeout=600)
    assert registry.load_errors() == {}
    assert [f"{r.study.name}: {r.error}" for r in res.studies if r.error] == []
    assert [r for r in res.accuracy if r["status"] == "failed"] == []
    data = json.loads((tmp_path / "real" / "results.json").read_text())
    assert [c["claim"] for c in data["claims"] if c["verdict"] == "not measured"] == []
    html = (tmp_path / "real" / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= len(registry.domains())
    assert "Labels of this figure overlap" not in html  # suite.plots.text_overlaps over every figure of the run


def test_compare_flags_devices_that_disagree(fake_registry, tmp_path):
    generate(tmp_path / "a", devices=["cpu"], quick=True, speed=False)
    generate(tmp_path / "b", devices=["cpu"], quick=True, speed=False)
    data = json.loads((tmp_path / "b" / "results.json").read_text())
    for c in data["claims"]:
        if c["claim"] == "H1":
            c["by_device"] = {"cpu": "refuted"}  # as if another machine measured the opposite
    (tmp_path / "b" / "results.json").write_text(json.dumps(data))
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 0
    claims = pd.read_csv(tmp_path / "c" / "claims.csv").set_index("claim")
    assert claims.loc["H1", "disagree"] == "yes: confirmed vs refuted"
    assert pd.isna(claims.loc["H2", "disagree"])


def test_pair_thread_policy_is_what_its_timings_ran_with(fake_registry, tmp_path):
    import dataclasses

    pairs, _ = fake_registry
    pairs["demo.scale"] = dataclasses.replace(pairs["demo.scale"], threads=1)
    before = torch.get_num_threads()
    res = generate(tmp_path / "r", devices=["cpu"], quick=True)
    assert {r["threads"] for r in res.speed if r["status"] == "ok"} == {1}
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be a positive int"):
        dataclasses.replace(pairs["demo.scale"], threads=0)


def test_compare_header_names_each_report_and_warns_when_modes_or_commits_mix(fake_registry, tmp_path):
    _, studies = fake_registry
    studies["demo.gpu_only"] = Study("demo.gpu_only", "Runs on CUDA only", _study_ok, claims=("H4",),
                                     devices=("cuda",))
    generate(tmp_path / "a", devices=["cpu"], quick=True, speed=False)
    generate(tmp_path / "b", devices=["cpu"], quick=True, speed=False)
    main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "same")])
    assert "Warning" not in (tmp_path / "same" / "index.html").read_text()
    data = json.loads((tmp_path / "b" / "results.json").read_text())
    data["machine"].update(mode="full", commit="0123456789ab")
    (tmp_path / "b" / "results.json").write_text(json.dumps(data))
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 0
    page = (tmp_path / "c" / "index.html").read_text()
    assert "Quick and full reports are mixed" in page and "2 different commits" in page
    reports = pd.read_csv(tmp_path / "c" / "reports.csv")
    assert reports["mode"].tolist() == ["quick", "full"] and reports["commit"].tolist()[1] == "0123456789ab"
    assert reports["devices"].tolist() == ["cpu", "cpu"] and reports["date"].notna().all()
    claims = pd.read_csv(tmp_path / "c" / "claims.csv").set_index("claim")
    h4 = claims.loc["H4"].iloc[0]
    assert h4 == "not run on cpu: its studies (demo.gpu_only) run on cuda only", h4
    assert claims.loc["H5"].iloc[0] == "not run on cpu: no study of the suite judges this claim"


def test_baseline_lists_the_verdicts_that_differ_and_bad_baselines_exit_2(fake_registry, tmp_path, capsys):
    generate(tmp_path / "full", devices=["cpu"], quick=True, speed=False)
    data = json.loads((tmp_path / "full" / "results.json").read_text())
    for c in data["claims"]:
        if c["claim"] == "H1":
            c["verdict"] = "refuted"  # as if the full run had refuted it
    data["machine"].update(mode="full", commit="feedfacecafe")
    (tmp_path / "full" / "results.json").write_text(json.dumps(data))
    argv = ["report", "--out", str(tmp_path / "q"), "--device", "cpu", "--quick", "--no-speed", "--silent",
            "--allow-failures"]
    assert main([*argv, "--baseline", str(tmp_path / "full")]) == 0
    page = (tmp_path / "q" / "index.html").read_text()
    first = page[:page.index("<h2")]  # the first screen, before the summary section
    assert "Compared with the baseline report" in first and "feedfacecafe" in first and "full mode" in first
    changed = re.findall(r"<tr><td class=\"text\">(\w+)</td><td class=\"text\"><span class=\"verdict (\S+)\">", first)
    assert changed == [("H1", "confirmed")]
    (tmp_path / "notes").mkdir()
    (tmp_path / "bad.json").write_text("[1, 2]")
    for bad, why in ((tmp_path / "notes", "neither a report folder"), (tmp_path / "bad.json", "not a neurophys"),
                     (tmp_path / "missing", "neither a report folder")):
        capsys.readouterr()
        assert main([*argv, "--out", str(tmp_path / "never"), "--baseline", str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"neurophys: error: --baseline {bad}: ") and why in err, err
        assert not (tmp_path / "never").exists()


def test_speed_rows_stop_timing_a_variant_past_the_per_call_budget(monkeypatch):
    """A variant over `SLOW_CALL_MS` per call at one size is skipped at the larger ones, with its time as the
    reason; the variants under the budget are still timed there."""
    import importlib
    import time

    collect = importlib.import_module("suite.report.collect")  # `suite.report.collect` is also a function

    def sleepy(x):
        time.sleep(0.004)
        return x

    pair = Pair(name="demo.budget", naive=lambda x: x + 1, fixed=lambda x: 2 * x, variants={"sleepy": sleepy},
                make_inputs=lambda n, dev, dt, g: (torch.randn(n, generator=g, dtype=dt).to(dev),),
                sizes=(64, 256, 1024), devices=("cpu",))
    monkeypatch.setattr(collect, "SLOW_CALL_MS", 2.0)
    rows = {(r["impl"], r["size"]): r for r in collect.speed_rows(pair, "cpu", False, 0, lambda msg: None, None)}
    assert rows["sleepy", 64]["status"] == "ok" and rows["sleepy", 64]["median_ms"] > 2.0
    for size in (256, 1024):
        assert rows["sleepy", size]["status"] == "skipped"
        assert rows["sleepy", size]["error"].startswith("not timed above n=64: ")
        assert "2 ms per-call budget" in rows["sleepy", size]["error"]
        assert rows["fixed", size]["status"] == "ok" and rows["naive", size]["status"] == "ok"
