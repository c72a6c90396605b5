"""Argument checks and layout handling shared by every delta-rule implementation (fixed and naive).

Public so that `baselines.fastweights` checks its arguments with the same code as `suite.fastweights`."""

from __future__ import annotations

import math
import warnings

import torch

from suite.checks import check_finite, check_real, validation_enabled

__all__ = ["LAYOUTS", "compute_dtype", "check_layout", "to_heads_first", "pad_time", "check_scale",
           "check_delta_inputs"]

LAYOUTS = ("BHTD", "BTHD")
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """bf16/fp16 inputs accumulate in float32 (and torch.linalg.solve_triangular has no bf16 CUDA kernel)."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def check_layout(layout) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'BHTD' ([B, H, T, D], the default) or 'BTHD' ([B, T, H, D], "
                         f"flash-linear-attention's), got {layout!r}")
    return layout


def to_heads_first(layout: str, *xs):
    """[B, T, H, ...] -> [B, H, T, ...] views for layout 'BTHD' (None passes through); 'BHTD' unchanged."""
    if layout == "BHTD":
        return xs
    return tuple(None if x is None else x.transpose(1, 2) for x in xs)


def _shape_str(shape, layout: str) -> str:
    """A [B, H, T, ...] shape written in the caller's layout."""
    shape = list(shape)
    if layout == "BTHD" and len(shape) >= 3:
        shape[1], shape[2] = shape[2], shape[1]
    return str(tuple(shape))


def pad_time(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Append `pad` zero steps along the time axis (dim 2)."""
    if pad == 0:
        return x
    shape = list(x.shape)
    shape[2] = pad
    return torch.cat([x, x.new_zeros(shape)], dim=2)


def check_scale(scale) -> None:
    if isinstance(scale, bool):  # bool is an int subclass: scale=True would silently mean 1.0
        raise TypeError(f"scale must be a finite number or None, not a bool, got {scale!r}")
    if scale is not None and not (isinstance(scale, (int, float)) and math.isfinite(scale)):
        raise ValueError(f"scale must be a finite number or None, got {scale!r}")


def check_delta_inputs(q, k, v, beta, initial_state, scale, *, g=None, layout="BHTD", check_values=True):
    """Shapes, dtypes, devices, finiteness, beta in [0, 2] and (gated) g <= 0, on [B, H, T, D] tensors.

    `layout` only words the messages in the caller's layout; the tensors are already heads-first.
    Value checks (one device sync) run when `check_values` and validation (`suite.set_validation`) are on.
    """
    seq = "[B, T, H, D]" if layout == "BTHD" else "[B, H, T, D]"
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_real(x, name)
        if x.dim() != 4:
            raise ValueError(f"{name} must have shape {seq} (layout={layout!r}), got {tuple(x.shape)}")
    check_real(beta, "beta")
    gates = [("beta", beta)] + ([("g", g)] if g is not None else [])
    if g is not None:
        check_real(g, "g")
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape, got {_shape_str(q.shape, layout)} and "
                         f"{_shape_str(k.shape, layout)}")
    if v.shape[:3] != k.shape[:3]:
        raise ValueError(f"v must have the batch, head and length sizes of k {_shape_str(k.shape[:3], layout)}"
                         f", got {_shape_str(v.shape, layout)} (layout={layout!r})")
    bt = "[B, T, H]" if layout == "BTHD" else "[B, H, T]"
    for name, x in gates:
        if x.shape != k.shape[:3]:
            raise ValueError(f"{name} must have shape {bt} = {_shape_str(k.shape[:3], layout)}, got "
                             f"{_shape_str(x.shape, layout)}")
    if k.shape[2] == 0:
        raise ValueError("the sequence is empty (T = 0); at least one step is required")
    if k.shape[-1] == 0 or v.shape[-1] == 0:
        raise ValueError(f"k and v must have at least one feature, got Dk = {k.shape[-1]}, Dv = {v.shape[-1]}")
    dev = {x.device for x in (q, k, v, beta) + ((g,) if g is not None else ())}
    if len(dev) != 1:
        raise ValueError(f"q, k, v, beta{', g' if g is not None else ''} must be on one device, got "
                         f"{sorted(map(str, dev))}")
    B, H, _, Dk = k.shape
    Dv = v.shape[-1]
    if initial_state is not None:
        check_real(initial_state, "initial_state")
        if initial_state.shape != (B, H, Dk, Dv):
            raise ValueError(f"initial_state must have shape [B, H, Dk, Dv] = {(B, H, Dk, Dv)} (in either "
                             f"layout), got {tuple(initial_state.shape)}")
        if initial_state.device != k.device:
            raise ValueError(f"initial_state must be on the device of q, k, v, beta ({k.device}), got "
                             f"{initial_state.device}")
    check_scale(scale)
    if check_values and validation_enabled():
        _check_values(q, k, v, beta, g, initial_state)


def _check_values(q, k, v, beta, g, initial_state) -> None:
    # One reduction per tensor and one device sync. A NaN/Inf anywhere makes the sum (or the key norms)
    # non-finite; only then does the exact elementwise check run, naming the argument. The key norms
    # double as the finiteness check of k and as the stability check beta ||k||^2 <= 2.
    k_sq = torch.linalg.vector_norm(k.detach(), dim=-1, dtype=compute_dtype(k.dtype)).float().square()
    named = [("q", q), ("v", v), ("beta", beta)] + ([("g", g)] if g is not None else []) + (
        [("initial_state", initial_state)] if initial_state is not None else [])
    sums = [x.detach().sum(dtype=torch.float64 if x.dtype == torch.float64 else torch.float32).float()
            for _, x in named]
    gain = (beta.detach().float() * k_sq).amax()
    bmin, bmax = torch.aminmax(beta.detach().float())
    gmax = g.detach().float().amax() if g is not None else bmin.new_zeros(())
    stats = torch.stack(sums + [k_sq.sum(), gain, bmin, bmax, gmax]).tolist()  # one device sync
    if not all(math.isfinite(x) for x in stats[:-4]):
        for name, x in [("k", k)] + named:
            check_finite(x, name)
    gain, bmin, bmax, gmax = stats[-4:]
    if bmin < 0 or bmax > 2:
        raise ValueError(f"beta must lie in [0, 2] (the delta rule's stable step sizes), got values in "
                         f"[{bmin:.4g}, {bmax:.4g}]; use beta = sigmoid(.) or 2 * sigmoid(.)")
    if gmax > 0:
        raise ValueError(f"g must be <= 0 (g = log alpha, the log of a decay in (0, 1]), got a maximum of "
                         f"{gmax:.4g}; use g = logsigmoid(.) or -softplus(.)")
    if gain > 2.0 + 1e-4:
        warnings.warn(f"beta * ||k||^2 reaches {gain:.3g} > 2: the transition I - beta k k^T is expansive "
                      f"and the state can grow without bound; normalise the keys (l2_normalize)",
                      RuntimeWarning, stacklevel=5)  # user -> public op -> _run -> checks
