"""The `neurophys` command line: argument validation, exit codes, --version, the bare command, `list`
alignment and the progress display. Measuring is stubbed or runs on a two-entry fake registry."""

import io
import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import suite
import suite.report as report
from suite import cli, registry
from suite.cli import SEED_MAX, Progress, build_parser, expected_steps, main
from suite.registry import Pair, Study, StudyResult
from suite.report.collect import Results, StudyRun, collect

LONG = "demo.a_pair_with_a_name_much_longer_than_the_old_34_column_field"


def _broken_study(ctx):
    raise RuntimeError("broken on purpose")


@pytest.fixture
def tiny_registry(monkeypatch):
    """One pair with a long name, a variant and a skip rule; one working and one broken study."""
    def inputs(n, dev, dt, g):
        return (torch.randn(n, generator=g, dtype=dt).to(dev),)

    pairs = {
        LONG: Pair(name=LONG, naive=lambda x: x * 3, fixed=lambda x: 3 * x, make_inputs=inputs, sizes=(16, 32),
                   quick_sizes=(8, 16), oracle=lambda x: 3 * x.double(), claim="H1", devices=("cpu",),
                   variants={"big_only": lambda x: x + x + x},
                   skip=lambda impl, n, dev: "too small" if impl == "big_only" and n < 16 else None),
        "demo.b": Pair(name="demo.b", naive=torch.neg, fixed=torch.neg, make_inputs=inputs, sizes=(4,),
                       devices=("cpu",)),
    }
    studies = {
        "demo.ok": Study("demo.ok", "Works", lambda ctx: StudyResult(table=None), claims=("H1",)),
        "demo.broken": Study("demo.broken", "Breaks", _broken_study),
    }
    monkeypatch.setattr(registry, "_PAIRS", pairs)
    monkeypatch.setattr(registry, "_STUDIES", studies)
    monkeypatch.setattr(registry, "_LOAD_ERRORS", {})
    monkeypatch.setattr(registry, "_loaded", True)
    return pairs, studies


@pytest.fixture
def stubbed(monkeypatch, tiny_registry):
    """generate() without measuring: collect returns `state["res"]`, write_all writes one file."""
    state = {"res": Results(machine={}), "kwargs": None}

    def fake_collect(**kw):
        state["kwargs"] = kw
        return state["res"]

    monkeypatch.setattr(report, "collect", fake_collect)
    monkeypatch.setattr(report, "write_all", lambda res, folder, *rest: (folder / "index.html").write_text("ok"))
    return state


def _usage_error(capsys, argv, argument):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)  # parse only: a validation bug must not start a real run
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"argument {argument}" in err, err
    return err


@pytest.mark.parametrize("value", ["-1", "-0.001", "nan", "abc", ""])
def test_bad_timeout_is_an_argparse_error(capsys, value):
    _usage_error(capsys, ["report", f"--timeout={value}"], "--timeout")


@pytest.mark.parametrize("value", ["-1", str(2**63), str(10**23), "1.5", "x"])
def test_bad_seed_is_an_argparse_error(capsys, value):
    _usage_error(capsys, ["report", f"--seed={value}"], "--seed")


def test_seed_and_timeout_bounds_are_accepted():
    args = build_parser().parse_args(["report", "--seed", str(SEED_MAX), "--timeout", "0"])
    assert args.seed == SEED_MAX and args.timeout == 0.0
    torch.Generator().manual_seed(args.seed + 1000)  # the largest seed still leaves room for study offsets


@pytest.mark.parametrize(("given", "passed", "said"), [("0", None, "no time limit"), ("inf", None, "no time limit"),
                                                       ("0.001", 0.001, "time limit 0.001 s per step"),
                                                       ("900", 900.0, "time limit 900 s per step")])
def test_timeout_is_passed_and_reported_truthfully(stubbed, tmp_path, capsys, given, passed, said):
    assert main(["report", "--out", str(tmp_path / "r"), "--device", "cpu", "--silent", "--timeout", given]) == 0
    assert stubbed["kwargs"]["timeout"] == passed
    assert said in capsys.readouterr().out


def _failed_results() -> Results:
    res = Results(machine={})
    res.accuracy = [dict(pair="demo.b", impl="fixed", device="cpu", size=4, status="failed", error="StepTimeout")]
    return res


@pytest.mark.parametrize("kind", ["row", "study", "domain"])
def test_a_failure_exits_1_unless_allowed(stubbed, tmp_path, capsys, kind):
    res = Results(machine={})
    if kind == "row":
        res = _failed_results()
    elif kind == "study":
        res.studies = [StudyRun(registry.get_study("demo.broken"), "cpu", error="RuntimeError: broken")]
    else:
        registry._LOAD_ERRORS["brokendomain"] = "SyntaxError: invalid syntax"
    stubbed["res"] = res
    argv = ["report", "--out", str(tmp_path / "r"), "--device", "cpu", "--silent"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "1 failed" in out and "1 step(s) failed" in err
    assert main([*argv, "--allow-failures"]) == 0


def test_a_clean_run_exits_0(stubbed, tmp_path):
    assert main(["report", "--out", str(tmp_path / "r"), "--device", "cpu", "--silent"]) == 0


def test_ctrl_c_is_one_line_and_exit_130(stubbed, tmp_path, capsys, monkeypatch):
    def interrupted(**kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "collect", interrupted)
    assert main(["report", "--out", str(tmp_path / "r"), "--device", "cpu", "--silent"]) == 130
    err = capsys.readouterr().err
    assert "stopped by Ctrl-C" in err and err.strip().count("\n") == 0
    assert list(tmp_path.iterdir()) == []


def test_version(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"neurophys {cli._version()}"

    def not_installed(name):
        from importlib.metadata import PackageNotFoundError
        raise PackageNotFoundError(name)

    monkeypatch.setattr("importlib.metadata.version", not_installed)
    assert cli._version() == suite.__version__


def test_bare_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: neurophys") and all(c in err for c in ("report", "compare", "list", "--version"))


def _column_starts(line: str) -> list[int]:
    return [m.start() for m in re.finditer(r"(?<=\s\s)\S", line)]


def test_list_columns_stay_aligned_after_long_names(tiny_registry, capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pairs = lines[1:lines.index("studies:")]
    studies = lines[lines.index("studies:") + 1:]
    assert any(LONG in line for line in pairs)
    for block in (pairs, studies):
        starts = [_column_starts(line) for line in block]
        assert len({tuple(s) for s in starts}) == 1, block


def test_progress_lines_when_not_a_terminal():
    stream = io.StringIO()
    p = Progress(2, stream=stream)
    p("accuracy one")
    p("Traceback (most recent call last):\n  boom")
    p("accuracy two")
    p("accuracy three, one more than expected")
    lines = stream.getvalue().splitlines()
    assert "   1/2] accuracy one" in lines[0] and "   2/2] accuracy two" in lines[3]
    assert "   3/3] accuracy three" in lines[4] and "Traceback" in lines[1]
    assert "\r" not in stream.getvalue()


def test_progress_bar_on_a_terminal_and_nothing_when_silent():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    p = Progress(3, stream=tty)
    for i in range(3):
        p(f"speed step {i}")
    p("study demo.broken cpu: FAILED RuntimeError: broken")
    p.close()
    text = tty.getvalue()
    assert "\r" in text and "4/4" in text and "FAILED RuntimeError: broken\n" in text
    quiet = Terminal()
    p = Progress(3, stream=quiet, silent=True)
    p("speed step")
    p.close()
    assert quiet.getvalue() == ""


def test_expected_steps_match_what_collect_reports(tiny_registry, monkeypatch):
    """The bar's total is derived from the registry; it must equal the one-line messages collect sends."""
    monkeypatch.setattr(sys.modules["suite.report.collect"], "measure",
                        lambda *a, **kw: SimpleNamespace(median_ms=1.0, q25=1e-3, q75=1e-3, repeats=1))
    steps = []
    for quick, speed in [(True, True), (False, False)]:
        steps.clear()
        collect(devices=["cpu"], quick=quick, progress=lambda m: steps.append(m) if "\n" not in m else None,
                speed=speed)
        assert len(steps) == expected_steps(["cpu"], None, quick, speed), steps


def test_a_closed_stdout_is_exit_1_without_traceback(tiny_registry, monkeypatch):
    """`neurophys list | head -1`: the reader leaves, the next write raises BrokenPipeError."""
    read_end, write_end = os.pipe()

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return write_end

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    try:
        assert main(["list"]) == 1
    finally:
        os.close(read_end)
        os.close(write_end)


def test_unknown_domain_is_refused(tiny_registry, capsys):
    assert main(["list", "--only", "nosuch"]) == 2
    assert capsys.readouterr().err.startswith("neurophys: error: --only got unknown domain(s) ['nosuch']")


def test_compare_bad_out_is_exit_2(tiny_registry, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text(json.dumps({"machine": {}, "claims": []}))
    (tmp_path / "a" / "keep.txt").write_text("mine")
    assert main(["compare", str(tmp_path / "a"), "--out", str(tmp_path / "a")]) == 2
    assert "refusing" in capsys.readouterr().err and (tmp_path / "a" / "keep.txt").exists()


def test_package_metadata_is_complete():
    """What `pip show` and the asv pages show: license file, authors, URLs, the five domains, tqdm."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (root / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 neurophys-suite developers")
    assert project["authors"] and project["keywords"] and project["classifiers"]
    assert all(d in project["description"] for d in ("holographic", "hyperbolic", "fast weights", "symplectic",
                                                     "optics"))
    assert any(d.startswith("tqdm") for d in project["dependencies"])
    asv = json.loads((root / "asv.conf.json").read_text())
    assert asv["project_url"] == project["urls"]["Homepage"] and "example" not in asv["project_url"]
    assert asv["show_commit_url"].startswith(asv["project_url"])
