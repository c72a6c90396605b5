"""Hyperbolic domain: pairs (naive vs fixed distances) and studies (precision vs radius, tree embedding
recipes, GM-VAE, performance targets, and the mirror of the research report's Table 2)."""

from __future__ import annotations

import math

import geoopt
import matplotlib
import mpmath
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

import baselines.hyperbolic as nv
import suite.hyperbolic as hy
from suite.hyperbolic.gmvae import GMVAE, EuclideanVAE, WrappedNormalVAE, hierarchical_dataset
from suite.registry import Domain, Pair, Study, StudyContext, StudyResult, Verdict, register
from suite.timing import measure, threads

matplotlib.use("Agg")

DIM = 16
_LORENTZ = geoopt.Lorentz()
_BALL = geoopt.PoincareBall(c=1.0)


# --------------------------------------------------------------------------------------------- pairs
def _unit_rows(n, d, gen):
    u = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return u / u.norm(dim=-1, keepdim=True)


def _tangent_inputs(size, device, dtype, gen):
    """N pairs of tangent vectors (dim 16), radii U(0, 20): even rows generic pairs, odd rows nearby pairs
    (separation 0.05), so both the boundary and the small-distance hazards are sampled."""
    r = 20 * torch.rand(size, 1, generator=gen, dtype=torch.float64)
    v = r * _unit_rows(size, DIM, gen)
    w_far = 20 * torch.rand(size, 1, generator=gen, dtype=torch.float64) * _unit_rows(size, DIM, gen)
    w_near = v + 0.05 * _unit_rows(size, DIM, gen)
    near = (torch.arange(size) % 2 == 1).unsqueeze(-1)
    w = torch.where(near, w_near, w_far)
    return v.to(device=device, dtype=dtype), w.to(device=device, dtype=dtype)


def _polar_oracle(v, w):
    """float64 reference by a different route than the fixed code: cosh d - 1 = 2 sinh^2((r1 - r2)/2)
    + 2 sinh r1 sinh r2 sin^2(theta/2), arcosh(1 + t) = log1p(t + sqrt(t (t + 2))); valid (no overflow,
    no cancellation) for radii <= ~300 in float64."""
    v, w = v.double().cpu(), w.double().cpu()
    r1, r2 = v.norm(dim=-1), w.norm(dim=-1)
    u1 = v / r1.clamp_min(1e-300).unsqueeze(-1)
    u2 = w / r2.clamp_min(1e-300).unsqueeze(-1)
    s2 = ((u1 - u2) ** 2).sum(-1) / 4
    t = 2 * torch.sinh((r1 - r2) / 2) ** 2 + 2 * torch.sinh(r1) * torch.sinh(r2) * s2
    return torch.log1p(t + torch.sqrt(t * (t + 2)))


def naive_tangent_poincare(v, w):
    """Naive: map to the Poincare ball with the textbook exp_0 (|v|/2: see baselines) and use arcosh."""
    return nv.poincare_distance(nv.poincare_expmap0(v / 2), nv.poincare_expmap0(w / 2))


def geoopt_lorentz_tangent(v, w):
    pad = lambda t: torch.nn.functional.pad(t, (1, 0))  # noqa: E731  tangent vector at the origin (0, v)
    return _LORENTZ.dist(_LORENTZ.expmap0(pad(v)), _LORENTZ.expmap0(pad(w)))


def geoopt_poincare_tangent(v, w):
    return _BALL.dist(_BALL.expmap0(v / 2), _BALL.expmap0(w / 2))


def stable_lorentz_tangent(v, w):
    return hy.lorentz_distance(hy.lorentz_expmap0(v), hy.lorentz_expmap0(w), check=False)


def _lorentz_inputs(size, device, dtype, gen):
    """N pairs of Lorentz points (dim 16 + 1) at radius U(0, 6), separation U(0.01, 0.1): where the
    arcosh form cancels. Built in float64 and rounded to `dtype`."""
    r = 6 * torch.rand(size, 1, generator=gen, dtype=torch.float64)
    v = r * _unit_rows(size, DIM, gen)
    w = v + (0.01 + 0.09 * torch.rand(size, 1, generator=gen, dtype=torch.float64)) * _unit_rows(size, DIM, gen)
    return (hy.lorentz_expmap0(v).to(device=device, dtype=dtype),
            hy.lorentz_expmap0(w).to(device=device, dtype=dtype))


def _lorentz_oracle(x, y):
    """Distance between the points that the stored spatial coordinates denote (x_0 recomputed in float64,
    so float32 rounding off the hyperboloid does not count against anyone), via the polar formula."""
    def to_tangent(p):
        xs = p[..., 1:].double().cpu()
        n = xs.norm(dim=-1, keepdim=True)
        return torch.asinh(n) * xs / n.clamp_min(1e-300)
    return _polar_oracle(to_tangent(x), to_tangent(y))




PAIRS = [
    Pair(name="hyperbolic.distance", naive=naive_tangent_poincare, fixed=hy.tangent_distance,
         make_inputs=_tangent_inputs, sizes=(1_000, 100_000, 1_000_000), quick_sizes=(1_000,),
         oracle=_polar_oracle, claim="Y1", size_label="pairs (dim 16)",
         description="Distance between exp_0(v) and exp_0(w) for tangent vectors at radius 0..20: textbook "
                     "float32 Poincare arcosh (naive) vs the log-domain tangent form (fixed); variants map to "
                     "geoopt's Lorentz / PoincareBall and to the stable Lorentz form (timings include the map).",
         variants={"geoopt_lorentz": geoopt_lorentz_tangent, "geoopt_poincare": geoopt_poincare_tangent,
                   "stable_lorentz": stable_lorentz_tangent}),
    Pair(name="hyperbolic.lorentz_distance", naive=nv.lorentz_distance_arcosh, fixed=hy.lorentz_distance,
         make_inputs=_lorentz_inputs, sizes=(1_000, 100_000, 1_000_000), quick_sizes=(1_000,),
         oracle=_lorentz_oracle, claim="Y2", size_label="pairs (dim 16)",
         description="Lorentz distance of nearby points (separation 0.01-0.1) at radius 0..6: arcosh(-<x,y>_L) "
                     "(naive, geoopt's formula) vs 2 asinh(sqrt(<y-x,y-x>_L)/2) (fixed, with the on-manifold "
                     "check); variant geoopt Lorentz.dist.",
         variants={"geoopt_lorentz": lambda x, y: _LORENTZ.dist(x, y)}),
]


# ------------------------------------------------------------------------------ study: precision
FAIL_REL = 1e-2  # a representation "fails" at the first radius where the relative error exceeds 1%


def _mp_points(R, sep, delta, u1, e, u_far):
    """Intended point pair in mpmath: returns (R1, u1), (R2, u2) as mp radii and mp unit vectors, and the
    exact distance."""
    R = mpmath.mpf(R)
    if sep == "tangential":  # equal radius, distance delta: sinh(delta/2) = sinh(R) sin(theta/2)
        th = 2 * mpmath.asin(mpmath.sinh(mpmath.mpf(delta) / 2) / mpmath.sinh(R))
        u2 = [mpmath.cos(th) * a + mpmath.sin(th) * b for a, b in zip(u1, e)]
        return (R, u1), (R, u2), mpmath.mpf(delta)
    if sep == "radial":
        return (R, u1), (R + mpmath.mpf(delta), u1), mpmath.mpf(delta)
    s2 = sum((a - b) ** 2 for a, b in zip(u1, u_far)) / 4
    d = 2 * mpmath.asinh(mpmath.sqrt(mpmath.sinh(R) ** 2 * s2))
    return (R, u1), (R, u_far), d


def _mp_dist_tangent(v, w):
    """Exact distance between exp_0 of stored tangent vectors (mpmath)."""
    v = [mpmath.mpf(float(a)) for a in v]
    w = [mpmath.mpf(float(a)) for a in w]
    r1, r2 = mpmath.sqrt(sum(a * a for a in v)), mpmath.sqrt(sum(a * a for a in w))
    if r1 == 0 or r2 == 0:
        return abs(r1 - r2)
    s2 = sum((a / r1 - b / r2) ** 2 for a, b in zip(v, w)) / 4
    return 2 * mpmath.asinh(mpmath.sqrt(mpmath.sinh((r1 - r2) / 2) ** 2 + mpmath.sinh(r1) * mpmath.sinh(r2) * s2))


def _mp_dist_poincare(p, q):
    p = [mpmath.mpf(float(a)) for a in p]
    q = [mpmath.mpf(float(a)) for a in q]
    den = (1 - sum(a * a for a in p)) * (1 - sum(b * b for b in q))
    if den <= 0:
        return mpmath.inf
    return mpmath.acosh(1 + 2 * sum((a - b) ** 2 for a, b in zip(p, q)) / den)


def _mp_dist_lorentz(x, y):
    """Distance between the points denoted by the stored spatial coordinates (x_0 recomputed)."""
    def tan(p):
        xs = [mpmath.mpf(float(a)) for a in p[1:]]
        n = mpmath.sqrt(sum(a * a for a in xs))
        return [a * mpmath.asinh(n) / n for a in xs] if n else xs
    return _mp_dist_tangent_mp(tan(x), tan(y))


def _mp_dist_tangent_mp(v, w):
    r1, r2 = mpmath.sqrt(sum(a * a for a in v)), mpmath.sqrt(sum(a * a for a in w))
    if r1 == 0 or r2 == 0:
        return abs(r1 - r2)
    s2 = sum((a / r1 - b / r2) ** 2 for a, b in zip(v, w)) / 4
    return 2 * mpmath.asinh(mpmath.sqrt(mpmath.sinh((r1 - r2) / 2) ** 2 + mpmath.sinh(r1) * mpmath.sinh(r2) * s2))


def _store(R, u, dtype):
    """Stored coordinates of the point at radius R in direction u, rounded once from mpmath."""
    tv = torch.tensor([float(R * a) for a in u], dtype=dtype)
    th = mpmath.tanh(R / 2)
    pb = torch.tensor([float(th * a) for a in u], dtype=dtype)
    ch, sh = mpmath.cosh(R), mpmath.sinh(R)
    lz = torch.tensor([float(ch)] + [float(sh * a) for a in u], dtype=dtype)
    return tv, pb, lz


METHODS = ("raw Poincare (arcosh)", "geoopt PoincareBall", "geoopt Lorentz", "stable Lorentz", "tangent form")


def _eval_methods(v, w, p, q, x, y):
    with torch.no_grad():
        return {
            "raw Poincare (arcosh)": float(nv.poincare_distance(p, q)),
            "geoopt PoincareBall": float(_BALL.dist(p, q)),
            "geoopt Lorentz": float(_LORENTZ.dist(x, y)),
            "stable Lorentz": float(hy.lorentz_distance(x, y, check=False)),
            "tangent form": float(hy.tangent_distance(v, w)),
        }


def _rel(a, b):
    if not math.isfinite(a):
        return math.inf
    return abs(a - b) / abs(b) if b else abs(a)


def study_precision(ctx: StudyContext) -> StudyResult:
    """Relative distance error vs radius for five ways to compute a hyperbolic distance, float32 and
    float64, against mpmath. Two references: the intended points (representation + computation) and the
    points the stored coordinates denote (the computation alone)."""
    mpmath.mp.dps = 80
    radii = ([0.5, 2, 4, 6, 8, 10, 12, 16, 20, 30, 40, 50, 60] if ctx.quick else
             [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60])
    trials = 2 if ctx.quick else 6
    n = 8
    gen = ctx.generator(11)
    seps = {"tangential": 0.02, "radial": 0.01, "far": None}
    rows = []
    for t in range(trials):
        u1t = _unit_rows(1, n, gen)[0]
        et = torch.randn(n, generator=gen, dtype=torch.float64)
        et = et - (et @ u1t) * u1t
        et = et / et.norm()
        uft = _unit_rows(1, n, gen)[0]
        u1 = [mpmath.mpf(float(a)) for a in u1t]
        nrm = mpmath.sqrt(sum(a * a for a in u1))
        u1 = [a / nrm for a in u1]
        e = [mpmath.mpf(float(a)) for a in et]
        proj = sum(a * b for a, b in zip(e, u1))
        e = [a - proj * b for a, b in zip(e, u1)]
        ne = mpmath.sqrt(sum(a * a for a in e))
        e = [a / ne for a in e]
        uf = [mpmath.mpf(float(a)) for a in uft]
        nf = mpmath.sqrt(sum(a * a for a in uf))
        uf = [a / nf for a in uf]
        for R in radii:
            for sep, delta in seps.items():
                (R1, a1), (R2, a2), d_true = _mp_points(R, sep, delta or 0.0, u1, e, uf)
                for dtype in (torch.float32, torch.float64):
                    v, p, x = _store(R1, a1, dtype)
                    w, q, y = _store(R2, a2, dtype)
                    got = _eval_methods(v, w, p, q, x, y)
                    stored = {"raw Poincare (arcosh)": _mp_dist_poincare(p, q),
                              "geoopt PoincareBall": _mp_dist_poincare(p, q),
                              "geoopt Lorentz": _mp_dist_lorentz(x, y), "stable Lorentz": _mp_dist_lorentz(x, y),
                              "tangent form": _mp_dist_tangent(v, w)}
                    for m in METHODS:
                        rows.append(dict(method=m, dtype=str(dtype).replace("torch.", ""), separation=sep,
                                         radius=R, trial=t, distance=got[m], true_distance=float(d_true),
                                         rel_err_vs_intended=_rel(got[m], float(d_true)),
                                         rel_err_vs_stored=_rel(got[m], float(stored[m])),
                                         nonfinite=not math.isfinite(got[m])))
    df = pd.DataFrame(rows)
    agg = (df.groupby(["method", "dtype", "separation", "radius"], sort=False)
             .agg(rel_err_vs_intended=("rel_err_vs_intended", "max"), rel_err_vs_stored=("rel_err_vs_stored", "max"),
                  nonfinite=("nonfinite", "sum")).reset_index())

    def fail_radius(m, dt, sep, col):
        g = agg[(agg.method == m) & (agg.dtype == dt) & (agg.separation == sep)].sort_values("radius")
        bad = g[~(g[col] <= FAIL_REL)]
        return float(bad.radius.iloc[0]) if len(bad) else math.inf

    fails = []
    for m in METHODS:
        for dt in ("float32", "float64"):
            row = dict(method=m, dtype=dt)
            for sep in seps:
                row[f"fails_at_R_{sep}"] = fail_radius(m, dt, sep, "rel_err_vs_intended")
                row[f"computation_fails_at_R_{sep}"] = fail_radius(m, dt, sep, "rel_err_vs_stored")
            g = agg[(agg.method == m) & (agg.dtype == dt) & (agg.nonfinite > 0)]
            row["first_nonfinite_R"] = float(g.radius.min()) if len(g) else math.inf
            fails.append(row)
    fails = pd.DataFrame(fails)
    table = fails.merge(agg, on=["method", "dtype"], how="right")

    fig = Figure(figsize=(13, 7))
    axes = fig.subplots(2, 3, sharex=True)
    for i, dt in enumerate(("float32", "float64")):
        for j, sep in enumerate(seps):
            ax = axes[i, j]
            for m in METHODS:
                g = agg[(agg.method == m) & (agg.dtype == dt) & (agg.separation == sep)]
                y = g.rel_err_vs_intended.replace(np.inf, 1e3).clip(lower=1e-17, upper=1e3)
                ax.semilogy(g.radius, y, marker=".", label=m)
            ax.axhline(FAIL_REL, color="k", lw=0.5, ls="--")
            ax.set_title(f"{dt}, {sep}" + (f" (d = {seps[sep]})" if seps[sep] else " (d ~ 2R)"), fontsize=9)
            ax.set_xlabel("radius R from the origin (hyperbolic units)")
            ax.set_ylabel("relative distance error vs mpmath (inf plotted at 1e3)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()

    F = fails.set_index(["method", "dtype"])
    pc32 = F.loc[("raw Poincare (arcosh)", "float32")]
    lz32 = F.loc[("geoopt Lorentz", "float32")]
    tg32 = F.loc[("tangent form", "float32")]
    first_nan = pc32.first_nonfinite_R
    p_fail = min(pc32[f"fails_at_R_{s}"] for s in seps)
    y1 = Verdict("Y1", "confirmed" if p_fail < math.inf else "refuted",
                 f"float32 raw Poincare arcosh distance exceeds {FAIL_REL:.0%} error from R = {p_fail:g} "
                 f"(tangential d=0.02: R = {pc32.fails_at_R_tangential:g}, radial: {pc32.fails_at_R_radial:g}, far "
                 f"pairs: {pc32.fails_at_R_far:g}) and returns inf/NaN from R = {first_nan:g}.", p_fail)
    close_l = min(lz32.fails_at_R_tangential, lz32.fails_at_R_radial)
    close_p = min(pc32.fails_at_R_tangential, pc32.fails_at_R_radial)
    far_l, far_p = lz32.fails_at_R_far, pc32.fails_at_R_far
    better = close_l > close_p or far_l > far_p  # Lorentz holds to a larger radius for some pair type
    worse = close_l < close_p or far_l < far_p
    if min(close_l, close_p, far_l, far_p) == math.inf:
        kind, why = "qualified", f"neither representation fails up to R = {max(radii):g}: cannot discriminate"
    elif better and not worse:
        kind, why = "confirmed", "Lorentz holds to a larger radius and fails nowhere earlier"
    elif worse and not better:
        kind, why = "refuted", "Lorentz fails earlier and holds nowhere longer"
    elif better:
        kind, why = "qualified", "Lorentz holds longer for one pair type and fails earlier for the other"
    else:
        kind, why = "qualified", "both fail at the same radii: no difference in the tested range"
    y2 = Verdict("Y2", kind,
                 f"float32 fail radius ({FAIL_REL:.0%} error vs the intended points, tested to R = {max(radii):g}), "
                 f"geoopt Lorentz vs raw Poincare: close pairs R = {close_l:g} vs {close_p:g}, far pairs R = "
                 f"{far_l:g} vs {far_p:g} ({why}); the stable Lorentz form "
                 f"fails for close pairs at R = {min(F.loc[('stable Lorentz', 'float32')].fails_at_R_tangential, F.loc[('stable Lorentz', 'float32')].fails_at_R_radial):g}, "
                 f"the tangent form's computation stays within {FAIL_REL:.0%} to R = "
                 f"{max(radii) if tg32.computation_fails_at_R_far == math.inf else tg32.computation_fails_at_R_far:g} (far pairs).",
                 close_l)
    notes = [
        "Intended points: radius R, direction u (random in 8 dims), second point at equal radius and distance 0.02 "
        "(tangential), 0.01 further out on the same ray (radial), or at equal radius in an independent random "
        "direction (far, d ~ 2R). Each representation stores coordinates rounded once from mpmath (80 digits).",
        "rel_err_vs_intended includes the rounding of the coordinates (representation capacity, Mishne et al. 2023); "
        "rel_err_vs_stored compares with the exact distance of the points the stored coordinates denote (the "
        "computation alone; for Lorentz, x_0 is recomputed from the spatial part).",
        "In float32 no representation holds two points 0.01-0.02 apart beyond R ~ 8-17: the coordinates' rounding "
        "is larger than the separation. The tangent form's advantage is that its computation is exact for the "
        "points it stores at every radius and it never overflows (inf/NaN) where Poincare and Lorentz do.",
    ]
    key = (f"float32 fail radius (close / far pairs): Poincare {close_p:g}/{pc32.fails_at_R_far:g}, "
           f"geoopt Lorentz {close_l:g}/{lz32.fails_at_R_far:g}, tangent "
           f"{min(tg32.fails_at_R_tangential, tg32.fails_at_R_radial):g}/{tg32.fails_at_R_far:g}")
    return StudyResult(table=table, figure=fig, verdicts=[y1, y2], notes=notes, key=key)


# ------------------------------------------------------------------------------ study: embeddings
def _embedding_settings(quick):
    if quick:
        return dict(n_nodes=24, dims=(8,), seeds=(0,), steps=20)
    return dict(n_nodes=120, dims=(2, 4, 8, 16), seeds=(0, 1), steps=200)


def _run_recipes(tree, dim, steps, seed):
    common = dict(steps=steps, lr=0.1, batch=64, n_neg=10)
    runs = {
        "naive (Poincare, Adam, clip)": nv.train_naive(tree, dim, generator=torch.Generator().manual_seed(seed), **common),
        "lorentz, RiemannianAdam, no iso": hy.train_recommended(tree, dim, iso_weight=0.0,
                                                                generator=torch.Generator().manual_seed(seed), **common),
        "recommended (lorentz, RiemannianAdam, iso)": hy.train_recommended(
            tree, dim, iso_weight=1.0, generator=torch.Generator().manual_seed(seed), **common),
        "tangent (Adam, iso)": hy.train_tangent(tree, dim, iso_weight=1.0,
                                                generator=torch.Generator().manual_seed(seed), **common),
        "lorentz, Euclidean Adam": hy.train_recommended(tree, dim, iso_weight=0.0, optimizer="euclidean",
                                                        generator=torch.Generator().manual_seed(seed), **common),
        "lorentz, Euclidean Adam + constraint penalty": hy.train_recommended(
            tree, dim, iso_weight=0.0, optimizer="euclidean", constraint_penalty=1.0,
            generator=torch.Generator().manual_seed(seed), **common),
    }
    return runs


def study_embedding(ctx: StudyContext) -> StudyResult:
    """Contrastive (Nickel & Kiela) embedding of a random tree with six recipes: collapse (boundary
    fraction, effective rank), NaN/Inf, reconstruction (mean rank, MAP), on-manifold residual."""
    cfg = _embedding_settings(ctx.quick)
    rows = []
    for seed in cfg["seeds"]:
        tree = hy.random_tree(cfg["n_nodes"], ctx.generator(100 + seed))
        for dim in cfg["dims"]:
            for name, run in _run_recipes(tree, dim, cfg["steps"], ctx.seed + seed).items():
                tan = run.tangent.double()
                finite = bool(torch.isfinite(tan).all())
                rec = hy.reconstruction_metrics(run.pairwise, tree)
                rows.append(dict(recipe=name, dim=dim, seed=seed, nodes=tree.n, steps=cfg["steps"],
                                 nonfinite=run.nonfinite,
                                 boundary_fraction=float((run.radius >= hy.BOUNDARY_RADIUS - 0.1).double().mean()),
                                 max_radius=float(run.radius.max()),
                                 erank_ratio=(float(hy.effective_rank(tan)) / dim) if finite else math.nan,
                                 mean_rank=rec["mean_rank"], map=rec["map"], final_loss=run.losses[-1],
                                 residual_max=run.residual_max, residual_rel_max=run.residual_rel_max,
                                 diverged=run.first_nonfinite_step >= 0, first_nonfinite_step=run.first_nonfinite_step,
                                 steps_outside_ball=run.outside_steps))
    df = pd.DataFrame(rows)
    m = df.groupby("recipe", sort=False).mean(numeric_only=True)

    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 4)
    for ax, col, lab in zip(axes, ("erank_ratio", "boundary_fraction", "map", "residual_rel_max"),
                            ("effective rank / dim", "fraction at the boundary clamp", "MAP",
                             "max |<x,x>+1| / (1 + |x|^2) (1)")):
        for name, g in df.groupby("recipe", sort=False):
            gg = g.groupby("dim")[col].mean()
            ax.plot(gg.index, gg.values.clip(min=1e-12) if col == "residual_rel_max" else gg.values, marker="o",
                    label=name)
        ax.set_xlabel("embedding dimension")
        ax.set_ylabel(lab)
        if col == "residual_rel_max":
            ax.set_yscale("log")
    axes[0].legend(fontsize=6)
    fig.tight_layout()

    naive, noiso = m.loc["naive (Poincare, Adam, clip)"], m.loc["lorentz, RiemannianAdam, no iso"]
    recm, tang = m.loc["recommended (lorentz, RiemannianAdam, iso)"], m.loc["tangent (Adam, iso)"]
    pen = m.loc["lorentz, Euclidean Adam + constraint penalty"]
    m = df[~df.diverged].groupby("recipe", sort=False).mean(numeric_only=True).reindex(m.index)  # finite runs
    naive, noiso = m.loc["naive (Poincare, Adam, clip)"], m.loc["lorentz, RiemannianAdam, no iso"]
    recm, tang = m.loc["recommended (lorentz, RiemannianAdam, iso)"], m.loc["tangent (Adam, iso)"]
    collapse_naive = naive.boundary_fraction > 0.1 or naive.erank_ratio < 0.5
    collapse_noiso = noiso.boundary_fraction > 0.1 or noiso.erank_ratio < 0.5
    pressure = naive.steps_outside_ball / cfg["steps"]  # fraction of steps in which Adam pushed a point out
    y3 = Verdict("Y3", "confirmed" if (collapse_naive or collapse_noiso) else "qualified" if pressure > 0.5 else "refuted",
                 f"mean over dims/seeds: naive recipe boundary fraction {naive.boundary_fraction:.2f}, effective "
                 f"rank/dim {naive.erank_ratio:.2f}; Lorentz+RiemannianAdam without regulariser {noiso.boundary_fraction:.2f}, "
                 f"{noiso.erank_ratio:.2f} (collapse = boundary fraction > 0.1 or erank/dim < 0.5); the loss does push "
                 f"outward: Adam carried some point outside the ball in {pressure:.0%} of the naive recipe's steps "
                 f"(qualified when > 50% without a final collapse).", float(naive.boundary_fraction))
    better = (recm.boundary_fraction <= 0.5 * noiso.boundary_fraction + 1e-9 and
              recm.erank_ratio >= noiso.erank_ratio - 0.05)
    y4 = Verdict("Y4", ("confirmed" if better else "refuted") if collapse_noiso else "qualified",
                 f"with the isotropy loss: boundary fraction {recm.boundary_fraction:.2f} (tangent recipe "
                 f"{tang.boundary_fraction:.2f}) vs {noiso.boundary_fraction:.2f} without, erank/dim "
                 f"{recm.erank_ratio:.2f} vs {noiso.erank_ratio:.2f}, MAP {recm['map']:.2f} vs {noiso['map']:.2f}"
                 + ("" if collapse_noiso else "; no collapse without it in this setting, so nothing to prevent") + ".",
                 float(recm.boundary_fraction))
    ra = df[df.recipe.str.contains("RiemannianAdam")].residual_rel_max.max()
    ea = df[df.recipe == "lorentz, Euclidean Adam"].residual_rel_max.max()
    ra_abs = df[df.recipe.str.contains("RiemannianAdam")].residual_max.max()
    div = df.groupby("recipe", sort=False).diverged.mean()
    y5 = Verdict("Y5", "confirmed" if (ea > 1e-2 and ra < 1e-5) else "qualified" if ea > 10 * ra else "refuted",
                 f"max on-manifold residual |<x,x>_L + 1| / (1 + |x|^2) after any step: Euclidean Adam {ea:.3g}, "
                 f"RiemannianAdam on a ManifoldParameter {ra:.2g} (float32 rounding level; thresholds 1e-2 and 1e-5; "
                 f"absolute |<x,x>_L + 1| reaches {ra_abs:.2g} because x_0^2 is large); the naive Poincare recipe stepped "
                 f"outside the ball in {naive.steps_outside_ball:.0f} of {cfg['steps']} steps before the clip. But "
                 f"RiemannianAdam on float32 Lorentz diverged (NaN/Inf) in "
                 f"{div['lorentz, RiemannianAdam, no iso']:.0%} / {div['recommended (lorentz, RiemannianAdam, iso)']:.0%} "
                 f"of runs (no iso / iso), the tangent recipe in {div['tangent (Adam, iso)']:.0%}.",
                 float(ea))
    pa = df[df.recipe == "lorentz, Euclidean Adam + constraint penalty"].residual_rel_max.max()
    x1 = Verdict("X1", "confirmed" if (pa > 100 * max(ra, 1e-7) and div["tangent (Adam, iso)"] == 0) else "qualified",
                 f"hyperbolicity encouraged by a penalty (weight 1) leaves a relative residual of {pa:.3g}; enforced by "
                 f"construction it is {ra:.2g} (RiemannianAdam retraction) and exactly 0 for tangent parameters, whose "
                 f"recipe never diverged ({div['tangent (Adam, iso)']:.0%} of runs vs "
                 f"{div['recommended (lorentz, RiemannianAdam, iso)']:.0%} for the recommended recipe); "
                 f"MAP {pen['map']:.2f} (penalty) vs {recm['map']:.2f} / {tang['map']:.2f}.", float(pa))
    notes = [f"Random tree of {cfg['n_nodes']} nodes (1-4 children per node), Nickel & Kiela softmax loss with 10 "
             f"negatives, batch 64, lr 0.1, {cfg['steps']} steps, float32, seeds {cfg['seeds']}.",
             "boundary fraction: hyperbolic radius >= 2 artanh(1 - 1e-5) - 0.1 = 12.1 (the naive recipe's clip; "
             "0.1 absorbs float32 rounding of |p| near 1).",
             "Euclidean-Adam rows use the Lorentz coordinates as plain parameters: the control for Y5 and X1.",
             "A run that produced NaN/Inf stops there (diverged = True, first_nonfinite_step); collapse and "
             "reconstruction means in the verdicts are over finite runs."]
    key = (f"naive boundary {naive.boundary_fraction:.2f}, erank/dim naive {naive.erank_ratio:.2f} vs rec "
           f"{recm.erank_ratio:.2f}; MAP naive {naive['map']:.2f} / rec {recm['map']:.2f} / tangent {tang['map']:.2f}")
    return StudyResult(table=df, figure=fig, verdicts=[y3, y4, y5, x1], notes=notes, key=key)


# ------------------------------------------------------------------------------------ study: GM-VAE
def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra = torch.argsort(torch.argsort(a)).double()
    rb = torch.argsort(torch.argsort(b)).double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra @ rb) / (ra.norm() * rb.norm()).clamp_min(1e-300))


def _grad_variance(model, x, kl, repeats):
    """Trace of the covariance of the ELBO gradient over the sampling noise (fixed batch and parameters),
    divided by the squared norm of the mean gradient."""
    grads = []
    for _ in range(repeats):
        model.zero_grad()
        (-model.elbo(x, kl=kl)[0].mean()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]).clone())
    g = torch.stack(grads).double()
    return float(g.var(0).sum() / g.mean(0).pow(2).sum().clamp_min(1e-300))


def _train_vae(model, kl, data, steps, lr, seed, batch=64):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, data.x_train.shape[0], (batch,), generator=gen)
        loss = -model.elbo(data.x_train[idx], kl=kl)[0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def study_gmvae(ctx: StudyContext) -> StudyResult:
    """GM-VAE (closed-form pseudo-Gaussian KL) vs the same model with a Monte Carlo KL, a Euclidean VAE and
    a wrapped-normal VAE (MC KL) on noisy observations of a random tree's nodes."""
    if ctx.quick:
        cfg = dict(nodes=15, obs=10, per=6, steps=60, seeds=(0,), repeats=8, latent=2, hidden=32)
    else:
        cfg = dict(nodes=40, obs=20, per=12, steps=500, seeds=(0, 1), repeats=24, latent=2, hidden=64)
    lat = cfg["latent"]
    rows = []
    curves = {}
    for seed in cfg["seeds"]:
        data = hierarchical_dataset(cfg["nodes"], cfg["obs"], cfg["per"], ctx.generator(200 + seed))
        tree = data.tree
        models = {
            "GM-VAE, closed-form KL": (lambda: GMVAE(cfg["obs"], lat, cfg["hidden"]), "closed"),
            "GM-VAE, Monte Carlo KL": (lambda: GMVAE(cfg["obs"], lat, cfg["hidden"]), "mc"),
            "Euclidean VAE": (lambda: EuclideanVAE(cfg["obs"], 2 * lat, cfg["hidden"]), "closed"),
            "wrapped normal (Lorentz), MC KL": (lambda: WrappedNormalVAE(cfg["obs"], 2 * lat, cfg["hidden"]), "mc"),
        }
        for name, (make, kl) in models.items():
            torch.manual_seed(ctx.seed + seed)  # same initial weights for the two GM-VAE variants
            model = make()
            losses = _train_vae(model, kl, data, cfg["steps"], 3e-3, ctx.seed + seed)
            curves.setdefault(name, []).append(losses)
            torch.manual_seed(1234)
            with torch.no_grad():
                ev_kl = "closed" if isinstance(model, (GMVAE, EuclideanVAE)) else "mc"
                elbo, rec, k = model.elbo(data.x_test, kl=ev_kl, n_samples=16)
                i, j = torch.triu_indices(data.x_test.shape[0], data.x_test.shape[0], 1)
                sub = torch.randperm(i.numel(), generator=torch.Generator().manual_seed(seed))[:4000]
                i, j = i[sub], j[sub]
                dl = model.latent_distance(data.x_test[i], data.x_test[j])
                dt = tree.dist[data.node_test[i], data.node_test[j]].double()
            gv = _grad_variance(model, data.x_train[:64], kl, cfg["repeats"])
            half = losses[len(losses) // 2:]
            rows.append(dict(model=name, seed=seed, kl=kl, heldout_elbo=float(elbo.mean()),
                             heldout_recon=float(rec.mean()), heldout_kl=float(k.mean()),
                             hierarchy_spearman=_spearman(dl.double(), dt),
                             grad_rel_variance=gv, loss_std_second_half=float(np.std(half)),
                             nonfinite_losses=int(sum(not math.isfinite(v) for v in losses))))
    df = pd.DataFrame(rows)
    m = df.groupby("model", sort=False).mean(numeric_only=True)

    fig = Figure(figsize=(11, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    for name, cs in curves.items():
        c = np.mean(np.array(cs), axis=0)
        ax1.plot(np.arange(1, len(c) + 1), c, label=name, lw=0.8)
    ax1.set_xlabel("training step")
    ax1.set_ylabel("training loss, -ELBO per example (nats)")
    ax1.set_yscale("symlog")
    ax1.legend(fontsize=7)
    ax2.bar(range(len(m)), m.grad_rel_variance.values)
    ax2.set_xticks(range(len(m)), [n.replace(", ", "\n") for n in m.index], fontsize=6)
    ax2.set_ylabel("gradient variance / |mean gradient|^2 (1)")
    ax2.set_yscale("log")
    fig.tight_layout()

    cf, mc = m.loc["GM-VAE, closed-form KL"], m.loc["GM-VAE, Monte Carlo KL"]
    ratio = mc.grad_rel_variance / cf.grad_rel_variance
    elbo_ok = cf.heldout_elbo >= mc.heldout_elbo - 0.01 * abs(mc.heldout_elbo)
    kind = ("confirmed" if (ratio >= 1.5 and elbo_ok) else "qualified" if ratio > 1.0 else "refuted")
    y6 = Verdict("Y6", kind,
                 f"same GM-VAE, closed-form vs Monte Carlo KL: relative gradient variance {cf.grad_rel_variance:.3g} vs "
                 f"{mc.grad_rel_variance:.3g} (MC/closed = {ratio:.2f}; confirmed needs >= 1.5 and a held-out ELBO no "
                 f"worse by > 1%), held-out ELBO {cf.heldout_elbo:.2f} vs {mc.heldout_elbo:.2f} nats, loss std over the "
                 f"second half {cf.loss_std_second_half:.2f} vs {mc.loss_std_second_half:.2f}; non-finite losses "
                 f"{int(cf.nonfinite_losses)} vs {int(mc.nonfinite_losses)}.", float(ratio))
    notes = [f"Data: random tree of {cfg['nodes']} nodes, node features by branching diffusion in {cfg['obs']} dims, "
             f"{cfg['per']} noisy train and held-out observations per node (noise 0.3); {cfg['steps']} Adam steps, "
             f"batch 64, lr 3e-3, seeds {cfg['seeds']}.",
             f"Latent: GM-VAE {lat} univariate Gaussians (decoder reads mu and log sigma^2, width {2 * lat}); "
             f"Euclidean and wrapped-normal latents have {2 * lat} coordinates. Held-out ELBO: 16 samples; KL closed "
             "form for GM-VAE and Euclidean, Monte Carlo for the wrapped normal.",
             "hierarchy_spearman: rank correlation between latent distances of held-out observations (Fisher-Rao "
             "for GM-VAE, Euclidean, Lorentz) and the tree distance of their nodes.",
             "grad_rel_variance: trace of the gradient covariance over sampling noise at the trained parameters "
             "(fixed batch of 64), over |mean gradient|^2."]
    best = m.hierarchy_spearman.idxmax()
    key = (f"grad variance MC/closed {ratio:.2f}; held-out ELBO GM {cf.heldout_elbo:.1f} vs Euclid "
           f"{m.loc['Euclidean VAE'].heldout_elbo:.1f}; best hierarchy: {best}")
    return StudyResult(table=df, figure=fig, verdicts=[y6], notes=notes, key=key)


# ------------------------------------------------------------------------------- study: performance
def study_performance(ctx: StudyContext) -> StudyResult:
    """The issue's CPU targets: tangent_distance and lorentz_distance within 2x of geoopt Lorentz.dist
    (N = 1e6 pairs, dim 16), and a training step of the recommended recipe within 2x of the naive one."""
    N = 100_000 if ctx.quick else 1_000_000
    gen = ctx.generator(300)
    v = (3 * torch.randn(N, DIM, generator=gen)).to(ctx.device)
    w = (3 * torch.randn(N, DIM, generator=gen)).to(ctx.device)
    x, y = hy.lorentz_expmap0(v), hy.lorentz_expmap0(w)
    p, q = nv.poincare_expmap0(v / 8), nv.poincare_expmap0(w / 8)
    kernels = {
        "geoopt Lorentz.dist": lambda: _LORENTZ.dist(x, y),
        "lorentz_distance (with on-manifold check)": lambda: hy.lorentz_distance(x, y),
        "lorentz_distance (check=False)": lambda: hy.lorentz_distance(x, y, check=False),
        "tangent_distance": lambda: hy.tangent_distance(v, w),
        "naive poincare_distance": lambda: nv.poincare_distance(p, q),
        "geoopt PoincareBall.dist": lambda: _BALL.dist(p, q),
    }
    tree = hy.random_tree(120, ctx.generator(301))
    k = 5 if ctx.quick else 20
    common = dict(steps=k, dim=16, lr=0.05)
    steps = {
        "train step: naive (Poincare, Adam, clip)": lambda: nv.train_naive(tree, generator=torch.Generator().manual_seed(0), **common),
        "train step: recommended (Lorentz, RiemannianAdam, iso)": lambda: hy.train_recommended(
            tree, generator=torch.Generator().manual_seed(0), track_residual=False, **common),
        "train step: tangent (Adam, iso)": lambda: hy.train_tangent(tree, generator=torch.Generator().manual_seed(0), **common),
    }
    rows = []
    prev = torch.get_num_threads()
    # one thread in quick mode (CI budget); full mode adds the default setting, which is noisy on a shared CPU
    for n_thr in ([1] if (ctx.quick or prev == 1) else [prev, 1]):
        with threads(n_thr):
            for name, fn in kernels.items():
                t = measure(fn, warmup=1, repeats=3 if ctx.quick else 5, max_time=2.0 if ctx.quick else 4.0)
                rows.append(dict(op=name, threads=n_thr, size=f"N={N:,} pairs, dim {DIM}", ms=t.median_ms))
            for name, fn in steps.items():
                t = measure(fn, warmup=1, repeats=3, min_time=0.0, max_time=2.0 if ctx.quick else 6.0)
                rows.append(dict(op=name, threads=n_thr, size=f"120-node tree, dim 16, batch 64 ({k} steps/call)",
                                 ms=t.median_ms / k))
    df = pd.DataFrame(rows)
    notes, keys = [], []
    for n_thr, g in df.groupby("threads", sort=False):
        ms = dict(zip(g.op, g.ms))
        ref = ms["geoopt Lorentz.dist"]
        r_t = ms["tangent_distance"] / ref
        r_l = ms["lorentz_distance (with on-manifold check)"] / ref
        r_s = ms["train step: recommended (Lorentz, RiemannianAdam, iso)"] / ms["train step: naive (Poincare, Adam, clip)"]
        r_ts = ms["train step: tangent (Adam, iso)"] / ms["train step: naive (Poincare, Adam, clip)"]
        df.loc[g.index, "ratio_to_reference"] = [
            (ms[o] / ref) if "train" not in o else ms[o] / ms["train step: naive (Poincare, Adam, clip)"] for o in g.op]
        met = lambda r: "met" if r <= 2.0 else "missed"  # noqa: E731
        notes.append(f"{n_thr} thread(s): tangent_distance {r_t:.2f}x geoopt Lorentz.dist time ({met(r_t)}), "
                     f"lorentz_distance {r_l:.2f}x ({met(r_l)}); recommended training step {r_s:.2f}x the naive one "
                     f"({met(r_s)}), tangent recipe {r_ts:.2f}x.")
        keys.append(f"{n_thr}t: tangent {r_t:.2f}x, lorentz {r_l:.2f}x geoopt; rec step {r_s:.2f}x naive")
    notes.append("Times: suite.timing.measure medians; training-step times are whole train_* calls divided by the "
                 "number of steps (setup and the final N x N distance matrix amortised). Target: ratio <= 2.")
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    for n_thr, g in df.groupby("threads", sort=False):
        ax.barh([f"{o} [{n_thr}t]" for o in g.op], g.ms)
    ax.set_xscale("log")
    ax.set_xlabel("median time (ms; per call for kernels, per step for training)")
    ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    return StudyResult(table=df, figure=fig, notes=notes, key="; ".join(keys))


# ---------------------------------------------------------------------------- study: Table 2 mirror
def study_table2(ctx: StudyContext) -> StudyResult:
    """Mirror of the research report's Table 2 (Poincare vs Lorentz) with measured rows."""
    prec = ctx.result("hyperbolic.precision").table
    perf = ctx.result("hyperbolic.performance").table
    F = prec.drop_duplicates(["method", "dtype"]).set_index(["method", "dtype"])
    pc, gl, sl, tg = (F.loc[(m, "float32")] for m in
                      ("raw Poincare (arcosh)", "geoopt Lorentz", "stable Lorentz", "tangent form"))
    pc64, gl64 = F.loc[("raw Poincare (arcosh)", "float64")], F.loc[("geoopt Lorentz", "float64")]
    agg = prec[(prec.dtype == "float32") & (prec.separation == "tangential")]
    e4 = agg[agg.radius == 4].set_index("method").rel_err_vs_intended
    t1 = perf[perf.threads == perf.threads.iloc[0]].set_index("op").ms
    # visualisation: Lorentz -> Poincare -> Lorentz round trip in float32 at radius 4 and 8
    gen = ctx.generator(400)
    vis = {}
    for R in (4.0, 8.0):
        v = R * _unit_rows(256, 3, gen)
        x = hy.lorentz_expmap0(v).float()
        back = hy.poincare_to_lorentz(hy.lorentz_to_poincare(x, check=False))
        d = hy.lorentz_distance(x.double(), hy.lorentz_project(back.double()), check=False)
        vis[R] = float(d.max())
    close = lambda r: min(r.fails_at_R_tangential, r.fails_at_R_radial)  # noqa: E731
    rows = [
        dict(feature="座標系 (coordinates)", poincare_report="有界な球 ||x|| < 1 (bounded ball)",
             lorentz_report="R^{n+1} 内の双曲面 (hyperboloid in R^{n+1})",
             recommendation_report="計算にはローレンツを使用 (compute in Lorentz)",
             poincare_measured=f"float32 |p| rounds to 1 (inf distance) from R = {pc.first_nonfinite_R:g}",
             lorentz_measured=f"float32 geoopt Lorentz gives inf/NaN from R = {gl.first_nonfinite_R:g}; cosh overflows ~R = 89",
             tangent_measured="any R in R^n (no bound); distances finite to R = 60 and beyond",
             measured_recommendation="tangent (Euclidean) parameters lifted by exp_0 for unbounded radius"),
        dict(feature="数値安定性 (numerical stability)", poincare_report="境界付近で不安定 (NaN発生) (unstable near the boundary, NaN)",
             lorentz_report="安定 (線形座標) (stable, linear coordinates)", recommendation_report="ローレンツ (Lorentz)",
             poincare_measured=f"1% error from R = {close(pc):g} (close pairs) / {pc.fails_at_R_far:g} (far); float64 {close(pc64):g}",
             lorentz_measured=(f"geoopt: 1% error from R = {close(gl):g} (close) / {gl.fails_at_R_far:g} (far); float64 "
                               f"{close(gl64):g}; stable form {close(sl):g} (close)"),
             tangent_measured=(f"computation exact to R = 60; representation of close pairs limited to R = {close(tg):g} "
                               "by float32 directions"),
             measured_recommendation=("Poincare represents close pairs further out than Lorentz (Mishne et al. 2023); "
                                      "Lorentz only wins for far pairs: the report's claim holds only there")),
        dict(feature="距離計算 (distance computation)", poincare_report="複雑な式 (1-||x|| での除算あり) (division by 1-||x||)",
             lorentz_report="線形内積 <x,y>_L (linear inner product)", recommendation_report="ローレンツ (Lorentz)",
             poincare_measured=(f"{t1['naive poincare_distance']:.1f} ms per 1e6 pairs (naive), error at R = 4 "
                                f"(d = 0.02): {e4['raw Poincare (arcosh)']:.1e}"),
             lorentz_measured=(f"geoopt {t1['geoopt Lorentz.dist']:.1f} ms, error at R = 4: {e4['geoopt Lorentz']:.1e}; "
                               f"stable asinh form {t1['lorentz_distance (check=False)']:.1f} ms, {e4['stable Lorentz']:.1e}"),
             tangent_measured=f"{t1['tangent_distance']:.1f} ms, error at R = 4: {e4['tangent form']:.1e}",
             measured_recommendation="the inner product alone is not enough: use 2 asinh(sqrt(<y-x,y-x>_L)/2) or the tangent form"),
        dict(feature="可視化 (visualisation)", poincare_report="直感的 (ディスク状) (intuitive, disc)",
             lorentz_report="非直感的 (not intuitive)",
             recommendation_report="可視化時のみポアンカレへ変換 (convert to Poincare only to visualise)",
             poincare_measured=f"disc coordinates saturate at |p| = 1 from R = {pc.first_nonfinite_R:g} (float32)",
             lorentz_measured=(f"Lorentz -> Poincare -> Lorentz round trip in float32: distance moved {vis[4.0]:.1e} "
                               f"(R = 4), {vis[8.0]:.1e} (R = 8)"),
             tangent_measured="exp_0 then lorentz_to_poincare for plots",
             measured_recommendation="agree: convert for plots only"),
    ]
    df = pd.DataFrame(rows)
    return StudyResult(table=df, mirror=True,
                       notes=["Report columns are the report's words (Japanese, English gloss); measured columns come "
                              "from studies hyperbolic.precision (float32 unless stated; 1% relative error threshold, "
                              "vs the intended points) and hyperbolic.performance (first thread setting) of this run."],
                       key=f"float32 close-pair fail radius: Poincare {close(pc):g}, Lorentz {close(gl):g}")


STUDIES = [
    Study("hyperbolic.precision", "Distance precision vs radius: Poincare, geoopt, stable Lorentz, tangent form",
          study_precision, claims=("Y1", "Y2")),
    Study("hyperbolic.embedding", "Contrastive tree embedding: naive vs recommended vs tangent recipe",
          threads(1)(study_embedding), claims=("Y3", "Y4", "Y5", "X1")),
    Study("hyperbolic.gmvae", "GM-VAE: closed-form vs Monte Carlo KL, Euclidean and wrapped-normal baselines",
          threads(1)(study_gmvae), claims=("Y6",)),
    Study("hyperbolic.performance", "CPU performance targets of the hyperbolic kernels and training steps",
          study_performance),
    Study("hyperbolic.table2", "Table 2: Poincare vs Lorentz (report vs measured)", study_table2, claims=("Y2",)),
]

register(*PAIRS, *STUDIES)
register(Domain("hyperbolic", "Hyperbolic embeddings (report section 3)", claims=("Y1", "Y2", "Y3", "Y4", "Y5", "Y6")))
