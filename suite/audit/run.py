"""`audit(pair, impls)`: put any implementations through a pair's properties, its oracle accuracy sweep and
its speed against the suite's naive and fixed versions, and write the result as a self-contained page.

Accuracy: relative error `||out - ref|| / ||ref||` against the pair's float64 oracle on the pair's seeded
inputs at each of its quick sizes, as in the report (NaN/Inf counted). Speed: `suite.timing.measure` on
the same inputs, and `suite.timing.speedup` against naive and fixed, which gives no ratio when the
interquartile ranges overlap.
Every call of an audited implementation runs under a time-out; a failure is recorded and the audit goes on.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from suite import registry
from suite.audit.guard import ImplFailure, guarded
from suite.audit.properties import PropertyResult, check_all
from suite.checks import nonfinite_count, relative_error
from suite.timing import Timing, measure, speedup

MARKER = ".neurophys-audit"  # an --out folder holding this file is an earlier audit and may be replaced


class AuditOutputError(ValueError):
    """--out exists and is neither empty nor an earlier audit (it is never deleted)."""


@dataclass
class AuditResult:
    """Tidy rows: `properties` (one per impl and property), `accuracy` (impl, size), `speed` (impl, size)."""

    pair: str
    device: str
    quick: bool
    properties: list[PropertyResult] = field(default_factory=list)
    accuracy: list[dict] = field(default_factory=list)
    speed: list[dict] = field(default_factory=list)

    def rows(self) -> list[dict]:
        """Every result as one flat row (kind, impl, what, status, number, detail, example)."""
        out = [dict(kind="property", impl=p.impl, what=p.property, status=p.status, number=p.number,
                    detail=p.detail, example=p.example) for p in self.properties]
        out += [dict(kind="accuracy", impl=a["impl"], what=f"size {a['size']}", status=a["status"],
                     number=a["error"], detail=a["detail"], example="") for a in self.accuracy]
        out += [dict(kind="speed", impl=s["impl"], what=f"size {s['size']}", status=s["status"],
                     number=s["median_s"], detail=s["detail"], example="") for s in self.speed]
        return [dict(pair=self.pair, device=self.device, **r) for r in out]

    def failed(self, impl: str) -> list[PropertyResult]:
        return [p for p in self.properties if p.impl == impl and not p.passed]


def _inputs_on(pair: registry.Pair, size: int, device: str) -> tuple:
    return pair.inputs(size, device, seed=0)


def accuracy_sweep(pair: registry.Pair, name: str, impl: Callable, device: str, timeout: float) -> list[dict]:
    """Relative error vs the pair's oracle at each of its quick sizes, as in the report (the float64 oracle
    can cost far more than the implementations: an O(d^2) sum, an mpmath loop); failures recorded."""
    if pair.oracle is None:
        return []
    call = guarded(impl, timeout, name)
    rows = []
    for size in pair.timing_sizes(quick=True):
        row = dict(impl=name, size=size, error=math.nan, nonfinite=0, status="ok", detail="")
        try:
            args = _inputs_on(pair, size, device)
            out = pair.select(call(*args))
            ref = pair.oracle(*args)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(ref.shape):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ImplFailure("wrong shape", f"output {got}, expected {tuple(ref.shape)}")
            row.update(error=relative_error(out, ref), nonfinite=nonfinite_count(out),
                       detail=f"relative error vs float64 oracle, {pair.size_label}={size}")
        except ImplFailure as exc:
            row.update(status=exc.status, detail=str(exc))
        rows.append(row)
    return rows


def speed_sweep(pair: registry.Pair, impls: Mapping[str, Callable], device: str, quick: bool,
                timeout: float) -> list[dict]:
    """Median seconds per call, and the ratios vs naive and fixed (None: IQRs overlap, no verdict)."""
    rows = []
    for size in pair.timing_sizes(quick):
        args = _inputs_on(pair, size, device)
        times: dict[str, Timing] = {}
        for name, impl in {"naive": pair.naive, "fixed": pair.fixed, **impls}.items():
            if name in times:
                continue
            call = guarded(impl, timeout, name)
            try:
                call(*args)  # one guarded call first: a failing or hanging impl is not timed
                with torch.no_grad():
                    times[name] = measure(lambda: impl(*args), warmup=1, repeats=5 if quick else 10,
                                          min_time=0.01, max_time=0.5 if quick else 3.0)
            except ImplFailure as exc:
                rows.append(dict(impl=name, size=size, median_s=math.nan, q25_s=math.nan, q75_s=math.nan,
                                 vs_naive=None, vs_fixed=None, status=exc.status, detail=str(exc)))
        for name in impls:
            if name not in times:
                continue
            t = times[name]
            vs = {ref: (speedup(times[ref], t) if ref in times else None) for ref in ("naive", "fixed")}
            said = ", ".join(f"{v:.3g}x vs {k}" if v is not None else f"no verdict vs {k} (IQRs overlap)"
                             for k, v in vs.items())
            rows.append(dict(impl=name, size=size, median_s=t.median, q25_s=t.q25, q75_s=t.q75,
                             vs_naive=vs["naive"], vs_fixed=vs["fixed"], status="ok",
                             detail=f"median {t.median * 1e3:.3g} ms; {said}"))
    return rows


def audit(pair_name: str, impls: Mapping[str, Callable[..., Any]], device: str = "cpu", quick: bool = True, *,
          timeout: float = 10.0, speed: bool = True, reference: bool = True) -> AuditResult:
    """Audit `impls` ({name: callable with the pair's signature}) on `pair_name`.

    reference=True runs the properties on the suite's naive and fixed versions too, so every verdict has
    the two anchors beside it. speed=False skips the timing sweep.
    """
    pair = registry.get_pair(pair_name)
    if device not in pair.devices:
        raise ValueError(f"device {device!r}: pair {pair_name!r} runs on {list(pair.devices)}")
    res = AuditResult(pair=pair_name, device=device, quick=quick)
    judged = ({"naive": pair.naive, "fixed": pair.fixed} if reference else {}) | dict(impls)
    for name, impl in judged.items():
        res.properties += check_all(pair_name, impl, name, device=device, timeout=timeout, quick=quick)
        res.accuracy += accuracy_sweep(pair, name, impl, device, timeout)
    if speed:
        res.speed = speed_sweep(pair, impls, device, quick, timeout)
    return res


# ============================================================================================ output
def check_out(out: str | Path) -> Path:
    """An --out that may be written: absent, empty, or an earlier audit (holds MARKER)."""
    p = Path(out)
    if p.exists() and (not p.is_dir() or (any(p.iterdir()) and not (p / MARKER).exists())):
        raise AuditOutputError(f"--out {str(p)!r} exists and is not an earlier audit (no {MARKER} file); "
                               "choose a new or empty folder")
    return p


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.3g}"
    return "" if x is None else str(x)


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr class='{}'>{}</tr>".format(
        "bad" if r.get("status") not in ("passed", "ok") else "good",
        "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols)) for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%;text-align:left}"
          "tr.bad td{background:#fde2e2}tr.good td{background:#e6f4e6}")


def render_html(results: list[AuditResult]) -> str:
    """One self-contained page (inline CSS, no scripts, no external resources)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>neurophys audit</title>"
             f"<style>{_STYLE}</style></head><body><h1>neurophys audit</h1>"
             f"<p>torch {html.escape(torch.__version__)}. Properties: hypothesis search (shrunk smallest "
             "failing case in 'example'); accuracy: relative error vs the pair's float64 oracle; speed: "
             "suite.timing.measure medians, ratios only where the interquartile ranges do not overlap.</p>"]
    for r in results:
        parts.append(f"<h2>{html.escape(r.pair)} on {html.escape(r.device)}"
                     f"{' (quick)' if r.quick else ''}</h2><h3>Properties</h3>")
        parts.append(_table([asdict(p) for p in r.properties],
                            ["impl", "property", "status", "number", "detail", "example"]))
        if r.accuracy:
            parts.append("<h3>Accuracy vs oracle</h3>" + _table(r.accuracy, ["impl", "size", "status", "error",
                                                                              "nonfinite", "detail"]))
        if r.speed:
            parts.append("<h3>Speed</h3>" + _table(r.speed, ["impl", "size", "status", "median_s", "vs_naive",
                                                              "vs_fixed", "detail"]))
    return "".join(parts) + "</body></html>"


def _json_safe(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def write(results: list[AuditResult], out: str | Path) -> Path:
    """index.html, results.csv, results.json (and MARKER) into `out`, atomically: written to a temporary
    sibling folder, then renamed; an earlier audit at `out` is replaced only once the new one is complete."""
    dest = check_out(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would make a published audit unreadable to others
        rows = [r for res in results for r in res.rows()]
        (tmp / "index.html").write_text(render_html(results), encoding="utf-8")
        with open(tmp / "results.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["pair", "device", "kind", "impl", "what", "status", "number",
                                              "detail", "example"])
            w.writeheader()
            w.writerows(rows)
        (tmp / "results.json").write_text(json.dumps([{k: _json_safe(v) for k, v in r.items()} for r in rows],
                                                     indent=1), encoding="utf-8")
        (tmp / MARKER).write_text("written by `neurophys audit`; this folder may be replaced by the next one\n")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)  # holds MARKER (checked above): an earlier audit
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


PUBLIC_COLUMNS = ["library", "function", "pair", "device", "property", "status", "number", "detail", "example"]


def public_audit_table(devices: list[str] | tuple[str, ...] = ("cpu",), quick: bool = True, *,
                       timeout: float = 30.0):
    """Tidy `pandas.DataFrame` (PUBLIC_COLUMNS): every installed public implementation through its pair's
    properties on each device, one row per function and property (status passed / failed / raised /
    timeout / wrong shape, the property's number, its sentence and the smallest failing case hypothesis
    found), plus one "accuracy vs oracle at size n" row per quick size; a public function that is not
    installed, or not made for the device, gets one row saying so (status "not installed" / "not run")."""
    import pandas as pd

    from suite.audit.public import installed, missing

    rows = []
    for device in devices:
        found = installed(None, device)
        for pair in sorted({p.pair for p, _ in found.values()}):
            mine = {name: fn for name, (p, fn) in found.items() if p.pair == pair}
            res = audit(pair, mine, device, quick, timeout=timeout, speed=False, reference=False)
            for name in mine:
                pub = found[name][0]
                base = dict(library=pub.library, function=pub.function, pair=pair, device=device)
                rows += [dict(base, property=p.property, status=p.status, number=p.number, detail=p.detail,
                              example=p.example) for p in res.properties if p.impl == name]
                rows += [dict(base, property=f"accuracy vs oracle at {a['size']}",
                              status=a["status"] if a["status"] != "ok" else
                              "passed" if math.isfinite(a["error"]) else "failed",
                              number=a["error"], detail=a["detail"], example="")
                         for a in res.accuracy if a["impl"] == name]
        rows += [dict(library=pub.library, function=pub.function, pair=pub.pair, device=device, property="",
                      status="not installed" if why.startswith("not installed") else "not run", number=math.nan,
                      detail=why, example="") for pub, why in missing(None, device)]
    return pd.DataFrame(rows, columns=PUBLIC_COLUMNS)
