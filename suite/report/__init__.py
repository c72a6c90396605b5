"""Report generator: measure everything in the registry and write a self-contained HTML report.

`generate(out, ...)` writes into a temporary folder beside `out` and moves it into place only when every
file is written, so a crash or Ctrl-C never leaves a half-written report. `compare(dirs, out)` puts
several machines' reports side by side (e.g. reports/cpu and reports/cuda-h100).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from suite.report.collect import Progress, Results, collect
from suite.report.render import write_all, write_comparison

__all__ = ["generate", "compare", "collect", "write_all", "Results"]


def write_atomically(out: str | Path, writer: Callable[[Path], None]) -> Path:
    """Let `writer` fill a temporary folder beside `out`, then swap it in for `out` in one rename."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        writer(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def generate(out: str | Path, *, devices: list[str], quick: bool = False, only: list[str] | None = None,
             seed: int = 0, timeout: float | None = None, progress: Progress = lambda s: None,
             speed: bool = True) -> Results:
    res = collect(devices=devices, quick=quick, only=only, seed=seed, timeout=timeout, progress=progress,
                  speed=speed)
    write_atomically(out, lambda tmp: write_all(res, tmp))
    return res


def compare(report_dirs: list[str | Path], out: str | Path) -> Path:
    """One page with the given reports' accuracy, speed and verdicts as columns side by side."""
    dirs = [Path(d) for d in report_dirs]
    for d in dirs:
        if not (d / "results.json").is_file():
            raise FileNotFoundError(f"report_dirs: {d} has no results.json (is it a `neurophys report` folder?)")
    return write_atomically(out, lambda tmp: write_comparison(dirs, tmp))
