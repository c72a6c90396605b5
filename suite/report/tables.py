"""Turn collected numbers into the report's tables (pandas), claim verdicts and the summary.

Pure functions of `Results`: the HTML renderer and the CSV/JSON writers both read from here.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from suite import harness, registry
from suite.claims import CLAIMS, VERDICTS
from suite.report.collect import Results
from suite.timing import load_warning


def accuracy_frame(res: Results) -> pd.DataFrame:
    return pd.DataFrame(res.accuracy)


def speed_frame(res: Results) -> pd.DataFrame:
    return pd.DataFrame(res.speed)


def stability_table(res: Results, domain: str) -> pd.DataFrame:
    """Per pair, size and device: each implementation's relative error vs the oracle and NaN/Inf count."""
    df = accuracy_frame(res)
    if df.empty:
        return df
    df = df[(df.domain == domain) & (df.impl != "oracle")]
    if df.empty:
        return df
    rows = []
    for (pair, device, size), g in df.groupby(["pair", "device", "size"], sort=True):
        row: dict[str, Any] = {"pair": pair, "device": device, "size": f"{g.size_label.iloc[0]}={size}"}
        errs = {}
        for _, r in g.iterrows():
            if r.status == "ok":
                row[f"{r.impl} error"] = r.rel_error
                row[f"{r.impl} NaN/Inf"] = int(r.nonfinite)
                errs[r.impl] = r.rel_error
            else:
                row[f"{r.impl} error"] = f"{r.status}: {r.error}"
        if "naive" in errs and "fixed" in errs:
            row["naive/fixed error"] = _ratio(errs["naive"], errs["fixed"])
        rows.append(row)
    return pd.DataFrame(rows)


def speed_table(res: Results, domain: str) -> pd.DataFrame:
    """Per implementation: median ms and spread (interquartile range / median); fixed/naive time ratio only
    where the two timings are distinguishable (`suite.timing.speedup`), else "overlap" (no verdict)."""
    df = speed_frame(res)
    if df.empty:
        return df
    df = df[df.domain == domain]
    rows = []
    for (pair, device, size), g in df.groupby(["pair", "device", "size"], sort=True):
        row: dict[str, Any] = {"pair": pair, "device": device, "size": f"{g.size_label.iloc[0]}={size}"}
        for _, r in g.iterrows():
            if r.status == "ok":
                row[f"{r.impl} ms"] = r.median_ms
                row[f"{r.impl} spread"] = (r.q75_ms - r.q25_ms) / r.median_ms
            else:
                row[f"{r.impl} ms"] = f"{r.status}: {r.error}"
        ratio = harness.speedup_at(g.to_dict("records"), "naive", "fixed", int(size))
        if {"naive ms", "fixed ms"} <= set(row) and not isinstance(row["fixed ms"], str):
            row["fixed/naive time"] = 1 / ratio if ratio else "overlap"
        rows.append(row)
    return pd.DataFrame(rows)


def speed_fits(res: Results, domain: str) -> pd.DataFrame:
    """Per pair and device, from its timing sweep: each implementation's fitted exponent (time ~ size^k)
    and the crossover size from which the fixed implementation is distinguishably faster than the naive."""
    df = speed_frame(res)
    if df.empty:
        return df
    rows = []
    for (pair, device), g in df[df.domain == domain].groupby(["pair", "device"], sort=True):
        recs = g.to_dict("records")
        if g["size"].nunique() < 2:
            continue
        row: dict[str, Any] = {"pair": pair, "device": device, "sizes": f"{g.size_label.iloc[0]}="
                               + ", ".join(str(s) for s in sorted(g["size"].unique()))}
        for impl in g.impl.unique():
            row[f"{impl} exponent"] = harness.exponent(recs, impl)
        row["fixed faster from"] = harness.crossover(recs, "naive", "fixed")
        rows.append(row)
    return pd.DataFrame(rows)


def speed_load_warning(res: Results) -> str | None:
    """`suite.timing.load_warning` over every timing of the run."""
    return load_warning(harness.timing_of(r) for r in res.speed if r.get("status") == "ok")


def methods_rules(res: Results) -> pd.DataFrame:
    """Every rule of the studies in this run: claim, study, the measures it reads, and the rule verbatim."""
    studies = {r.study.name: r.study for r in res.studies}
    return pd.DataFrame([{"claim": rule.claim, "study": s.name, "measures read": ", ".join(rule.measures),
                          "rule": rule.text()} for s in studies.values() for rule in s.rules]
                        ).sort_values(["claim", "study"]) if any(s.rules for s in studies.values()) else pd.DataFrame()


def methods_studies(res: Results) -> pd.DataFrame:
    """Every study's declaration: its sweep (quick / full), needs, threads, devices (and why host-only)."""
    studies = {r.study.name: r.study for r in res.studies}
    mode = res.machine.get("mode") == "quick"
    return pd.DataFrame([{
        "study": s.name, "claims": ", ".join(s.claims),
        "sweep (this run)": ", ".join(f"{k}={v}" for k, v in vars(s.params(mode)).items()),
        "sweep (quick / full)": "; ".join(f"{k}: {q} / {f}" for k, (q, f) in s.sweep.items()),
        "needs": ", ".join(s.needs), "threads": s.threads or "caller's",
        "devices": ", ".join(s.devices) + (f" (host-side: {s.host})" if s.host else "")} for s in studies.values()])


def _ratio(a: float, b: float) -> float:
    if not math.isfinite(a):
        return math.inf
    return a / b if b > 0 else (math.inf if a > 0 else 1.0)


def merge_verdicts(kinds: list[str]) -> str:
    """Verdicts of several studies (or devices) on one claim: agreeing ones stand; disagreeing ones make it
    'qualified' (true under some measured conditions, not others); 'no verdict' ones do not count."""
    kinds = sorted({k for k in kinds if k in VERDICTS})
    if not kinds:
        return "not measured"
    return kinds[0] if len(kinds) == 1 else "qualified"


def claim_rows(res: Results) -> list[dict[str, Any]]:
    """One row per claim of CLAIMS.md: its verdict per device, the merged verdict, and the evidence.

    `devices_disagree` flags a claim whose per-device verdicts differ (e.g. a precision claim that holds on
    CPU and fails with cuFFT); 'not measured' when no study gave a verdict, 'not run on these devices' when
    none of its studies runs on the measured devices.
    """
    by_claim: dict[str, list] = {}
    for run, v in res.verdicts:
        by_claim.setdefault(v.claim, []).append((run, v))
    ran = {c for run in res.studies for c in run.study.claims}
    devices = list(res.machine.get("devices", []))
    rows = []
    for cid, (section, text) in CLAIMS.items():
        found = by_claim.get(cid, [])
        per_device = {d: merge_verdicts([v.verdict for run, v in found if run.device == d]) for d in devices
                      if any(run.device == d for run, _ in found)}
        measured = {d: k for d, k in per_device.items() if k != "not measured"}
        if found:
            overall = merge_verdicts(list(measured.values()))
        else:
            overall = "not measured" if cid in ran else "not run on these devices"
        rows.append({
            "claim": cid, "section": section, "text": text, "verdict": overall, "by_device": per_device,
            "devices_disagree": len(set(measured.values())) > 1,
            "evidence": [{"study": run.study.name, "device": run.device, "verdict": v.verdict,
                          "evidence": v.evidence, "value": v.value} for run, v in found],
        })
    return rows


def summary(res: Results) -> dict[str, Any]:
    claims = claim_rows(res)
    counts = {k: sum(c["verdict"] == k for c in claims)
              for k in ("confirmed", "refuted", "qualified", "not measured", "not run on these devices")}
    acc = accuracy_frame(res)
    reductions = []
    if not acc.empty:
        ok = acc[acc.status == "ok"]
        for (pair, device, size), g in ok.groupby(["pair", "device", "size"]):
            e = dict(zip(g.impl, g.rel_error))
            if "naive" in e and "fixed" in e:
                reductions.append({"pair": pair, "device": device, "size": size, "naive error": e["naive"],
                                   "fixed error": e["fixed"], "naive/fixed": _ratio(e["naive"], e["fixed"])})
    sp = speed_frame(res)
    speedups = []
    if not sp.empty:
        ok = sp[sp.status == "ok"]
        for (pair, device, size), g in ok.groupby(["pair", "device", "size"]):
            m = dict(zip(g.impl, g.median_ms))
            ratio = harness.speedup_at(g.to_dict("records"), "naive", "fixed", int(size))
            if ratio is not None:  # None: the spreads overlap, so no speed verdict
                speedups.append({"pair": pair, "device": device, "size": size, "naive ms": m["naive"],
                                 "fixed ms": m["fixed"], "naive/fixed time": ratio})
    failures = [f"domain module suite.studies.{m} failed to import: {e}" for m, e in registry.load_errors().items()]
    failures += [f"study {r.study.name} ({r.device}): {r.error}" for r in res.studies if r.error]
    for rows, kind in ((res.accuracy, "accuracy"), (res.speed, "speed")):
        failures += [f"{kind} {r['pair']} {r['impl']} ({r['device']}, size {r['size']}): {r.get('error')}"
                     for r in rows if r.get("status") == "failed"]
    failures += [f"claim {c['claim']}: no study produced a verdict" for c in claims if c["verdict"] == "not measured"]
    disagree = [f"{c['claim']} ({', '.join(f'{d}: {k}' for d, k in c['by_device'].items())})"
                for c in claims if c["devices_disagree"]]
    reductions.sort(key=lambda r: -r["naive/fixed"] if math.isfinite(r["naive/fixed"]) else -math.inf)
    speedups.sort(key=lambda r: -r["naive/fixed time"])
    return {"counts": counts, "claims": claims, "reductions": reductions[:8], "speedups": speedups[:8],
            "failures": failures, "disagree": disagree, "load_warning": speed_load_warning(res)}
