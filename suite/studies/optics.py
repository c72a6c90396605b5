"""Diffractive optics: naive/fixed Pairs and the Studies behind claims O1-O6 (research report section 5, 6.2, 6.3).

Ground truths (all complex128, independent of the FFT code paths): the exact on-axis field of a uniformly lit
circle (first Rayleigh-Sommerfeld), the exact non-paraxial Gaussian beam by its Hankel integral, the Fresnel
integrals of a square. Every verdict below is computed from the study's own numbers; thresholds are stated in
the evidence. Wavelength 0.5 um and pitch 1 um unless said otherwise (dx = 2 lambda, as in ANCHORS.md).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from baselines import optics as nv
from suite import optics as op
from suite.checks import nonfinite_count, relative_error
from suite.registry import Domain, Pair, Study, StudyContext, StudyResult, Verdict, register
from suite.timing import measure

LAM = 0.5e-6
DX = 1e-6
K = 2 * math.pi / LAM

try:  # optional comparator (not a dependency): TorchOptics' default propagation on the same field and grid
    import torchoptics as _torchoptics
except Exception:  # noqa: BLE001 - any import failure means "not available"
    _torchoptics = None


# ============================================================================================ helpers
def quiet(fn):
    """Call an implementation with OpticsValidityWarning silenced (studies go outside the valid range on
    purpose; the warning itself is tested in tests/test_optics.py)."""
    def wrapped(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", op.OpticsValidityWarning)
            return fn(*args, **kwargs)
    wrapped.__name__ = getattr(fn, "__name__", "impl")
    wrapped.__doc__ = fn.__doc__
    return wrapped


def asm_no_band_limit(u, dx, wavelength, z):
    """2x zero padding without the band limit (section 5.2.1 step 1 alone)."""
    return quiet(op.asm)(u, dx, wavelength, z, band_limit=False)


def asm_same_window_as_sas(u, dx, wavelength, z):
    """Padded band-limited ASM on a grid enlarged (zero-filled) to cover SAS's output window
    (N * lambda z / (2 N dx^2) pixels of pitch dx): what ASM must do to see the same field of view."""
    n = u.shape[-1]
    m = max(n, 2 * int(math.ceil(wavelength * z / (2 * dx * dx) / 2)))
    lo = m // 2 - n // 2
    big = torch.nn.functional.pad(u, (lo, m - n - lo, lo, m - n - lo))
    return quiet(op.asm)(big, dx, wavelength, z)


def torchoptics_default(u, dx, wavelength, z):
    """TorchOptics' default propagation (`Field.propagate_to_z`, method AUTO) on the same field and grid."""
    # TorchOptics builds its planes' spacing tensors on the default device: make that the field's device
    # (without it, CUDA fields fail with "Expected all tensors to be on the same device").
    with torch.device(u.device):
        field = _torchoptics.Field(u, wavelength=wavelength, spacing=dx)
        return field.propagate_to_z(z).data


def center(out) -> torch.Tensor:
    """The on-axis sample (index N // 2) of a field or of a (field, pitch) tuple."""
    f = out[0] if isinstance(out, (tuple, list)) else out
    return f[..., f.shape[-2] // 2, f.shape[-1] // 2]


def circle_radius(n: int) -> float:
    """ANCHORS case scaled with N: a = 100 um at N = 1024, dx = 1 um (a = N dx / 10.24)."""
    return n * DX * 100.0 / 1024.0


def complex_of(real: torch.dtype) -> torch.dtype:
    return torch.complex128 if real == torch.float64 else torch.complex64


def circle_inputs(z_of_n):
    def make(size: int, device, dtype, gen: torch.Generator) -> tuple:
        r = 0.5 + torch.rand((), generator=gen, dtype=torch.float64).item()
        ph = 2 * math.pi * torch.rand((), generator=gen, dtype=torch.float64).item()
        amp = complex(r * math.cos(ph), r * math.sin(ph))
        u = amp * op.circular_aperture(size, DX, circle_radius(size))
        return u.to(complex_of(dtype)).to(device), DX, LAM, z_of_n(size)
    return make


def circle_oracle(u, dx, wavelength, z) -> torch.Tensor:
    """Exact first-RS on-axis value times the input's (uniform) amplitude, read off the aperture centre."""
    n = u.shape[-1]
    amp = u[..., n // 2, n // 2].detach().to("cpu", torch.complex128)
    return amp * op.circular_aperture_on_axis(z, circle_radius(n), wavelength)


def asm_pair_distance(n: int) -> float:
    """16 mm at N = 1024 (ANCHORS), scaled with N: ~4 z_c, beyond the 2x-padding critical distance."""
    return 16e-3 * n / 1024


def sas_pair_distance(n: int) -> float:
    """4 z_c: SAS's output pitch is 4 dx, so ASM needs a 4N grid for the same field of view."""
    return 4 * op.critical_distance(n, DX, LAM)


def sas_skip(impl: str, size: int, device: str) -> str | None:
    if impl == "naive" and size > 512 and device == "cpu":
        return "ASM on the SAS field of view needs an (8N)^2 padded grid: > 10 s per call at N > 512 on the CPU"
    if impl == "naive" and size > 1024:
        return "ASM on the SAS field of view needs an (8N)^2 padded grid: > 4 GB at N > 1024"
    return None


def gaussian_grid_truth(n: int, pitch: float, z: float, waist: float) -> torch.Tensor:
    x = op.grid_coords(n, pitch)
    return op.gaussian_beam_exact(torch.sqrt(x[:, None] ** 2 + x[None, :] ** 2), z, waist, LAM)


def time_ms(fn, quick: bool) -> float:
    with torch.no_grad():
        return measure(fn, warmup=1, repeats=3, min_time=0.0, max_time=0.5 if quick else 10.0).median_ms


def loglog_axes(ax, xlabel: str, ylabel: str, title: str):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)


# ============================================================================================ pairs
_ASM_VARIANTS = {"seed": nv.asm_seed, "pad2_no_band_limit": asm_no_band_limit}
if _torchoptics is not None:
    _ASM_VARIANTS["torchoptics"] = torchoptics_default

PAIRS = [
    Pair(name="optics.asm", naive=nv.asm_naive, fixed=quiet(op.asm), make_inputs=circle_inputs(asm_pair_distance),
         sizes=(256, 1024, 2048), quick_sizes=(256,), oracle=circle_oracle, output=center, claim="O4",
         size_label="N",
         description="Uniformly lit circle (a = N dx / 10.24, dx = 1 um, lambda = 0.5 um) propagated to "
                     "z = 16 mm * N / 1024 (~4 z_c); error of the on-axis value vs the exact first "
                     "Rayleigh-Sommerfeld value. naive: unpadded complex64 FFT ASM; fixed: 2x padding + "
                     "Matsushima band limit + float64-built carrier-free phase (cached transfer function).",
         variants=_ASM_VARIANTS),
    Pair(name="optics.sas", naive=asm_same_window_as_sas, fixed=quiet(op.sas),
         make_inputs=circle_inputs(sas_pair_distance), sizes=(256, 512, 1024, 2048), quick_sizes=(128,),
         oracle=circle_oracle, output=center, claim="O6", size_label="N", skip=sas_skip,
         description="Long distance (z = 4 z_c, output pitch 4 dx): padded band-limited ASM on a grid enlarged "
                     "to SAS's field of view (4N) vs scalable angular spectrum on N; on-axis error vs exact RS."),
]


# ============================================================================================ studies
ASM_METHODS = {
    "naive (unpadded, complex64)": nv.asm_naive,
    "seed (report snippet 6.2)": nv.asm_seed,
    "pad 2x, no band limit": asm_no_band_limit,
    "fixed asm (pad 2x + band limit)": quiet(op.asm),
}
SCALED_METHODS = {"sas": quiet(op.sas), "fresnel (one-step)": quiet(op.fresnel)}
if _torchoptics is not None:
    ASM_METHODS["torchoptics default"] = torchoptics_default


def study_error_vs_distance(ctx: StudyContext) -> StudyResult:
    """Error vs propagation distance (near to far field) against two exact ground truths."""
    rows = []
    # --- 1. uniformly lit circle, exact RS value on axis (ANCHORS case at N = 1024) ---
    n = 256 if ctx.quick else 1024
    a = circle_radius(n)
    zc = op.critical_distance(n, DX, LAM)
    ratios = [0.5, 1, 4, 16, 64] if ctx.quick else [0.5, 1, 4, 16, 64]
    zs = [r * zc for r in ratios] + ([16e-3, 50e-3] if n == 1024 else [])
    u = op.circular_aperture(n, DX, a, dtype=torch.complex64, device=ctx.device)
    for z in zs:
        ref = op.circular_aperture_on_axis(z, a, LAM).item()
        info = op.asm_validity((n, n), DX, LAM, z, aperture=2 * a)
        for name, fn in {**ASM_METHODS, **SCALED_METHODS}.items():
            out = fn(u, DX, LAM, z)
            val = center(out).item()
            rows.append(dict(truth="circle on axis (exact RS)", N=n, z_m=z, z_over_zc=z / zc, method=name,
                             rel_error=abs(val - ref) / abs(ref) if math.isfinite(abs(val)) else math.inf,
                             nonfinite=nonfinite_count(out[0] if isinstance(out, tuple) else out),
                             band_samples=info["band_samples"], report_condition_ok=info["report_condition_ok"]))
    # --- 2. Gaussian beam, exact non-paraxial field over the whole grid ---
    ng = 48 if ctx.quick else 128
    w0 = ng * DX / 16
    zcg = op.critical_distance(ng, DX, LAM)
    gratios = [0.2, 1, 4, 16] if ctx.quick else [0.01, 0.1, 0.3, 1, 2, 4, 16, 64]
    ug = op.gaussian_field(ng, DX, w0, dtype=torch.complex64, device=ctx.device)
    for r in gratios:
        z = r * zcg
        truth = gaussian_grid_truth(ng, DX, z, w0)
        truth_scaled = gaussian_grid_truth(ng, LAM * z / (2 * ng * DX), z, w0)
        info = op.asm_validity((ng, ng), DX, LAM, z)
        for name, fn in {**ASM_METHODS, **SCALED_METHODS}.items():
            out = fn(ug, DX, LAM, z)
            field = out[0] if isinstance(out, tuple) else out
            ref = truth_scaled if isinstance(out, tuple) else truth
            rows.append(dict(truth="Gaussian beam, full field (exact Hankel)", N=ng, z_m=z, z_over_zc=r,
                             method=name, rel_error=relative_error(field, ref), nonfinite=nonfinite_count(field),
                             band_samples=info["band_samples"], report_condition_ok=info["report_condition_ok"]))
    df = pd.DataFrame(rows)

    fig = Figure(figsize=(11, 4.2))
    for i, truth in enumerate(df.truth.unique()):
        ax = fig.add_subplot(1, 2, i + 1)
        d = df[df.truth == truth]
        for name in d.method.unique():
            s = d[d.method == name].sort_values("z_over_zc")
            ax.plot(s.z_over_zc, s.rel_error.clip(lower=1e-12, upper=1e2), marker="o", ms=3, label=name)
        ax.axvline(1.0, color="k", lw=0.8, ls=":")
        loglog_axes(ax, "z / z_c  (z_c = 2 N dx^2 / lambda)", "relative error", f"{truth}, N={d.N.iloc[0]}")
    fig.axes[0].legend(fontsize=7)
    fig.tight_layout()

    verdicts = _distance_verdicts(df)
    c16 = df[(df.truth.str.startswith("circle")) & np.isclose(df.z_m, 16e-3)]
    notes = [
        "z_c = 2 N dx^2 / lambda: up to it the band limit is the identity and 2x padding alone is exact.",
        "The circle's on-axis value at z << z_c (Fresnel number >> 10) is hypersensitive to the sampled edge "
        "(phase k a^2/2z changes by ~k a dx / z per pixel of radius), so the near field is judged on the Gaussian.",
        "SAS/Fresnel outputs live on the pitch lambda z / (2 N dx); their truth is evaluated on that grid.",
    ]
    if _torchoptics is None:
        notes.append("TorchOptics is not installed here: its default propagation was not compared.")
    if len(c16):
        t = c16.set_index("method").rel_error
        notes.append("ANCHORS (circle a=100 um, N=1024, z=16 mm) measured: unpadded "
                     f"{t['naive (unpadded, complex64)']:.1e}, 2x pad {t['pad 2x, no band limit']:.1e}, 2x pad + "
                     f"band limit {t['fixed asm (pad 2x + band limit)']:.1e} (anchor: 2.4e-2, 4.5e-3, 5.7e-4).")
        c50 = df[(df.truth.str.startswith("circle")) & np.isclose(df.z_m, 50e-3)].set_index("method").rel_error
        notes.append(f"z=50 mm: {c50['naive (unpadded, complex64)']:.1e}, {c50['pad 2x, no band limit']:.1e}, "
                     f"{c50['fixed asm (pad 2x + band limit)']:.1e} (anchor: 1.8e-2, 7.3e-3, 5.2e-4).")
    g = df[df.truth.str.startswith("Gauss")]
    gfar = g[g.z_over_zc == g.z_over_zc.max()].set_index("method").rel_error
    key = (f"Gaussian at {g.z_over_zc.max():g} z_c: naive {gfar['naive (unpadded, complex64)']:.1e}, fixed asm "
           f"{gfar['fixed asm (pad 2x + band limit)']:.1e}, sas {gfar['sas']:.1e}")
    return StudyResult(table=df, figure=fig, verdicts=verdicts, notes=notes, key=key)


def _distance_verdicts(df: pd.DataFrame) -> list[Verdict]:
    from scipy.stats import spearmanr

    g = df[df.truth.str.startswith("Gauss")]
    c = df[df.truth.str.startswith("circle")]
    NAIVE, SEED = "naive (unpadded, complex64)", "seed (report snippet 6.2)"
    PAD, FIX = "pad 2x, no band limit", "fixed asm (pad 2x + band limit)"

    def err(d, m):
        return d[d.method == m].set_index("z_over_zc").rel_error.sort_index()

    out = []
    # O1: aliasing appears and grows with z (naive, both truths)
    gn, cn = err(g, NAIVE), err(c, NAIVE)
    near, far = gn[gn.index <= 0.3].max(), gn[gn.index >= 4].max()
    rho = float(spearmanr(gn.index, gn.values).statistic)
    cz = cn[cn.index >= 1]  # below z_c the circle's on-axis error is edge-discretisation for every method
    rho_c = float(spearmanr(cz.index, cz.values).statistic)
    growth = far / max(near, 1e-16)
    kind = ("confirmed" if growth >= 100 and rho >= 0.9 and rho_c >= 0.5 else "qualified" if growth >= 10
            else "refuted")
    out.append(Verdict("O1", kind,
                       f"naive unpadded ASM, Gaussian full field: max error {near:.1e} for z <= 0.3 z_c vs {far:.1e} "
                       f"for z >= 4 z_c ({growth:.0f}x); Spearman rank correlation of error with z {rho:.2f} "
                       f"(Gaussian), {rho_c:.2f} (circle on axis, z >= z_c: growing overall, not monotonically, e.g. ANCHORS' "
                       "16 mm vs 50 mm). Confirmed if >= 100x growth, Gaussian correlation >= 0.9 and circle >= 0.5; "
                       "qualified if >= 10x growth.", value=growth))
    # O2: 2x padding removes wrap-around -- only up to z_c
    gp, gf, cp, cf = err(g, PAD), err(g, FIX), err(c, PAD), err(c, FIX)
    within = max((gp[gp.index <= 1] / gf[gf.index <= 1]).max(), (cp[cp.index <= 1] / cf[cf.index <= 1]).max())
    beyond = max((gp[(gp.index > 1) & (gp.index <= 16)] / gf[(gf.index > 1) & (gf.index <= 16)]).max(),
                 (cp[(cp.index > 1) & (cp.index <= 16)] / cf[(cf.index > 1) & (cf.index <= 16)]).max())
    pad_gain = float((cn[cn.index <= 1] / cp[cp.index <= 1]).max())
    kind = ("confirmed" if within <= 2 and beyond <= 2 else "qualified" if within <= 2 and beyond >= 3
            else "refuted")
    out.append(Verdict("O2", kind,
                       f"2x padding without band limit matches the fixed ASM up to z_c (worst error ratio {within:.2f}; "
                       f"up to {pad_gain:.1f}x better than unpadded there) but beyond z_c it is up to {beyond:.0f}x "
                       "worse than padding + band limit (z <= 16 z_c): padding alone suffices only up to "
                       "z_c = 2 N dx^2/lambda. Confirmed if the ratio stays <= 2 everywhere; qualified if <= 2 up to "
                       "z_c and >= 3 beyond.", value=beyond))
    # O4: the band limit removes aliasing; the snippet's mask is evanescent-only (no better than naive)
    ratios = pd.concat([(gp / gf)[(gp.index > 1) & (gp.index <= 16)], (cp / cf)[(cp.index > 1) & (cp.index <= 16)]])
    med = float(ratios.median())
    seed_vs_fixed = float(pd.concat([(err(g, SEED) / gf)[gf.index > 1], (err(c, SEED) / cf)[cf.index > 1]]).median())
    ffar = max(gf.iloc[-1], cf.iloc[-1])  # the farthest distance of each ground truth
    kind = "confirmed" if med >= 3 and seed_vs_fixed >= 3 else "qualified" if med > 1 else "refuted"
    out.append(Verdict("O4", kind,
                       f"beyond z_c (to 16 z_c) the band limit cuts the padded-ASM error by a median {med:.1f}x; the "
                       f"report's snippet (evanescent mask only, unpadded, z-independent) stays a median "
                       f"{seed_vs_fixed:.0f}x worse than the fixed ASM. Far out the band limit keeps too few "
                       f"samples: fixed error {ffar:.1e} at the farthest distance ({gf.index[-1]:g} / {cf.index[-1]:g} z_c; switch to SAS). Confirmed if both "
                       "ratios >= 3.", value=med))
    # O6: the report's criterion dx <= lambda z / (2D) is inverted (Gaussian: D = window width)
    gw = g[g.method == FIX].copy()
    gw["cond_ok"] = gw.z_over_zc >= 1.0  # with D = N dx, dx <= lambda z / (2 N dx)  <=>  z >= z_c
    viol = gw[~gw.cond_ok]
    violated = viol.rel_error.max()
    z_worst = viol.z_over_zc[viol.rel_error.idxmax()]
    alt = g[g.method.isin(list(SCALED_METHODS)) & np.isclose(g.z_over_zc, z_worst)].rel_error.min()  # SAS/Fresnel
    far_fix = gw[gw.z_over_zc == gw.z_over_zc.max()].rel_error.iloc[0]
    far_sas = g[(g.method == "sas") & (g.z_over_zc == g.z_over_zc.max())].rel_error.iloc[0]
    if violated < 1e-4 and far_fix > 100 * violated:
        kind, why = "refuted", "the condition is inverted; the advice to switch to SAS/Fresnel far out is right"
    elif violated >= 1e-4 and violated > alt:
        kind, why = "confirmed", "ASM is unsuitable where the condition says so and SAS/Fresnel do better there"
    else:
        kind, why = "qualified", "neither the refutation nor the confirmation threshold is met"
    out.append(Verdict("O6", kind,
                       f"where the report calls ASM unsuitable (dx > lambda z / 2D; D = window: z < z_c) the fixed ASM "
                       f"error on the exact Gaussian is at most {violated:.1e} (at {z_worst:g} z_c; best of SAS/Fresnel "
                       f"there {alt:.1e}); at long distance, where the condition holds, it is {far_fix:.1e} (at "
                       f"{gw.z_over_zc.max():g} z_c) and SAS gives {far_sas:.1e}: {why}. Refuted if the violated "
                       "region's error < 1e-4 and the far error > 100x that; confirmed if the violated region's error "
                       ">= 1e-4 and above the best of SAS/Fresnel at that distance.", value=float(violated)))
    return out


def study_phase_precision(ctx: StudyContext) -> StudyResult:
    """Phase precision vs k z: complex64 (naive, seed, fixed) against each method's own complex128 run."""
    n, dx = (32, 20e-6) if ctx.quick else (64, 20e-6)
    u = op.gaussian_field(n, dx, n * dx / 8, device=ctx.device)
    kzs = [1e3, 1e4, 1e5, 1e6, 1e7] if ctx.quick else [1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7]
    rows = []
    ref_fns = {
        "naive (unpadded, float32 phase)": (nv.asm_naive, nv.asm_naive),
        "seed (report snippet 6.2)": (nv.asm_seed, lambda *a: quiet(op.asm)(*a, pad=1, band_limit=False)),
        "fixed asm (float64-built carrier-free phase)": (quiet(op.asm), quiet(op.asm)),
    }
    for kz in kzs:
        z = kz / K
        for name, (fn, ref_fn) in ref_fns.items():
            ref = ref_fn(u, dx, LAM, z)
            out = fn(u.to(torch.complex64), dx, LAM, z)
            rows.append(dict(kz=kz, z_m=z, impl=name, field_dtype="complex64", rel_error=relative_error(out, ref),
                             error_over_kz=relative_error(out, ref) / kz))
    df = pd.DataFrame(rows)
    t = df.set_index(["impl", "kz"]).rel_error
    naive6, fixed6 = t[("naive (unpadded, float32 phase)", 1e6)], t[("fixed asm (float64-built carrier-free phase)", 1e6)]
    fixed_max = df[df.impl.str.startswith("fixed")].rel_error.max()
    slope = float(np.polyfit(np.log10(kzs), np.log10(t["naive (unpadded, float32 phase)"].values), 1)[0])
    kind = ("qualified" if naive6 >= 1e-3 and fixed6 < 1e-4 else "confirmed" if fixed6 >= 1e-4 else "refuted")
    verdict = Verdict("O5", kind,
                      f"at k z = 1e6 a float32 phase (naive) gives field error {naive6:.1e} (log-log slope "
                      f"{slope:.2f} in k z), so precision matters; but complex128 is not required: removing the "
                      f"carrier and building the phase in float64 once, then propagating in complex64, gives "
                      f"{fixed6:.1e} (max {fixed_max:.1e} over k z = {kzs[0]:.0e}..{kzs[-1]:.0e}). Qualified if "
                      "naive >= 1e-3 and fixed complex64 < 1e-4.", value=float(fixed6))
    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    for name in df.impl.unique():
        s = df[df.impl == name]
        ax.plot(s.kz, s.rel_error.clip(lower=1e-12), marker="o", label=name)
    ax.plot(kzs, [1.2e-7 * k for k in kzs], ls=":", color="gray", label="1.2e-7 k z")
    loglog_axes(ax, "k z (rad)", "relative field error vs complex128", f"complex64 phase precision, N={n}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return StudyResult(table=df, figure=fig, verdicts=[verdict],
                       notes=["Each implementation is compared with its own complex128 run, so the number isolates "
                              "phase precision (the Gaussian stays inside the window).",
                              "ANCHORS (float32 phase): k z = 1.3e4 -> 3.6e-4, 9.9e5 -> 2.6e-2, 9.9e6 -> 0.34."],
                       key=f"k z = 1e6, complex64: naive {naive6:.1e}, fixed {fixed6:.1e}")


def study_evanescent(ctx: StudyContext) -> StudyResult:
    """Evanescent handling for both signs of z with dx < lambda/2 (white-noise field holds evanescent waves)."""
    n = 32 if ctx.quick else 64
    dx = LAM / 4
    gen = ctx.generator(5)
    u = torch.complex(torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)).to(ctx.device)
    rows = []
    impls = {"naive (full transfer function)": nv.asm_naive, "seed (evanescent mask)": nv.asm_seed,
             "fixed asm (decay for both signs)": lambda *a: quiet(op.asm)(*a, pad=1, band_limit=False),
             "fixed asm default (+ band limit)": lambda *a: quiet(op.asm)(*a, pad=1)}
    for zl in (-10, -3, -1, -0.1, 0.1, 1, 3, 10):
        z = zl * LAM
        # z > 0: the complex128 full transfer function is the exact periodic solution (evanescent waves decay)
        ref = nv.asm_naive(u.to(torch.complex128), dx, LAM, z) if z > 0 else None
        for name, fn in impls.items():
            out = fn(u, dx, LAM, z)
            bad = nonfinite_count(out)
            gain = (out.abs().max() / u.abs().max()).item() if bad == 0 else math.inf
            rows.append(dict(z_over_lambda=zl, impl=name, nonfinite=bad, max_gain=gain,
                             rel_error_vs_exact=relative_error(out, ref) if ref is not None else float("nan")))
    df = pd.DataFrame(rows)
    t = df.set_index(["impl", "z_over_lambda"])
    neg_bad = int(df[(df.impl.str.startswith("naive")) & (df.z_over_lambda < 0)].nonfinite.sum())
    pos_bad = int(df[(df.impl.str.startswith("naive")) & (df.z_over_lambda > 0)].nonfinite.sum())
    fixed_bad = int(df[df.impl.str.startswith("fixed")].nonfinite.sum())
    bl_near = t.loc[("fixed asm default (+ band limit)", 0.1), "rel_error_vs_exact"]
    seed_near = t.loc[("seed (evanescent mask)", 0.1), "rel_error_vs_exact"]
    fixed_near = t.loc[("fixed asm (decay for both signs)", 0.1), "rel_error_vs_exact"]
    kind = ("qualified" if neg_bad > 0 and pos_bad == 0 and fixed_bad == 0 else
            "confirmed" if neg_bad > 0 and pos_bad > 0 else "refuted")
    verdict = Verdict("O3", kind,
                      f"with dx = lambda/4 the naive full transfer function produced {neg_bad} NaN/Inf values for "
                      f"z < 0 and {pos_bad} for z > 0 (evanescent waves decay correctly forward); masking them (the "
                      f"snippet) avoids NaN but drops the real near field (error {seed_near:.2f} at z = 0.1 lambda), "
                      f"while decaying them for both signs of z gives {fixed_bad} NaN/Inf and error {fixed_near:.1e} (with "
                      f"the default band limit {bl_near:.1e}: it removes the grazing s = 1 bins). "
                      "Qualified: the blow-up needs z < 0, and the mask is not the right fix.", value=float(neg_bad))
    return StudyResult(table=df, verdicts=[verdict],
                       notes=["Reference for z > 0: the complex128 full transfer function (exact for a periodic "
                              "field); z < 0 has no unique physical answer for evanescent waves (ill-posed), so only "
                              "stability and gain are reported there. Fixed run unpadded here to match the "
                              "periodic reference."],
                       key=f"NaN/Inf for z<0: naive {neg_bad}, fixed {fixed_bad}")


def _spot_efficiency(field: torch.Tensor, mask: torch.Tensor, n: int) -> torch.Tensor:
    return (field.abs() ** 2 * mask).sum() / n ** 2


def study_design(ctx: StudyContext) -> StudyResult:
    """Differentiable design: a phase mask that focuses a plane wave onto a central spot, trained through the
    naive vs the fixed propagator, every design evaluated with an accurate propagator (pad 4x, complex128)."""
    n, steps = (24, 20) if ctx.quick else (64, 200)
    zc = op.critical_distance(n, DX, LAM)
    z = 2 * zc  # = z_c of 4x padding: the evaluator (pad 4, band limit = identity) is exact here
    x = op.grid_coords(n, DX, device=ctx.device)
    mask = ((x[:, None] ** 2 + x[None, :] ** 2) <= (3 * DX) ** 2).to(torch.float64)
    trainers = {"naive (unpadded, complex64)": nv.asm_naive,
                "fixed asm (pad 2x + band limit)": quiet(op.asm)}
    rows, curves = [], {}
    for name, prop in trainers.items():
        torch.manual_seed(ctx.seed)
        phi = torch.zeros(n, n, device=ctx.device, requires_grad=True)
        opt = torch.optim.Adam([phi], lr=0.1)
        hist = []
        for step in range(steps):
            opt.zero_grad()
            field = prop(torch.polar(torch.ones_like(phi), phi), DX, LAM, z)
            eff = _spot_efficiency(field, mask.to(field.real.dtype), n)
            (-eff).backward()
            opt.step()
            hist.append(eff.item())
        with torch.no_grad():
            u = torch.polar(torch.ones_like(phi.double()), phi.double())
            physical = _spot_efficiency(quiet(op.asm)(u, DX, LAM, z, pad=4), mask, n).item()
            predicted = _spot_efficiency(prop(u.to(torch.complex64), DX, LAM, z), mask.float(), n).item()
        curves[name] = hist
        rows.append(dict(trained_with=name, N=n, z_over_zc=z / zc, steps=steps, predicted_efficiency=predicted,
                         physical_efficiency=physical, overestimate=predicted / max(physical, 1e-12)))
    df = pd.DataFrame(rows)
    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    for name, h in curves.items():
        ax.plot(range(1, len(h) + 1), h, label=f"{name} (training model)")
    for r in rows:
        ax.axhline(r["physical_efficiency"], ls=":", lw=1, label=f"{r['trained_with']}: physical")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("power fraction in the 3 um spot")
    ax.set_title(f"Phase-mask focusing, N={n}, z = 2 z_c", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    t = df.set_index("trained_with")
    nk, fk = "naive (unpadded, complex64)", "fixed asm (pad 2x + band limit)"
    return StudyResult(table=df, figure=fig,
                       notes=["Physical evaluation: asm with 4x padding in complex128 (band limit is the identity "
                              "at z = 2 z_c(2x) = z_c(4x)), field zero outside the N x N mask window.",
                              "An unpadded model is periodic: light leaving the window re-enters, so the optimiser "
                              "can exploit paths that do not exist physically."],
                       key=(f"physical spot efficiency: naive-trained {t.physical_efficiency[nk]:.3f} "
                            f"(predicted {t.predicted_efficiency[nk]:.3f}), fixed-trained "
                            f"{t.physical_efficiency[fk]:.3f} (predicted {t.predicted_efficiency[fk]:.3f})"))


def study_checklist(ctx: StudyContext) -> StudyResult:
    """Mirror of the research report's section 6.3 checklist (optics items), pass/fail measured."""
    dist = ctx.result("optics.error_vs_distance").table
    phase = ctx.result("optics.phase_precision").table
    c = dist[dist.truth.str.startswith("circle")]
    ce = c.set_index(["method", "z_over_zc"]).rel_error
    pe = phase.set_index(["impl", "kz"]).rel_error
    impls = [("naive", "naive (unpadded, complex64)", "naive (unpadded, float32 phase)"),
             ("seed", "seed (report snippet 6.2)", "seed (report snippet 6.2)"),
             ("fixed", "fixed asm (pad 2x + band limit)", "fixed asm (float64-built carrier-free phase)")]
    n = int(c.N.iloc[0])
    items = [
        dict(item="帯域制限マスク（Band-limiting mask）を実装したか？",
             gloss="Is the band-limiting mask implemented?",
             measured=f"on-axis error vs exact RS, circle, z = 4 z_c (N={n}); pass < 5e-3",
             values={k: ce[(m, 4.0)] for k, m, _ in impls}, threshold=5e-3,
             implemented={"naive": "no mask", "seed": "evanescent mask only (independent of z)",
                          "fixed": "Matsushima-Shimobaba limit (depends on z)"}),
        dict(item="位相計算に complex128 を使用しているか？",
             gloss="Is complex128 used for the phase?",
             measured="complex64 field error vs own complex128 run at k z = 1e6; pass < 1e-4",
             values={k: pe[(p, 1e6)] for k, _, p in impls}, threshold=1e-4,
             implemented={"naive": "no (float32 phase)", "seed": "no (comment asks for it; code is float32)",
                          "fixed": "no: carrier removed, phase built in float64, complex64 field"}),
        dict(item="円形回り込みを防ぐために、入力を2倍にパディングしているか？",
             gloss="Is the input padded 2x to prevent circular wrap-around?",
             measured=f"on-axis error vs exact RS, circle, z = z_c (N={n}); pass < 5e-3",
             values={k: ce[(m, 1.0)] for k, m, _ in impls}, threshold=5e-3,
             implemented={"naive": "no", "seed": "no", "fixed": "yes (2x, pruned FFTs)"}),
    ]
    rows = []
    for it in items:
        row = {"checklist item (report)": it["item"], "gloss": it["gloss"], "measured": it["measured"]}
        for k in ("naive", "seed", "fixed"):
            v = float(it["values"][k])
            row[f"{k}: does it"] = it["implemented"][k]
            row[f"{k}: value"] = v
            row[f"{k}: pass"] = "pass" if v < it["threshold"] else "FAIL"
        rows.append(row)
    df = pd.DataFrame(rows)
    fixed_pass = int((df["fixed: pass"] == "pass").sum())
    naive_pass = int((df["naive: pass"] == "pass").sum())
    return StudyResult(table=df, mirror=True,
                       notes=["Report column: the section 6.3 checklist items for optics, in the report's words "
                              "with an English gloss. Measured columns reuse studies optics.error_vs_distance and "
                              "optics.phase_precision of this run.",
                              "The fixed implementation passes the complex128 item's purpose without complex128."],
                       key=f"checklist passes: naive {naive_pass}/3, fixed {fixed_pass}/3")


def study_speed(ctx: StudyContext) -> StudyResult:
    """CPU/GPU timings with suite.timing.measure: fixed vs naive ASM, cached Propagator, SAS vs ASM on the
    same field of view."""
    rows = []
    sizes = (64,) if ctx.quick else (1024, 2048)
    gen = ctx.generator(7)
    for n in sizes:
        u = torch.complex(torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)).to(ctx.device)
        z = asm_pair_distance(n)
        prop = quiet(op.Propagator)((n, n), DX, LAM, z)
        impls = {"naive (unpadded, complex64)": lambda: nv.asm_naive(u, DX, LAM, z),
                 "seed (report snippet 6.2)": lambda: nv.asm_seed(u, DX, LAM, z),
                 "fixed asm (cached transfer function)": lambda: quiet(op.asm)(u, DX, LAM, z),
                 "fixed Propagator module": lambda: prop(u),
                 "fixed asm, transfer function rebuilt (float64)": lambda: quiet(op.asm)(u, DX, LAM, z, cache=False)}
        if _torchoptics is not None:
            impls["torchoptics default"] = lambda: torchoptics_default(u, DX, LAM, z)
        if n > 1024:  # keep the full run inside its budget: the snippet and the rebuild are timed at 1024
            impls = {k: v for k, v in impls.items() if not k.startswith(("seed", "fixed asm, transfer"))}
        base = None
        for name, fn in impls.items():
            ms = time_ms(fn, ctx.quick)
            base = ms if base is None else base
            rows.append(dict(case="asm at ~4 z_c", N=n, impl=name, median_ms=ms, ratio_vs_naive=ms / base))
    for n in ((32,) if ctx.quick else (256, 512)):
        u = torch.complex(torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)).to(ctx.device)
        z = sas_pair_distance(n)
        t_asm = time_ms(lambda: asm_same_window_as_sas(u, DX, LAM, z), ctx.quick)
        t_sas = time_ms(lambda: quiet(op.sas)(u, DX, LAM, z), ctx.quick)
        rows.append(dict(case="4 z_c, same field of view", N=n, impl="padded asm on 4N grid", median_ms=t_asm,
                         ratio_vs_naive=1.0))
        rows.append(dict(case="4 z_c, same field of view", N=n, impl="sas on N", median_ms=t_sas,
                         ratio_vs_naive=t_sas / t_asm))
    df = pd.DataFrame(rows)
    a = df[df.case.str.startswith("asm")].set_index(["N", "impl"]).median_ms
    nmax = sizes[-1]
    s = df[df.case.str.startswith("4 z_c")].set_index(["N", "impl"]).median_ms
    ns = s.index.get_level_values(0).max()
    return StudyResult(table=df, notes=[f"device: {ctx.device}; medians of suite.timing.measure (warm-up 1, 3 repeats); "
                                        "the transfer function is built once and cached by asm()/Propagator."],
                       key=(f"N={nmax}: fixed/naive time {a[(nmax, 'fixed asm (cached transfer function)')] / a[(nmax, 'naive (unpadded, complex64)')]:.2f}x; "
                            f"SAS vs ASM same view N={ns}: {s[(ns, 'padded asm on 4N grid')] / s[(ns, 'sas on N')]:.1f}x faster"))


STUDIES = [
    Study("optics.error_vs_distance", "Field error vs propagation distance against exact ground truths",
          study_error_vs_distance, claims=("O1", "O2", "O4", "O6")),
    Study("optics.phase_precision", "Phase precision vs k z in complex64 (naive, snippet, fixed)",
          study_phase_precision, claims=("O5",)),
    Study("optics.evanescent", "Evanescent waves for both signs of z (dx < lambda/2)", study_evanescent,
          claims=("O3",)),
    Study("optics.design", "Differentiable phase-mask design through naive vs fixed propagation", study_design),
    Study("optics.checklist", "Section 6.3 checklist (optics): report vs measured", study_checklist),
    Study("optics.speed", "Speed: fixed vs naive ASM, cached Propagator, SAS vs ASM", study_speed,
          devices=("cpu", "cuda")),
]

register(*PAIRS, *STUDIES)
register(Domain("optics", "Diffractive optics (report sections 5 and 6.2)", claims=("O1", "O2", "O3", "O4", "O5", "O6")))
