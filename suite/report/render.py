"""Render `Results` into one self-contained index.html (figures embedded as base64 PNG) plus data files."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure

from suite import registry
from suite.plots import style_figure, text_overlaps
from suite.claims import CLAIMS, VERDICTS
from suite.report import cjk_font
from suite.report.collect import Results
from suite.report.tables import (accuracy_frame, checklist_rows, claim_rows, methods_rules, methods_studies,
                                 not_run_on, speed_fits, speed_frame, speed_table, stability_table, summary)


EMPTY_TITLE = "no value: not measured or not applicable for this row"
# Field names as a reader reads them (units in brackets); other names: underscores become spaces.
HEADERS = {
    "median_ms": "median time [ms]", "q25_ms": "25 % quantile [ms]", "q75_ms": "75 % quantile [ms]",
    "rel_error": "relative error", "nonfinite": "NaN/Inf count", "size": "size",
    "fitted_exponent_top3": "time exponent (top 3 sizes)", "seconds": "run time [s]",
}
_PREFIXES = (("measured_", " (measured)"), ("report_", " (report)"))


def readable(column: Any) -> str:
    """A table header for a field name: `HEADERS`, else measured_x -> "x (measured)", report_x ->
    "x (report)", underscores -> spaces, " ms" -> " [ms]"."""
    name = str(column)
    if name in HEADERS:
        return HEADERS[name]
    suffix = ""
    for prefix, tag in _PREFIXES:
        if name.startswith(prefix):
            name, suffix = name[len(prefix):], tag
    name = name.replace("_", " ")
    if name.endswith(" ms"):
        name = name[:-3] + " [ms]"
    return name + suffix


def is_empty(x: Any) -> bool:
    """None, NaN, or pandas' missing value: shown as an em dash, never as 'None' or 'nan'."""
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_number(x: Any) -> str:
    """Three significant digits; scientific notation outside [1e-3, 1e4); empty values as an em dash."""
    if is_empty(x):
        return "\u2014"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        return f"{x:.3g}" if (1e-3 <= abs(x) < 1e4) else f"{x:.2e}"
    return str(x)


_CJK = re.compile(cjk_font.CJK.pattern + "+")  # a run of Japanese text, drawn in the embedded font


def cell_html(x: Any) -> str:
    """One <td>: numbers right-aligned and unbreakable, text left-aligned; Japanese runs marked lang=ja
    (their English gloss stands beside them in the same cell), empty values an em dash with a title."""
    if is_empty(x):
        return f'<td class="num empty" title="{EMPTY_TITLE}">\u2014</td>'
    if isinstance(x, (int, float)) and not isinstance(x, bool) or hasattr(x, "dtype"):
        return f'<td class="num">{html.escape(fmt_number(x))}</td>'
    text = html.escape(fmt_number(x))
    text = _CJK.sub(lambda m: f'<span lang="ja">{m.group(0)}</span>', text)
    return f'<td class="text">{text}</td>'


def _id_columns(df: pd.DataFrame, limit: int = 3) -> list[str]:
    """The leading text columns (ids such as pair, device, size), repeated in every part of a split table."""
    ids = []
    for c in df.columns[:limit]:
        if df[c].map(lambda v: isinstance(v, str)).all():
            ids.append(c)
        else:
            break
    return ids


def html_table(df: pd.DataFrame | None, max_columns: int = 9) -> str:
    """An HTML table with readable headers; one wider than `max_columns` is split into several tables
    that each repeat the id columns, so no table scrolls sideways."""
    if df is None or len(df) == 0:
        return "<p class='muted'>no rows</p>"
    ids = _id_columns(df)
    rest = [c for c in df.columns if c not in ids]
    width = max(max_columns - len(ids), 1)
    parts = [ids + rest[i:i + width] for i in range(0, len(rest), width)] or [ids]
    return "\n".join(_one_table(df[cols]) for cols in parts)


def _one_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(readable(c))}</th>" for c in df.columns)
    body = "\n".join("<tr>" + "".join(cell_html(v) for v in row) + "</tr>"
                     for row in df.itertuples(index=False, name=None))
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def figure_png(fig: Figure) -> dict[str, Any]:
    """The figure in the report's style (`suite.plots.style_figure`) as base64 PNG, with the labels that
    still overlap after styling (`suite.plots.text_overlaps`; shown under the figure, never hidden)."""
    style_figure(fig)
    overlaps = text_overlaps(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return {"png": base64.b64encode(buf.getvalue()).decode("ascii"),
            "overlaps": [f"{a!r} / {b!r}" for a, b in overlaps]}


def speed_figure(res: Results, domain: str) -> Figure | None:
    """Median time vs problem size for every pair of the domain with more than one timing size."""
    df = speed_frame(res)
    if df.empty:
        return None
    df = df[(df.domain == domain) & (df.status == "ok")]
    names = [p for p in sorted(df.pair.unique()) if df[df.pair == p]["size"].nunique() > 1]
    if not names:
        return None
    cols = min(len(names), 2)
    fig = Figure(figsize=(6.0 * cols, 3.6 * math.ceil(len(names) / cols)))
    for i, name in enumerate(names):
        ax = fig.add_subplot(math.ceil(len(names) / cols), cols, i + 1)
        g = df[df.pair == name]
        for (impl, device), s in g.groupby(["impl", "device"]):
            s = s.sort_values("size")
            ax.loglog(s["size"], s.median_ms, marker="o", label=f"{impl} ({device})")
        ax.set_title(name)
        ax.set_xlabel(g.size_label.iloc[0])
        ax.set_ylabel("median time [ms]")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
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


class BaselineError(ValueError):
    """The --baseline given is not an earlier report this package can read."""


def load_baseline(baseline: str | Path | None) -> dict[str, Any] | None:
    """An earlier report's results.json (the file, or the report folder holding it), checked to hold the
    machine and per-claim verdicts the comparison needs; None for None. Raises BaselineError otherwise."""
    if baseline is None:
        return None
    path = Path(baseline).expanduser()
    path = path / "results.json" if path.is_dir() else path
    if not path.is_file():
        raise BaselineError(f"--baseline {baseline}: neither a report folder holding results.json nor a "
                            "results.json file (give the folder of an earlier `neurophys report`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"--baseline {baseline}: cannot read {path} as JSON ({exc})") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("machine"), dict) or not isinstance(claims, list) \
            or not all(isinstance(c, dict) and {"claim", "verdict"} <= set(c) for c in claims):
        raise BaselineError(f"--baseline {baseline}: {path} is not a neurophys report's results.json "
                            "(expected an object with 'machine' and a list of 'claims' with 'claim' and 'verdict')")
    return data


def verdict_changes(claims: list[dict[str, Any]], baseline: dict[str, Any]) -> list[dict[str, str]]:
    """Claims whose verdict here differs from the baseline report's (both measured, or one of them not)."""
    before = {c["claim"]: c["verdict"] for c in baseline.get("claims", [])}
    return [{"claim": c["claim"], "this run": c["verdict"], "baseline": before[c["claim"]]}
            for c in claims if c["claim"] in before and before[c["claim"]] != c["verdict"]]


def render_html(res: Results, baseline: dict[str, Any] | None = None) -> str:
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
            "domain": d, "title": dom.title, "has_pairs": any(p.domain == d for p in res.pairs),
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
        tables={k: html_table(pd.DataFrame(summ[k])) for k in
                ("accuracy_wins", "accuracy_losses", "speed_wins", "speed_losses")},
        cjk_font_face=cjk_font.font_face_css(), cjk_family=cjk_font.FAMILY,
        n_claims=len(CLAIMS), baseline=baseline and baseline.get("machine", {}),
        changes=verdict_changes(claims, baseline) if baseline else [], checklist=checklist_rows(res),
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


def write_all(res: Results, out: Path, baseline: dict[str, Any] | None = None) -> None:
    """Write index.html, results.csv, results.json and machine.json into the (fresh) folder `out`.

    `baseline`: an earlier report's results (`load_baseline`), typically a full run; the first screen lists
    the claims whose verdict differs from it."""
    (out / "index.html").write_text(render_html(res, baseline), encoding="utf-8")
    results_csv(res).to_csv(out / "results.csv", index=False)
    (out / "results.json").write_text(json.dumps(results_json(res), indent=1, default=str), encoding="utf-8")
    (out / "machine.json").write_text(json.dumps(_jsonable(res.machine), indent=1), encoding="utf-8")


def _label(machine: dict[str, Any], folder: Path) -> str:
    return f"{folder.name}: {machine.get('gpu') or machine.get('cpu')}"


def report_header(data: dict[str, Any], folder: Path) -> dict[str, str]:
    """What a comparison says about each report it puts side by side: where, when, what was run."""
    m = data.get("machine", {})
    return {"report": _label(m, folder), "folder": str(folder), "mode": m.get("mode") or "unknown",
            "devices": ", ".join(m.get("devices", [])) or "none", "commit": m.get("commit") or "unknown",
            "date": m.get("date") or "unknown", "seed": str(m.get("seed", "unknown")),
            "torch": m.get("torch") or "unknown"}


def mixing_warnings(headers: list[dict[str, str]]) -> list[str]:
    """Warnings when the reports compared differ in mode (quick vs full) or in source commit, so that a
    difference in a column may come from the run or the code rather than the machine."""
    out = []
    modes = {h["mode"] for h in headers}
    if len(modes) > 1:
        quick = [h["report"] for h in headers if h["mode"] == "quick"]
        out.append(f"Quick and full reports are mixed ({', '.join(quick)}: quick). Quick mode uses reduced "
                   "sweeps and sizes: its verdicts are indicative only and can differ from a full run's, so a "
                   "verdict that differs between these columns may come from the mode, not the machine.")
    commits = {h["commit"] for h in headers}
    if len(commits) > 1:
        out.append(f"The reports come from {len(commits)} different commits ({', '.join(sorted(commits))}): "
                   "a difference may come from the code, not the machine.")
    return out


def device_verdict(claim: dict[str, Any], device: str, devices: list[str]) -> str:
    """A report's verdict on `claim` on one of its devices, or "not run on <device>: <why>".

    Reports from before per-device verdicts (no `by_device`) give their overall verdict for every device."""
    by_device = claim.get("by_device")
    if by_device is None and claim["verdict"] != "not run on these devices":
        return claim["verdict"]
    if by_device and device in by_device:
        return by_device[device]
    why = claim.get("why") if claim["verdict"] == "not run on these devices" else None
    return f"not run on {device}: {why or not_run_on(claim['claim'], device, devices)}"


def comparison_tables(dirs: list[Path]) -> dict[str, pd.DataFrame]:
    """Accuracy, speed and claim verdicts of several reports, one column per report (and device)."""
    acc, sp, claims, headers = [], [], [], []
    for d in dirs:
        data = json.loads((d / "results.json").read_text(encoding="utf-8"))
        headers.append(report_header(data, d))
        label = headers[-1]["report"]
        devices = list(data["machine"].get("devices", []))
        acc += [{**r, "report": label} for r in data["accuracy"] if r.get("status") == "ok"]
        sp += [{**r, "report": label} for r in data["speed"] if r.get("status") == "ok"]
        claims += [{"claim": c["claim"], "report": f"{label} / {dev}", "verdict": device_verdict(c, dev, devices)}
                   for c in data["claims"] for dev in devices]
    out = {"reports": pd.DataFrame(headers)}
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
    """index.html (the reports' header table, mixing warnings, verdicts, speed, accuracy) and one CSV per table."""
    tables = comparison_tables(dirs)
    env = Environment(loader=PackageLoader("suite.report", "templates"), autoescape=select_autoescape(["html"]))
    html = env.get_template("compare.html").render(
        warnings=mixing_warnings(tables["reports"].to_dict(orient="records")),
        tables={k: html_table(v) for k, v in tables.items()})
    (out / "index.html").write_text(html, encoding="utf-8")
    for k, df in tables.items():
        df.to_csv(out / f"{k}.csv", index=False)
