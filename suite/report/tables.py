"""Turn collected numbers into the report's tables (pandas), claim verdicts and the summary.

Pure functions of `Results`: the HTML renderer and the CSV/JSON writers both read from here.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from suite import registry
from suite.claims import CLAIMS
from suite.report.collect import Results


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
    """Median milliseconds per implementation, and fixed/naive time ratio (< 1: the fixed one is faster)."""
    df = speed_frame(res)
    if df.empty:
        return df
    df = df[df.domain == domain]
    rows = []
    for (pair, device, size), g in df.groupby(["pair", "device", "size"], sort=True):
        row: dict[str, Any] = {"pair": pair, "device": device, "size": f"{g.size_label.iloc[0]}={size}"}
        ms = {}
        for _, r in g.iterrows():
            if r.status == "ok":
                row[f"{r.impl} ms"] = r.median_ms
                ms[r.impl] = r.median_ms
            else:
                row[f"{r.impl} ms"] = f"{r.status}: {r.error}"
        if "naive" in ms and "fixed" in ms:
            row["fixed/naive time"] = ms["fixed"] / ms["naive"]
        rows.append(row)
    return pd.DataFrame(rows)


def _ratio(a: float, b: float) -> float:
    if not math.isfinite(a):
        return math.inf
    return a / b if b > 0 else (math.inf if a > 0 else 1.0)


def claim_rows(res: Results) -> list[dict[str, Any]]:
    """One row per claim of CLAIMS.md: the verdicts studies computed, merged; 'not measured' if none.

    Several studies may judge one claim (on several devices too): agreeing verdicts stand; disagreeing ones
    make the claim 'qualified' (true under some measured conditions, not others).
    """
    by_claim: dict[str, list] = {}
    for run, v in res.verdicts:
        by_claim.setdefault(v.claim, []).append((run, v))
    ran = {c for run in res.studies for c in run.study.claims}
    rows = []
    for cid, (section, text) in CLAIMS.items():
        found = by_claim.get(cid, [])
        kinds = {v.verdict for _, v in found}
        if not found:  # a study that tests it ran here and gave none, or none runs on these devices
            overall = "not measured" if cid in ran else "not run on these devices"
        else:
            overall = kinds.pop() if len(kinds) == 1 else "qualified"
        rows.append({
            "claim": cid, "section": section, "text": text, "verdict": overall,
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
            if "naive" in m and "fixed" in m:
                speedups.append({"pair": pair, "device": device, "size": size, "naive ms": m["naive"],
                                 "fixed ms": m["fixed"], "naive/fixed time": m["naive"] / m["fixed"]})
    failures = [f"domain module suite.studies.{m} failed to import: {e}" for m, e in registry.load_errors().items()]
    failures += [f"study {r.study.name} ({r.device}): {r.error}" for r in res.studies if r.error]
    for rows, kind in ((res.accuracy, "accuracy"), (res.speed, "speed")):
        failures += [f"{kind} {r['pair']} {r['impl']} ({r['device']}, size {r['size']}): {r.get('error')}"
                     for r in rows if r.get("status") == "failed"]
    failures += [f"claim {c['claim']}: no study produced a verdict" for c in claims if c["verdict"] == "not measured"]
    reductions.sort(key=lambda r: -r["naive/fixed"] if math.isfinite(r["naive/fixed"]) else -math.inf)
    speedups.sort(key=lambda r: -r["naive/fixed time"])
    return {"counts": counts, "claims": claims, "reductions": reductions[:8], "speedups": speedups[:8],
            "failures": failures}
