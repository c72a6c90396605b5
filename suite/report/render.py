"""Render `Results` into one self-contained index.html (figures embedded as base64 PNG) plus data files."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure

from suite import registry
from suite.claims import CLAIMS, VERDICTS
from suite.report.collect import Results
from suite.report.tables import (accuracy_frame, claim_rows, methods_rules, methods_studies, speed_fits,
                                 speed_frame, speed_table, stability_table, summary)


def fmt_number(x: Any) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        return f"{x:.3g}" if (1e-3 <= abs(x) < 1e4) else f"{x:.2e}"
    return str(x)


def html_table(df: pd.DataFrame) -> str:
    if df is None or len(df) == 0:
        return "<p class='muted'>no rows</p>"
    return df.to_html(index=False, na_rep="-", formatters={c: fmt_number for c in df.columns},
                      classes="data", border=0, escape=True)


def figure_png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def speed_figure(res: Results, domain: str) -> Figure | None:
    """Median time vs problem size for every pair of the domain with more than one timing size."""
    df = speed_frame(res)
    if df.empty:
        return None
    df = df[(df.domain == domain) & (df.status == "ok")]
    names = [p for p in sorted(df.pair.unique()) if df[df.pair == p]["size"].nunique() > 1]
    if not names:
        return None
    fig = Figure(figsize=(4.2 * min(len(names), 3), 3.3 * math.ceil(len(names) / 3)))
    for i, name in enumerate(names):
        ax = fig.add_subplot(math.ceil(len(names) / 3), min(len(names), 3), i + 1)
        g = df[df.pair == name]
        for (impl, device), s in g.groupby(["impl", "device"]):
            s = s.sort_values("size")
            ax.loglog(s["size"], s.median_ms, marker="o", label=f"{impl} ({device})")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(g.size_label.iloc[0])
        ax.set_ylabel("median time (ms)")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def _study_view(run) -> dict[str, Any]:
    view = {"name": run.study.name, "title": run.study.title, "device": run.device, "error": run.error,
            "seconds": run.seconds, "description": run.study.description, "claims": run.study.claims}
    if run.result is not None:
        r = run.result
        view.update(table=html_table(r.table), rows=len(r.table) if r.table is not None else 0, notes=r.notes,
                    key=r.key, mirror=r.mirror, figure=figure_png(r.figure) if r.figure is not None else None,
                    verdicts=r.verdicts)
    return view


def render_html(res: Results) -> str:
    summ = summary(res)
    claims = summ["claims"]
    present = {p.domain for p in res.pairs} | {r.study.domain for r in res.studies}
    owners = registry.claim_owners()
    sections = []
    for dom in [d for d in registry.domain_list() if d.name in present]:
        d = dom.name
        runs = [r for r in res.studies if r.study.domain == d]
        views = [_study_view(r) for r in runs]
        fig = speed_figure(res, d)
        key_rows = pd.DataFrame([{"study": v["name"], "device": v["device"], "key number": v.get("key", ""),
                                  "status": "failed: " + v["error"] if v["error"] else "ok"} for v in views])
        sections.append({
            "domain": d, "title": dom.title,
            "claims": [c for c in claims if owners.get(c["claim"]) == d
                       or any(e["study"].split(".")[0] == d for e in c["evidence"])],
            "mirrors": [v for v in views if v.get("mirror")],
            "stability": html_table(stability_table(res, d)),
            "keys": html_table(key_rows),
            "speed": html_table(speed_table(res, d)),
            "speed_fits": html_table(speed_fits(res, d)),
            "speed_figure": figure_png(fig) if fig is not None else None,
            "studies": [v for v in views if not v.get("mirror")],
        })
    env = Environment(loader=PackageLoader("suite.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["num"] = fmt_number
    return env.get_template("index.html").render(
        machine=res.machine, summary=summ, sections=sections, claims=claims,
        rules=html_table(methods_rules(res)), study_decls=html_table(methods_studies(res)),
        reductions=html_table(pd.DataFrame(summ["reductions"])),
        speedups=html_table(pd.DataFrame(summ["speedups"])), n_claims=len(CLAIMS),
        pairs=[{"name": p.name, "claim": p.claim, "description": p.description, "size_label": p.size_label,
                "sizes": p.sizes, "cuda_sizes": p.cuda_sizes, "quick_sizes": p.timing_sizes(True),
                "tolerance": p.tolerance, "impls": list(p.impls())} for p in res.pairs],
    )


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return _jsonable(x.item())
    return x


def results_json(res: Results) -> dict[str, Any]:
    return _jsonable({
        "machine": res.machine,
        "claims": claim_rows(res),
        "accuracy": res.accuracy,
        "speed": res.speed,
        "studies": [{"name": r.study.name, "device": r.device, "seconds": r.seconds, "error": r.error,
                     "key": r.result.key if r.result else None,
                     "measures": r.result.measures if r.result else {},
                     "notes": r.result.notes if r.result else [],
                     "table": r.result.table.to_dict(orient="records") if r.result is not None
                     and r.result.table is not None else None} for r in res.studies],
    })


def results_csv(res: Results) -> pd.DataFrame:
    acc = accuracy_frame(res).assign(kind="accuracy")
    sp = speed_frame(res).assign(kind="speed")
    frames = [f for f in (acc, sp) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_all(res: Results, out: Path) -> None:
    """Write index.html, results.csv, results.json and machine.json into the (fresh) folder `out`."""
    (out / "index.html").write_text(render_html(res), encoding="utf-8")
    results_csv(res).to_csv(out / "results.csv", index=False)
    (out / "results.json").write_text(json.dumps(results_json(res), indent=1, default=str), encoding="utf-8")
    (out / "machine.json").write_text(json.dumps(_jsonable(res.machine), indent=1), encoding="utf-8")


def _label(machine: dict[str, Any], folder: Path) -> str:
    return f"{folder.name}: {machine.get('gpu') or machine.get('cpu')}"


def comparison_tables(dirs: list[Path]) -> dict[str, pd.DataFrame]:
    """Accuracy, speed and claim verdicts of several reports, one column per report (and device)."""
    acc, sp, claims = [], [], []
    for d in dirs:
        data = json.loads((d / "results.json").read_text(encoding="utf-8"))
        label = _label(data["machine"], d)
        acc += [{**r, "report": label} for r in data["accuracy"] if r.get("status") == "ok"]
        sp += [{**r, "report": label} for r in data["speed"] if r.get("status") == "ok"]
        claims += [{"claim": c["claim"], "report": f"{label} / {dev}", "verdict": v}
                   for c in data["claims"] for dev in data["machine"]["devices"]
                   for v in [(c.get("by_device") or {}).get(dev, c["verdict"])]]
    out = {}
    if acc:
        a = pd.DataFrame(acc)
        a["rel_error"] = pd.to_numeric(a.rel_error, errors="coerce")
        out["accuracy"] = a.pivot_table(index=["pair", "impl", "size"], columns=["report", "device"],
                                        values="rel_error", aggfunc="first").reset_index()
    if sp:
        s = pd.DataFrame(sp)
        out["speed"] = s.pivot_table(index=["pair", "impl", "size"], columns=["report", "device"],
                                     values="median_ms", aggfunc="first").reset_index()
    if claims:
        c = pd.DataFrame(claims).pivot(index="claim", columns="report", values="verdict")
        measured = c.apply(lambda r: {v for v in r.dropna() if v in VERDICTS}, axis=1)
        c["disagree"] = ["yes: " + " vs ".join(sorted(m)) if len(m) > 1 else "" for m in measured]
        out["claims"] = c.reset_index()
    for k, df in out.items():
        df.columns = [" / ".join(str(c) for c in col if str(c)) if isinstance(col, tuple) else col
                      for col in df.columns]
    return out


def write_comparison(dirs: list[Path], out: Path) -> None:
    tables = comparison_tables(dirs)
    env = Environment(loader=PackageLoader("suite.report", "templates"), autoescape=select_autoescape(["html"]))
    html = env.get_template("compare.html").render(
        reports=[str(d) for d in dirs], tables={k: html_table(v) for k, v in tables.items()})
    (out / "index.html").write_text(html, encoding="utf-8")
    for k, df in tables.items():
        df.to_csv(out / f"{k}.csv", index=False)
