"""Fast weights (research report section 4): naive/fixed Pairs and the Studies behind claims F1-F4.

Every verdict is computed from the study's own numbers; thresholds are stated in the evidence text.
All randomness comes from `ctx.generator(offset)` (CPU generators), so accuracy columns are reproducible.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from baselines import fastweights as nv
from suite import fastweights as fw
from suite.registry import Domain, Pair, Study, StudyContext, StudyResult, Verdict, register
from suite.timing import measure, threads

D_HEAD = 64


# ============================================================================================ helpers
def delta_oracle(q, k, v, beta, scale=None, initial_state=None):
    """float64 delta rule written from the definition (one step at a time, no shared code path):
    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T, o_t = scale S_t^T q_t."""
    q, k, v, beta = (x.detach().to("cpu", torch.float64) for x in (q, k, v, beta))
    scale = k.shape[-1] ** -0.5 if scale is None else scale
    B, H, T, Dk = k.shape
    S = torch.zeros(B, H, Dk, v.shape[-1], dtype=torch.float64)
    if initial_state is not None:
        S = S + initial_state.detach().to("cpu", torch.float64)
    out = torch.empty(B, H, T, v.shape[-1], dtype=torch.float64)
    for t in range(T):
        kt = k[:, :, t]
        pred = (S * kt[..., None]).sum(-2)
        S = S + beta[:, :, t, None, None] * kt[..., None] * (v[:, :, t] - pred)[..., None, :]
        out[:, :, t] = scale * (S * q[:, :, t, :, None]).sum(-2)
    return out


def delta_inputs(B, H, T, D, device, dtype, gen):
    """q ~ N(0, 1), unit-norm keys, v ~ N(0, 1), beta = sigmoid(N(0, 1)) (DeltaNet's parametrisation)."""
    q = torch.randn(B, H, T, D, generator=gen, dtype=torch.float64)
    k = F.normalize(torch.randn(B, H, T, D, generator=gen, dtype=torch.float64), dim=-1)
    v = torch.randn(B, H, T, D, generator=gen, dtype=torch.float64)
    beta = torch.sigmoid(torch.randn(B, H, T, generator=gen, dtype=torch.float64))
    return tuple(x.to(dtype).to(device) for x in (q, k, v, beta))


def _fla_chunk_delta_rule():
    """flash-linear-attention's Triton `chunk_delta_rule` (layout [B, T, H, K], bf16) when importable."""
    try:
        from fla.ops.delta_rule import chunk_delta_rule  # noqa: PLC0415 (optional dependency)
    except Exception:  # not installed, or no Triton here
        return None

    def fla_chunk(q, k, v, beta):
        dt = q.dtype
        tr = lambda x: x.transpose(1, 2).to(torch.bfloat16).contiguous()  # noqa: E731
        o, _ = chunk_delta_rule(tr(q), tr(k), tr(v), beta.transpose(1, 2).to(torch.bfloat16).contiguous())
        return o.transpose(1, 2).to(dt), None

    return fla_chunk


def fit_exponent(sizes, times) -> float:
    """Slope of log(time) vs log(size): ~1 for linear growth."""
    return float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float)), 1)[0])


# ============================================================================================ pairs
def _make_delta(B, H):
    def make(size, device, dtype, gen):
        return delta_inputs(B, H, size, D_HEAD, device, dtype, gen)
    return make


def _fla_skip(impl, size, device):
    if impl == "fla_chunk" and device != "cuda":
        return "flash-linear-attention's chunk_delta_rule is a Triton (CUDA) kernel"
    return None


_VARIANTS = {"recurrent": fw.delta_rule_recurrent, "chunk_loop_port": nv.chunk_loop_port}
_FLA = _fla_chunk_delta_rule()
if _FLA is not None:
    _VARIANTS["fla_chunk"] = _FLA

PAIR_DELTA = Pair(
    name="fastweights.delta_rule",
    naive=nv.delta_rule_loop,
    fixed=fw.delta_rule,
    make_inputs=_make_delta(2, 4),
    sizes=(256, 2048, 8192),
    quick_sizes=(64,),
    oracle=delta_oracle,
    size_label="T",
    description="delta rule, B=2 H=4 D=64, unit keys, beta=sigmoid: per-step Python loop (naive) vs "
                "chunkwise WY/UT form batched over chunks (fixed, chunk 64); variants: the suite's recurrent "
                "reference, a literal port of the chunkwise reference with Python loops inside each chunk, "
                "and flash-linear-attention's Triton chunk_delta_rule (bf16) when installed on CUDA. "
                "Oracle: float64 step-by-step recurrence.",
    variants=_VARIANTS,
    skip=_fla_skip,
)

PAIR_DELTA_CUDA = Pair(
    name="fastweights.delta_rule_b4h8",
    naive=nv.delta_rule_loop,
    fixed=fw.delta_rule,
    make_inputs=_make_delta(4, 8),
    sizes=(4096,),
    quick_sizes=(256,),
    oracle=delta_oracle,
    size_label="T",
    devices=("cuda",),
    description="the CUDA target size B=4 H=8 D=64 (issue 3: >= 100x faster than the per-step loop); fla's "
                "Triton chunk_delta_rule (bf16) rides along when installed.",
    variants={k: v for k, v in _VARIANTS.items() if k == "fla_chunk"},
    skip=_fla_skip,
)


def fixed_recipe(q, k, v, beta):
    """The repaired recipe: elu+1 features sum-normalised (Schlag et al. 2021, sec. 4.2) for keys and
    queries, beta in (0, 1), no denominator; run by the chunkwise delta rule."""
    fq, fk = fw.sum_normalize(fw.elu_plus_one(q)), fw.sum_normalize(fw.elu_plus_one(k))
    return fw.delta_rule(fq, fk, v, beta, scale=1.0)[0]


def fixed_recipe_oracle(q, k, v, beta):
    q, k = (x.detach().to("cpu", torch.float64) for x in (q, k))
    fq = F.elu(q) + 1
    fk = F.elu(k) + 1
    return delta_oracle(fq / fq.sum(-1, keepdim=True), fk / fk.sum(-1, keepdim=True), v, beta, scale=1.0)


def _make_recipe(size, device, dtype, gen):
    # The ANCHORS setting of the seed's blow-up: d = 16 random keys, beta = sigmoid(N(0, 1)).
    q, k, v = (torch.randn(1, 2, size, 16, generator=gen, dtype=torch.float64) for _ in range(3))
    beta = torch.sigmoid(torch.randn(1, 2, size, generator=gen, dtype=torch.float64))
    return tuple(x.to(dtype).to(device) for x in (q, k, v, beta))


PAIR_RECIPE = Pair(
    name="fastweights.delta_recipe",
    naive=nv.delta_rule_seed,
    fixed=fixed_recipe,
    make_inputs=_make_recipe,
    sizes=(200, 1000),
    quick_sizes=(200,),
    oracle=fixed_recipe_oracle,
    claim="F4",
    size_label="T",
    description="the research report's delta-rule recipe (elu+1 keys unnormalised, denominator z_t) vs the "
                "repaired one (elu+1 sum-normalised, no denominator), d=16, beta=sigmoid(N(0,1)). Oracle: "
                "float64 recurrence of the repaired recipe, so the naive column measures how far the report's "
                "recipe lands from a stable delta rule (it overflows: NaN/Inf).",
)

register(PAIR_DELTA, PAIR_DELTA_CUDA, PAIR_RECIPE)


# ============================================================================================ studies
FEATURES = {
    "elu+1": fw.elu_plus_one,
    "DPFP-1": lambda x: fw.dpfp(x, 1),
    "DPFP-2": lambda x: fw.dpfp(x, 2),
    "raw": lambda x: x,
}


def _recall_loss(rule: str, phi: torch.Tensor, ids: torch.Tensor, vals: torch.Tensor, S: int) -> float:
    """Write (phi[r, ids_t], onehot(vals_t)) in order with the sum rule or the delta rule (beta = 1), then
    query every key that was written; loss = mean over queries of 1/2 ||y - last value written||^2.
    phi [R, S, Dk] holds R independent draws; ids, vals [R, L]."""
    R, L = ids.shape
    K = torch.gather(phi, 1, ids[..., None].expand(R, L, phi.shape[-1]))  # [R, L, Dk]
    V = F.one_hot(vals, S).to(phi.dtype)
    if rule == "sum":
        W = torch.einsum("rlk,rlv->rkv", K, V)
    else:
        ones = torch.ones(R, 1, L, dtype=phi.dtype)
        _, W = fw.delta_rule(K[:, None], K[:, None], V[:, None], ones, scale=1.0, output_final_state=True)
        W = W[:, 0]
    pos = torch.arange(L).expand(R, L)
    last_pos = torch.full((R, S), -1, dtype=torch.long).scatter_reduce(1, ids, pos, "amax")
    seen = last_pos >= 0
    target = F.one_hot(vals.gather(1, last_pos.clamp_min(0)), S).to(phi.dtype)
    Y = torch.einsum("rsk,rkv->rsv", phi, W)
    loss = 0.5 * ((Y - target) ** 2).sum(-1)
    return float((loss * seen).sum() / seen.sum())


def run_capacity(ctx: StudyContext) -> StudyResult:
    with threads(1):
        return _capacity(ctx)


def _capacity(ctx: StudyContext) -> StudyResult:
    """Schlag et al. 2021 sec. 6.1 associative retrieval, with fixed random keys (no training).

    d_key = 64; S keys N(0, I); features elu+1 (64-d), DPFP-1 (128-d), DPFP-2 (256-d), raw (64-d), each
    L2-normalised so a lone key retrieves its value exactly; values one-hot in R^S.
    Task "capacity": the S keys written once each in random order. Task "update": 2S writes with keys
    drawn WITH replacement and random one-hot values; the target is the last value written to a key.
    """
    sizes = (10, 20, 40, 80) if ctx.quick else (10, 20, 40, 60, 80, 120, 160, 240)
    reps = 4 if ctx.quick else 8
    gen = ctx.generator(11)
    rows = []
    with torch.no_grad():
        for S in sizes:
            keys = torch.randn(reps, S, 64, generator=gen, dtype=torch.float64)
            perm = torch.stack([torch.randperm(S, generator=gen) for _ in range(reps)])
            ids_u = torch.randint(0, S, (reps, 2 * S), generator=gen)
            vals_u = torch.randint(0, S, (reps, 2 * S), generator=gen)
            for fname, feat in FEATURES.items():
                phi_all = fw.l2_normalize(feat(keys))
                for rule in ("sum", "delta"):
                    for task, ids, vals in (("capacity", perm, perm), ("update", ids_u, vals_u)):
                        rows.append(dict(task=task, rule=rule, feature=fname, S=S,
                                         loss=_recall_loss(rule, phi_all, ids, vals, S)))
    df = pd.DataFrame(rows)
    fig = Figure(figsize=(10, 4))
    for ax, task in zip(fig.subplots(1, 2), ("capacity", "update")):
        for (rule, fname), g in df[df.task == task].groupby(["rule", "feature"]):
            ax.plot(g.S, g.loss, marker="o", ls="-" if rule == "delta" else "--", label=f"{rule}, {fname}")
        ax.set_xlabel("number of stored keys S")
        ax.set_ylabel("retrieval loss 1/2 ||y - v||^2 (per query)")
        ax.set_yscale("log")
        ax.set_title(f"{task} task (d_key = 64, untrained random keys)")
        ax.legend(fontsize=7)
    Smax = max(sizes)
    pick = lambda task, rule, f, S=Smax: float(df[(df.task == task) & (df.rule == rule) & (df.feature == f)  # noqa: E731
                                                & (df.S == S)].loss.iloc[0])
    sum_u = {f: pick("update", "sum", f) for f in FEATURES}
    delta_u = {f: pick("update", "delta", f) for f in FEATURES}
    best_f = min(delta_u, key=delta_u.get)
    s_small = min(sizes)
    growth = pick("capacity", "sum", "DPFP-2") / pick("capacity", "sum", "DPFP-2", s_small)
    ratio = min(sum_u[f] / delta_u[f] for f in FEATURES)
    ok = ratio >= 3 and growth >= 3
    evidence = (f"update task (keys with replacement) at S={Smax}: sum-rule loss {sum_u[best_f]:.3f} vs delta "
                f"rule {delta_u[best_f]:.3f} ({best_f}); sum/delta >= {ratio:.1f}x for every feature map; "
                f"additive capacity loss (DPFP-2) grows {growth:.0f}x from S={s_small} to S={Smax} "
                f"(confirmed if both >= 3x)")
    verdicts = [Verdict("F1", "confirmed" if ok else "refuted", evidence, value=ratio)]
    notes = ["Keys are fixed random vectors, not learned embeddings as in Schlag et al. (who train them); "
             "so absolute losses are higher than their 0.001-at-40-keys, but the ordering (elu+1 < DPFP-1 < "
             "DPFP-2 capacity; sum rule fails once keys repeat) is the claim under test.",
             "Features are L2-normalised (DeltaNet) rather than sum-normalised (Schlag) so a lone key "
             "retrieves its value exactly with beta = 1."]
    return StudyResult(table=df, figure=fig, verdicts=verdicts, notes=notes,
                       key=f"update task S={Smax}: sum {sum_u[best_f]:.3f} vs delta {delta_u[best_f]:.3f}")


def _state_norm(k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """||S_T||_F of the delta recurrence run by the naive loop (no checks, so divergence shows)."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        _, S = nv.delta_rule_loop(k, k, v, beta, output_final_state=True)
    m = S.abs().amax()
    if not torch.isfinite(m) or m == 0:
        return m
    return m * torch.linalg.matrix_norm(S / m).amax()  # scaled: the norm itself must not overflow


def run_state_norm(ctx: StudyContext) -> StudyResult:
    """State norm vs T: the report's recipe (elu+1 keys, unnormalised) vs sum- and L2-normalised keys,
    d = 16 (ANCHORS: ||S|| reached 3e35 at T = 200); and the divergence threshold beta ||k||^2 = 2."""
    Ts = (16, 50, 100, 200) if ctx.quick else (16, 50, 100, 200, 500, 1000)
    gen = ctx.generator(21)
    d, H = 16, 4
    x = torch.randn(1, H, max(Ts), d, generator=gen, dtype=torch.float64)
    v = torch.randn(1, H, max(Ts), d, generator=gen, dtype=torch.float64)
    beta = torch.sigmoid(torch.randn(1, H, max(Ts), generator=gen, dtype=torch.float64))
    keys = {"report recipe: elu+1, unnormalised": fw.elu_plus_one(x),
            "elu+1, sum-normalised (Schlag)": fw.sum_normalize(fw.elu_plus_one(x)),
            "L2-normalised (DeltaNet, fixed)": fw.l2_normalize(x)}
    rows = []
    for name, k in keys.items():
        gain = float((beta * k.pow(2).sum(-1)).median())
        for T in Ts:
            n = float(_state_norm(k[:, :, :T], v[:, :, :T], beta[:, :, :T]))
            bound = math.sqrt(float(v[:, :, :T].pow(2).sum((-1, -2)).max()))
            rows.append(dict(part="norm_vs_T", keys=name, T=T, state_norm=n, bound=bound,
                             median_beta_k2=gain))
    # threshold: unit-direction keys scaled so that beta ||k||^2 = g exactly, beta = 0.5, T = 200
    Tthr = 200
    u = fw.l2_normalize(x[:, :, :Tthr])
    for g in (0.5, 1.0, 1.5, 1.9, 2.0, 2.1, 2.5, 3.0, 4.0):
        k = u * math.sqrt(g / 0.5)
        n = float(_state_norm(k, v[:, :, :Tthr], torch.full_like(beta[:, :, :Tthr], 0.5)))
        rows.append(dict(part="threshold", keys="beta ||k||^2 = g", T=Tthr, gain=g, state_norm=n))
    # the seed recipe's own output (with its denominator) at T = 200
    with torch.no_grad():
        y_seed = nv.delta_rule_seed(x[:, :, :200], x[:, :, :200], v[:, :, :200], beta[:, :, :200])
        y_fix = fixed_recipe(x[:, :, :200], x[:, :, :200], v[:, :, :200], beta[:, :, :200])
    bad_seed = int((~torch.isfinite(y_seed)).sum())
    max_seed = float(y_seed[torch.isfinite(y_seed)].abs().max()) if bad_seed < y_seed.numel() else math.inf
    df = pd.DataFrame(rows)
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    for name, g in df[df.part == "norm_vs_T"].groupby("keys"):
        ax1.plot(g["T"], g.state_norm.clip(upper=1e150), marker="o", label=name)
    ax1.set_yscale("log")
    ax1.set_xlabel("sequence length T (steps)")
    ax1.set_ylabel("state norm ||S_T||_F")
    ax1.legend(fontsize=7)
    th = df[df.part == "threshold"]
    ax2.semilogy(th.gain, th.state_norm.clip(upper=1e150), marker="o")
    ax2.axvline(2.0, color="k", ls=":")
    ax2.set_xlabel("beta ||k||^2 (dimensionless)")
    ax2.set_ylabel("state norm after 200 steps")
    nt = df[df.part == "norm_vs_T"]
    seed_n = float(nt[(nt["keys"].str.startswith("report")) & (nt["T"] == 200)].state_norm.iloc[0])
    fixed_rows = nt[nt["keys"].str.startswith("L2")]
    fixed_ok = bool((fixed_rows.state_norm <= fixed_rows.bound * (1 + 1e-9)).all())
    seed_gain = float(nt[nt["keys"].str.startswith("report")].median_beta_k2.iloc[0])
    below = float(th[th.gain == 1.9].state_norm.iloc[0])
    above = float(th[th.gain == 2.1].state_norm.iloc[0])
    far = float(th[th.gain == 4.0].state_norm.iloc[0])
    diverged = (not math.isfinite(seed_n)) or seed_n > 1e6
    evidence = (f"report recipe (elu+1 keys, d=16, median beta||phi(k)||^2 = {seed_gain:.1f} > 2): "
                f"||S_200|| = {seed_n:.3g}, its output has {bad_seed} NaN/Inf of {y_seed.numel()} (max finite "
                f"|y| {max_seed:.3g}); L2-normalised keys stay within the bound sqrt(sum ||v||^2): {fixed_ok}; "
                f"threshold: ||S_200|| = {below:.3g} at beta||k||^2 = 1.9, {above:.3g} at 2.1, {far:.3g} at 4 "
                f"(refuted if the recipe's norm > 1e6 or non-finite and the L2-normalised keys stay bounded; "
                f"qualified if both fail)")
    f4 = ("refuted" if fixed_ok else "qualified") if diverged else "confirmed"
    verdicts = [Verdict("F4", f4, evidence, value=seed_n)]
    return StudyResult(table=df, figure=fig, verdicts=verdicts,
                       key=f"report recipe ||S_200|| = {seed_n:.2g}; normalised keys bounded: {fixed_ok}",
                       notes=[f"fixed recipe output finite: {bool(torch.isfinite(y_fix).all())}"])


def _linear_attention(fq, fk, v, denominator: bool):
    """Causal additive fast weights y_t = sum_{s<=t} (fq_t . fk_s) v_s [/ sum_{s<=t} fq_t . fk_s]."""
    scores = torch.tril(fq @ fk.transpose(-1, -2))
    y = scores @ v
    return y / scores.sum(-1, keepdim=True) if denominator else y


def run_normalisation(ctx: StudyContext) -> StudyResult:
    """Feature positivity (F2) and the denominator z_t (F3), measured on random sequences.

    F2: with the denominator, raw (signed) features make z_t^T q cross zero, and the output is no longer a
    convex combination of values; elu+1 keeps |y| <= max |v|. Without a denominator the delta rule with
    L2-normalised raw keys is bounded. F3: additive outputs without z_t grow with T; the delta rule with
    normalised keys needs no z_t; the report's delta + z_t shrinks the output like 1/T.
    """
    Ts = (16, 64, 256) if ctx.quick else (16, 64, 256, 1024, 2048)
    gen = ctx.generator(31)
    d, H = 16, 4
    T = max(Ts)
    q = torch.randn(1, H, T, d, generator=gen, dtype=torch.float64)
    k = torch.randn(1, H, T, d, generator=gen, dtype=torch.float64)
    v = torch.randn(1, H, T, d, generator=gen, dtype=torch.float64)
    beta = torch.sigmoid(torch.randn(1, H, T, generator=gen, dtype=torch.float64))
    vmax = float(v.abs().max())
    rows = []
    with torch.no_grad():
        for t in Ts:
            sl = lambda x: x[:, :, :t]  # noqa: E731
            cases = {
                "additive, elu+1, with z_t": _linear_attention(fw.elu_plus_one(sl(q)), fw.elu_plus_one(sl(k)), sl(v), True),
                "additive, raw, with z_t": _linear_attention(sl(q), sl(k), sl(v), True),
                "additive, elu+1, no z_t": _linear_attention(fw.elu_plus_one(sl(q)), fw.elu_plus_one(sl(k)), sl(v), False),
                "delta, raw L2-normalised, no z_t": fw.delta_rule(fw.l2_normalize(sl(q)), fw.l2_normalize(sl(k)),
                                                                  sl(v), sl(beta), scale=1.0)[0],
                "delta, elu+1 sum-normalised, no z_t": fixed_recipe(sl(q), sl(k), sl(v), sl(beta)),
                "delta + z_t (report recipe, keys scaled to beta||phi||^2<2)":
                    nv.delta_rule_seed(sl(q), sl(k) - 3.0, sl(v), sl(beta)),
            }
            for name, y in cases.items():
                fin = torch.isfinite(y)
                rows.append(dict(case=name, T=t, max_abs_y_over_max_abs_v=float(y[fin].abs().max()) / vmax,
                                 last_rms=float(y[:, :, -1].pow(2).mean().sqrt()),
                                 nonfinite=int((~fin).sum())))
    df = pd.DataFrame(rows)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name, g in df.groupby("case"):
        ax.loglog(g["T"], g.last_rms, marker="o", label=name)
    ax.set_xlabel("sequence length T (steps)")
    ax.set_ylabel("RMS of the last output y_T (value units)")
    ax.legend(fontsize=6)
    at = lambda c, col, t=T: float(df[(df.case == c) & (df["T"] == t)][col].iloc[0])  # noqa: E731
    raw_z = max(float(df[df.case == "additive, raw, with z_t"].max_abs_y_over_max_abs_v.max()), 0.0)
    elu_z = float(df[df.case == "additive, elu+1, with z_t"].max_abs_y_over_max_abs_v.max())
    raw_delta = float(df[df.case == "delta, raw L2-normalised, no z_t"].max_abs_y_over_max_abs_v.max())
    f2_q = raw_z > 10 * elu_z and raw_delta < 10
    v2 = "qualified" if f2_q else ("confirmed" if raw_z > 10 * elu_z else "refuted")
    ev2 = (f"with the denominator, raw features give max|y|/max|v| = {raw_z:.3g} (z_t^T q crosses 0) vs "
           f"{elu_z:.3g} for elu+1 (a convex combination, <= 1); but the delta rule with raw L2-normalised keys "
           f"and no denominator stays bounded ({raw_delta:.3g}): positivity is needed only where z_t divides "
           f"(qualified if raw/elu >= 10x and the raw delta rule stays < 10)")
    vrms = float(v.pow(2).mean().sqrt())
    grow = at("additive, elu+1, no z_t", "last_rms") / at("additive, elu+1, no z_t", "last_rms", Ts[0])
    scale_noz = at("additive, elu+1, no z_t", "last_rms") / vrms
    delta_ok = at("delta, raw L2-normalised, no z_t", "max_abs_y_over_max_abs_v") < 10
    shrink = at("delta + z_t (report recipe, keys scaled to beta||phi||^2<2)", "last_rms") / \
        at("delta + z_t (report recipe, keys scaled to beta||phi||^2<2)", "last_rms", Ts[0])
    v3 = "qualified" if scale_noz > 10 and delta_ok else ("confirmed" if scale_noz > 10 else "refuted")
    ev3 = (f"additive elu+1 without z_t: last output RMS is {scale_noz:.3g}x the values' RMS at T={T} and grows "
           f"{grow:.3g}x from T={Ts[0]} (~sqrt(T) for zero-mean values); the delta "
           f"rule with normalised keys needs no z_t (max|y|/max|v| < 10: {delta_ok}); adding z_t to the delta "
           f"rule (report recipe) shrinks the output {1 / shrink:.3g}x over the same range "
           f"(qualified if the additive output exceeds 10x the values and the delta rule is bounded without z_t)")
    return StudyResult(table=df, figure=fig,
                       verdicts=[Verdict("F2", v2, ev2, value=raw_z), Verdict("F3", v3, ev3, value=scale_noz)],
                       key=f"raw features + z_t: max|y|/max|v| = {raw_z:.3g}; additive without z_t: {scale_noz:.3g}x values")


def _speed_rows(Ts, impls, dev, gen, quick, n_threads):
    rows = []
    for T in Ts:
        args = delta_inputs(2, 4, T, D_HEAD, dev, torch.float32, gen)
        for name, fn in impls.items():
            slow = name in ("loop (naive)", "recurrent") and T >= 4096
            with torch.no_grad():
                tm = measure(lambda: fn(*args), warmup=1, repeats=3 if (quick or slow) else 5,
                             min_time=0.0 if quick else 0.02, max_time=0.5 if quick else 3.0)
            rows.append(dict(impl=name, T=T, device=dev, threads=n_threads, median_ms=tm.median_ms))
    return rows


def run_speed(ctx: StudyContext) -> StudyResult:
    """Median time vs T (B=2 H=4 D=64, float32) for the per-step loop, the recurrent reference, the
    literal chunkwise port and the batched chunkwise delta_rule, on ctx.device."""
    Ts = (128, 256) if ctx.quick else (256, 512, 1024, 2048, 4096, 8192)
    dev = ctx.device
    impls = {"loop (naive)": nv.delta_rule_loop, "recurrent": fw.delta_rule_recurrent,
             "chunk_loop_port": nv.chunk_loop_port, "delta_rule (fixed)": fw.delta_rule}
    if _FLA is not None and dev == "cuda":
        impls["fla chunk (bf16)"] = _FLA
    gen = ctx.generator(41)
    # CPU sweeps run on one intra-op thread: on a shared 2-core machine the OpenMP hand-off of the loop's
    # tiny ops stalls unpredictably (measured 100x), which would make the curve noise, not scaling.
    guard = threads(1) if dev == "cpu" else contextlib.nullcontext()
    with guard:
        n_threads = torch.get_num_threads()
        rows = _speed_rows(Ts, impls, dev, gen, ctx.quick, n_threads)
    df = pd.DataFrame(rows)
    piv = df.pivot(index="T", columns="impl", values="median_ms")
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name in impls:
        ax.loglog(piv.index, piv[name], marker="o", label=name)
    ax.set_xlabel("sequence length T (steps)")
    ax.set_ylabel(f"median time on {dev} (ms)")
    ax.legend(fontsize=7)
    Tref = 2048 if 2048 in piv.index else max(Ts)
    speedup = piv.loc[Tref, "loop (naive)"] / piv.loc[Tref, "delta_rule (fixed)"]
    port = piv.loc[Tref, "chunk_loop_port"] / piv.loc[Tref, "delta_rule (fixed)"]
    slope = fit_exponent(piv.index, piv["delta_rule (fixed)"])
    notes = [f"at T={Tref} on {dev}: delta_rule {piv.loc[Tref, 'delta_rule (fixed)']:.2f} ms, loop "
             f"{piv.loc[Tref, 'loop (naive)']:.1f} ms ({speedup:.1f}x), chunk_loop_port "
             f"{piv.loc[Tref, 'chunk_loop_port']:.1f} ms ({port:.2f}x); log-log slope of delta_rule time vs T "
             f"{slope:.2f} (1 = linear), {n_threads} intra-op thread(s). Targets (issue 3, CPU, T=2048): >= 20x "
             f"vs loop, faster than the port."]
    return StudyResult(table=df, figure=fig, notes=notes,
                       key=f"T={Tref}: {speedup:.1f}x vs loop, {port:.2f}x vs port, slope {slope:.2f}")


def run_checklist(ctx: StudyContext) -> StudyResult:
    """Mirror of the research report's section 6.3 checklist, item 3 (retrocausal), with measured values."""
    cap = ctx.result("fastweights.capacity")
    norm = ctx.result("fastweights.normalisation")
    sn = ctx.result("fastweights.state_norm")
    v = {vd.claim: vd for r in (cap, norm, sn) for vd in r.verdicts}
    rows = [
        dict(item="Implemented the delta-rule update instead of simple addition?",
             report="delta rule removes capacity overload / retrieval collapse (4.2)",
             measured=v["F1"].evidence, verdict=v["F1"].verdict, claim="F1"),
        dict(item="Using a positive-definite kernel such as ELU + 1?",
             report="positive feature maps needed; raw dot products unstable (4.2, 4.3.1)",
             measured=v["F2"].evidence, verdict=v["F2"].verdict, claim="F2"),
        dict(item="Normalising by the denominator state z_t?",
             report="linear attention needs z_t (4.3.1)",
             measured=v["F3"].evidence, verdict=v["F3"].verdict, claim="F3"),
        dict(item="(the recipe as a whole: elu+1 keys + learnable beta + z_t)",
             report="stable (4.3.1)", measured=v["F4"].evidence, verdict=v["F4"].verdict, claim="F4"),
    ]
    return StudyResult(table=pd.DataFrame(rows), mirror=True,
                       key=", ".join(f"{r['claim']} {r['verdict']}" for r in rows))


register(
    Study("fastweights.capacity", "Associative recall: sum rule vs delta rule, elu+1 vs DPFP (Schlag et al. 2021)",
          run_capacity, claims=("F1",)),
    Study("fastweights.state_norm", "State norm vs T: the report's unnormalised keys vs normalised keys",
          run_state_norm, claims=("F4",)),
    Study("fastweights.normalisation", "Positive features and the denominator z_t", run_normalisation,
          claims=("F2", "F3")),
    Study("fastweights.speed", "Delta rule speed vs T: per-step loop, recurrent, chunk port, chunkwise",
          run_speed, devices=("cpu", "cuda")),
    Study("fastweights.checklist", "Research report 6.3 checklist (retrocausal) with measured verdicts",
          run_checklist, claims=("F1", "F2", "F3", "F4")),
)
register(Domain("fastweights", "Fast weights: additive vs delta rule (report section 4)", claims=("F1", "F2", "F3", "F4")))
