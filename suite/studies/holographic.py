"""Holographic binding: naive/fixed Pairs and the Studies behind claims H1-H7 (research report section 2).

Every verdict below is computed from the study's own numbers; the thresholds are stated in the evidence.
Vectors are N(0, 1/d) unless said otherwise; all randomness comes from `ctx.generator(offset)`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from baselines import holographic as nv
from suite import holographic as hg
from suite.registry import Domain, Pair, Study, StudyContext, StudyResult, Verdict, register
from suite.timing import measure, threads

BATCH = 2048  # rows per call in the binding pairs (the issue's performance-target size is B=2048, d=1024)
CIRC_BATCH = 64  # rows per call in the circulant pair (one mini-batch of a layer)
DENSE_MAX = 8192  # above this N the dense N x N circulant (plus its int64 index) would take > 0.8 GB


# ============================================================================================ helpers
def gauss(*shape: int, gen: torch.Generator, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """N(0, 1/d) entries (d = last dim), drawn on the CPU generator then moved: same numbers on every device."""
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) / math.sqrt(shape[-1])).to(dtype).to(device)


def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a.double(), b.double(), dim=-1)


def involution_index(d: int, device) -> torch.Tensor:
    return (-torch.arange(d, device=device)) % d


def project_f64(x: torch.Tensor) -> torch.Tensor:
    """Oracle projection in complex128 through the FULL DFT (independent of the fixed rfft path); a zero bin
    gets phase 0, as in the fixed convention."""
    X = torch.fft.fft(x.double())
    mag = X.abs()
    P = torch.where(mag > 0, X / torch.where(mag > 0, mag, torch.ones_like(mag)), torch.ones_like(X))
    return torch.fft.ifft(P).real


def fit_exponent(sizes, times) -> float:
    """Slope of log(time) vs log(size): ~1.0-1.2 for O(d log d), ~2 for O(d^2)."""
    return float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float)), 1)[0])


def time_ms(fn, quick: bool, *, low: bool = False) -> float:
    """Median ms of `fn` (suite.timing.measure); `low=True` returns the lower quartile instead, for fits of
    time vs size, where a sample disturbed by another process would bend the slope."""
    with torch.no_grad():
        t = measure(fn, warmup=1, repeats=3 if quick else 5, min_time=0.01 if quick else 0.05,
                    max_time=1.0 if quick else 4.0)
    return (t.q25 if low else t.median) * 1e3


def codebook_accuracy(d: int, k: int, items: int, trials: int, gen: torch.Generator, *, keys: str = "gauss",
                      unbinder=hg.unbind, dist: str = "gauss", device="cpu") -> tuple[float, float]:
    """Retrieve filler 0 from a superposition of k key (*) filler pairs, clean up against the codebook.

    Returns (accuracy, mean cosine of the raw unbound vector with the true filler)."""
    codebook = draw(dist, items, d, gen=gen).to(device)
    key = draw(dist, trials, k, d, gen=gen).to(device)
    if keys == "projected":
        key = hg.project(key)
    idx = torch.randint(0, items, (trials, k), generator=gen).to(device)
    z = hg.bind(key, codebook[idx]).sum(1)
    out = unbinder(z, key[:, 0])
    sims = F.normalize(out.double(), dim=-1) @ F.normalize(codebook.double(), dim=-1).T
    acc = (sims.argmax(-1) == idx[:, 0]).double().mean().item()
    return acc, cos(out, codebook[idx[:, 0]]).mean().item()


def draw(dist: str, *shape: int, gen: torch.Generator) -> torch.Tensor:
    """Vectors from the distributions compared in H4 (all float32)."""
    d = shape[-1]
    if dist == "gauss":
        return gauss(*shape, gen=gen)
    if dist == "sphere":
        return F.normalize(torch.randn(*shape, generator=gen), dim=-1)
    if dist == "uniform01":
        return torch.rand(*shape, generator=gen) / math.sqrt(d / 3)
    if dist == "uniform01_projected":
        return hg.project(torch.rand(*shape, generator=gen))
    if dist == "relu_gauss":
        return torch.relu(torch.randn(*shape, generator=gen)) * math.sqrt(2 / d)
    raise ValueError(f"unknown distribution {dist!r}")


def _fig(title: str, xlabel: str, ylabel: str, *, logx=False, logy=False):
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot(111)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    return fig, ax


# ============================================================================================ pairs
def _two_vectors(size, device, dtype, gen):
    return gauss(BATCH, size, gen=gen, dtype=dtype, device=device), gauss(BATCH, size, gen=gen, dtype=dtype, device=device)


def _one_vector(size, device, dtype, gen):
    return (gauss(BATCH, size, gen=gen, dtype=dtype, device=device),)


def _superposed(size, device, dtype, gen):
    """z = sum of 4 key (*) filler pairs, and the first key: the realistic input of an unbinding."""
    keys = gauss(4, BATCH, size, gen=gen, dtype=torch.float64)
    fill = gauss(4, BATCH, size, gen=gen, dtype=torch.float64)
    z = nv.circular_conv_direct(keys, fill).sum(0) if size <= 64 else hg.bind(keys, fill).sum(0)
    return z.to(dtype).to(device), keys[0].to(dtype).to(device)


def _zero_mean(size, device, dtype, gen):
    """Exactly zero-mean vectors (so the DC bin is exactly 0): v - roll(v) for small integers v, scaled by a
    power of two so every sum stays exact. What a mean-subtracted or normalised layer output looks like."""
    v = torch.randint(-3, 4, (BATCH, size), generator=gen).to(torch.float64)
    return (((v - v.roll(1, -1)) / 32).to(dtype).to(device),)


def _layer_inputs(size, device, dtype, gen):
    return gauss(CIRC_BATCH, size, gen=gen, dtype=dtype, device=device), gauss(size, gen=gen, dtype=dtype, device=device)


def _bind_oracle(x, y):
    return nv.circular_conv_direct(x.double(), y.double())


def _unbind_oracle(z, y):
    return nv.circular_conv_direct(z.double(), y.double()[..., involution_index(y.shape[-1], y.device)])


def _project_oracle(x):
    return project_f64(x)


def _phasor_oracle(x, y):
    return nv.circular_conv_direct(project_f64(x), project_f64(y))


def _circ_oracle(x, w):
    return nv.circular_conv_direct(x.double(), w.double())


def torchhd_unbind(z, y):
    """torchhd's HRR unbinding: `bind(z, y.inverse())` with `inverse() = roll(flip(y), 1)` and the fft bind."""
    return nv.bind_fft(z, torch.roll(torch.flip(y, dims=(-1,)), 1, dims=-1))


def unfused_phasor_bind(x, y):
    """The fixed building blocks unfused, `bind(project(x), project(y))` (the issue's ~1.6x-slower version)."""
    return hg.bind(hg.project(x), hg.project(y))


def _skip_direct(impl, size, device):
    if impl == "direct" and size > 256:
        return f"O(d^2) definition at B={BATCH}, d={size} takes seconds per call; timed only up to d=256"
    return None


def _skip_dense(impl, size, device):
    if impl == "naive" and size > DENSE_MAX:
        gb = size * size * 12 / 2**30
        return f"dense {size}x{size} circulant (float32 + int64 index) needs {gb:.1f} GB per call"
    return None


PAIRS = [
    Pair(name="holographic.bind", naive=nv.bind_fft, fixed=hg.bind, make_inputs=_two_vectors,
         sizes=(64, 256, 1024, 4096), quick_sizes=(64,), oracle=_bind_oracle, claim="H2", size_label="d",
         description=f"circular convolution of B={BATCH} pairs: torchhd's ifft(fft*fft).real vs "
                     "irfft(rfft*rfft, n=d); oracle: the O(d^2) definition in float64",
         variants={"direct": nv.circular_conv_direct}, skip=_skip_direct),
    Pair(name="holographic.unbind", naive=torchhd_unbind, fixed=hg.unbind, make_inputs=_superposed,
         sizes=(64, 256, 1024, 4096), quick_sizes=(64,), oracle=_unbind_oracle, size_label="d",
         description=f"unbinding one key from a superposition of 4 pairs (B={BATCH}): torchhd's "
                     "bind(z, roll(flip(y), 1)) vs the fixed correlation irfft(Z conj(Y), n=d); oracle: the "
                     "correlation by the O(d^2) definition in float64. Variant exact_inverse (torchhd "
                     "exact_inverse, division by the spectrum) computes a different operator: its 'error' is "
                     "its distance from the stable correlation (retrieval cost: study holographic.exact_inverse)",
         variants={"exact_inverse": nv.unbind_exact}),
    Pair(name="holographic.project", naive=nv.project_fft, fixed=hg.project, make_inputs=_one_vector,
         sizes=(64, 256, 1024, 4096), quick_sizes=(64,), oracle=_project_oracle, claim="H2", size_label="d",
         description=f"unitary projection of B={BATCH} vectors: the hrr package's ifft(X/|X|).real + nan_to_num "
                     "vs irfft(X/|X|, n=d) with zero bins -> phase 0; variant: the report's 2.3.1 snippet "
                     "X/(|X|+eps); oracle: complex128 full-DFT projection",
         variants={"report_snippet": nv.project_snippet}),
    Pair(name="holographic.project_zero_mean", naive=nv.project_fft, fixed=hg.project, make_inputs=_zero_mean,
         sizes=(64, 1024), quick_sizes=(64,), oracle=_project_oracle, size_label="d",
         description=f"unitary projection of B={BATCH} exactly zero-mean vectors (DC bin = 0): the hrr package's "
                     "ifft(X/|X|).real + nan_to_num returns all zeros (the NaN of the 0/0 bin spreads to every "
                     "sample); without nan_to_num it is all NaN; the report's X/(|X|+eps) leaves the DC bin at 0; "
                     "the fixed projection maps it to phase 0. Oracle: complex128 projection with that convention",
         variants={"report_snippet": nv.project_snippet, "no_nan_to_num": nv.project_fft_no_guard}),
    Pair(name="holographic.phasor_bind", naive=nv.phasor_bind_fft, fixed=hg.phasor_bind, make_inputs=_two_vectors,
         sizes=(64, 256, 1024, 4096), quick_sizes=(64,), oracle=_phasor_oracle, claim="H3", size_label="d",
         description=f"phasor binding of B={BATCH} pairs: hrr projection + torchhd bind (6 complex FFTs) vs the "
                     "fused irfft(sgn(X' Y'), n=d) (3 real FFTs); variants: the report's 2.3.1 snippet and the "
                     "unfused bind(project(x), project(y)); oracle: complex128 projection + O(d^2) definition",
         variants={"report_snippet": nv.phasor_bind_snippet, "unfused": unfused_phasor_bind}),
    Pair(name="holographic.circulant", naive=nv.circulant_dense, fixed=hg.circulant_linear,
         make_inputs=_layer_inputs, sizes=(64, 256, 1024, 4096, 16384), quick_sizes=(256,), oracle=_circ_oracle,
         claim="H6", size_label="N",
         description=f"circulant layer y = w (*) x on a batch of {CIRC_BATCH}: materialised N x N matrix + matmul "
                     "vs FFT (CirculantLinear's forward); oracle: the O(N^2) definition in float64",
         skip=_skip_dense),
]


# ============================================================================================ studies
@threads(1)
def study_nesting(ctx: StudyContext) -> StudyResult:
    """Recovery cosine of a filler after L nested bindings and L unbindings (d = 1024)."""
    d, n = 1024, (32 if ctx.quick else 128)
    depths = [1, 2, 4, 8, 16] if ctx.quick else list(range(1, 17))
    gen = ctx.generator(1)
    b = gauss(n, d, gen=gen, dtype=torch.float64)
    keys = gauss(max(depths), n, d, gen=gen, dtype=torch.float64)
    variants = {
        "naive: Gaussian keys, torchhd bind + involution": (lambda k: k, nv.bind_fft, hg.unbind),
        "naive: Gaussian keys, exact inverse": (lambda k: k, nv.bind_fft, nv.unbind_exact),
        "report snippet: X/(|X|+eps) keys": (nv.project_snippet, hg.bind, hg.unbind),
        "fixed: projected (phasor) keys": (hg.project, hg.bind, hg.unbind),
    }
    rows = []
    for name, (prep, bind, unbind) in variants.items():
        for dtype in (torch.float32, torch.float64):
            ks = prep(keys.to(dtype))
            for L in depths:
                z = b.to(dtype)
                for i in range(L):
                    z = bind(ks[i], z)
                for i in reversed(range(L)):
                    z = unbind(z, ks[i])
                rows.append(dict(method=name, dtype=str(dtype).replace("torch.", ""), L=L,
                                 recovery_cos=cos(z, b).mean().item(),
                                 nonfinite=int((~torch.isfinite(z)).sum())))
    df = pd.DataFrame(rows)
    fig, ax = _fig(f"Nested binding, d={d} (float32)", "nesting depth L (bindings)", "recovery cosine")
    for name, g in df[df.dtype == "float32"].groupby("method", sort=False):
        ax.plot(g.L, g.recovery_cos, marker="o", label=name)
    ax.legend(fontsize=7)
    f32 = df[df.dtype == "float32"].set_index(["method", "L"]).recovery_cos
    naive16 = f32[("naive: Gaussian keys, torchhd bind + involution", 16)]
    fixed16 = f32[("fixed: projected (phasor) keys", 16)]
    ok = fixed16 > 1 - 1e-4 and naive16 < 0.5
    verdict = Verdict("H3", "confirmed" if ok else "refuted",
                      f"nested recovery at L=16, d={d}, float32: phasor keys {fixed16:.6f} vs Gaussian keys "
                      f"{naive16:.3f} (confirmed if phasor > 1-1e-4 and Gaussian < 0.5)", value=float(fixed16))
    naive_row = ", ".join(f"L={L}: {f32[('naive: Gaussian keys, torchhd bind + involution', L)]:.2f}"
                          for L in (1, 2, 4, 8, 16))
    return StudyResult(table=df, figure=fig, verdicts=[verdict],
                       notes=[f"Gaussian keys (involution): {naive_row} (anchor 0.72, 0.52, 0.31, 0.17, 0.09).",
                              "The exact inverse also recovers nested single pairs (no superposition), to within "
                              "the conditioning of the key spectra; it fails under superposition (study "
                              "holographic.exact_inverse)."],
                       key=f"L=16 recovery: Gaussian {naive16:.2f}, phasor {fixed16:.4f}")


@threads(1)
def study_superposition(ctx: StudyContext) -> StudyResult:
    """Codebook retrieval of one filler from k superposed pairs, Gaussian vs projected keys (d = 256)."""
    d, items, trials = 256, 1000, (200 if ctx.quick else 1000)
    ks = [1, 2, 4, 8, 16, 32, 64]
    rows = []
    for keys in ("gauss", "projected"):
        for k in ks:
            acc, c = codebook_accuracy(d, k, items, trials, ctx.generator(100 + k), keys=keys)
            rows.append(dict(keys=keys, k=k, accuracy=acc, mean_cos=c, theory_cos=1 / math.sqrt(k + (keys == "gauss"))))
    df = pd.DataFrame(rows)
    fig, ax = _fig(f"Superposition retrieval, d={d}, codebook {items}", "superposed pairs k", "retrieval accuracy",
                   logx=True)
    for keys, g in df.groupby("keys"):
        ax.plot(g.k, g.accuracy, marker="o", label=f"{keys} keys")
    ax.legend()
    t = df.set_index(["keys", "k"])
    gap = max(abs(t.accuracy[("projected", k)] - t.accuracy[("gauss", k)]) for k in ks)
    return StudyResult(table=df, figure=fig,
                       notes=[f"Projection does not buy capacity: the largest accuracy difference between projected "
                              f"and Gaussian keys over k in {ks} is {gap:.2f} (anchor at d=256: 80% vs 85% at k=16, "
                              "50% vs 40% at k=32). Mean cosine follows 1/sqrt(k+1) (Gaussian) vs 1/sqrt(k) "
                              "(projected)."],
                       key=f"k=16: Gaussian {t.accuracy[('gauss', 16)]:.0%}, projected {t.accuracy[('projected', 16)]:.0%}")


@threads(1)
def study_exact_inverse(ctx: StudyContext) -> StudyResult:
    """Exact inverse (division by the spectrum) vs involution under superposition (d = 256)."""
    d, items, trials = 256, 1000, (200 if ctx.quick else 1000)
    methods = {"exact inverse (torchhd exact_inverse)": ("gauss", nv.unbind_exact),
               "involution (Plate)": ("gauss", hg.unbind),
               "projected keys + involution": ("projected", hg.unbind)}
    rows = []
    for name, (keys, unb) in methods.items():
        for k in (1, 2, 4, 8, 16):
            acc, c = codebook_accuracy(d, k, items, trials, ctx.generator(200 + k), keys=keys, unbinder=unb)
            rows.append(dict(method=name, k=k, accuracy=acc, mean_cos=c))
    df = pd.DataFrame(rows)
    fig, ax = _fig(f"Unbinding under superposition, d={d}", "superposed pairs k", "retrieval accuracy", logx=True)
    for name, g in df.groupby("method", sort=False):
        ax.plot(g.k, g.accuracy, marker="o", label=name)
    ax.legend(fontsize=8)
    t = df.set_index(["method", "k"]).accuracy
    ex = [t[("exact inverse (torchhd exact_inverse)", k)] for k in (2, 4, 8)]
    inv = [t[("involution (Plate)", k)] for k in (2, 4, 8)]
    return StudyResult(table=df, figure=fig,
                       notes=[f"exact inverse retrieval at k=2,4,8: {ex[0]:.0%}, {ex[1]:.0%}, {ex[2]:.0%} vs involution "
                              f"{inv[0]:.0%}, {inv[1]:.0%}, {inv[2]:.0%} (anchor 95/65/25% vs 100%): dividing by small "
                              "spectral bins amplifies the other pairs' crosstalk."],
                       key=f"k=4: exact {ex[1]:.0%} vs involution {inv[1]:.0%}")


def _stack_ratios(weights: torch.Tensor, x: torch.Tensor, g: torch.Tensor,
                  bind=hg.bind) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward norm ratio ||z_L|| / ||x|| and gradient norm ratio ||dl/dx|| / ||dl/dz_L|| (l = <z_L, g>)."""
    x = x.clone().requires_grad_(True)
    z = x
    for w in weights:
        z = bind(z, w)
    (z * g).sum().backward()
    fwd = (z.detach().norm(dim=-1) / x.detach().norm(dim=-1))
    grad = x.grad.norm(dim=-1) / g.norm(dim=-1)
    return fwd, grad


INITS = {
    "default init U(+-1/sqrt d) (nn.Linear)": lambda L, d, gen: (torch.rand(L, d, generator=gen, dtype=torch.float64) * 2 - 1) / math.sqrt(d),
    "Gaussian N(0, 1/d) (HRR)": lambda L, d, gen: gauss(L, d, gen=gen, dtype=torch.float64),
    "report snippet X/(|X|+eps)": lambda L, d, gen: nv.project_snippet(gauss(L, d, gen=gen, dtype=torch.float64)),
    "phasor (projected)": lambda L, d, gen: hg.project(gauss(L, d, gen=gen, dtype=torch.float64)),
}


@threads(1)
def study_gradient_depth(ctx: StudyContext) -> StudyResult:
    """Signal and gradient norms through L stacked circulant (binding) layers, by initialisation (d = 256)."""
    d, seeds = 256, (8 if ctx.quick else 32)
    depths = [1, 2, 4, 8, 16, 32]
    gen = ctx.generator(300)
    x = gauss(seeds, d, gen=gen, dtype=torch.float64)
    g = gauss(seeds, d, gen=gen, dtype=torch.float64)
    rows = []
    for name, init in INITS.items():
        for L in depths:
            w = init(L, d, gen).unsqueeze(1)  # [L, 1, d]: one kernel per layer, shared over the batch
            fwd, grad = _stack_ratios(w, x, g)
            rows.append(dict(init=name, L=L, norm_ratio_median=fwd.median().item(),
                             grad_ratio_median=grad.median().item(), grad_ratio_min=grad.min().item(),
                             grad_ratio_max=grad.max().item()))
    df = pd.DataFrame(rows)
    fig, ax = _fig(f"Gradient norm through L circulant layers, d={d}", "layers L", "||dl/dx|| / ||dl/dz_L|| (median)",
                   logx=True, logy=True)
    for name, gdf in df.groupby("init", sort=False):
        ax.plot(gdf.L, gdf.grad_ratio_median, marker="o", label=name)
    ax.legend(fontsize=7)
    t = df.set_index(["init", "L"])
    dflt = t.grad_ratio_median[("default init U(+-1/sqrt d) (nn.Linear)", 16)]
    gaus = t.grad_ratio_median[("Gaussian N(0, 1/d) (HRR)", 16)]
    ph = df[df.init == "phasor (projected)"]
    ph_dev = float(max((ph.grad_ratio_max - 1).abs().max(), (ph.grad_ratio_min - 1).abs().max(),
                       (ph.norm_ratio_median - 1).abs().max()))
    per_layer = dflt ** (1 / 16)
    h1 = (dflt < 0.1 or dflt > 10) and ph_dev < 1e-6
    verdicts = [
        Verdict("H1", "confirmed" if h1 else ("qualified" if ph_dev < 1e-6 else "refuted"),
                f"gradient norm ratio after 16 circulant layers (d={d}, median of {seeds}): default nn.Linear init "
                f"{dflt:.2e} ({per_layer:.3f} per layer, geometric), Gaussian N(0,1/d) {gaus:.2e}; phasor kernels "
                f"deviate from 1 by at most {ph_dev:.1e} at every L<=32 (confirmed if default < 0.1 or > 10 and "
                "phasor within 1e-6)", value=float(dflt)),
        Verdict("H3", "confirmed" if ph_dev < 1e-6 else "refuted",
                f"phasor (unit-spectrum) layers keep ||z_L||/||x|| and the gradient ratio at 1 within {ph_dev:.1e} "
                f"for L up to 32 (float64, d={d}; threshold 1e-6)", value=ph_dev),
    ]
    return StudyResult(table=df, figure=fig, verdicts=verdicts,
                       notes=["With nn.Linear's default U(+-1/sqrt d) init each layer multiplies E|W_k|^2 by 1/3: "
                              "norms shrink like 3^(-L/2). N(0, 1/d) kernels keep the MEAN energy but each bin's "
                              "gain is a product of L random factors (log-normal): the median shrinks, a few bins "
                              "grow, so the spread between min and max columns widens with L."],
                       key=f"L=16 grad ratio: default {dflt:.1e}, Gaussian {gaus:.1e}, phasor 1+-{ph_dev:.0e}")


@threads(1)
def study_fft_vs_rfft(ctx: StudyContext) -> StudyResult:
    """H2: what actually breaks: fft vs rfft, irfft without n, frequency-domain phases, zero bins."""
    gen = ctx.generator(400)
    n = 64 if ctx.quick else 256
    rows = []
    for d in (1023, 1024):
        x, y = gauss(n, d, gen=gen), gauss(n, d, gen=gen)
        full = torch.fft.ifft(torch.fft.fft(x) * torch.fft.fft(y))
        rows.append(dict(check="imaginary leakage of ifft(fft(x) fft(y)), ||Im|| / ||Re||", d=d,
                         value=(full.imag.norm() / full.real.norm()).item()))
        Xp = torch.fft.fft(x)
        Pfull = torch.fft.ifft(Xp / Xp.abs())
        rows.append(dict(check="imaginary leakage of ifft(X/|X|) (full-fft projection)", d=d,
                         value=(Pfull.imag.norm() / Pfull.real.norm()).item()))
        pf = nv.project_fft(x)
        rows.append(dict(check="full-fft projection: max | ||pi(x)|| - 1 |", d=d,
                         value=(pf.norm(dim=-1) - 1).abs().max().item()))
        rows.append(dict(check="full-fft projection vs rfft projection, relative difference", d=d,
                         value=(pf - hg.project(x)).norm().item() / hg.project(x).norm().item()))
        pn = nv.project_irfft_no_n(x)
        ref = hg.project(x)
        if pn.shape[-1] != d:
            pn = torch.cat([pn, torch.zeros(*pn.shape[:-1], d - pn.shape[-1])], -1)
        rows.append(dict(check="irfft without n: relative error vs irfft(n=d) (output has "
                               f"{nv.project_irfft_no_n(x).shape[-1]} samples)", d=d,
                         value=((pn - ref).norm() / ref.norm()).item()))
        a = nv.random_phasor_fft(n, d=d, generator=gen)
        rows.append(dict(check="phases drawn in the full spectrum, .real of ifft: mean ||a||^2", d=d,
                         value=a.pow(2).sum(-1).mean().item()))
        rows.append(dict(check="phases drawn in the full spectrum: single-pair recovery cosine", d=d,
                         value=cos(hg.unbind(hg.bind(a, y), a), y).mean().item()))
        ah = hg.random_phasor(n, d=d, generator=gen)
        rows.append(dict(check="phases through a real vector (project): mean ||a||^2", d=d,
                         value=ah.pow(2).sum(-1).mean().item()))
        rows.append(dict(check="phases through a real vector (project): single-pair recovery cosine", d=d,
                         value=cos(hg.unbind(hg.bind(ah, y), ah), y).mean().item()))
    z = torch.randint(-3, 4, (n, 1024), generator=gen).float()
    z = z - z.roll(1, -1)  # exactly zero-mean: DC bin exactly 0
    rows += [
        dict(check="zero-mean input: NaN fraction of ifft(X/|X|).real (no guard)", d=1024,
             value=torch.isnan(nv.project_fft_no_guard(z)).double().mean().item()),
        dict(check="zero-mean input: mean norm of hrr project_fft (nan_to_num)", d=1024,
             value=nv.project_fft(z).norm(dim=-1).mean().item()),
        dict(check="zero-mean input: |DC bin| of the report snippet's projection", d=1024,
             value=torch.fft.rfft(nv.project_snippet(z))[..., 0].abs().mean().item()),
        dict(check="zero-mean input: mean norm of the fixed projection", d=1024,
             value=hg.project(z).norm(dim=-1).mean().item()),
    ]
    df = pd.DataFrame(rows)
    v = df.set_index(["check", "d"]).value
    leak = float(df[df.check.str.startswith("imaginary leakage")].value.max())
    norm_dev = float(df[df.check.str.startswith("full-fft projection: max")].value.max())
    half = v[("phases drawn in the full spectrum, .real of ifft: mean ||a||^2", 1024)]
    rec = v[("phases drawn in the full spectrum: single-pair recovery cosine", 1024)]
    noN = v[(df[df.check.str.startswith("irfft without n")].check.iloc[0], 1023)]
    if leak > 1e-4 or norm_dev > 1e-4:
        verdict = "confirmed"
    elif half < 0.75 or noN > 0.1:
        verdict = "qualified"
    else:
        verdict = "refuted"
    ev = (f"fft of real vectors leaks only rounding (||Im||/||Re|| <= {leak:.1e}) and the full-fft projection keeps "
          f"||pi(x)|| = 1 within {norm_dev:.1e}: X/|X| keeps Hermitian symmetry, so fft-vs-rfft is not the failure; "
          f"the real hazards are phases drawn per bin in the full spectrum (||a||^2 = {half:.3f}, recovery "
          f"{rec:.3f}) and irfft without n on odd d (relative error {noN:.2f}) (thresholds: leakage > 1e-4 confirms; "
          "else a hazard with ||a||^2 < 0.75 or error > 0.1 qualifies)")
    fig, ax = _fig("Hazards of the Fourier interface (d=1024 / 1023)", "", "value (log)", logy=True)
    vals = df.value.clip(lower=1e-17)
    ax.barh(range(len(df)), vals)
    ax.set_xscale("log")
    ax.set_yscale("linear")
    ax.set_yticks(range(len(df)))
    ax.set_yticklabels([f"{c[:70]} (d={d})" for c, d in zip(df.check, df.d)], fontsize=6)
    ax.set_xlabel("value (dimensionless, log scale; 1e-17 stands for 0)")
    ax.set_ylabel("")
    fig.set_size_inches(10, 7)
    fig.subplots_adjust(left=0.55, right=0.98, top=0.95, bottom=0.08)
    return StudyResult(table=df, figure=fig, verdicts=[Verdict("H2", verdict, ev, value=leak)],
                       key=f"fft leakage {leak:.0e}; frequency-domain phases ||a||^2 {half:.2f}")


@threads(1)
def study_quasi_orthogonality(ctx: StudyContext) -> StudyResult:
    """H4: distributions that are (not) quasi-orthogonal, and what binding then encodes (d = 256)."""
    d, items, trials = 256, 500, (200 if ctx.quick else 1000)
    dists = {"gauss": "Gaussian N(0, 1/d)", "sphere": "uniform on the hypersphere",
             "relu_gauss": "ReLU(Gaussian) (non-negative)", "uniform01": "uniform[0, 1] (non-zero mean)",
             "uniform01_projected": "uniform[0, 1], projected (fixed)"}
    rows = []
    for i, (key, label) in enumerate(dists.items()):
        gen = ctx.generator(500 + i)
        a, b = draw(key, 500, d, gen=gen), draw(key, 500, d, gen=gen)
        ab = hg.bind(a, b)
        acc, c = codebook_accuracy(d, 8, items, trials, ctx.generator(550 + i), dist=key)
        rows.append(dict(distribution=label, mean_abs_cos_independent=cos(a, b).abs().mean().item(),
                         cos_bound_vs_factor=cos(ab, a).abs().mean().item(),
                         single_pair_recovery_cos=cos(hg.unbind(ab, a), b).mean().item(),
                         retrieval_k8=acc))
    df = pd.DataFrame(rows)
    t = df.set_index("distribution")
    g_acc, u_acc = t.retrieval_k8[dists["gauss"]], t.retrieval_k8[dists["uniform01"]]
    g_cos, u_cos = t.mean_abs_cos_independent[dists["gauss"]], t.mean_abs_cos_independent[dists["uniform01"]]
    p_acc = t.retrieval_k8[dists["uniform01_projected"]]
    ok = u_acc <= 0.5 * g_acc and u_cos > 0.5 and g_cos < 0.1
    fig, ax = _fig(f"Quasi-orthogonality and retrieval (d={d}, k=8, codebook {items})", "retrieval accuracy", "")
    ax.barh(range(len(df)), df.retrieval_k8)
    ax.set_yticks(range(len(df)))
    ax.set_yticklabels(df.distribution, fontsize=7)
    fig.tight_layout()
    return StudyResult(table=df, figure=fig, verdicts=[Verdict(
        "H4", "confirmed" if ok else "refuted",
        f"uniform[0,1] vectors: mean |cos| between independent vectors {u_cos:.2f} (Gaussian {g_cos:.3f}), retrieval "
        f"of 1 of 8 superposed pairs {u_acc:.0%} vs {g_acc:.0%}; projecting them restores {p_acc:.0%} (confirmed if "
        "uniform accuracy <= half the Gaussian one, its |cos| > 0.5 and Gaussian |cos| < 0.1)", value=float(u_acc))],
        notes=["The report's example 'uniform on the hypersphere' is a GOOD (quasi-orthogonal) distribution; the "
               "failure is a non-zero mean (all-positive vectors): the DC bin dominates every binding."],
        key=f"k=8 retrieval: Gaussian {g_acc:.0%}, uniform[0,1] {u_acc:.0%}, projected {p_acc:.0%}")


def _fit_operator(kind: str, L: int, target: torch.Tensor, steps: int, seed: int) -> float:
    """Fit a stack of L layers ("dense": one d x d matrix) to a dense target map with the same optimiser and
    budget for every kind (Adam, `steps` steps, cosine-decayed lr); returns the relative Frobenius residual."""
    d = target.shape[0]
    gen = torch.Generator().manual_seed(seed)
    ws = torch.nn.Parameter(gauss(L, d, d, gen=gen, dtype=torch.float64) if kind == "dense"
                            else gauss(L, d, gen=gen, dtype=torch.float64))
    ds = torch.nn.Parameter(torch.ones(L, d, dtype=torch.float64))
    opt = torch.optim.Adam([ws, ds] if kind == "circulant+diagonal" else [ws], lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    eye = torch.eye(d, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        z = eye
        for i in range(L):
            z = z @ ws[i].T if kind == "dense" else hg.bind(z, ws[i])
            if kind == "circulant+diagonal":
                z = z * ds[i]
        loss = (z - target.T).pow(2).sum() / target.pow(2).sum()  # rows of z = images of basis vectors
        loss.backward()
        opt.step()
        sched.step()
    return math.sqrt(loss.item())


@threads(1)
def study_expressiveness(ctx: StudyContext) -> StudyResult:
    """H5: how well a circulant layer (or a stack) can represent a random dense linear map."""
    d = 32 if ctx.quick else 64
    steps = 200 if ctx.quick else 800
    gen = ctx.generator(600)
    W = gauss(d, d, gen=gen, dtype=torch.float64)
    diag = hg.circulant_index(d)
    # reference only: best circulant in Frobenius norm, W averaged along each wrapped diagonal
    w_best = torch.zeros(d, dtype=torch.float64).index_add_(0, diag.flatten(), W.flatten()) / d
    best = ((W - hg.circulant_matrix(w_best)).norm() / W.norm()).item()
    # every fitted row: same target, same optimiser and step budget (_fit_operator)
    dense = _fit_operator("dense", 1, W, steps, ctx.seed + 601)
    rows = [dict(model="dense layer (fitted)", layers=1, params=d * d, residual=dense),
            dict(model="circulant layer (closed-form best)", layers=1, params=d, residual=best)]
    for L in ([1, 4] if ctx.quick else [1, 2, 4, 8]):
        for kind in ("circulant stack", "circulant+diagonal"):
            res = _fit_operator(kind, L, W, steps, ctx.seed + 601)
            rows.append(dict(model=kind, layers=L, params=L * d * (2 if kind == "circulant+diagonal" else 1),
                             residual=res))
    conv_target = hg.circulant_matrix(gauss(d, gen=gen, dtype=torch.float64))
    rows.append(dict(model="circulant layer on a circulant target (fitted)", layers=1, params=d,
                     residual=_fit_operator("circulant stack", 1, conv_target, steps, ctx.seed + 601)))
    df = pd.DataFrame(rows)
    df.insert(0, "d", d)
    df.insert(len(df.columns), "adam_steps", steps)
    stacks = df[df.model == "circulant stack"]
    acdc = df[df.model == "circulant+diagonal"]
    circ = float(stacks.residual.min())
    conv = float(df.residual.iloc[-1])
    fig, ax = _fig(f"Fitting a random dense {d}x{d} map", "layers", "relative residual ||M - W||_F / ||W||_F", logx=True)
    ax.plot(stacks.layers, stacks.residual, marker="o", label="stacked circulant")
    ax.plot(acdc.layers, acdc.residual, marker="s", label="circulant + diagonal (ACDC-like)")
    ax.axhline(best, ls="--", color="k", label="best single circulant (closed form)")
    ax.axhline(dense, ls=":", color="g", label="dense (fitted)")
    ax.legend(fontsize=7)
    # Measured, could come out either way: the optimiser must be able to fit (dense and circulant-target rows
    # reach ~0) while no pure circulant stack gets below 0.9 on the dense target.
    ok = circ > 0.9 and dense < 1e-3 and conv < 1e-3
    return StudyResult(table=df, figure=fig, verdicts=[Verdict(
        "H5", "confirmed" if ok else "refuted",
        f"random dense {d}x{d} target, each model fitted by Adam ({steps} steps, same budget): dense layer residual "
        f"{dense:.1e}, circulant stacks of 1-{int(stacks.layers.max())} layers {circ:.3f} at best (closed-form best "
        f"circulant {best:.3f}, expected ~sqrt(1-1/d) = {math.sqrt(1 - 1 / d):.3f}; a product of circulants is "
        "circulant), "
        f"with diagonals in between {acdc.residual.min():.3f}; the same fit reaches {conv:.1e} on a circulant "
        "target (confirmed if every pure circulant stack stays > 0.9 while the fitted dense layer and the "
        "circulant-on-circulant fit reach < 1e-3)", value=circ)],
        notes=["The report's fix 'stack several layers' helps only with a non-circulant (e.g. diagonal or "
               "nonlinear) layer in between: stacked circulants collapse to one circulant."],
        key=f"fitted circulant residual {circ:.3f} vs fitted dense {dense:.0e}")


@threads(1)
def study_commutativity(ctx: StudyContext) -> StudyResult:
    """H7: HRR binding commutes; GHRR does not, with diagonality as the control."""
    D = 500 if ctx.quick else 2000
    gen = ctx.generator(700)
    a, b = gauss(64, 1024, gen=gen), gauss(64, 1024, gen=gen)
    hrr = ((hg.bind(a, b) - hg.bind(b, a)).norm() / hg.bind(a, b).norm()).item()
    rows = [dict(model="HRR (circular convolution)", m=1, diagonality=float("nan"),
                 similarity_ab_ba=cos(hg.bind(a, b), hg.bind(b, a)).mean().item(), expected=1.0, relative_diff=hrr)]
    for m in (1, 2, 3, 4):
        x, y = hg.ghrr_random(D=D, m=m, generator=gen), hg.ghrr_random(D=D, m=m, generator=gen)
        rows.append(dict(model="GHRR", m=m, diagonality=0.0,
                         similarity_ab_ba=hg.ghrr_similarity(hg.ghrr_bind(x, y), hg.ghrr_bind(y, x)).item(),
                         expected=1 / m**2, relative_diff=float("nan")))
    for dg in (0.25, 0.5, 0.75, 0.9, 1.0):
        x, y = (hg.ghrr_random(D=D, m=3, diagonality=dg, generator=gen) for _ in range(2))
        rows.append(dict(model="GHRR", m=3, diagonality=dg,
                         similarity_ab_ba=hg.ghrr_similarity(hg.ghrr_bind(x, y), hg.ghrr_bind(y, x)).item(),
                         expected=float("nan"), relative_diff=float("nan")))
    df = pd.DataFrame(rows)
    haar = df[(df.model == "GHRR") & (df.diagonality == 0.0) & (df.m >= 2)]
    max_dev = float((haar.similarity_ab_ba - haar.expected).abs().max())
    sweep = df[(df.model == "GHRR") & (df.m == 3)].sort_values("diagonality")
    monotone = bool(np.all(np.diff(sweep.similarity_ab_ba.values) > -0.02))
    ok = hrr < 1e-5 and max_dev < 0.05 and float(haar.similarity_ab_ba.max()) < 0.5 and monotone
    fig, ax = _fig(f"GHRR commutativity, m=3, D={D}", "diagonality", "delta(a*b, b*a)")
    ax.plot(sweep.diagonality, sweep.similarity_ab_ba, marker="o", label="GHRR m=3")
    ax.axhline(1.0, ls="--", color="k", label="HRR (commutative)")
    ax.legend()
    sims = ", ".join(f"m={int(r.m)}: {r.similarity_ab_ba:.3f}" for r in haar.itertuples())
    return StudyResult(table=df, figure=fig, verdicts=[Verdict(
        "H7", "confirmed" if ok else "refuted",
        f"HRR: ||a*b - b*a|| / ||a*b|| = {hrr:.1e} (commutative); GHRR with Haar slots delta(a*b, b*a) = {sims} "
        f"(1/m^2 within {max_dev:.3f}), rising monotonically to 1 with diagonality (confirmed if HRR < 1e-5, GHRR "
        "within 0.05 of 1/m^2 and < 0.5)", value=float(haar.similarity_ab_ba.max()))],
        key=f"delta(ab, ba): HRR 1, GHRR m=2..4 {sims}")


@threads(1)
def study_circulant_crossover(ctx: StudyContext) -> StudyResult:
    """H6: parameters and time of a circulant layer (FFT) vs dense layers, and where the FFT wins."""
    sizes = [256, 1024, 4096] if ctx.quick else [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    batches = [1, 64]
    gen = ctx.generator(800)
    rows = []
    for B in batches:
        for N in sizes:
            x = gauss(B, N, gen=gen, device=ctx.device)
            w = gauss(N, gen=gen, device=ctx.device)
            C = hg.circulant_matrix(w).contiguous()
            rows.append(dict(batch=B, N=N, impl="FFT (CirculantLinear)", params=N,
                             ms=time_ms(lambda: hg.circulant_linear(x, w), ctx.quick, low=True)))
            rows.append(dict(batch=B, N=N, impl="dense matmul, prebuilt N x N weight", params=N * N,
                             ms=time_ms(lambda: x @ C.T, ctx.quick, low=True)))
            if N <= (1024 if ctx.quick else DENSE_MAX):
                rows.append(dict(batch=B, N=N, impl="dense circulant, materialised per call", params=N,
                                 ms=time_ms(lambda: nv.circulant_dense(x, w), ctx.quick, low=True)))
    df = pd.DataFrame(rows)
    fig, ax = _fig("Circulant layer: FFT vs dense", "N (features)", "median time per call (ms)", logx=True, logy=True)
    for (B, impl), g in df.groupby(["batch", "impl"], sort=False):
        ax.plot(g.N, g.ms, marker="o", ls="-" if B == 1 else "--", label=f"{impl}, B={B}")
    ax.legend(fontsize=6)
    top = sorted(sizes)[-3:]
    expo, crossover = {}, {}
    for (B, impl), g in df.groupby(["batch", "impl"]):
        gt = g[g.N.isin(top)]
        expo[(B, impl)] = fit_exponent(gt.N, gt.ms)
    for B in batches:
        t = df[df.batch == B].pivot(index="N", columns="impl", values="ms")
        faster = t.index[t["FFT (CirculantLinear)"] < t["dense matmul, prebuilt N x N weight"]]
        crossover[B] = int(faster.min()) if len(faster) else None
    df["fitted_exponent_top3"] = [expo[(r.batch, r.impl)] for r in df.itertuples()]
    fft_e = expo[(64, "FFT (CirculantLinear)")]
    dense_e = expo[(64, "dense matmul, prebuilt N x N weight")]
    Nmax = max(sizes)
    t64 = df[df.batch == 64].pivot(index="N", columns="impl", values="ms")
    gain = t64["dense matmul, prebuilt N x N weight"] / t64["FFT (CirculantLinear)"]
    speed, growth = float(gain[Nmax]), float(gain[Nmax] / gain[1024])
    # Timing-based part of the verdict uses ratios measured in the same run (robust to a shared machine):
    # the FFT must win clearly at the largest N and its advantage must grow with N (O(N log N) vs O(N^2)).
    ok = speed > 3 and growth > 1.5
    return StudyResult(table=df, figure=fig, verdicts=[Verdict(
        "H6", "confirmed" if ok else "qualified",
        f"parameters N vs N^2 by construction; at B=64 the FFT layer is {speed:.1f}x faster than a prebuilt dense "
        f"matmul at N={Nmax} and its advantage grows {growth:.1f}x from N=1024 to N={Nmax}; fitted time exponents "
        f"over N in {top}: FFT {fft_e:.2f}, dense {dense_e:.2f}; FFT faster from N={crossover[1]} (B=1) / "
        f"N={crossover[64]} (B=64) (confirmed if > 3x faster at the largest N and the advantage grows > 1.5x)",
        value=speed)],
        notes=[f"{torch.device(ctx.device).type.upper()} timings with {torch.get_num_threads()} intra-op CPU "
               "thread(s) (suite.timing.measure, lower quartile of the samples), so that the ratios reflect the "
               "work and not OpenMP hand-off on a shared machine; exponents over the three "
               "largest N, where per-call overhead no longer dominates. Anchor crossover (numpy): N ~ 512-1024 at "
               "batch 1, ~256 at batch 64. The per-call materialised circulant (naive) is slower than both at every N."],
        key=f"N={Nmax}, B=64: FFT {speed:.0f}x faster than dense; crossover N={crossover[1]} (B=1), {crossover[64]} (B=64)")


COMPLEXITY_OPS = {  # name: (function, largest d timed, batch)
    "tensor product x (x) y": (nv.tensor_bind, 1024, 4),
    "circular convolution, direct O(d^2)": (nv.circular_conv_direct, 1024, 4),
    "circular convolution, fft (torchhd)": (nv.bind_fft, 1 << 14, 64),
    "circular convolution, rfft (fixed bind)": (hg.bind, 1 << 14, 64),
    "phasor bind (fixed, fused)": (hg.phasor_bind, 1 << 14, 64),
    "holographic linear (CirculantLinear, FFT)": (hg.circulant_linear, 1 << 14, 64),
    "holographic linear, dense circulant": (nv.circulant_dense, 4096, 64),
}


@threads(1)
def study_complexity(ctx: StudyContext) -> StudyResult:
    """Time vs d for each binding op and the fitted exponent (the 'O(d log d)' column of Table 1).

    Each op has its own batch (4 for the d^2-memory ops, 64 otherwise); the exponent does not depend on it.
    Quick mode times only the three largest d of each op (enough for the fit)."""
    grid = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
    gen = ctx.generator(900)
    rows = []
    for name, (fn, dmax, B) in COMPLEXITY_OPS.items():
        sizes = [d for d in grid if d <= dmax]
        if ctx.quick:  # three sizes: up to 4096 for the O(d log d) ops, 2048 / 512 for the d^2-memory ones
            cap = 2048 if "dense" in name else 512 if dmax <= 1024 else 4096
            sizes = [d for d in sizes if d <= cap][-3:]
        for d in sizes:
            x, y = gauss(B, d, gen=gen, device=ctx.device), gauss(B, d, gen=gen, device=ctx.device)
            args = (x, y[0]) if "linear" in name else (x, y)
            rows.append(dict(op=name, d=d, batch=B, ms=time_ms(lambda: fn(*args), ctx.quick, low=True)))
    df = pd.DataFrame(rows)
    expo = {}
    for name, g in df.groupby("op", sort=False):
        g = g.sort_values("d").tail(3)
        expo[name] = fit_exponent(g.d, g.ms)
    df["fitted_exponent_top3"] = df.op.map(expo)
    fig, ax = _fig("Time vs dimension", "d", "median time per call (ms)", logx=True, logy=True)
    for name, g in df.groupby("op", sort=False):
        ax.plot(g.d, g.ms, marker="o", label=f"{name}, B={g.batch.iloc[0]} (slope {expo[name]:.2f})")
    ax.legend(fontsize=6)
    return StudyResult(table=df, figure=fig,
                       notes=["Timed with one intra-op thread (see holographic.circulant_crossover). "
                              "Exponent = slope of log(time) vs log(d) over the three largest d timed; O(d log d) "
                              "shows as ~1.0-1.3, O(d^2) as ~2. Small d is dominated by per-call overhead."],
                       key="; ".join(f"{k}: {v:.2f}" for k, v in expo.items()
                                     if k.startswith(("tensor", "circular convolution, rfft", "holographic linear ("))))


def study_speed_targets(ctx: StudyContext) -> StudyResult:
    """The issue's CPU performance targets, measured side by side in one run."""
    B, d = (128, 1024) if ctx.quick else (2048, 1024)
    Bc, N = 64, (1024 if ctx.quick else 4096)
    gen = ctx.generator(1000)
    x, y = gauss(B, d, gen=gen), gauss(B, d, gen=gen)
    key = hg.phasor_key(y)
    xc, w = gauss(Bc, N, gen=gen), gauss(N, gen=gen)
    fns = {
        "bind_fft (torchhd)": lambda: nv.bind_fft(x, y),
        "bind (fixed)": lambda: hg.bind(x, y),
        "phasor_bind_fft (hrr project + torchhd bind)": lambda: nv.phasor_bind_fft(x, y),
        "phasor_bind_snippet (report 2.3.1)": lambda: nv.phasor_bind_snippet(x, y),
        "bind(project(x), project(y)) (unfused)": lambda: unfused_phasor_bind(x, y),
        "phasor_bind (fixed, fused)": lambda: hg.phasor_bind(x, y),
        "phasor_bind with cached phasor_key": lambda: hg.phasor_bind(x, key),
        "circulant_dense (materialised)": lambda: nv.circulant_dense(xc, w),
        "circulant_linear (FFT)": lambda: hg.circulant_linear(xc, w),
    }
    rows = []
    prev = torch.get_num_threads()
    # full mode: the default thread count and one thread; quick mode (CI, small sizes): one thread only
    thread_settings = [1] if (ctx.quick or prev == 1) else [prev, 1]
    for n_threads in thread_settings:  # one thread too: robust when other processes share the cores
        with threads(n_threads):
            ms = {name: time_ms(fn, ctx.quick) for name, fn in fns.items()}
        rows += [dict(op=k, threads=n_threads, shape=(f"B={Bc}, N={N}" if "circulant" in k else f"B={B}, d={d}"),
                      ms=v) for k, v in ms.items()]
    df = pd.DataFrame(rows)
    targets = []
    for n_thr, g in df.groupby("threads", sort=False):
        ms = dict(zip(g.op, g.ms))
        r_bind = ms["bind_fft (torchhd)"] / ms["bind (fixed)"]
        r_phasor = ms["bind_fft (torchhd)"] / ms["phasor_bind (fixed, fused)"]
        r_key = ms["bind_fft (torchhd)"] / ms["phasor_bind with cached phasor_key"]
        r_circ = ms["circulant_dense (materialised)"] / ms["circulant_linear (FFT)"]
        targets += [
            dict(threads=n_thr, target="phasor_bind no slower than bind_fft", ratio=r_phasor, met=r_phasor >= 1.0),
            dict(threads=n_thr, target="bind >= 2.5x faster than bind_fft", ratio=r_bind, met=r_bind >= 2.5),
            dict(threads=n_thr, target=f"CirculantLinear >= 5x faster than circulant_dense (N={N}, B={Bc})",
                 ratio=r_circ, met=r_circ >= 5.0),
            dict(threads=n_thr, target="(info) phasor_bind with cached key vs bind_fft", ratio=r_key, met=None),
        ]
    tdf = pd.DataFrame(targets)
    df = pd.concat([df, tdf.rename(columns={"target": "op"})], ignore_index=True)
    notes = [f"{t.target} ({t.threads} thread(s)): {t.ratio:.2f}x"
             + ("" if t.met is None else (" -> met" if t.met else " -> MISSED")) for t in tdf.itertuples()]
    notes.append("All ratios are medians of suite.timing.measure from this one run. With other processes on the same "
                 "cores, multi-threaded wall times are dominated by OpenMP hand-off and memory-bandwidth sharing, which "
                 "hits the op with more kernel launches; the one-thread column is the robust comparison of the work.")
    if ctx.quick:
        notes.append(f"quick mode uses B={B} and N={N}; the issue's sizes (B=2048, d=1024; N=4096) run in full mode.")
    main = tdf[tdf.threads == thread_settings[0]].set_index("target").ratio
    g0 = df[(df.threads == thread_settings[0]) & df.ms.notna()]
    fig, ax = _fig(f"Speed at B={B}, d={d} (binding) and N={N}, B={Bc} (circulant), {thread_settings[0]} threads",
                   "median time (ms)", "")
    ax.barh(range(len(g0)), g0.ms)
    ax.set_yticks(range(len(g0)))
    ax.set_yticklabels(g0.op, fontsize=7)
    ax.set_xscale("log")
    fig.tight_layout()
    return StudyResult(table=df, figure=fig, notes=notes,
                       key=(f"vs bind_fft: bind {main['bind >= 2.5x faster than bind_fft']:.1f}x, phasor_bind "
                            f"{main['phasor_bind no slower than bind_fft']:.1f}x; circulant "
                            f"{main[f'CirculantLinear >= 5x faster than circulant_dense (N={N}, B={Bc})']:.0f}x"))


@threads(1)
def study_structure_by_construction(ctx: StudyContext) -> StudyResult:
    """X1: unit spectrum by construction (projected kernels) vs encouraged by a penalty in the loss.

    Task: 4 stacked circulant layers (d = 64) learn a random orthogonal circulant teacher stack from band-limited
    data (lowest quarter of the spectrum);
    one student projects its kernels in every forward pass (`CirculantLinear(unitary=True)`), the others add
    lambda * mean((|W_k| - 1)^2) to the loss. Afterwards: deviation of the spectra from 1, and how the trained
    block behaves on full-band inputs when stacked 32 layers deep (norm ratio)."""
    d, L, steps = 64, 4, (100 if ctx.quick else 400)
    gen = ctx.generator(1100)
    teacher = hg.project(gauss(L, d, gen=gen, dtype=torch.float64))
    # Training data excite only the lowest quarter of the frequencies: the task pins those bins of each kernel
    # and nothing else, so whatever keeps the other bins unit-modulus must come from the constraint.
    band = torch.zeros(d // 2 + 1, dtype=torch.float64)
    band[: d // 8 + 1] = 1
    xs = torch.fft.irfft(torch.fft.rfft(gauss(64, d, gen=gen, dtype=torch.float64)) * band, n=d)
    probe = gauss(64, d, gen=gen, dtype=torch.float64)  # full-band inputs for the 32-layer drift
    target = xs
    for i in range(L):
        target = hg.bind(target, teacher[i])
    rows = []
    for mode, lam in (("by construction (projected kernels)", 0.0), ("penalty lambda=0.1", 0.1),
                      ("penalty lambda=1", 1.0), ("no constraint", 0.0)):
        g = torch.Generator().manual_seed(ctx.seed + 1101)
        w = torch.nn.Parameter(gauss(L, d, gen=g, dtype=torch.float64))
        opt = torch.optim.Adam([w], lr=0.01)
        for _ in range(steps):
            opt.zero_grad()
            k = hg.project(w) if mode.startswith("by construction") else w
            z = xs
            for i in range(L):
                z = hg.bind(z, k[i])
            loss = (z - target).pow(2).sum(-1).mean()
            if lam:
                loss = loss + lam * (torch.fft.rfft(w).abs() - 1).pow(2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            k = hg.project(w) if mode.startswith("by construction") else w
            spec_dev = (torch.fft.rfft(k).abs() - 1).abs().max().item()
            z = probe
            for _ in range(32 // L):  # the trained block applied until 32 layers deep, on full-band inputs
                for i in range(L):
                    z = hg.bind(z, k[i])
            norm32 = (z.norm(dim=-1) / probe.norm(dim=-1)).median().item()
            zz = xs
            for i in range(L):
                zz = hg.bind(zz, k[i])
            task = ((zz - target).norm() / target.norm()).item()
        rows.append(dict(method=mode, steps=steps, task_rel_error=task, max_spectrum_deviation=spec_dev,
                         norm_ratio_32_layers=norm32))
    df = pd.DataFrame(rows)
    t = df.set_index("method")
    by_c = t.max_spectrum_deviation["by construction (projected kernels)"]
    drift = (df.set_index("method").norm_ratio_32_layers - 1).abs()
    pen_rows = [m for m in df.method if m.startswith("penalty")]
    best_pen = min(pen_rows, key=lambda m: drift[m])
    worst_pen = max(pen_rows, key=lambda m: drift[m])
    exact = by_c < 1e-10 and drift["by construction (projected kernels)"] < 1e-10
    if not exact:
        verdict = "refuted"
    elif drift[best_pen] > 1e-2:
        verdict = "confirmed"
    else:
        verdict = "qualified"
    ev = (f"after {steps} Adam steps on the same task, projected kernels have a unit spectrum to {by_c:.0e} and 32 stacked "
          f"trained layers keep the norm to {drift['by construction (projected kernels)']:.0e}; with a penalty the "
          f"result depends on lambda: {best_pen} reaches spectrum deviation {t.max_spectrum_deviation[best_pen]:.1e} "
          f"(32-layer norm drift {drift[best_pen]:.1e}), {worst_pen} leaves {t.max_spectrum_deviation[worst_pen]:.1e} "
          f"(drift {drift[worst_pen]:.1e}); no constraint: drift {drift['no constraint']:.1e} (confirmed if every "
          "penalty run drifts > 1e-2; qualified if construction is exact but a tuned penalty gets within 1e-2)")
    return StudyResult(table=df, verdicts=[Verdict("X1", verdict, ev, value=float(drift[worst_pen]))],
                       notes=["Holographic evidence only (orthogonality of circulant layers); the other domains "
                              "contribute their own X1 measurements. Construction is exact at every step and needs "
                              "no tuning; a penalty approaches it only with a large enough lambda and enough steps."],
                       key=f"spectrum deviation: construction {by_c:.0e}, {best_pen} "
                           f"{t.max_spectrum_deviation[best_pen]:.1e}, {worst_pen} {t.max_spectrum_deviation[worst_pen]:.1e}")


def study_binding_table(ctx: StudyContext) -> StudyResult:
    """Mirror of the research report's Table 1 (binding operations) with measured columns."""
    comp = ctx.result("holographic.complexity").table
    grad = ctx.result("holographic.gradient_depth").table
    nest = ctx.result("holographic.nesting").table
    expr = ctx.result("holographic.expressiveness").table
    comm = ctx.result("holographic.commutativity").table
    e = comp.groupby("op").fitted_exponent_top3.first()
    g = grad.set_index(["init", "L"]).grad_ratio_median
    n32 = nest[(nest.dtype == "float32")].set_index(["method", "L"]).recovery_cos
    best = expr[expr.model == "circulant layer (closed-form best)"].residual.iloc[0]
    acdc = expr[expr.model == "circulant+diagonal"].residual.min()
    ghrr = comm[(comm.model == "GHRR") & (comm.m == 3) & (comm.diagonality == 0.0)].similarity_ab_ba.iloc[0]
    d = 1024
    rows = [
        dict(operation="テンソル積 (tensor product)", form="x ⊗ y", report_complexity="O(d²)",
             report_issue="次元爆発 (dimension explosion)", report_fix="小規模な d でのみ使用 (small d only)",
             measured_time_exponent=e["tensor product x (x) y"],
             measured_size_at_d1024=f"{d * d:,} outputs ({d * d * 4 / 2**20:.0f} MiB/pair float32)",
             measured_issue="output grows as d² (exact unbinding with unit keys)",
             measured_fix="n/a (a size limit, not a numerical fix)"),
        dict(operation="円形畳み込み (circular convolution)", form="F⁻¹(F(x) ⊙ F(y))", report_complexity="O(d log d)",
             report_issue="勾配スケーリング問題 (gradient scaling)", report_fix="フェーザ正規化 (phasor norm)",
             measured_time_exponent=e["circular convolution, rfft (fixed bind)"],
             measured_size_at_d1024=f"{d:,} outputs",
             measured_issue=(f"grad ratio after 16 layers: {g[('default init U(+-1/sqrt d) (nn.Linear)', 16)]:.1e} "
                             f"(default init), {g[('Gaussian N(0, 1/d) (HRR)', 16)]:.1e} (N(0,1/d)); nested "
                             f"recovery L=16: {n32[('naive: Gaussian keys, torchhd bind + involution', 16)]:.2f}"),
             measured_fix=(f"phasor: grad ratio {g[('phasor (projected)', 16)]:.6f}, nested recovery "
                           f"{n32[('fixed: projected (phasor) keys', 16)]:.4f}")),
        dict(operation="ホログラフィック線形 (holographic linear)", form="y = w ⊛ x + b", report_complexity="O(d log d)",
             report_issue="表現力の制限 (limited expressiveness)",
             report_fix="複数層のスタック、または非可換結合 (stack layers, or non-commutative binding)",
             measured_time_exponent=e["holographic linear (CirculantLinear, FFT)"],
             measured_size_at_d1024=f"{d:,} + {d:,} parameters (dense: {d * d:,})",
             measured_issue=f"best circulant fit of a random dense map: residual {best:.3f}",
             measured_fix=(f"stacked pure circulants stay circulant; circulant+diagonal stack residual {acdc:.3f}; "
                           f"GHRR m=3 delta(ab, ba) = {ghrr:.3f} (non-commutative)")),
    ]
    df = pd.DataFrame(rows)
    return StudyResult(table=df, mirror=True,
                       notes=["Report columns are the report's own words (Japanese, with an English gloss); "
                              "measured columns come from studies holographic.complexity, gradient_depth, nesting, "
                              "expressiveness and commutativity of this run."],
                       key=f"time exponents: tensor {e['tensor product x (x) y']:.2f}, rfft bind "
                           f"{e['circular convolution, rfft (fixed bind)']:.2f}")


STUDIES = [
    Study("holographic.nesting", "Recovery after nested binding vs depth", study_nesting, claims=("H3",)),
    Study("holographic.superposition", "Superposition capacity with a codebook (projection vs Gaussian keys)",
          study_superposition),
    Study("holographic.exact_inverse", "Exact inverse vs involution under superposition", study_exact_inverse),
    Study("holographic.gradient_depth", "Signal and gradient norms through stacked circulant layers",
          study_gradient_depth, claims=("H1", "H3")),
    Study("holographic.fft_vs_rfft", "fft vs rfft, irfft without n, frequency-domain phases, zero bins",
          study_fft_vs_rfft, claims=("H2",)),
    Study("holographic.quasi_orthogonality", "Quasi-orthogonality of input distributions and binding",
          study_quasi_orthogonality, claims=("H4",)),
    Study("holographic.expressiveness", "Circulant vs dense: fitting a random linear map", study_expressiveness,
          claims=("H5",)),
    Study("holographic.circulant_crossover", "Circulant layer: parameters, time, crossover vs dense",
          study_circulant_crossover, claims=("H6",), devices=("cpu", "cuda")),
    Study("holographic.commutativity", "Commutativity of HRR vs GHRR", study_commutativity, claims=("H7",)),
    Study("holographic.complexity", "Time exponents of binding operations", study_complexity,
          devices=("cpu", "cuda")),
    Study("holographic.speed_targets", "CPU performance targets of the holographic ops", study_speed_targets),
    Study("holographic.structure_by_construction", "Unit spectrum by construction vs by penalty",
          study_structure_by_construction, claims=("X1",)),
    Study("holographic.binding_table", "Table 1: binding operations (report vs measured)", study_binding_table),
]

register(*PAIRS, *STUDIES)
register(Domain("holographic", "Holographic binding (report section 2)", claims=("H1", "H2", "H3", "H4", "H5", "H6", "H7")))
