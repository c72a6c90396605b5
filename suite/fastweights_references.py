"""References for the fast-weight memories' tests and report: the float64 delta rule and gated delta rule
written from their definitions (no code shared with `suite.fastweights`), and the repaired recipe that the report's is compared with."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from suite import fastweights as fw


def delta_oracle(q, k, v, beta, scale=None, initial_state=None):
    """float64 delta rule, one step at a time on the CPU (Schlag, Irie & Schmidhuber 2021, eq. 8):
    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T, o_t = scale S_t^T q_t (scale defaults to 1/sqrt(d_k))."""
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


def gated_oracle(q, k, v, beta, g, initial_state=None, scale=None):
    """float64 gated delta rule on the CPU, from the definition with explicit transition matrices (Yang,
    Kautz & Hatamizadeh 2025, "Gated Delta Networks", arXiv 2412.06464, eq. 10):
    S_t = exp(g_t) (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = scale S_t^T q_t. Returns (o, S_T)."""
    q, k, v, beta, g = (x.detach().to("cpu", torch.float64) for x in (q, k, v, beta, g))
    B, H, T, Dk = k.shape
    scale = Dk ** -0.5 if scale is None else scale
    S = torch.zeros(B, H, Dk, v.shape[-1], dtype=torch.float64)
    if initial_state is not None:
        S = S + initial_state.detach().to("cpu", torch.float64)
    eye = torch.eye(Dk, dtype=torch.float64)
    outs = []
    for t in range(T):
        kt, bt = k[:, :, t], beta[:, :, t, None, None]
        trans = g[:, :, t, None, None].exp() * (eye - bt * kt[..., :, None] * kt[..., None, :])
        S = trans @ S + bt * kt[..., :, None] * v[:, :, t, None, :]
        outs.append(scale * (S.transpose(-1, -2) @ q[:, :, t, :, None])[..., 0])
    return torch.stack(outs, 2), S


def gated_output_oracle(q, k, v, beta, g):
    """The output o of `gated_oracle` (what a Pair compares)."""
    return gated_oracle(q, k, v, beta, g)[0]


def fixed_recipe(q, k, v, beta):
    """The repaired recipe: elu+1 features sum-normalised (Schlag et al. 2021, sec. 4.2) for keys and
    queries, beta in (0, 1), no denominator; run by the chunkwise delta rule."""
    fq, fk = fw.sum_normalize(fw.elu_plus_one(q)), fw.sum_normalize(fw.elu_plus_one(k))
    return fw.delta_rule(fq, fk, v, beta, scale=1.0)[0]


def fixed_recipe_oracle(q, k, v, beta):
    """`fixed_recipe` by `delta_oracle` on float64 features computed with torch's own elu (CPU, float64)."""
    fq, fk = (F.elu(x.detach().to("cpu", torch.float64)) + 1 for x in (q, k))
    return delta_oracle(fq / fq.sum(-1, keepdim=True), fk / fk.sum(-1, keepdim=True), v, beta, scale=1.0)
