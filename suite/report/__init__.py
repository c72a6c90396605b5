"""Report generator: measure everything in the registry and write a self-contained HTML report.

`generate(out, ...)` writes into a temporary folder beside `out` and moves it into place only when every
file is written, so a crash or Ctrl-C never leaves a half-written report.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from suite.report.collect import Progress, Results, collect
from suite.report.render import write_all

__all__ = ["generate", "collect", "write_all", "Results"]


def generate(out: str | Path, *, devices: list[str], quick: bool = False, only: list[str] | None = None,
             seed: int = 0, timeout: float | None = None, progress: Progress = lambda s: None,
             speed: bool = True) -> Results:
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    res = collect(devices=devices, quick=quick, only=only, seed=seed, timeout=timeout, progress=progress,
                  speed=speed)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_all(res, tmp)
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
    return res
