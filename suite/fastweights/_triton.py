"""Triton kernels for the chunk-to-chunk state recurrence of the chunkwise (gated) delta rule.

The recurrence (Yang et al. 2024 sec. 3.2, with the chunk decay a_i of Yang et al. 2025 sec. 3.3)

    u_i' = u_i - w_i S_i,   S_{i+1} = a_i S_i + kt_i u_i'

is the only sequential part of the chunkwise algorithm; in PyTorch it is two launches per chunk. Here one
program owns one head and a block of BV columns of S (the columns of S evolve independently) and keeps
that block in registers through every chunk: one launch for the whole sequence. The backward runs the
adjoint recurrence backwards in one launch,

    du_i' = g_u_i' + kt_i^T dS_{i+1},   dS_i = a_i dS_{i+1} + g_S_i - w_i^T du_i',

and the per-chunk products that sum over columns (dw, dkt, da) are batched matmuls afterwards.
Products use `tl.dot(..., input_precision=...)`: "ieee" (exact fp32 FMA; the only choice for fp64) or
"tf32x3" (split-TF32 products at tensor-core speed). `default_precision` picks one by measurement (one
H200, Triton 3.6, fp32, medians in ms of forward / forward+backward, errors vs float64, from
suite.fastweights.benchmark): B4 H8 T1024 Dk64 "ieee" 0.91 / 5.14, "tf32x3" 1.41 / 5.39; B4 H8 T4096
Dk64 "ieee" 1.04 / 5.25, "tf32x3" 1.52 / 6.64 (at Dk <= 64 the recurrence is latency-bound and the three
TF32 products only add work); B2 H16 T8192 Dk128 "ieee" 22.4 / 49.1 (slower than the PyTorch path's
11.5 / 39.2: the [Dk, BV] fp32 FMA tile is FLOP-bound), "tf32x3" 3.34 / 10.5 at error 4.5e-7 (the
contract is 1e-5). So "ieee" for Dk <= 64 and "tf32x3" above, in fp32; fp64 always "ieee".
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

PRECISIONS = ("ieee", "tf32x3")


@triton.jit
def _fwd_kernel(u, w, kst, decay, s0, states, u_new, s_out, n_chunks, C, DK, DV,
                BC: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, HAS_DECAY: tl.constexpr,
                HAS_S0: tl.constexpr, PRECISION: tl.constexpr):
    i_h, i_v = tl.program_id(0), tl.program_id(1)
    r_c, r_k = tl.arange(0, BC), tl.arange(0, BK)
    r_v = i_v * BV + tl.arange(0, BV)
    m_c, m_k, m_v = r_c < C, r_k < DK, r_v < DV
    m_kv = m_k[:, None] & m_v[None, :]
    m_cv = m_c[:, None] & m_v[None, :]
    m_ck = m_c[:, None] & m_k[None, :]
    off_kv = r_k[:, None] * DV + r_v[None, :]
    off_cv = r_c[:, None] * DV + r_v[None, :]
    off_ck = r_c[:, None] * DK + r_k[None, :]
    if HAS_S0:
        b_s = tl.load(s0 + i_h * DK * DV + off_kv, mask=m_kv, other=0.0)
    else:
        b_s = tl.zeros([BK, BV], dtype=s_out.dtype.element_ty)
    for i in range(n_chunks):
        base = i_h * n_chunks + i
        tl.store(states + base * DK * DV + off_kv, b_s, mask=m_kv)
        b_w = tl.load(w + base * C * DK + off_ck, mask=m_ck, other=0.0)
        b_u = tl.load(u + base * C * DV + off_cv, mask=m_cv, other=0.0)
        b_un = b_u - tl.dot(b_w, b_s, input_precision=PRECISION)
        tl.store(u_new + base * C * DV + off_cv, b_un, mask=m_cv)
        b_k = tl.load(kst + base * C * DK + off_ck, mask=m_ck, other=0.0)
        if HAS_DECAY:
            b_s = b_s * tl.load(decay + base)
        b_s += tl.dot(tl.trans(b_k), b_un, input_precision=PRECISION)
    tl.store(s_out + i_h * DK * DV + off_kv, b_s, mask=m_kv)


@triton.jit
def _bwd_kernel(w, kst, decay, g_states, g_unew, g_sout, du, ds_exit, ds0, n_chunks, C, DK, DV,
                BC: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, HAS_DECAY: tl.constexpr,
                HAS_GS: tl.constexpr, PRECISION: tl.constexpr):
    i_h, i_v = tl.program_id(0), tl.program_id(1)
    r_c, r_k = tl.arange(0, BC), tl.arange(0, BK)
    r_v = i_v * BV + tl.arange(0, BV)
    m_c, m_k, m_v = r_c < C, r_k < DK, r_v < DV
    m_kv = m_k[:, None] & m_v[None, :]
    m_cv = m_c[:, None] & m_v[None, :]
    m_ck = m_c[:, None] & m_k[None, :]
    off_kv = r_k[:, None] * DV + r_v[None, :]
    off_cv = r_c[:, None] * DV + r_v[None, :]
    off_ck = r_c[:, None] * DK + r_k[None, :]
    if HAS_GS:
        b_ds = tl.load(g_sout + i_h * DK * DV + off_kv, mask=m_kv, other=0.0)
    else:
        b_ds = tl.zeros([BK, BV], dtype=ds0.dtype.element_ty)
    for j in range(n_chunks):
        i = n_chunks - 1 - j
        base = i_h * n_chunks + i
        tl.store(ds_exit + base * DK * DV + off_kv, b_ds, mask=m_kv)
        b_k = tl.load(kst + base * C * DK + off_ck, mask=m_ck, other=0.0)
        b_du = tl.load(g_unew + base * C * DV + off_cv, mask=m_cv, other=0.0)
        b_du += tl.dot(b_k, b_ds, input_precision=PRECISION)
        tl.store(du + base * C * DV + off_cv, b_du, mask=m_cv)
        b_w = tl.load(w + base * C * DK + off_ck, mask=m_ck, other=0.0)
        if HAS_DECAY:
            b_ds = b_ds * tl.load(decay + base)
        b_ds += tl.load(g_states + base * DK * DV + off_kv, mask=m_kv, other=0.0)
        b_ds -= tl.dot(tl.trans(b_w), b_du, input_precision=PRECISION)
    tl.store(ds0 + i_h * DK * DV + off_kv, b_ds, mask=m_kv)


def _blocks(N: int, C: int, Dk: int, Dv: int, dtype: torch.dtype, programs: int = 256):
    """Tile sizes: padded chunk and key dims, and a column block BV small enough that the N * (Dv / BV)
    programs fill the GPU (each runs the whole sequence; smaller blocks only repeat loads of w and k)."""
    pow2 = lambda x: max(16, triton.next_power_of_2(x))  # noqa: E731 (tl.dot needs dims >= 16)
    BV = min(pow2(Dv), 32 if dtype == torch.float64 or Dk > 64 else 64)
    while BV > 16 and N * triton.cdiv(Dv, BV) < programs:
        BV //= 2
    return pow2(C), pow2(Dk), BV, triton.cdiv(Dv, BV)


class _StateRecurrence(torch.autograd.Function):
    """(u, w, kt, decay or None, S0) -> (entering states, u', final S); see the module docstring."""

    @staticmethod
    def forward(ctx, u, w, kt, decay, S0, precision):
        N, n, C, Dv = u.shape
        Dk = w.shape[-1]
        u, w = u.contiguous(), w.contiguous()
        kst = kt.transpose(-1, -2).contiguous()  # [N, n, C, Dk]
        dec = decay.contiguous() if decay is not None else u  # unused pointer when there is no decay
        states = u.new_empty(N, n, Dk, Dv)
        u_new = torch.empty_like(u)
        s_out = u.new_empty(N, Dk, Dv)
        BC, BK, BV, nv = _blocks(N, C, Dk, Dv, u.dtype)
        s0 = S0.contiguous() if S0 is not None else s_out
        _fwd_kernel[(N, nv)](u, w, kst, dec, s0, states, u_new, s_out, n, C, Dk, Dv, BC=BC, BK=BK, BV=BV,
                             HAS_DECAY=decay is not None, HAS_S0=S0 is not None, PRECISION=precision)
        ctx.save_for_backward(w, kst, decay, states, u_new)
        ctx.precision, ctx.has_s0 = precision, S0 is not None
        return states, u_new, s_out

    @staticmethod
    def backward(ctx, g_states, g_unew, g_sout):
        w, kst, decay, states, u_new = ctx.saved_tensors
        N, n, C, Dv = u_new.shape
        Dk = w.shape[-1]
        g_states = g_states.contiguous() if g_states is not None else torch.zeros_like(states)
        g_unew = g_unew.contiguous() if g_unew is not None else torch.zeros_like(u_new)
        du = torch.empty_like(u_new)
        ds_exit = torch.empty_like(states)
        ds0 = states.new_empty(N, Dk, Dv)
        BC, BK, BV, nv = _blocks(N, C, Dk, Dv, u_new.dtype)
        dec = decay.contiguous() if decay is not None else du
        gs = g_sout.contiguous() if g_sout is not None else ds0
        _bwd_kernel[(N, nv)](w, kst, dec, g_states, g_unew, gs, du, ds_exit, ds0, n, C, Dk, Dv, BC=BC, BK=BK,
                             BV=BV, HAS_DECAY=decay is not None, HAS_GS=g_sout is not None,
                             PRECISION=ctx.precision)
        dw = -(du @ states.transpose(-1, -2))  # dw_i = -du_i' S_i^T
        dkt = ds_exit @ u_new.transpose(-1, -2)  # d(kt_i) = dS_{i+1} u_i'^T  [Dk, C]
        ddecay = (ds_exit * states).sum((-1, -2)) if decay is not None and ctx.needs_input_grad[3] else None
        return du, dw, dkt, ddecay, (ds0 if ctx.has_s0 else None), None


def default_precision(dtype: torch.dtype, Dk: int) -> str:
    """The `tl.dot` input precision chosen by measurement (module docstring): "tf32x3" for fp32 with
    Dk > 64, else "ieee" (fp64 always: TF32 has no meaning there)."""
    return "tf32x3" if dtype == torch.float32 and Dk > 64 else "ieee"


def state_recurrence(u, w, kt, decay, S0, precision: str | None = None):
    """The Triton state recurrence, differentiable; same contract as the PyTorch `_state_recurrence`.

    precision: "ieee" or "tf32x3" (an explicit override, ignored for fp64), or None for
    `default_precision(u.dtype, Dk)`."""
    if precision is None:
        precision = default_precision(u.dtype, w.shape[-1])
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} or None, got {precision!r}")
    if u.dtype == torch.float64:
        precision = "ieee"  # tf32 has no meaning for fp64
    return _StateRecurrence.apply(u, w, kt, decay, S0, precision)
