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
    """Per pair, size, device and implementation: relative error vs the oracle, NaN/Inf count, and the
    implementation's error over the fixed one's (naive/fixed for the naive row: > 1 means fixed is better).

    One row per implementation (long form), so a pair with many variants adds rows, not columns."""
    df = accuracy_frame(res)
    if df.empty:
        return df
    df = df[(df.domain == domain) & (df.impl != "oracle")]
    if df.empty:
        return df
    rows = []
    for (pair, device, size), g in df.groupby(["pair", "device", "size"], sort=True):
        ok = g[g.status == "ok"]
        fixed = dict(zip(ok.impl, ok.rel_error)).get("fixed")
        for _, r in g.iterrows():
            row: dict[str, Any] = {"pair": pair, "size": f"{g.size_label.iloc[0]}={size}", "device": device,
                                   "implementation": r.impl}
            if r.status == "ok":
                row.update({"relative error": r.rel_error, "NaN/Inf": int(r.nonfinite),
                            "error / fixed error": _ratio(r.rel_error, fixed)
                            if fixed is not None and r.impl != "fixed" else None})
            else:
                row["relative error"] = f"{r.status}: {r.error}"
            rows.append(row)
    return pd.DataFrame(rows)


def speed_table(res: Results, domain: str) -> pd.DataFrame:
    """Per implementation: median ms and spread (interquartile range / median); the naive/fixed time ratio
    (> 1: fixed is faster) only where the two timings are distinguishable (`suite.timing.speedup`), else
    "overlap" (no verdict)."""
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
            row["naive/fixed time"] = ratio if ratio else "overlap"
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


def sweep_value(value: Any, limit: int = 60) -> str:
    """A sweep value as a reader scans it: a mapping by its keys (its values are in the study's source),
    anything else as printed; cut to `limit` characters with an ellipsis."""
    text = f"{len(value)} settings ({', '.join(map(str, value))})" if isinstance(value, dict) else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def methods_studies(res: Results) -> pd.DataFrame:
    """Every study's declaration: its sweep (quick / full), needs, threads, devices (and why host-only)."""
    studies = {r.study.name: r.study for r in res.studies}
    return pd.DataFrame([{
        "study": s.name, "claims": ", ".join(s.claims),
        f"sweep: quick / full (this run: {res.machine.get('mode')})":
            "; ".join(f"{k}: {sweep_value(q)} / {sweep_value(f)}" for k, (q, f) in s.sweep.items()),
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


def one_line(evidence: str) -> str:
    """The head of a rule's evidence ("what it measures: first measure = value"), without the rule text."""
    body = evidence
    for word in (" (confirmed if", " (refuted if", " (qualified if"):
        if word in body:
            body = body[:body.index(word)]
    about, sep, measures = body.partition(": ")
    return f"{about}: {measures.split(', ')[0]}" if sep else body


def not_run_reason(cid: str, res: Results) -> str:
    """Why no study judged claim `cid` in this run: none is registered, they run on other devices only,
    or they were left out of the run (`--only`)."""
    devices = set(res.machine.get("devices", []))
    judges = [s for s in registry.studies() if cid in s.claims]
    if not judges:
        return "no study of the suite judges this claim"
    elsewhere = sorted({d for s in judges for d in s.devices} - devices)
    if not any(devices & set(s.devices) for s in judges):
        return f"its studies ({', '.join(s.name for s in judges)}) run on {', '.join(elsewhere)} only"
    return f"its studies ({', '.join(s.name for s in judges)}) were not selected in this run (--only)"


def not_run_on(cid: str, device: str, devices: list[str]) -> str:
    """Why claim `cid` has no verdict on `device` in a report that measured `devices`: the report did not
    measure that device, no study judges the claim, its studies are declared for other devices only, or
    they did not run there in this report."""
    if device not in devices:
        return f"this report did not measure {device} (it measured {', '.join(devices) or 'nothing'})"
    judges = [s for s in registry.studies() if cid in s.claims]
    if not judges:
        return "no study of the suite judges this claim"
    names = ", ".join(s.name for s in judges)
    if not any(device in s.devices for s in judges):
        declared = sorted({d for s in judges for d in s.devices})
        return f"its studies ({names}) are declared for {', '.join(declared)} only"
    return f"its studies ({names}) did not run on {device} in this report (left out by --only, or failed)"


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
        why = not_run_reason(cid, res) if overall == "not run on these devices" else ""
        rows.append({
            "claim": cid, "section": section, "text": text, "verdict": overall, "by_device": per_device,
            "devices_disagree": len(set(measured.values())) > 1, "why": why,
            "not_run_on": {d: not_run_on(cid, d, devices) for d in devices if d not in per_device},
            "headline": "; ".join(dict.fromkeys(one_line(v.evidence) for _, v in found if v.verdict == overall))
            or "; ".join(dict.fromkeys(one_line(v.evidence) for _, v in found)),
            "evidence": [{"study": run.study.name, "device": run.device, "verdict": v.verdict,
                          "evidence": v.evidence, "value": v.value} for run, v in found],
        })
    return rows


def accuracy_ratios(res: Results) -> list[dict[str, Any]]:
    """Per pair, device and size: naive and fixed relative error and naive/fixed (> 1: fixed more accurate)."""
    acc = accuracy_frame(res)
    rows = []
    if acc.empty:
        return rows
    for (pair, device, size), g in acc[acc.status == "ok"].groupby(["pair", "device", "size"]):
        e = dict(zip(g.impl, g.rel_error))
        if "naive" in e and "fixed" in e:
            rows.append({"pair": pair, "device": device, "size": f"{g.size_label.iloc[0]}={size}",
                         "naive error": e["naive"], "fixed error": e["fixed"],
                         "naive/fixed error": _ratio(e["naive"], e["fixed"])})
    return rows


def speed_ratios(res: Results) -> list[dict[str, Any]]:
    """Per pair, device and size: naive and fixed median ms and naive/fixed time (> 1: fixed faster), only
    where the interquartile ranges do not overlap (`suite.harness.speedup_at`)."""
    sp = speed_frame(res)
    rows = []
    if sp.empty:
        return rows
    for (pair, device, size), g in sp[sp.status == "ok"].groupby(["pair", "device", "size"]):
        m = dict(zip(g.impl, g.median_ms))
        ratio = harness.speedup_at(g.to_dict("records"), "naive", "fixed", int(size))
        if ratio is not None:  # None: the spreads overlap, so no speed verdict
            rows.append({"pair": pair, "device": device, "size": f"{g.size_label.iloc[0]}={size}",
                         "naive ms": m["naive"], "fixed ms": m["fixed"], "naive/fixed time": ratio})
    return rows


def wins_and_losses(rows: list[dict[str, Any]], ratio: str, n: int = 8) -> tuple[list, list]:
    """The `n` rows with the largest `ratio` above 1 (fixed better) and the `n` with the smallest below 1
    (fixed worse), each sorted from the most extreme."""
    def key(r):
        return r[ratio] if math.isfinite(r[ratio]) else math.inf
    wins = sorted((r for r in rows if r[ratio] > 1), key=key, reverse=True)[:n]
    losses = sorted((r for r in rows if r[ratio] < 1), key=key)[:n]
    return wins, losses


def run_failures(res: Results) -> list[str]:
    """Every step of a run that failed, one line each (the page lists them, `neurophys report` prints them and
    exits 1): domain modules that failed to import, installed plugin variants that could not be used, failed
    studies, failed accuracy and speed rows."""
    failures = [f"domain module suite.studies.{m} failed to import: {e}" for m, e in registry.load_errors().items()]
    failures += [f"plugin variant {n} (entry point group neurophys.variants) not used: {e}"
                 for n, e in registry.plugin_errors().items()]
    failures += [f"study {r.study.name} ({r.device}): {r.error}" for r in res.studies if r.error]
    for rows, kind in ((res.accuracy, "accuracy"), (res.speed, "speed")):
        failures += [f"{kind} {r['pair']} {r['impl']} ({r['device']}, size {r['size']}): {r.get('error')}"
                     for r in rows if r.get("status") == "failed"]
    return failures


def summary(res: Results) -> dict[str, Any]:
    claims = claim_rows(res)
    counts = {k: sum(c["verdict"] == k for c in claims)
              for k in ("confirmed", "refuted", "qualified", "not measured", "not run on these devices")}
    acc_wins, acc_losses = wins_and_losses(accuracy_ratios(res), "naive/fixed error")
    speed_wins, speed_losses = wins_and_losses(speed_ratios(res), "naive/fixed time")
    failures = run_failures(res)
    failures += [f"claim {c['claim']}: no study produced a verdict" for c in claims if c["verdict"] == "not measured"]
    disagree = [f"{c['claim']} ({', '.join(f'{d}: {k}' for d, k in c['by_device'].items())})"
                for c in claims if c["devices_disagree"]]
    return {"counts": counts, "claims": claims, "accuracy_wins": acc_wins, "accuracy_losses": acc_losses,
            "speed_wins": speed_wins, "speed_losses": speed_losses,
            "notable": [c for c in claims if c["verdict"] in ("refuted", "qualified")],
            "failures": failures, "disagree": disagree, "load_warning": speed_load_warning(res)}


# Research report section 6.3 ("research checklist for the fixes"): (domain, item in the report's words,
# English gloss, claims whose verdicts measure it, what the suite does where no claim measures it).
CHECKLIST_63 = (
    ("holography", "fft ではなく rfft を使用して実数性を担保しているか？",
     "Is rfft used instead of fft, so that results stay real?", ("H2",), ""),
    ("holography", "結合（Binding）の前にフェーザ正規化 (z / |z|) を行っているか？",
     "Is phasor normalisation (z / |z|) applied before binding?", ("H1", "H3"), ""),
    ("holography", "円形畳み込みにおいて、ブロードキャスティング（H x W vs C x H x W）の次元エラーがないか？",
     "Are there no broadcasting dimension errors (H x W vs C x H x W) in circular convolution?", (),
     "no claim measures it: suite.holographic binds over the last dimension, broadcasts the leading ones and "
     "raises ValueError on shapes that do not broadcast (checked by the test suite, not by a study)"),
    ("hyperbolic", "ポアンカレボールからローレンツモデル (geoopt.Lorentz) へ切り替えたか？",
     "Was the Poincare ball replaced by the Lorentz model (geoopt.Lorentz)?", ("Y1", "Y2"), ""),
    ("hyperbolic", "接空間上での等方性ガウス損失 (Isotropic Gaussian Loss) を実装したか？",
     "Is an isotropic Gaussian loss on the tangent space implemented?", ("Y3", "Y4"), ""),
    ("hyperbolic", "オプティマイザを RiemannianAdam に変更したか？",
     "Was the optimiser changed to RiemannianAdam?", ("Y5",), ""),
    ("retrocausal", "単純加算ではなく、デルタ則（Delta Rule）による更新を実装したか？",
     "Is the update the delta rule rather than plain addition?", ("F1",), ""),
    ("retrocausal", "カーネル関数に ELU + 1 などの正定値関数を使用しているか？",
     "Is the kernel a positive function such as ELU + 1?", ("F2",), ""),
    ("retrocausal", "分母の状態 z_t による正規化を行っているか？",
     "Is the output normalised by the denominator state z_t?", ("F3",), ""),
    ("optics", "帯域制限マスク（Band-limiting mask）を実装したか？",
     "Is a band-limiting mask implemented?", ("O4",), ""),
    ("optics", "位相計算に complex128 を使用しているか？",
     "Is the phase computed in complex128?", ("O5",), ""),
    ("optics", "円形回り込みを防ぐために、入力を2倍にパディングしているか？",
     "Is the input padded 2x to prevent circular wrap-around?", ("O2",), ""),
)


def checklist_rows(res: Results) -> list[dict[str, Any]]:
    """Every item of the research report's section 6.3 checklist with the verdicts and one-line numbers of
    the claims that measure it in this run (or why nothing measures it)."""
    claims = {c["claim"]: c for c in claim_rows(res)}
    rows = []
    for domain, item, gloss, ids, otherwise in CHECKLIST_63:
        measured = [{"claim": cid, "verdict": claims[cid]["verdict"],
                     "text": claims[cid]["headline"] or claims[cid]["why"]} for cid in ids]
        rows.append({"domain": domain, "item": item, "gloss": gloss, "measured": measured, "otherwise": otherwise})
    return rows
