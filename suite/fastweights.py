"""Fast-weight memories: the delta rule, chunkwise-parallel and recurrent, feature maps, and a module.

Layout follows flash-linear-attention's pure-PyTorch reference: q, k `[B, H, T, Dk]`, v `[B, H, T, Dv]`,
beta `[B, H, T]`, state `S` `[B, H, Dk, Dv]`. The delta rule (Schlag, Irie, Schmidhuber 2021, eq. 8;
Yang et al. 2024 "Parallelizing Linear Transformers with the Delta Rule", arXiv 2406.06484) is

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,
    o_t = scale * S_t^T q_t.

The transition `I - beta k k^T` has eigenvalue `1 - beta ||k||^2` along k, so the recurrence is stable
iff `0 <= beta ||k||^2 <= 2`. Keys should therefore be normalised (`l2_normalize`, as DeltaNet does, or
`sum_normalize` of a positive feature map, as Schlag et al. do); `delta_rule` checks `beta in [0, 2]`
(ValueError otherwise) and warns (RuntimeWarning) when some `beta ||k||^2 > 2`, because then the state
can grow without bound: that is the failure of the research report's recipe (`baselines.fastweights`).
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from suite.checks import check_finite, check_real, check_tensor

__all__ = [
    "delta_rule", "delta_rule_recurrent", "elu_plus_one", "dpfp", "sum_normalize", "l2_normalize",
    "DeltaRuleFastWeights",
]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


# ---------------------------------------------------------------------------------------------- features

def elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1 > 0 (Katharopoulos et al. 2020, "Transformers are RNNs", eq. 7)."""
    check_real(x, "x")
    return F.elu(x) + 1.0


def dpfp(x: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """Deterministic parameter-free projection (Schlag et al. 2021, sec. 5.4), output dim `2 nu d`.

    x' = [relu(x), relu(-x)] in R^{2d};  phi(x) = concat_{j=1..nu} x' * roll(x', j)  (elementwise).
    Non-negative, and sparse: about a quarter of the entries of each block are non-zero.
    """
    check_real(x, "x")
    if not isinstance(nu, int) or nu < 1:
        raise ValueError(f"nu must be a positive integer, got {nu!r}")
    xp = torch.cat([F.relu(x), F.relu(-x)], dim=-1)
    if nu > xp.shape[-1] - 1:
        raise ValueError(f"nu must be < 2 * x.shape[-1] = {xp.shape[-1]}, got {nu}")
    return torch.cat([xp * torch.roll(xp, shifts=j, dims=-1) for j in range(1, nu + 1)], dim=-1)


def _safe_divide(x: torch.Tensor, denom: torch.Tensor) -> torch.Tensor:
    # A zero vector stays zero instead of turning into 0/0 = NaN: the denominator is clamped at the
    # smallest normal number of the dtype, which changes nothing for any non-zero vector.
    return x / denom.clamp_min(torch.finfo(x.dtype).tiny)


def sum_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / sum(x) along `dim` (Schlag et al. 2021, sec. 4.2, for non-negative features); zero stays zero.

    For non-negative x the result lies on the simplex, so ||x||_2 <= 1 and `beta in [0, 2]` is stable.
    """
    check_real(x, "x")
    return _safe_divide(x, x.sum(dim=dim, keepdim=True))


def l2_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / ||x||_2 along `dim` (DeltaNet, Yang et al. 2024); zero stays zero."""
    check_real(x, "x")
    return _safe_divide(x, torch.linalg.vector_norm(x, dim=dim, keepdim=True))


# ---------------------------------------------------------------------------------------------- checks

def _check_delta_inputs(q, k, v, beta, initial_state, scale, *, check_values: bool = True):
    """Shapes, dtypes, finiteness and beta range shared by every delta-rule implementation."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_real(x, name)
        if x.dim() != 4:
            raise ValueError(f"{name} must have shape [B, H, T, D], got {tuple(x.shape)}")
    check_real(beta, "beta")
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape [B, H, T, Dk], got {tuple(q.shape)} and "
                         f"{tuple(k.shape)}")
    if v.shape[:3] != k.shape[:3]:
        raise ValueError(f"v must have shape [B, H, T, Dv] with B, H, T of k {tuple(k.shape[:3])}, got "
                         f"{tuple(v.shape)} (mismatched batch, heads or length)")
    if beta.shape != k.shape[:3]:
        raise ValueError(f"beta must have shape [B, H, T] = {tuple(k.shape[:3])}, got {tuple(beta.shape)}")
    if k.shape[2] == 0:
        raise ValueError("the sequence is empty (T = 0); at least one step is required")
    dev = {x.device for x in (q, k, v, beta)}
    if len(dev) != 1:
        raise ValueError(f"q, k, v, beta must be on one device, got {sorted(map(str, dev))}")
    B, H, _, Dk = k.shape
    Dv = v.shape[-1]
    if initial_state is not None:
        check_real(initial_state, "initial_state")
        if initial_state.shape != (B, H, Dk, Dv):
            raise ValueError(f"initial_state must have shape [B, H, Dk, Dv] = {(B, H, Dk, Dv)}, got "
                             f"{tuple(initial_state.shape)}")
        if initial_state.device != k.device:
            raise ValueError(f"initial_state must be on the device of q, k, v, beta ({k.device}), got "
                             f"{initial_state.device}")
    if isinstance(scale, bool):  # bool is an int subclass: scale=True would silently mean 1.0
        raise TypeError(f"scale must be a finite number or None, not a bool, got {scale!r}")
    if scale is not None and not (isinstance(scale, (int, float)) and math.isfinite(scale)):
        raise ValueError(f"scale must be a finite number or None, got {scale!r}")
    if not check_values:
        return
    # Values: one reduction per tensor. A NaN/Inf anywhere makes the sum (or the key norms) non-finite;
    # only then does the exact elementwise check run, naming the argument. The key norms double as the
    # finiteness check of k and as the stability check beta ||k||^2 <= 2.
    k_sq = torch.linalg.vector_norm(k.detach(), dim=-1, dtype=_compute_dtype(k.dtype)).float().square()
    named = [("q", q), ("v", v), ("beta", beta)] + ([("initial_state", initial_state)] if initial_state
                                                    is not None else [])
    sums = [x.detach().sum(dtype=torch.float64 if x.dtype == torch.float64 else torch.float32).float()
            for _, x in named]
    gain = (beta.detach().float() * k_sq).amax()
    bmin, bmax = torch.aminmax(beta.detach().float())
    stats = torch.stack(sums + [k_sq.sum(), gain, bmin, bmax]).tolist()  # one device sync
    if not all(math.isfinite(x) for x in stats[:-3]):
        for name, x in [("k", k)] + named:
            check_finite(x, name)
    bmin, bmax, gain = stats[-2], stats[-1], stats[-3]
    if bmin < 0 or bmax > 2:
        raise ValueError(f"beta must lie in [0, 2] (the delta rule's stable step sizes), got values in "
                         f"[{bmin:.4g}, {bmax:.4g}]; use beta = sigmoid(.) or 2 * sigmoid(.)")
    if gain > 2.0 + 1e-4:
        warnings.warn(f"beta * ||k||^2 reaches {gain:.3g} > 2: the transition I - beta k k^T is expansive "
                      f"and the state can grow without bound; normalise the keys (l2_normalize)",
                      RuntimeWarning, stacklevel=3)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    # bf16/fp16 inputs accumulate in float32 (and torch.linalg.solve_triangular has no bf16 CUDA kernel).
    return torch.float32 if dtype in _LOW_PRECISION else dtype


# ---------------------------------------------------------------------------------------------- kernels

def delta_rule_recurrent(q, k, v, beta, *, scale=None, chunk_size=64, initial_state=None,
                         output_final_state=False):
    """The delta rule one step at a time (the reference; `chunk_size` is accepted and ignored).

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T,  o_t = scale * S_t^T q_t.
    Accumulates in float32 for bf16/fp16 input; returns `(o, S_T or None)`, o in the input dtype.
    """
    _check_delta_inputs(q, k, v, beta, initial_state, scale)
    out_dtype = v.dtype
    ct = _compute_dtype(torch.promote_types(q.dtype, v.dtype))
    q, k, v, beta = (x.to(ct) for x in (q, k, v, beta))
    scale = k.shape[-1] ** -0.5 if scale is None else float(scale)
    B, H, T, Dk = k.shape
    S = (initial_state.to(ct) if initial_state is not None
         else torch.zeros(B, H, Dk, v.shape[-1], dtype=ct, device=k.device))
    outs = []
    for t in range(T):
        kt = k[:, :, t]
        err = v[:, :, t] - torch.einsum("bhk,bhkv->bhv", kt, S)
        S = S + (beta[:, :, t, None] * kt).unsqueeze(-1) * err.unsqueeze(-2)
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, :, t], S))
    o = (torch.stack(outs, dim=2) * scale).to(out_dtype)
    return o, (S.to(out_dtype) if output_final_state else None)


def _pad_time(x: torch.Tensor, pad: int) -> torch.Tensor:
    if pad == 0:
        return x
    shape = list(x.shape)
    shape[2] = pad
    return torch.cat([x, x.new_zeros(shape)], dim=2)


def _unit_lower_inverse(L: torch.Tensor, block: int = 16) -> torch.Tensor:
    """Inverse of a batch of unit lower-triangular matrices [..., C, C] by blocked forward substitution.

    With m blocks of `block` rows, D_i = inv(L_ii) for every diagonal block at once (one batched
    `solve_triangular` against the identity), then block row i of X = inv(L) is
    X_i,:i = -D_i (L_i,:i X_:i,:i), a pair of batched matmuls per block row. Without autograd the rows are
    written into X in place; when L requires grad, X is grown out of place (torch.cat), because the
    matmuls save views of X for the backward pass. On CPU this is several times faster than one
    triangular solve per C x C matrix (LAPACK call overhead) and as accurate as forward substitution.
    """
    C = L.shape[-1]
    if C <= block:
        eye = torch.eye(C, dtype=L.dtype, device=L.device).expand_as(L)
        return torch.linalg.solve_triangular(L, eye, upper=False, unitriangular=True)
    starts = list(range(0, C, block))
    if torch.is_grad_enabled() and L.requires_grad:
        if C % block == 0:  # every diagonal block in one batched solve
            m = C // block
            diag_l = torch.diagonal(L.unflatten(-1, (m, block)).unflatten(-3, (m, block)), dim1=-4, dim2=-2)
            diags = _unit_lower_inverse(diag_l.movedim(-1, -3), block).unbind(-3)
        else:
            diags = [_unit_lower_inverse(L[..., s0:s0 + block, s0:s0 + block], block) for s0 in starts]
        X = diags[0]
        for d_i, s0 in zip(diags[1:], starts[1:]):
            row = -(d_i @ (L[..., s0:s0 + block, :s0] @ X))
            X = torch.cat([torch.cat([X, X.new_zeros(*X.shape[:-1], d_i.shape[-1])], dim=-1),
                           torch.cat([row, d_i], dim=-1)], dim=-2)
        return X
    X = torch.zeros_like(L)
    if C % block == 0:  # every diagonal block in one batched solve, through strided block views
        m = C // block
        diag = lambda M: torch.diagonal(M.unflatten(-1, (m, block)).unflatten(-3, (m, block)),  # noqa: E731
                                        dim1=-4, dim2=-2)  # [..., block, block, m]
        diag(X).copy_(_unit_lower_inverse(diag(L).movedim(-1, -3), block).movedim(-3, -1))
    else:
        for s0 in starts:  # diagonal blocks (the last one shorter)
            s1 = min(s0 + block, C)
            X[..., s0:s1, s0:s1] = _unit_lower_inverse(L[..., s0:s1, s0:s1], block)
    for s0 in starts[1:]:
        s1 = min(s0 + block, C)
        X[..., s0:s1, :s0] = -(X[..., s0:s1, s0:s1] @ (L[..., s0:s1, :s0] @ X[..., :s0, :s0]))
    return X


def delta_rule(q, k, v, beta, *, scale=None, chunk_size=64, initial_state=None, output_final_state=False):
    """Chunkwise-parallel delta rule (WY/UT form of Yang et al. 2024, sec. 3.2; ANCHORS.md steps 1-6).

    Per chunk of C steps (K, Q in R^{C x Dk}, V in R^{C x Dv}, b = beta):
      A = strict_lower(diag(b) K K^T);  T = (I + A)^{-1} diag(b)  (unit lower-triangular inverse);
      W = T K, U = T V;  U' = U - W S;  O = Q S + tril(Q K^T) U';  S <- S + K^T U'.
    Everything except the state recurrence is batched over all chunks at once (one triangular inverse
    for every chunk, one matmul for every [W | U], the outputs after the loop); the loop does two small
    fused matmuls per chunk and keeps each chunk's entering state for the batched output pass. T need not be a multiple of C: the tail is padded with beta = 0, k = 0
    (identity steps). bf16/fp16 inputs accumulate in float32 (`solve_triangular` has no bf16 CUDA
    kernel). Differentiable (autograd through every op). Returns `(o, S_T or None)` in the input dtype.
    """
    _check_delta_inputs(q, k, v, beta, initial_state, scale)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    out_dtype = v.dtype
    ct = _compute_dtype(torch.promote_types(q.dtype, v.dtype))
    q, k, v, beta = (x.to(ct) for x in (q, k, v, beta))
    scale = k.shape[-1] ** -0.5 if scale is None else float(scale)
    B, H, T, Dk = k.shape
    Dv = v.shape[-1]
    C = min(chunk_size, T)
    n = -(-T // C)
    pad = n * C - T

    def chunks(x):  # [B, H, T, D] -> [B*H, n, C, D]: a view (no copy) unless T needs padding
        return _pad_time(x, pad).reshape(B * H, n, C, x.shape[-1])

    q, k, v = chunks(q), chunks(k), chunks(v)
    b = chunks(beta.unsqueeze(-1))
    kt = k.transpose(-1, -2)
    bt = b.transpose(-1, -2)
    if torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v, b)):
        eye = torch.eye(C, dtype=ct, device=k.device)
        qk = torch.tril(q @ kt)  # causal intra-chunk scores incl. the diagonal
        # T = (I + strict_lower(diag(b) K K^T))^{-1} diag(b): scaling the C x C matrices by b, never
        # the [T, D] tensors, saves full passes over k and v.
        t_mat = _unit_lower_inverse(torch.tril(k @ kt * b, diagonal=-1) + eye) * bt
    else:
        # Same maths in place: large temporaries are costly on CPU (fresh pages for every allocation).
        qk = (q @ kt).tril_()
        lower = (k @ kt).mul_(b).tril_(diagonal=-1)
        lower.diagonal(dim1=-2, dim2=-1).fill_(1.0)
        t_mat = _unit_lower_inverse(lower).mul_(bt)
    w, u = t_mat @ k, t_mat @ v

    S = (initial_state.to(ct).reshape(B * H, Dk, Dv) if initial_state is not None
         else torch.zeros(B * H, Dk, Dv, dtype=ct, device=k.device))
    states, u_news = [], []
    # Split into per-chunk views once: indexing `u[:, i]` inside the loop would make autograd build a
    # full-size zero gradient for every slice, which makes the backward quadratic in the number of chunks;
    # the backward of `unbind` is one `stack`.
    for u_i, w_i, kt_i in zip(u.unbind(1), w.unbind(1), kt.unbind(1)):
        states.append(S)  # the only sequential part: the state carried from chunk to chunk (two matmuls)
        u_new = torch.baddbmm(u_i, w_i, S, alpha=-1.0)
        u_news.append(u_new)
        S = torch.baddbmm(S, kt_i, u_new)
    # The outputs need only each chunk's entering state and corrected values: one batched pass after the
    # loop instead of three small launches per chunk inside it (the loop is launch-bound on GPUs).
    o = torch.matmul(q, torch.stack(states, 1)) + torch.matmul(qk, torch.stack(u_news, 1))
    o = o.reshape(B, H, n * C, Dv)[:, :, :T]
    if scale != 1.0:
        o = o * scale if o.requires_grad else o.mul_(scale)
    return o.to(out_dtype), (S.reshape(B, H, Dk, Dv).to(out_dtype) if output_final_state else None)


# ---------------------------------------------------------------------------------------------- module

_FEATURES = {
    "identity": lambda x: x,
    "elu": elu_plus_one,
    "dpfp": dpfp,
}


class DeltaRuleFastWeights(nn.Module):
    """Delta-rule fast-weight layer (Schlag et al. 2021 sec. 4; DeltaNet normalisation).

    x [B, T, d_model] -> q, k, v = linear projections into `n_heads` heads of `d_head`;
    keys and queries go through `feature` ("identity", "elu" = elu+1, "dpfp") and are L2-normalised, so
    `||k|| = 1` and beta = sigmoid(W_beta x) in (0, 1) keeps every step contractive; the delta rule runs
    chunkwise (`delta_rule`); the heads are merged by an output projection.
    forward(x, initial_state=None) -> (y [B, T, d_model], final state [B, H, d_k, d_head]).
    """

    def __init__(self, d_model: int, n_heads: int, d_head: int, *, feature: str = "identity",
                 chunk_size: int = 64, bias: bool = False):
        super().__init__()
        for name, val in (("d_model", d_model), ("n_heads", n_heads), ("d_head", d_head)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        if feature not in _FEATURES:
            raise ValueError(f"feature must be one of {sorted(_FEATURES)}, got {feature!r}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_head
        self.feature, self.chunk_size = feature, chunk_size
        self.q_proj = nn.Linear(d_model, n_heads * d_head, bias=bias)
        self.k_proj = nn.Linear(d_model, n_heads * d_head, bias=bias)
        self.v_proj = nn.Linear(d_model, n_heads * d_head, bias=bias)
        self.beta_proj = nn.Linear(d_model, n_heads, bias=True)
        self.out_proj = nn.Linear(n_heads * d_head, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, x: torch.Tensor, initial_state: torch.Tensor | None = None):
        check_tensor(x, "x")
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape [B, T, d_model={self.d_model}], got {tuple(x.shape)}")
        phi = _FEATURES[self.feature]
        q = l2_normalize(phi(self._heads(self.q_proj(x))))
        k = l2_normalize(phi(self._heads(self.k_proj(x))))
        v = self._heads(self.v_proj(x))
        beta = torch.sigmoid(self.beta_proj(x)).transpose(1, 2)
        o, S = delta_rule(q, k, v, beta, scale=1.0, chunk_size=self.chunk_size,
                          initial_state=initial_state, output_final_state=True)
        B, H, T, D = o.shape
        return self.out_proj(o.transpose(1, 2).reshape(B, T, H * D)), S
