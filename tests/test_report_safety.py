"""The report generator never loses data: what `--out` may replace, stale temp folders, permissions, signals.

Measuring is replaced by a stub (`collect`) so every test is about the folder handling and runs in
milliseconds; the subprocess tests pay one interpreter start each.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import suite.report as report
from suite.cli import main
from suite.report import MARKER, MARKER_FORMAT, OutputError, check_output, generate, write_atomically
from suite.report.collect import Results

ROOT = Path(__file__).resolve().parents[1]
DEAD_PID = 2**31 - 1  # above any kernel's pid_max: never a running process


@pytest.fixture
def measured(monkeypatch):
    """collect() -> an empty Results, recording each call; write_all -> a small report with our files."""
    calls = []

    def fake_collect(**kw):
        calls.append(kw)
        return Results(machine={"mode": "quick"})

    def fake_write_all(res, folder, *rest):
        (folder / "index.html").write_text("<title>neurophys-suite report</title>")
        (folder / "results.json").write_text(json.dumps({"machine": res.machine, "claims": []}))
        (folder / "machine.json").write_text("{}")
        (folder / "results.csv").write_text("kind\n")

    monkeypatch.setattr(report, "collect", fake_collect)
    monkeypatch.setattr(report, "write_all", fake_write_all)
    return calls


def _gen(out):
    return generate(out, devices=["cpu"], quick=True)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_user_folder_is_refused_before_measuring_and_left_intact(measured, tmp_path):
    data = tmp_path / "mydata"
    (data / "sub").mkdir(parents=True)
    (data / "important.txt").write_text("keep me")
    (data / "sub" / "thesis.tex").write_text("\\chapter{}")
    before = _tree(data)
    with pytest.raises(OutputError, match=r"not an earlier neurophys report .*important\.txt.*sub/thesis\.tex"):
        _gen(data)
    assert measured == [] and _tree(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mydata"]


@pytest.mark.parametrize("where", ["cwd", "root", "above-root"])
def test_current_directory_and_project_root_are_refused_even_when_empty(measured, tmp_path, monkeypatch, where):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    out = {"cwd": ".", "root": str(ROOT), "above-root": str(ROOT.parent)}[where]
    with pytest.raises(OutputError, match="refusing to replace this folder"):
        _gen(out)
    assert measured == [] and empty.exists() and (ROOT / "pyproject.toml").exists()


def test_a_file_is_refused(measured, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    with pytest.raises(OutputError, match="is a file"):
        _gen(f)
    assert f.read_text() == "mine" and measured == []


def test_own_report_is_replaced_and_carries_a_versioned_marker(measured, tmp_path):
    out = tmp_path / "rep"
    _gen(out)
    marker = json.loads((out / MARKER).read_text())
    assert marker["generator"] == "neurophys-suite" and marker["format"] == MARKER_FORMAT
    assert marker["kind"] == "report" and set(marker["files"]) == {"index.html", "results.json", "machine.json",
                                                                   "results.csv"}
    (out / "index.html").write_text("stale")
    _gen(out)
    assert (out / "index.html").read_text() != "stale" and len(measured) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_a_file_added_to_a_report_makes_it_not_replaceable(measured, tmp_path):
    out = tmp_path / "rep"
    _gen(out)
    (out / "my-notes.md").write_text("reading notes")
    with pytest.raises(OutputError, match="my-notes.md"):
        _gen(out)
    assert (out / "my-notes.md").read_text() == "reading notes" and len(measured) == 1


def test_a_foreign_marker_does_not_make_a_folder_ours(measured, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / MARKER).write_text("something else")
    with pytest.raises(OutputError, match="not a neurophys-suite marker"):
        _gen(out)
    assert (out / MARKER).read_text() == "something else"


def test_empty_and_new_folders_are_written(measured, tmp_path):
    (tmp_path / "empty").mkdir()
    _gen(tmp_path / "empty")
    _gen(tmp_path / "new" / "deeper")
    assert (tmp_path / "empty" / MARKER).is_file() and (tmp_path / "new" / "deeper" / MARKER).is_file()


@pytest.mark.parametrize("name", ["cpu", "cpu-quick", "compare"])
def test_published_reports_are_recognised(name):
    """The folders under reports/ count as ours, so the documented regeneration (`--out reports/cpu`) replaces
    them: by their marker, or, for one from before the marker, by its exact set of files."""
    folder = ROOT / "reports" / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is not in this checkout")
    assert report._foreign(folder) == []


def test_legacy_lookalike_that_we_did_not_write_is_refused(measured, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    for name in ("index.html", "results.json", "machine.json"):
        (out / name).write_text("[1, 2, 3]" if name.endswith(".json") else "<html>")
    with pytest.raises(OutputError):
        _gen(out)
    (out / "results.json").write_text(json.dumps({"machine": {}, "claims": []}))
    _gen(out)  # now it is a report of ours from before the marker
    assert (out / MARKER).is_file()


def test_unwritable_target_fails_before_measuring(measured, tmp_path):
    with pytest.raises(OutputError, match="cannot write there"):
        check_output("/proc/forbidden")  # the check alone proves it, before any folder is made
    with pytest.raises(OutputError, match="cannot write there"):
        _gen("/proc/forbidden")
    with pytest.raises(OutputError, match="cannot write there"):
        _gen("/proc/forbidden/deeper/rep")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write there"):
        _gen(blocker / "sub" / "rep")
    assert measured == []


def test_cli_unwritable_out_is_one_line_and_exit_2(measured, capsys):
    assert main(["report", "--out", "/proc/forbidden", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out /proc/forbidden" in err and "Traceback" not in err
    assert measured == []


def test_failed_run_removes_the_folders_it_created(monkeypatch, tmp_path):
    def boom(**kw):
        raise RuntimeError("measuring failed")

    monkeypatch.setattr(report, "collect", boom)
    with pytest.raises(RuntimeError):
        _gen(tmp_path / "a" / "b" / "rep")
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_folders_of_the_same_target_are_removed(measured, tmp_path):
    out = tmp_path / "rep"
    _gen(out)
    dead = tmp_path / f".rep.tmp-{DEAD_PID}-0123abcd"
    legacy = tmp_path / ".rep.tmp-k2j3h4g5"  # tempfile.mkdtemp's name, from before the pid tag
    alive = tmp_path / f".rep.tmp-{os.getpid()}-feedbeef"
    other = tmp_path / f".other.tmp-{DEAD_PID}-0123abcd"
    for d in (dead, legacy, alive, other):
        d.mkdir()
        (d / "index.html").write_text("half")
    for name in (".rep.old", f".rep.old-{DEAD_PID}-0123abcd"):
        old = tmp_path / name
        old.mkdir()
        (old / "index.html").write_text("previous")
        (old / "results.json").write_text(json.dumps({"machine": {}, "claims": []}))
        (old / "machine.json").write_text("{}")
    _gen(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "rep"])


@pytest.mark.parametrize("left", [f".rep.old-{DEAD_PID}-0123abcd", ".rep.old"])
def test_a_report_a_kill_left_as_old_is_put_back(measured, tmp_path, left):
    """Killed between the two renames of the swap: only `.rep.old-*` exists; the next run restores it first.
    (`.rep.old` is the name older versions used.)"""
    out = tmp_path / "rep"
    _gen(out)
    before = _tree(out)
    out.rename(tmp_path / left)
    assert check_output(out) == out and _tree(out) == before
    assert not (tmp_path / left).exists()


@pytest.mark.parametrize("name", [".rep.old", f".rep.old-{DEAD_PID}-0123abcd", f".rep.old-{os.getpid()}-00"])
def test_an_old_folder_that_is_not_a_report_is_kept(measured, tmp_path, name):
    _gen(tmp_path / "rep")
    mine = tmp_path / name
    mine.mkdir()
    (mine / "diary.txt").write_text("mine")
    _gen(tmp_path / "rep")  # the swap moves the previous report aside under a fresh name
    assert (mine / "diary.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "rep"])


def test_report_gets_the_usual_permissions(measured, tmp_path):
    old_mask = os.umask(0o022)
    try:
        _gen(tmp_path / "rep")
    finally:
        os.umask(old_mask)
    assert (tmp_path / "rep").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "rep" / "index.html").stat().st_mode & 0o777 == 0o644


def test_compare_never_replaces_one_of_its_inputs(measured, tmp_path):
    _gen(tmp_path / "a")
    with pytest.raises(OutputError, match="input report"):
        report.compare([tmp_path / "a"], tmp_path / "a")
    with pytest.raises(OutputError, match="input report"):
        report.compare([tmp_path / "a"], tmp_path)
    assert (tmp_path / "a" / "index.html").is_file()


def test_write_atomically_keeps_its_call_shape(tmp_path):
    out = write_atomically(tmp_path / "x", lambda folder: (folder / "f.txt").write_text("1"))
    assert out == (tmp_path / "x").resolve() and (out / "f.txt").read_text() == "1"


_SLOW_WRITER = textwrap.dedent("""
    import json, sys, time
    import suite.report as report
    from suite.report.collect import Results
    from suite.cli import main

    report.collect = lambda **kw: Results(machine={})

    def slow_write_all(res, folder, *rest):
        (folder / "index.html").write_text("half-written")
        print("writing", flush=True)
        time.sleep(60)

    report.write_all = slow_write_all
    raise SystemExit(main(["report", "--out", sys.argv[1], "--device", "cpu", "--silent"]))
""")


def test_sigterm_during_writing_removes_the_temp_folder_and_keeps_the_old_report(measured, tmp_path):
    """SIGTERM is handled like Ctrl-C: the run stops with 143, one line, and nothing of it is left behind."""
    signum = signal.SIGTERM
    out = tmp_path / "rep"
    _gen(out)
    before = _tree(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert child.stdout.readline().strip() == "writing", child.stderr.read()
        assert any(p.name.startswith(".rep.tmp-") for p in tmp_path.iterdir())
        child.send_signal(signum)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 128 + signum, err
    assert "stopped by" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
    assert _tree(out) == before


def test_no_python_object_reprs_leak_into_the_page(monkeypatch, tmp_path):
    """A rendered page never shows a Python repr instead of data (`<built-in method ...>`, `... object at 0x`)."""
    import pandas as pd
    import torch

    from suite import registry
    from suite.registry import Pair, Study, StudyResult, Verdict

    pair = Pair(name="demo.double", naive=lambda x: x + x, fixed=lambda x: 2 * x,
                make_inputs=lambda n, dev, dt, g: (torch.randn(n, generator=g, dtype=dt).to(dev),), sizes=(8,),
                oracle=lambda x: 2 * x.double(), claim="H1", devices=("cpu",))
    study = Study("demo.keyed", "A study with a key number", lambda ctx: StudyResult(
        table=pd.DataFrame({"k": [1]}), verdicts=[Verdict("H1", "confirmed", "1 < 2", 1.0)], key="key number 1"),
        claims=("H1",))
    monkeypatch.setattr(registry, "_PAIRS", {pair.name: pair})
    monkeypatch.setattr(registry, "_STUDIES", {study.name: study})
    monkeypatch.setattr(registry, "_LOAD_ERRORS", {})
    monkeypatch.setattr(registry, "_loaded", True)
    generate(tmp_path / "rep", devices=["cpu"], quick=True, speed=False)
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "key number 1" in html
    assert "<built-in" not in html and "object at 0x" not in html
