"""Public implementations, audited: the public libraries' versions of the suite's pairs (torchhd's HRR bind,
the `hrr` package's projection and binding, geoopt's Lorentz distance, TorchOptics' and PADO's angular
spectrum, flash-linear-attention's delta rule on CUDA) put through the same hypothesis properties as any
implementation given to `neurophys audit`: one row per function and property, with the number behind the
verdict and the smallest failing input hypothesis found (`suite.audit.run.public_audit_table`).

The edge inputs are those of the research report's pitfalls: zero spectral bins (section 2.3), odd sizes
(2.1), nearby points far from the origin (4.2), long propagation distances (5.2), unnormalised keys (3.2).
A library that is not installed gets a "not installed" row, never a failure; one that raises, hangs past the
per-call time-out or returns the wrong shape is reported as such for that property, and the audit goes on.
"""

from __future__ import annotations

import importlib.util

import pandas as pd
from matplotlib.figure import Figure

from suite.registry import Domain, Study, StudyContext, StudyResult, register

FAILING = ("failed", "raised", "timeout", "wrong shape")
SHOWN = {"library": "library", "function": "function", "pair": "pair", "property": "property",
         "status": "verdict", "number": "number", "detail": "detail", "example": "smallest failing input"}


def verdict_figure(df: pd.DataFrame) -> Figure | None:
    """Per audited function: how many of its rows pass (green) and fail (red); None when nothing ran."""
    ran = df[~df.status.isin(("not installed", "not run"))]
    if ran.empty:
        return None
    label = ran.library + ": " + ran.function
    counts = pd.DataFrame({"passed": (ran.status == "passed").groupby(label).sum(),
                           "fails": ran.status.isin(FAILING).groupby(label).sum()})
    fig = Figure(figsize=(7.0, 0.45 * len(counts) + 1.2))
    ax = fig.add_subplot()
    ax.barh(counts.index, counts.passed, color="#4c9a4c", label="passes")
    ax.barh(counts.index, counts.fails, left=counts.passed, color="#c84b4b", label="fails, raises or hangs")
    ax.set(xlabel="properties and accuracy checks")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    return fig


def public_audit(ctx: StudyContext) -> StudyResult:
    """Every installed public implementation through its pair's properties on `ctx.device`."""
    if importlib.util.find_spec("hypothesis") is None:
        df = pd.DataFrame([{"library": "-", "function": "-", "pair": "-", "device": ctx.device, "property": "",
                            "status": "not run", "detail": "the audit needs hypothesis: "
                                                           "pip install 'neurophys-suite[audit]'"}])
    else:
        from suite.audit.run import public_audit_table

        df = public_audit_table([ctx.device], quick=ctx.quick, timeout=ctx.p.timeout)
    ran = df[~df.status.isin(("not installed", "not run"))]
    measures = dict(properties_passed=int((ran.status == "passed").sum()),
                    properties_failed=int(ran.status.isin(FAILING).sum()),
                    functions_audited=int(ran.function.nunique()),
                    functions_not_installed=int((df.status == "not installed").sum()))
    examples = "quick: a third of the examples, at least 5" if ctx.quick else "full example counts"
    notes = ["number: what the property measures (its detail says which): an error ratio to the fixed "
             "version's, a count of NaN/Inf or negative entries, a deviation from unit modulus, an energy ratio, "
             "or the relative error vs the float64 oracle; 'smallest failing input' is the case hypothesis "
             f"shrank to (search derandomised; {examples}; time-out {ctx.p.timeout:g} s per call).",
             "The same audit for any implementation: neurophys audit PAIR --impl package.module:function "
             "(or --public for these libraries)."]
    return StudyResult(table=df.drop(columns="device").rename(columns=SHOWN), figure=verdict_figure(df),
                       measures=measures, notes=notes)


register(
    Domain("audit", "Public implementations, audited by the suite's properties"),
    Study("audit.public", "torchhd, hrr, geoopt, TorchOptics, PADO and fla: which properties each passes",
          public_audit, sweep=dict(timeout=(60.0, 120.0)),  # a first Triton compile (fla) takes tens of s
          key=("properties_passed", "properties_failed", "functions_not_installed"),
          description="One row per public function and property: the verdict, the number behind it and the "
                      "smallest failing input hypothesis found; libraries not installed are listed as such."),
)
