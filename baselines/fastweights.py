"""Naive fast-weight memories: the additive rule, the research report's delta-rule recipe, and the
obvious per-step loop and a literal port of the chunkwise reference.

Layout `[B, H, T, D]` as in `suite.fastweights`. Argument checking is shared with the fixed code
(`suite.fastweights.inputs.check_delta_inputs` with `check_values=False`: shapes only, so that what these
functions do with unnormalised keys or large beta is the naive behaviour itself, not a refused input).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from suite.fastweights.inputs import check_delta_inputs, pad_time


def _elu1(x: torch.Tensor) -> torch.Tensor:
    # Written out (not suite.fastweights.elu_plus_one) exactly as the report's snippet in sec. 4.3.1.
    return F.elu(x) + 1.0


def additive_fwp(q, k, v):
    """Linear attention / additive fast weights (Katharopoulos et al. 2020; research report sec. 4.1 and 4.3.1).

    phi = elu + 1;  W_t = W_{t-1} + v_t phi(k_t)^T;  z_t = z_{t-1} + phi(k_t);
    y_t = W_t phi(q_t) / (z_t^T phi(q_t)).
    Computed in the causal parallel form `tril(phi(Q) phi(K)^T) V / rowsum` (the same numbers as the
    recurrence). The purely additive update cannot overwrite: a key written twice returns the (weighted)
    sum of its values, and interference grows with the number of stored pairs (claim F1).

    Args:
        q, k: [B, H, T, Dk].  v: [B, H, T, Dv].

    Returns:
        [B, H, T, Dv] outputs.

    Example:
        >>> q = k = torch.ones(1, 1, 2, 2); v = torch.tensor([[[[1.0], [3.0]]]])
        >>> additive_fwp(q, k, v).flatten().tolist()  # the key written twice returns the mean, not 3
        [1.0, 2.0]
    """
    beta = torch.ones(k.shape[:3], dtype=k.dtype, device=k.device)
    check_delta_inputs(q, k, v, beta, None, None, check_values=False)
    fq, fk = _elu1(q), _elu1(k)
    scores = torch.tril(fq @ fk.transpose(-1, -2))
    return (scores @ v) / scores.sum(-1, keepdim=True)


def delta_rule_seed(q, k, v, beta):
    """The research report's delta-rule recipe, sec. 4.3.1 steps 1-3, as written.

    phi = elu + 1 on keys and queries, NOT normalised;  R_t = v_t - W_{t-1} phi(k_t);
    W_t = W_{t-1} + beta_t R_t phi(k_t)^T;  z_t = z_{t-1} + phi(k_t);
    y_t = W_t phi(q_t) / (z_t^T phi(q_t)).
    With unnormalised elu+1 keys ||phi(k)||^2 ~ 1.3 d, so any beta > 2 / ||phi(k)||^2 makes the transition
    I - beta phi phi^T expansive and W grows geometrically (claim F4); and since z_t grows like t while W
    stays bounded in the stable regime, the denominator shrinks the output like 1/t.

    Args:
        q, k: [B, H, T, Dk].  v: [B, H, T, Dv].  beta: [B, H, T].

    Returns:
        [B, H, T, Dv] outputs.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> q, k, v = (torch.randn(1, 1, 50, 16, generator=gen) for _ in range(3))
        >>> delta_rule_seed(q, k, v, torch.full((1, 1, 50), 0.5)).isfinite().all().item()  # W overflowed
        False
    """
    check_delta_inputs(q, k, v, beta, None, None, check_values=False)
    fq, fk = _elu1(q), _elu1(k)
    B, H, T, Dk = k.shape
    W = torch.zeros(B, H, v.shape[-1], Dk, dtype=v.dtype, device=v.device)
    z = torch.zeros(B, H, Dk, dtype=v.dtype, device=v.device)
    ys = []
    for t in range(T):
        R = v[:, :, t] - torch.einsum("bhvk,bhk->bhv", W, fk[:, :, t])
        W = W + beta[:, :, t, None, None] * R.unsqueeze(-1) * fk[:, :, t].unsqueeze(-2)
        z = z + fk[:, :, t]
        num = torch.einsum("bhvk,bhk->bhv", W, fq[:, :, t])
        den = (z * fq[:, :, t]).sum(-1, keepdim=True)
        ys.append(num / den)
    return torch.stack(ys, dim=2)


def delta_rule_loop(q, k, v, beta, *, scale=None, chunk_size=64, initial_state=None, output_final_state=False):
    """The delta rule as a per-step Python loop in the input dtype (the slow obvious way).

    Same signature and maths as `suite.fastweights.delta_rule` (layout [B, H, T, D] only); reproduces the
    shape of flash-linear-attention's `naive.py::delta_rule_recurrence` (clone the state, write each output
    row into a preallocated tensor). No float32 accumulation for bf16/fp16 input. `chunk_size` is ignored.

    Example:
        >>> from suite.fastweights import delta_rule
        >>> gen = torch.Generator().manual_seed(0)
        >>> q, v = torch.randn(1, 2, 5, 4, generator=gen), torch.randn(1, 2, 5, 3, generator=gen)
        >>> k = torch.nn.functional.normalize(torch.randn(1, 2, 5, 4, generator=gen), dim=-1)
        >>> beta = torch.rand(1, 2, 5, generator=gen)
        >>> torch.allclose(delta_rule_loop(q, k, v, beta)[0], delta_rule(q, k, v, beta)[0], atol=1e-6)
        True
    """
    check_delta_inputs(q, k, v, beta, initial_state, scale, check_values=False)
    B, H, T, Dk = k.shape
    scale = Dk ** -0.5 if scale is None else scale
    S = torch.zeros(B, H, Dk, v.shape[-1], dtype=v.dtype, device=v.device)
    if initial_state is not None:
        S = S + initial_state
    o = torch.zeros_like(v)
    for t in range(T):
        k_t, q_t = k[:, :, t], q[:, :, t] * scale
        err = (v[:, :, t] - (S.clone() * k_t[..., None]).sum(-2)) * beta[:, :, t, None]
        S = S.clone() + k_t.unsqueeze(-1) * err.unsqueeze(-2)
        o[:, :, t] = torch.einsum("bhd,bhdm->bhm", q_t, S)
    return o, (S if output_final_state else None)


def chunk_loop_port(q, k, v, beta, *, scale=None, chunk_size=64, initial_state=None, output_final_state=False):
    """A straightforward port of the chunkwise reference (flash-linear-attention `naive.py`,
    `delta_rule_chunkwise`).

    Builds (I + A)^{-1} by row-by-row forward substitution with a Python loop inside every chunk, then
    loops over chunks for the state; T is padded to a multiple of the chunk (the reference asserts it).
    Same maths and signature as `suite.fastweights.delta_rule`.
    """
    check_delta_inputs(q, k, v, beta, initial_state, scale, check_values=False)
    B, H, T, Dk = k.shape
    Dv = v.shape[-1]
    scale = Dk ** -0.5 if scale is None else scale
    C = min(chunk_size, T)
    n = -(-T // C)
    pad = n * C - T
    q, k, v = (pad_time(x, pad).reshape(B, H, n, C, -1) for x in (q, k, v))
    b = pad_time(beta.unsqueeze(-1), pad).reshape(B, H, n, C, 1)
    q = q * scale
    kb, vb = k * b, v * b
    upper = torch.triu(torch.ones(C, C, dtype=torch.bool, device=k.device))
    # T_inv holds -(strict lower part), then forward substitution row by row: (I + A)^{-1} = I + T_inv.
    tinv = -(kb @ k.transpose(-1, -2)).masked_fill(upper, 0)
    for i in range(1, C):
        row = tinv[..., i, :].clone()
        tinv[..., i, :i] = row[..., :i] + (row.unsqueeze(-1) * tinv[..., :, :i].clone()).sum(-2)
    tinv = tinv + torch.eye(C, dtype=k.dtype, device=k.device)
    w, u = tinv @ kb, tinv @ vb
    S = torch.zeros(B, H, Dk, Dv, dtype=v.dtype, device=v.device)
    if initial_state is not None:
        S = S + initial_state
    o = torch.zeros_like(v)
    strict = torch.triu(torch.ones(C, C, dtype=torch.bool, device=k.device), diagonal=1)
    for i in range(n):
        q_i, k_i = q[:, :, i], k[:, :, i]
        u_i = u[:, :, i] - w[:, :, i] @ S
        o[:, :, i] = q_i @ S + (q_i @ k_i.transpose(-1, -2)).masked_fill(strict, 0) @ u_i
        S = S + k_i.transpose(-1, -2) @ u_i
    return o.reshape(B, H, n * C, Dv)[:, :, :T], (S if output_final_state else None)


def gated_delta_rule_loop(q, k, v, beta, g, *, scale=None, chunk_size=64, initial_state=None,
                          output_final_state=False):
    """The gated delta rule as a per-step Python loop in the input dtype (the slow obvious way).

    S_t = alpha_t S_{t-1} + beta_t k_t (v_t - alpha_t S_{t-1}^T k_t)^T with alpha_t = exp(g_t) (Yang et al.
    2025, eq. 10): decay the state, then the delta update, as flash-linear-attention's naive recurrence
    does. Same signature as `suite.fastweights.gated_delta_rule` (g after beta); `chunk_size` is ignored.
    """
    check_delta_inputs(q, k, v, beta, initial_state, scale, g=g, check_values=False)
    B, H, T, Dk = k.shape
    scale = Dk ** -0.5 if scale is None else scale
    S = torch.zeros(B, H, Dk, v.shape[-1], dtype=v.dtype, device=v.device)
    if initial_state is not None:
        S = S + initial_state
    o = torch.zeros_like(v)
    for t in range(T):
        S = S * g[:, :, t].exp()[..., None, None]
        k_t = k[:, :, t]
        err = (v[:, :, t] - (S * k_t[..., None]).sum(-2)) * beta[:, :, t, None]
        S = S + k_t.unsqueeze(-1) * err.unsqueeze(-2)
        o[:, :, t] = torch.einsum("bhd,bhdm->bhm", q[:, :, t] * scale, S)
    return o, (S if output_final_state else None)
