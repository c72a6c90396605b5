"""The delta rule and the gated delta rule: chunkwise-parallel (the fixed ops) and one step at a time.

Delta rule (Schlag, Irie, Schmidhuber 2021, eq. 8; Yang et al. 2024, "Parallelizing Linear Transformers
with the Delta Rule over Sequence Length", arXiv 2406.06484), state S [Dk, Dv] per head:

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,
    o_t = scale * S_t^T q_t.

Gated delta rule (Yang, Kautz, Hatamizadeh 2025, "Gated Delta Networks", arXiv 2412.06464, eq. 10, written
for S [Dk, Dv]), alpha_t = exp(g_t) in (0, 1]:

    S_t = alpha_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T.

Layout: q, k [B, H, T, Dk], v [B, H, T, Dv], beta, g [B, H, T], state [B, H, Dk, Dv] (the default
layout="BHTD"). flash-linear-attention's tensors are [B, T, H, D]: pass layout="BTHD" for them; without it
they are silently read as [B, H, T, D] (T and H swapped, a valid but different computation).
"""

from __future__ import annotations

import os

import torch

from suite.fastweights.inputs import check_delta_inputs, check_layout, compute_dtype, pad_time, to_heads_first

__all__ = ["delta_rule", "delta_rule_recurrent", "gated_delta_rule", "gated_delta_rule_recurrent"]


# ---------------------------------------------------------------------------------------------- helpers

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


def _check_chunk_size(chunk_size) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


# backend="auto" picks the Triton state recurrence on CUDA tensors when Triton imports; the PyTorch path is
# the reference everywhere else. Decided by measurement (one H200, Triton 3.6, fp32, B4 H8 T1024 D64,
# triton.testing.do_bench medians): forward 2.55 -> 1.28 ms, forward+backward 9.42 -> 5.06 ms, error vs
# float64 2.8e-7 -> 3.3e-7; tests/test_fastweights_triton.py passed there on CUDA (fp32 and fp64).
AUTO_TRITON_ON_CUDA = True


def _triton_module():
    """suite.fastweights._triton, or None when Triton is not installed (imported on first use only)."""
    try:
        from suite.fastweights import _triton  # noqa: PLC0415 (optional dependency)
    except ImportError:
        return None
    return _triton


def _recurrence(backend, device: torch.device):
    """The state recurrence for `backend` in ("auto", "torch", "triton") and tensors on `device`."""
    return _triton_module().state_recurrence if _resolve_backend(backend, device) == "triton" else _state_recurrence


def _resolve_backend(backend, device: torch.device) -> str:
    """'torch' or 'triton' for `backend` in ("auto", "torch", "triton") and tensors on `device`."""
    if backend not in ("auto", "torch", "triton"):
        raise ValueError(f"backend must be 'auto', 'torch' or 'triton', got {backend!r}")
    if backend == "torch":
        return "torch"
    interpret = os.environ.get("TRITON_INTERPRET") == "1"
    usable = (device.type == "cuda" or interpret) and _triton_module() is not None
    if backend == "triton":
        if not usable:
            raise ValueError(f"backend='triton' needs the triton package and CUDA tensors (or TRITON_INTERPRET=1 "
                             f"for CPU tensors), got tensors on {device}"
                             f"{'' if _triton_module() is not None else ' and no triton installed'}")
        return "triton"
    return "triton" if usable and device.type == "cuda" and AUTO_TRITON_ON_CUDA else "torch"


def _state_recurrence(u, w, kt, decay_last, S, stage=None):
    """The chunk-to-chunk state recurrence, the only sequential part of the chunkwise algorithm.

    u_i' = u_i - w_i S_i;  S_{i+1} = a_i S_i + kt_i u_i'  (a_i = decay over chunk i, or 1 when None).
    u, w [N, n, C, *], kt [N, n, Dk, C], decay_last [N, n] or None, S [N, Dk, Dv].
    Returns (entering states [N, n, Dk, Dv], u' [N, n, C, Dv], final S).
    The chunk tensors are split once (`unbind`): indexing `u[:, i]` inside the loop would make autograd
    build a full-size zero gradient for every slice, a backward quadratic in the number of chunks.
    `stage` (None for the fixed op) is applied to the state entering each chunk's products and to u_i',
    e.g. a rounding to bf16: how low-precision kernels store them (`suite.fastweights.regimes`).
    """
    states, u_news = [], []
    decays = decay_last.unbind(1) if decay_last is not None else [None] * u.shape[1]
    for u_i, w_i, kt_i, a_i in zip(u.unbind(1), w.unbind(1), kt.unbind(1), decays):
        S_in = S if stage is None else stage(S)
        states.append(S_in)
        u_new = torch.baddbmm(u_i, w_i, S_in, alpha=-1.0)
        if stage is not None:
            u_new = stage(u_new)
        u_news.append(u_new)
        S = torch.baddbmm(S if a_i is None else S * a_i[:, None, None], kt_i, u_new)
    return torch.stack(states, 1), torch.stack(u_news, 1), S


def _chunk_forward(q, k, v, beta, g, S0, scale, C, recurrence=None):
    """Chunkwise (gated) delta rule on [B, H, T, *] tensors of the compute dtype; returns (o, S_T).

    Per chunk of C steps (K, Q in R^{C x Dk}, V in R^{C x Dv}, b = beta; with a gate, c_i = sum_{j<=i} g_j
    within the chunk, gamma_i = exp(c_i) and Gamma_ij = exp(c_i - c_j) for j <= i, else 0; without one,
    gamma = 1 and Gamma = the causal mask; Yang et al. 2024 sec. 3.2, Yang et al. 2025 sec. 3.3):
      A = strict_lower(diag(b) (K K^T * Gamma));  T = (I + A)^{-1} diag(b)  (the UT transform);
      W = T (gamma * K), U = T V;  U' = U - W S;
      O = (gamma * Q) S + (tril(Q K^T) * Gamma) U';  S <- gamma_C S + (K * gamma_C / gamma)^T U'.
    Everything except the state recurrence is batched over all chunks at once.
    """
    B, H, T, Dk = k.shape
    Dv = v.shape[-1]
    n = -(-T // C)
    pad = n * C - T

    def chunks(x):  # [B, H, T, D] -> [B*H, n, C, D]: a view (no copy) unless T needs padding
        return pad_time(x, pad).reshape(B * H, n, C, x.shape[-1])

    q, k, v = chunks(q), chunks(k), chunks(v)
    b = chunks(beta.unsqueeze(-1))
    kt = k.transpose(-1, -2)
    bt = b.transpose(-1, -2)
    grad = torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v, b, g) if x is not None)
    if g is not None:
        c = chunks(g.unsqueeze(-1)).squeeze(-1).cumsum(-1)  # [N, n, C], padded steps have g = 0
        future = torch.ones(C, C, dtype=torch.bool, device=k.device).triu_(1)
        gamma_ij = torch.exp((c[..., :, None] - c[..., None, :]).masked_fill(future, -torch.inf))
        decay_last = c[..., -1].exp()  # gamma_C per chunk
        q_in, k_in = q * c.exp()[..., None], k * c.exp()[..., None]
        kt_state = (k * torch.exp(c[..., -1:] - c)[..., None]).transpose(-1, -2)
        qk = (q @ kt) * gamma_ij
        t_mat = _unit_lower_inverse(torch.tril(k @ kt * gamma_ij * b, diagonal=-1)
                                    + torch.eye(C, dtype=k.dtype, device=k.device)) * bt
    elif grad:
        decay_last, q_in, k_in, kt_state = None, q, k, kt
        qk = torch.tril(q @ kt)  # causal intra-chunk scores incl. the diagonal
        # Scaling the C x C matrices by b, never the [T, D] tensors, saves full passes over k and v.
        t_mat = _unit_lower_inverse(torch.tril(k @ kt * b, diagonal=-1)
                                    + torch.eye(C, dtype=k.dtype, device=k.device)) * bt
    else:
        # Same maths in place: large temporaries are costly on CPU (fresh pages for every allocation).
        decay_last, q_in, k_in, kt_state = None, q, k, kt
        qk = (q @ kt).tril_()
        lower = (k @ kt).mul_(b).tril_(diagonal=-1)
        lower.diagonal(dim1=-2, dim2=-1).fill_(1.0)
        t_mat = _unit_lower_inverse(lower).mul_(bt)
    w, u = t_mat @ k_in, t_mat @ v
    S = S0.reshape(B * H, Dk, Dv) if S0 is not None else k.new_zeros(B * H, Dk, Dv)
    states, u_new, S = (recurrence or _state_recurrence)(u, w, kt_state, decay_last, S)
    # The outputs need only each chunk's entering state and corrected values: one batched pass after the
    # loop instead of small launches per chunk inside it (the loop is launch-bound on GPUs).
    o = torch.matmul(q_in, states) + torch.matmul(qk, u_new)
    o = o.reshape(B, H, n * C, Dv)[:, :, :T]
    if scale != 1.0:
        o = o * scale if o.requires_grad else o.mul_(scale)
    return o, S.reshape(B, H, Dk, Dv)


def _recurrent_forward(q, k, v, beta, g, S0, scale):
    """One step at a time: S <- alpha S (alpha = exp(g), or 1); S <- S + beta k (v - S^T k)^T; o = scale S^T q."""
    B, H, T, Dk = k.shape
    S = S0 if S0 is not None else k.new_zeros(B, H, Dk, v.shape[-1])
    outs = []
    for t in range(T):
        if g is not None:
            S = S * g[:, :, t, None, None].exp()
        kt = k[:, :, t]
        err = v[:, :, t] - torch.einsum("bhk,bhkv->bhv", kt, S)
        S = S + (beta[:, :, t, None] * kt).unsqueeze(-1) * err.unsqueeze(-2)
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, :, t], S))
    return torch.stack(outs, dim=2) * scale, S


def _run(forward, q, k, v, beta, g, *, scale, initial_state, output_final_state, layout, extra=()):
    """Layout, checks, compute dtype and output dtype around one forward implementation."""
    check_layout(layout)
    q, k, v, beta, g = to_heads_first(layout, q, k, v, beta, g)
    check_delta_inputs(q, k, v, beta, initial_state, scale, g=g, layout=layout)
    out_dtype = v.dtype
    ct = compute_dtype(torch.promote_types(q.dtype, v.dtype))
    q, k, v, beta = (x.to(ct) for x in (q, k, v, beta))
    g = g.to(ct) if g is not None else None
    S0 = initial_state.to(ct) if initial_state is not None else None
    scale = k.shape[-1] ** -0.5 if scale is None else float(scale)
    o, S = forward(q, k, v, beta, g, S0, scale, *extra)
    (o,) = to_heads_first(layout, o.to(out_dtype))
    return o, (S.to(out_dtype) if output_final_state else None)


# ---------------------------------------------------------------------------------------------- public

def delta_rule(q, k, v, beta, *, scale=None, chunk_size=64, initial_state=None, output_final_state=False,
               layout="BHTD", backend="auto"):
    """Chunkwise-parallel delta rule (the WY/UT form of Yang et al. 2024, arXiv 2406.06484, sec. 3.2).

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T,  o_t = scale * S_t^T q_t  (Schlag, Irie, Schmidhuber
    2021, eq. 8), computed per chunk of `chunk_size` steps with one triangular solve per chunk (the UT
    transform) and a state recurrence from chunk to chunk; any T (the tail is padded with identity steps
    beta = 0, k = 0). bf16/fp16 inputs accumulate in float32. Differentiable (autograd through every op);
    float64 works (the oracle path).

    Warning:
        Layout. The default layout="BHTD" reads q, k as [B, H, T, Dk], v as [B, H, T, Dv] and beta as
        [B, H, T]. flash-linear-attention's tensors are [B, T, H, D]: pass layout="BTHD" for them. Without
        it they are silently taken as [B, H, T, D] (T and H swapped: a valid but different computation).

    Args:
        q: [B, H, T, Dk] queries ([B, T, H, Dk] with layout="BTHD"), real floating (bf16/fp16 accumulate
            in float32, float64 stays float64).
        k: keys, q's shape; should be normalised (||k|| = 1 with beta in [0, 2] is stable).
        v: [B, H, T, Dv] values ([B, T, H, Dv]).
        beta: [B, H, T] step sizes ([B, T, H]), in [0, 2].
        scale: output scale; None means Dk ** -0.5.
        chunk_size: steps per chunk (any positive integer; T need not be a multiple).
        initial_state: S_0 [B, H, Dk, Dv] (in either layout) or None (zeros).
        output_final_state: also return S_T.
        layout: "BHTD" (default) or "BTHD".
        backend: "torch" (the PyTorch path, the reference), "triton" (the state recurrence as one Triton
            kernel, forward and backward, CUDA tensors; its products are exact fp32 for Dk <= 64 and
            split-TF32 "tf32x3" above, chosen by measurement: `suite.fastweights._triton`) or "auto"
            (Triton on CUDA tensors when it imports, else PyTorch;
            `suite.fastweights.delta.AUTO_TRITON_ON_CUDA = False` turns that off).

    Returns:
        (o, S_T or None): o [B, H, T, Dv] (in the input layout), S_T [B, H, Dk, Dv], both in the promoted
        input dtype.

    Raises:
        TypeError: a non-tensor or non-real-floating argument, `scale` a bool.
        ValueError: a bad layout, shapes that do not match (q vs k, v, beta, initial_state), T = 0,
            Dk or Dv = 0, tensors on different devices, chunk_size not a positive integer; while validation
            is on (`suite.set_validation`): NaN/Inf, beta outside [0, 2].

    Warns:
        RuntimeWarning: some beta_t ||k_t||^2 > 2, where the transition I - beta k k^T is expansive and the
            state can grow without bound (normalise the keys: `l2_normalize` or `sum_normalize`).

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> q, v = torch.randn(1, 2, 5, 4, generator=gen), torch.randn(1, 2, 5, 3, generator=gen)
        >>> k = torch.nn.functional.normalize(torch.randn(1, 2, 5, 4, generator=gen), dim=-1)  # unit keys
        >>> beta = torch.rand(1, 2, 5, generator=gen)
        >>> o, S = delta_rule(q, k, v, beta, output_final_state=True)  # [B, H, T, D]
        >>> o.shape, S.shape
        (torch.Size([1, 2, 5, 3]), torch.Size([1, 2, 4, 3]))
        >>> t = lambda x: x.transpose(1, 2)  # fla's [B, T, H, D]: say so with layout="BTHD"
        >>> o2, _ = delta_rule(t(q), t(k), t(v), t(beta), layout="BTHD")
        >>> torch.allclose(t(o2), o, atol=1e-6)
        True
    """
    _check_chunk_size(chunk_size)
    rec = _recurrence(backend, q.device if isinstance(q, torch.Tensor) else torch.device("cpu"))
    return _run(lambda q, k, v, b, g, S0, s: _chunk_forward(q, k, v, b, None, S0, s, min(chunk_size, q.shape[2]),
                                                            rec),
                q, k, v, beta, None, scale=scale, initial_state=initial_state,
                output_final_state=output_final_state, layout=layout)


def delta_rule_recurrent(q, k, v, beta, *, scale=None, chunk_size=64, initial_state=None,
                         output_final_state=False, layout="BHTD"):
    """The delta rule one step at a time (the reference of `delta_rule`; Schlag, Irie, Schmidhuber 2021, eq. 8).

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T,  o_t = scale * S_t^T q_t. Same arguments, layouts
    and checks as `delta_rule`; accumulates in float32 for bf16/fp16.

    Warning:
        Layout. The default layout="BHTD" reads q, k as [B, H, T, Dk], v as [B, H, T, Dv] and beta as
        [B, H, T]. flash-linear-attention's tensors are [B, T, H, D]: pass layout="BTHD" for them. Without
        it they are silently taken as [B, H, T, D] (T and H swapped: a valid but different computation).

    Args:
        q: [B, H, T, Dk] queries ([B, T, H, Dk] with layout="BTHD"), real floating (bf16/fp16 accumulate
            in float32, float64 stays float64).
        k: keys, q's shape; should be normalised (||k|| = 1 with beta in [0, 2] is stable).
        v: [B, H, T, Dv] values ([B, T, H, Dv]).
        beta: [B, H, T] step sizes ([B, T, H]), in [0, 2].
        scale: output scale; None means Dk ** -0.5.
        chunk_size: steps per chunk (any positive integer; T need not be a multiple). Accepted and ignored here.
        initial_state: S_0 [B, H, Dk, Dv] (in either layout) or None (zeros).
        output_final_state: also return S_T.
        layout: "BHTD" (default) or "BTHD".

    Returns:
        (o, S_T or None): o [B, H, T, Dv] (in the input layout), S_T [B, H, Dk, Dv], both in the promoted
        input dtype.

    Raises:
        TypeError: a non-tensor or non-real-floating argument, `scale` a bool.
        ValueError: a bad layout, shapes that do not match (q vs k, v, beta, initial_state), T = 0,
            Dk or Dv = 0, tensors on different devices, chunk_size not a positive integer; while validation
            is on (`suite.set_validation`): NaN/Inf, beta outside [0, 2].

    Warns:
        RuntimeWarning: some beta_t ||k_t||^2 > 2, where the transition I - beta k k^T is expansive and the
            state can grow without bound (normalise the keys: `l2_normalize` or `sum_normalize`).

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> q, v = torch.randn(1, 2, 5, 4, generator=gen), torch.randn(1, 2, 5, 3, generator=gen)
        >>> k = torch.nn.functional.normalize(torch.randn(1, 2, 5, 4, generator=gen), dim=-1)  # unit keys
        >>> beta = torch.rand(1, 2, 5, generator=gen)
        >>> o, S = delta_rule_recurrent(q, k, v, beta, output_final_state=True)  # [B, H, T, D]
        >>> o.shape, S.shape
        (torch.Size([1, 2, 5, 3]), torch.Size([1, 2, 4, 3]))
        >>> t = lambda x: x.transpose(1, 2)  # fla's [B, T, H, D]: say so with layout="BTHD"
        >>> o2, _ = delta_rule_recurrent(t(q), t(k), t(v), t(beta), layout="BTHD")
        >>> torch.allclose(t(o2), o, atol=1e-6)
        True
    """
    _check_chunk_size(chunk_size)
    return _run(_recurrent_forward, q, k, v, beta, None, scale=scale, initial_state=initial_state,
                output_final_state=output_final_state, layout=layout)


def gated_delta_rule(q, k, v, beta, g, *, scale=None, chunk_size=64, initial_state=None,
                     output_final_state=False, layout="BHTD", backend="auto"):
    """Chunkwise-parallel gated delta rule (GatedDeltaNet, Yang, Kautz, Hatamizadeh 2025, arXiv 2412.06464).

    S_t = alpha_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,  alpha_t = exp(g_t),
    o_t = scale * S_t^T q_t. The same chunkwise algorithm as `delta_rule`, with the decays folded into the
    UT transform (A_ij = beta_i exp(c_i - c_j) k_i.k_j, c the in-chunk cumulative sum of g) and computed
    from differences of c, so no exp(-c) can overflow however strong the decay.

    Argument order: `g` (log decay, <= 0) comes after `beta` here, as in `delta_rule`;
    flash-linear-attention's `chunk_gated_delta_rule(q, k, v, g, beta)` has them the other way round. A
    swapped call is refused while validating (beta must lie in [0, 2], g must be <= 0).

    Warning:
        Layout. The default layout="BHTD" reads q, k as [B, H, T, Dk], v as [B, H, T, Dv] and beta, g as
        [B, H, T]. flash-linear-attention's tensors are [B, T, H, D]: pass layout="BTHD" for them. Without
        it they are silently taken as [B, H, T, D] (T and H swapped: a valid but different computation).

    Args:
        q: [B, H, T, Dk] queries ([B, T, H, Dk] with layout="BTHD"), real floating (bf16/fp16 accumulate
            in float32, float64 stays float64).
        k: keys, q's shape; should be normalised (||k|| = 1 with beta in [0, 2] is stable).
        v: [B, H, T, Dv] values ([B, T, H, Dv]).
        beta: [B, H, T] step sizes ([B, T, H]), in [0, 2].
        g: [B, H, T] log decays ([B, T, H]), g <= 0 (e.g. logsigmoid(.)); alpha_t = exp(g_t).
        scale: output scale; None means Dk ** -0.5.
        chunk_size: steps per chunk (any positive integer; T need not be a multiple).
        initial_state: S_0 [B, H, Dk, Dv] (in either layout) or None (zeros).
        output_final_state: also return S_T.
        layout: "BHTD" (default) or "BTHD".
        backend: as in `delta_rule` ("torch", "triton": exact fp32 products for Dk <= 64, "tf32x3" above;
            "auto": Triton on CUDA tensors when it imports).

    Returns:
        (o, S_T or None): o [B, H, T, Dv] (in the input layout), S_T [B, H, Dk, Dv], both in the promoted
        input dtype.

    Raises:
        TypeError: a non-tensor or non-real-floating argument, `scale` a bool.
        ValueError: a bad layout, shapes that do not match (q vs k, v, beta, g, initial_state), T = 0,
            Dk or Dv = 0, tensors on different devices, chunk_size not a positive integer; while validation
            is on (`suite.set_validation`): NaN/Inf, beta outside [0, 2], g > 0.

    Warns:
        RuntimeWarning: some beta_t ||k_t||^2 > 2, where the transition I - beta k k^T is expansive and the
            state can grow without bound (normalise the keys: `l2_normalize` or `sum_normalize`).

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> q, v = torch.randn(1, 2, 5, 4, generator=gen), torch.randn(1, 2, 5, 3, generator=gen)
        >>> k = torch.nn.functional.normalize(torch.randn(1, 2, 5, 4, generator=gen), dim=-1)  # unit keys
        >>> beta = torch.rand(1, 2, 5, generator=gen)
        >>> g = torch.nn.functional.logsigmoid(torch.randn(1, 2, 5, generator=gen))
        >>> o, S = gated_delta_rule(q, k, v, beta, g, output_final_state=True)  # [B, H, T, D]
        >>> o.shape, S.shape
        (torch.Size([1, 2, 5, 3]), torch.Size([1, 2, 4, 3]))
        >>> t = lambda x: x.transpose(1, 2)  # fla's [B, T, H, D]: say so with layout="BTHD"
        >>> o2, _ = gated_delta_rule(t(q), t(k), t(v), t(beta), t(g), layout="BTHD")
        >>> torch.allclose(t(o2), o, atol=1e-6)
        True
    """
    _check_chunk_size(chunk_size)
    rec = _recurrence(backend, q.device if isinstance(q, torch.Tensor) else torch.device("cpu"))
    return _run(lambda q, k, v, b, g, S0, s: _chunk_forward(q, k, v, b, g, S0, s, min(chunk_size, q.shape[2]),
                                                            rec),
                q, k, v, beta, g, scale=scale, initial_state=initial_state,
                output_final_state=output_final_state, layout=layout)


def gated_delta_rule_recurrent(q, k, v, beta, g, *, scale=None, chunk_size=64, initial_state=None,
                               output_final_state=False, layout="BHTD"):
    """The gated delta rule one step at a time (the reference of `gated_delta_rule`; Yang, Kautz, Hatamizadeh 2025).

    S_t = alpha_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T with alpha_t = exp(g_t),
    o_t = scale * S_t^T q_t; same arguments, argument order (g after beta), layouts and checks as
    `gated_delta_rule`.

    Warning:
        Layout. The default layout="BHTD" reads q, k as [B, H, T, Dk], v as [B, H, T, Dv] and beta, g as
        [B, H, T]. flash-linear-attention's tensors are [B, T, H, D]: pass layout="BTHD" for them. Without
        it they are silently taken as [B, H, T, D] (T and H swapped: a valid but different computation).

    Args:
        q: [B, H, T, Dk] queries ([B, T, H, Dk] with layout="BTHD"), real floating (bf16/fp16 accumulate
            in float32, float64 stays float64).
        k: keys, q's shape; should be normalised (||k|| = 1 with beta in [0, 2] is stable).
        v: [B, H, T, Dv] values ([B, T, H, Dv]).
        beta: [B, H, T] step sizes ([B, T, H]), in [0, 2].
        g: [B, H, T] log decays ([B, T, H]), g <= 0 (e.g. logsigmoid(.)); alpha_t = exp(g_t).
        scale: output scale; None means Dk ** -0.5.
        chunk_size: steps per chunk (any positive integer; T need not be a multiple). Accepted and ignored here.
        initial_state: S_0 [B, H, Dk, Dv] (in either layout) or None (zeros).
        output_final_state: also return S_T.
        layout: "BHTD" (default) or "BTHD".

    Returns:
        (o, S_T or None): o [B, H, T, Dv] (in the input layout), S_T [B, H, Dk, Dv], both in the promoted
        input dtype.

    Raises:
        TypeError: a non-tensor or non-real-floating argument, `scale` a bool.
        ValueError: a bad layout, shapes that do not match (q vs k, v, beta, g, initial_state), T = 0,
            Dk or Dv = 0, tensors on different devices, chunk_size not a positive integer; while validation
            is on (`suite.set_validation`): NaN/Inf, beta outside [0, 2], g > 0.

    Warns:
        RuntimeWarning: some beta_t ||k_t||^2 > 2, where the transition I - beta k k^T is expansive and the
            state can grow without bound (normalise the keys: `l2_normalize` or `sum_normalize`).

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> q, v = torch.randn(1, 2, 5, 4, generator=gen), torch.randn(1, 2, 5, 3, generator=gen)
        >>> k = torch.nn.functional.normalize(torch.randn(1, 2, 5, 4, generator=gen), dim=-1)  # unit keys
        >>> beta = torch.rand(1, 2, 5, generator=gen)
        >>> g = torch.nn.functional.logsigmoid(torch.randn(1, 2, 5, generator=gen))
        >>> o, S = gated_delta_rule_recurrent(q, k, v, beta, g, output_final_state=True)  # [B, H, T, D]
        >>> o.shape, S.shape
        (torch.Size([1, 2, 5, 3]), torch.Size([1, 2, 4, 3]))
        >>> t = lambda x: x.transpose(1, 2)  # fla's [B, T, H, D]: say so with layout="BTHD"
        >>> o2, _ = gated_delta_rule_recurrent(t(q), t(k), t(v), t(beta), t(g), layout="BTHD")
        >>> torch.allclose(t(o2), o, atol=1e-6)
        True
    """
    _check_chunk_size(chunk_size)
    return _run(_recurrent_forward, q, k, v, beta, g, scale=scale, initial_state=initial_state,
                output_final_state=output_final_state, layout=layout)
