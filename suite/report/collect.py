"""Run everything the registry holds and gather the numbers: accuracy, speed, studies, verdicts, machine.

Nothing here knows a domain: it iterates `suite.registry`. Studies run in dependency order
(`suite.harness.run_order`), each timed and timed out on its own; a pair or study that raises or runs past
its time limit is recorded as failed with its error (and so are the studies that need it); the rest runs.
All timing goes through `speed_rows` (a Pair's sizes on a device); studies read those rows, never time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from suite import registry
from suite.checks import nonfinite_count, relative_error
from suite.harness import execute, run_order
from suite.registry import Pair, SkipSize, Study, StudyResult, Verdict
from suite.timing import measure

Progress = Callable[[str], None]


class StepTimeout(Exception):
    """A pair or study ran past the report's per-step time limit."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise StepTimeout in the main thread after `seconds` (SIGALRM; a no-op elsewhere or when None)."""
    usable = seconds and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise StepTimeout(f"ran past the time limit of {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


@dataclass
class StudyRun:
    study: Study
    device: str
    result: StudyResult | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Results:
    machine: dict[str, Any]
    accuracy: list[dict[str, Any]] = field(default_factory=list)
    speed: list[dict[str, Any]] = field(default_factory=list)
    studies: list[StudyRun] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)

    @property
    def verdicts(self) -> list[tuple[StudyRun, Verdict]]:
        return [(run, v) for run in self.studies if run.result for v in run.result.verdicts]


def _git_commit() -> str:
    """The source commit: $NEUROPHYS_COMMIT when set (a copy of the tree without .git, e.g. a GPU box), else git."""
    if os.environ.get("NEUROPHYS_COMMIT"):
        return os.environ["NEUROPHYS_COMMIT"]
    here = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(mod: str) -> str:
    try:
        return __import__(mod).__version__
    except Exception:  # noqa: BLE001 - an optional package may be absent or broken
        return "not installed"


def machine_info(devices: list[str], quick: bool, seed: int) -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if "cuda" in devices else None
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "mode": "quick" if quick else "full",
        "seed": seed,
        "devices": devices,
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "cuda": torch.version.cuda if gpu else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "geoopt": _version("geoopt"),
        "numpy": _version("numpy"),
        "pandas": _version("pandas"),
    }


def _attempt(row: dict[str, Any], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fill `row` with `work()`'s numbers and status ok, or with status skipped/failed and the error."""
    try:
        row.update(work(), status="ok")
    except SkipSize as exc:
        row.update(status="skipped", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded in the report, the rest goes on
        row.update(status="failed", error=_error_text(exc))
    return row


def accuracy_rows(pair: Pair, device: str, seed: int, progress: Progress, timeout: float | None) -> list[dict]:
    """Relative error vs the oracle and NaN/Inf count of every implementation, at the pair's quick sizes.

    Accuracy always uses the quick sizes (in full mode too): the oracle is a float64 definition that can be
    far more expensive than the implementations (an O(d^2) sum, an mpmath loop).
    """
    rows = []
    if pair.oracle is None:
        return rows
    for size in pair.timing_sizes(quick=True):
        try:
            with time_limit(timeout):
                inputs = pair.inputs(size, device, seed)
                ref = pair.oracle(*inputs)
        except Exception as exc:  # noqa: BLE001 - recorded in the report, the rest goes on
            rows.append(dict(pair=pair.name, domain=pair.domain, impl="oracle", device=device, size=size,
                             status="failed", error=_error_text(exc)))
            continue
        for impl, fn in pair.impls().items():
            row = dict(pair=pair.name, domain=pair.domain, impl=impl, device=device, size=size,
                       size_label=pair.size_label, claim=pair.claim)
            reason = pair.skip_reason(impl, size, device)
            if reason:
                rows.append({**row, "status": "skipped", "error": reason})
                continue
            def error(fn=fn) -> dict:
                with time_limit(timeout), torch.no_grad():
                    out = pair.select(fn(*inputs))
                return dict(rel_error=relative_error(out, ref), nonfinite=nonfinite_count(out))

            rows.append(_attempt(row, error))
            progress(f"accuracy {pair.name} {impl:>8} {device} {pair.size_label}={size}: "
                     f"{_fmt(row.get('rel_error'))} ({row['status']})")
    return rows


SLOW_CALL_MS = 500.0  # a variant slower than this per call (a per-step Python loop) is not timed at larger sizes


def speed_rows(pair: Pair, device: str, quick: bool, seed: int, progress: Progress,
               timeout: float | None) -> list[dict]:
    """Time of every implementation at each timing size on `device`, all measured in the same run: median,
    spread (10/25/75 % quantiles), repeats, thread count and the machine's load while it was measured.

    A variant that took more than `SLOW_CALL_MS` per call at one size is skipped, with that number as the
    reason, at the larger ones: a per-step loop at T = 65536 costs minutes and its trend is already shown."""
    rows = []
    too_slow: dict[str, str] = {}  # impl -> why it is not timed at the larger sizes
    for size in pair.timing_sizes(quick, device):
        inputs = None
        for impl, fn in pair.impls().items():
            row = dict(pair=pair.name, domain=pair.domain, impl=impl, device=device, size=size,
                       size_label=pair.size_label)
            reason = pair.skip_reason(impl, size, device) or too_slow.get(impl)
            if reason:
                rows.append({**row, "status": "skipped", "error": reason})
                continue
            def timing(fn=fn) -> dict:
                nonlocal inputs
                with time_limit(timeout):
                    if inputs is None:
                        inputs = pair.inputs(size, device, seed)
                    args = inputs

                    def call():
                        with torch.no_grad():
                            return fn(*args)

                    t = measure(call, repeats=3 if quick else 7, min_time=0.02 if quick else 0.2,
                                max_time=2.0 if quick else 10.0, num_threads=pair.threads)
                return dict(median_ms=t.median_ms, q10_ms=t.q10 * 1e3, q25_ms=t.q25 * 1e3, q75_ms=t.q75 * 1e3,
                            repeats=t.repeats, threads=t.threads, load=t.load, cores=t.cores)

            rows.append(_attempt(row, timing))
            if row.get("median_ms", 0) > SLOW_CALL_MS:
                too_slow[impl] = (f"not timed above {pair.size_label}={size}: {row['median_ms']:.4g} ms per call "
                                  f"there, over the {SLOW_CALL_MS:g} ms per-call budget of the timing tables")
            progress(f"speed    {pair.name} {impl:>8} {device} {pair.size_label}={size}: "
                     f"{_fmt(row.get('median_ms'))} ms ({row['status']})")
        del inputs
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def run_study(study: Study, device: str, quick: bool, seed: int, results: dict[str, StudyResult],
              timings: Callable[[str], list[dict]], progress: Progress, timeout: float | None) -> StudyRun:
    """Run one study (its needs already ran) under its own time limit; record its error if it fails."""
    run = StudyRun(study, device)
    t0 = time.perf_counter()
    try:
        failed = [n for n in study.needs if n not in results]
        if failed:
            raise RuntimeError(f"needs {', '.join(failed)}, which did not run or failed")
        with time_limit(timeout):
            run.result = execute(study, quick=quick, device=device, seed=seed, results=results, timings=timings)
    except Exception as exc:  # noqa: BLE001
        run.error = _error_text(exc)
        progress(f"study    {study.name} {device}: FAILED {run.error}")
        progress("".join(traceback.format_exception(exc))[-2000:])
    run.seconds = time.perf_counter() - t0
    if run.result is not None:
        progress(f"study    {study.name} {device}: {len(run.result.verdicts)} verdict(s) in {run.seconds:.1f} s")
    return run


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"


def collect(*, devices: list[str], quick: bool, only: list[str] | None = None, seed: int = 0,
            timeout: float | None = None, progress: Progress = lambda s: None,
            speed: bool = True) -> Results:
    """Measure every registered pair and study of the selected domains on the selected devices."""
    res = Results(machine=machine_info(devices, quick, seed))
    res.pairs = registry.pairs(only)
    order = run_order(registry.studies(only))
    for device in devices:
        timed: dict[str, list[dict]] = {}
        for pair in res.pairs:
            if device not in pair.devices:
                continue
            res.accuracy += accuracy_rows(pair, device, seed, progress, timeout)
            if speed:
                timed[pair.name] = speed_rows(pair, device, quick, seed, progress, timeout)
                res.speed += timed[pair.name]

        def timings(name: str, device=device, timed=timed) -> list[dict]:
            """A pair's timing rows on this device: those of this run, else measured now (and reported)."""
            if name not in timed:
                timed[name] = speed_rows(registry.get_pair(name), device, quick, seed, progress, timeout)
                res.speed += timed[name]
            return timed[name]

        results: dict[str, StudyResult] = {}
        for study in order:
            if device in study.devices:
                res.studies.append(run_study(study, device, quick, seed, results, timings, progress, timeout))
    return res
