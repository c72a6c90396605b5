"""Holographic binding, the fixed way: exact circular convolution by real FFTs, unitary (phasor)
projection with a defined zero bin, a circulant layer applied by FFT, and Generalized HRR.

Conventions (research report section 2; Plate 1995; Ganesan et al. 2021; Yeung, Zou & Imani 2024):

- Vectors are real, the binding dimension is the LAST one, leading dimensions broadcast.
- `bind(x, y)_i = sum_j x_j y_{(i - j) mod d}` (circular convolution), computed as
  `irfft(rfft(x) * rfft(y), n=d)`. Passing `n=d` is what keeps odd `d` exact: without it `irfft` assumes
  an even length and returns `d - 1` samples.
- dtype policy: float32 and float64 are computed natively. float16 / bfloat16 have no (CPU) FFT kernel in
  torch, so they are UPCAST to float32 for the transform and the result is cast back to the input dtype.
  Mixed dtypes are promoted (`torch.promote_types`). Integer, bool and complex input where a real vector is
  expected raise `TypeError`; mismatched last dimensions raise `ValueError`.
- Zero spectral bins: `project` maps a bin with `|X_k| = 0` to phase 0 (value 1), so the projection is
  defined (never `0/0`) for zero-mean and all-zero vectors, and `|rfft(project(x))| == 1` in every bin.
  Bins whose squared modulus underflows lie far below the FFT's rounding and get phase 0 too. Other
  near-zero bins keep their (numerically arbitrary) phase: the projection is discontinuous there and its
  gradient scales like `1/|X_k|`; that is a property of the map, not of the implementation.
- Scale: the projection is scale-invariant over the whole float range (subnormals to the largest finite
  number): rows far from unit scale are rescaled by a power of two (exact, as hypot does) before the FFT.
- Validation (`suite.validation`): NaN/Inf input raises a ValueError naming the argument. The check is read
  off what the op computes anyway (the DC bin `sum_i x_i`, the row norms of the scale guard), so it costs no
  pass over the data; with validation off it is skipped and NaN propagates.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from suite.checks import (check_complex, check_finite, check_real, check_same_last_dim, check_tensor,
                          validation_enabled)

__all__ = [
    "bind", "involution", "unbind", "project", "phasor_key", "phasor_bind", "random_phasor",
    "circulant_index", "circulant_matrix", "circulant_linear", "CirculantLinear",
    "ghrr_random", "ghrr_bind", "ghrr_unbind", "ghrr_similarity",
]

_HALF = (torch.float16, torch.bfloat16)


# --------------------------------------------------------------------------------------------- helpers
def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the FFT runs in: float16/bfloat16 are upcast to float32 (no half FFT kernels on CPU)."""
    return torch.float32 if dtype in _HALF else dtype


def _check_int(v, name: str, minimum: int) -> int:
    """A Python integer (bool is not a number) of at least `minimum`."""
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return v


def _check_batch(batch: tuple, name: str = "batch") -> None:
    for b in batch:
        _check_int(b, f"{name} sizes", 0)


def _check_real_dtype(dtype, name: str = "dtype") -> None:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"{name} must be a real floating dtype (float16/bfloat16/float32/float64), got {dtype}")


def _empty(shape: torch.Size, like: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """An empty batch gives an empty result (MKL's FFT rejects zero-length batches)."""
    return torch.zeros(shape, dtype=dtype, device=like.device) if math.prod(shape) == 0 else None


def _broadcasts(a: torch.Size, b: torch.Size) -> bool:
    try:
        torch.broadcast_shapes(a, b)
    except RuntimeError:
        return False
    return True

def _check_vectors(x: torch.Tensor, name: str) -> None:
    check_real(x, name)
    if x.shape[-1] < 1:
        raise ValueError(f"{name} must have a non-empty last (binding) dimension, got shape {tuple(x.shape)}")


def _real_one(x: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.dtype]:
    _check_vectors(x, name)
    return x.to(_work_dtype(x.dtype)), x.dtype


def _real_pair(x: torch.Tensor, y: torch.Tensor, nx: str, ny: str) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    _check_vectors(x, nx)
    _check_vectors(y, ny)
    check_same_last_dim(x, y, nx, ny)
    if not _broadcasts(x.shape[:-1], y.shape[:-1]):
        raise ValueError(f"the batch shapes of {nx} {tuple(x.shape)} and {ny} {tuple(y.shape)} do not broadcast")
    out = torch.promote_types(x.dtype, y.dtype)
    work = _work_dtype(out)
    return x.to(work), y.to(work), out


def _check_finite_values(t: torch.Tensor, name: str) -> None:
    """Finiteness of every entry; a device sync, so it runs only while `suite.validation` is on."""
    if validation_enabled():
        check_finite(t, name)


def _check_dc_finite(Z: torch.Tensor, pairs: tuple[tuple[torch.Tensor, str], ...]) -> None:
    """Finiteness of the inputs `pairs` ((tensor, name), ...) read off a spectrum `Z` computed from them: the DC
    bin of `rfft(x)` is `sum_i x_i`, NaN or Inf whenever an entry is, and a product of spectra keeps a NaN/Inf
    factor non-finite (NaN * a = NaN, Inf * 0 = NaN, Inf * a = Inf), so `Z`'s DC bins summed into one number are
    finite whenever every input is. One reduction over B numbers and ONE device sync, instead of a pass over each
    input. Only if that number is not finite are the inputs themselves checked, in order, to name the bad one (a
    finite input whose sums overflow is the caller's arithmetic, not bad input). Runs while validating."""
    if validation_enabled() and Z.numel() and not math.isfinite(Z[..., 0].real.sum().item()):
        for t, name in pairs:
            check_finite(t, name)


def _inplace_ok(*ts: torch.Tensor) -> bool:
    """In-place spectral arithmetic saves one allocation per op (page faults dominate on CPU) but is only
    legal when autograd does not need the overwritten values."""
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in ts))


def _mul(a: torch.Tensor, b: torch.Tensor, inplace: bool, b_writable: bool = True) -> torch.Tensor:
    """a * b with broadcasting, writing into whichever (scratch) operand already has the broadcast shape.
    `b_writable=False` protects a caller-owned `b` (a cached phasor key)."""
    if inplace:
        shape = torch.broadcast_shapes(a.shape, b.shape)
        if a.shape == shape:
            return a.mul_(b)
        if b_writable and b.shape == shape:
            return b.mul_(a)
    return a * b


def _sq_modulus(X: torch.Tensor) -> torch.Tensor:
    """|X_k|^2 as `Re(X conj X)`: one fast complex product (torch's complex `abs` is a hypot, ~10x slower)."""
    return (X * X.conj()).real


def _unit(X: torch.Tensor, inplace: bool) -> torch.Tensor:
    """X / |X| per bin, with the bins whose squared modulus underflows (|X_k| < sqrt(tiny): exact zeros, and
    the subnormal bins whose phase `torch.sgn` returns as NaN/Inf or coarsely rounded) mapped to 1, phase 0:
    the projection's convention for an undefined phase. Callers keep every row max in the ordinary range
    (>= tiny**(1/4), rescaling otherwise), so such a bin lies below tiny**(1/4) relative to its row, under the
    FFT's rounding (eps) in float32 and float64: its phase carries no information."""
    mask = _sq_modulus(X) < torch.finfo(X.real.dtype).tiny
    X = X.masked_fill_(mask, 1) if inplace else X.masked_fill(mask, 1)
    return X.sgn_() if inplace else torch.sgn(X)


def _row_absmax(t: torch.Tensor) -> torch.Tensor:
    """max_i |t_i| over the last dim: two read-only passes (amax, amin), several times faster on the CPU than
    `aminmax` or an inf-norm over the last dim; NaN and Inf propagate."""
    return torch.maximum(t.amax(-1), t.amin(-1).neg_())


def _ordinary(lo: float, hi: float, d: int, dtype: torch.dtype) -> bool:
    """Whether every row max lies in [tiny**(1/4), max**(1/4)] of `dtype` (about 2**-31.5 to 2**32 in float32),
    read off the smallest and largest row 2-norm `lo`, `hi`: `||t||_2 / sqrt(d) <= max_i |t_i| <= ||t||_2`, and
    a factor 2 covers the rounding of the norms. Conservative (a row may be sent to the rescaling path that did
    not need it, which is exact anyway); a norm that under- or overflowed fails the test. In range, no bin
    overflows (each is at most d * max|t_i|), and the product of two bins above the FFT's rounding level
    (eps * max|t_i|) stays a normal number, so `sgn` of it is exact to rounding."""
    fi = torch.finfo(dtype)
    return 2 * math.sqrt(d) * fi.tiny ** 0.25 <= lo and hi <= fi.max ** 0.25 / 2


def _pow2_rescale(t: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """`t * 2**-e` row by row, where `m = f * 2**e` (frexp, f in [0.5, 1)) is the row max: the largest entry
    lands in [0.5, 1). Scaling by a power of two is exact (as in hypot's rescaling, IEEE 754 scaleB), the
    projection is invariant under positive scaling, and no bin can then overflow. The factor is applied as two
    halves so that neither overflows (e reaches -1074 for float64 subnormals). All-zero rows (e = 0) stay."""
    e = torch.frexp(m).exponent.unsqueeze(-1).to(t.dtype).neg_()
    half = torch.floor(e * 0.5)
    return t * torch.exp2(half) * torch.exp2(e - half)


def _row_norm(t: torch.Tensor) -> torch.Tensor:
    """||t||_2 over the last dim: one read-only pass (three times faster on the CPU than the row max by amax and
    amin); NaN propagates, and so does Inf (as does a finite row whose squares overflow)."""
    return torch.linalg.vector_norm(t, dim=-1)


def _extremes(rows: list[torch.Tensor], extra: list[torch.Tensor]) -> list[float]:
    """[min of each of `rows`] + [max of each of `rows`] + `extra` (scalars), fetched in ONE device sync: the
    per-row tensors are broadcast and stacked, so one min and one max reduction serve them all."""
    e = torch.stack(torch.broadcast_tensors(*rows)).reshape(len(rows), -1)
    return torch.cat([e.amin(-1), e.amax(-1)] + [v.reshape(1).to(e.dtype) for v in extra]).tolist()


def _check_norms_finite(his: list[float], pairs: list[tuple[torch.Tensor, str]]) -> None:
    """A NaN/Inf row norm comes from a NaN/Inf entry or from a finite row whose squares overflow: only then is
    the input itself checked (a pass over it), naming it. Runs while validating."""
    if validation_enabled():
        for hi, (t, name) in zip(his, pairs):
            if not math.isfinite(hi):
                check_finite(t, name)


def _unit_energy(S: torch.Tensor) -> torch.Tensor:
    """Row energies sqrt(sum_k |S_k|^2) of `S = sgn(Z)`: a row with no zero (or NaN) bin has energy sqrt(its
    bin count). One reduction instead of a complex `all()`; float64 accumulation for rows beyond 2**16 bins
    keeps the rounding of the sum far below the 1 that a zero bin removes."""
    acc = torch.float64 if S.shape[-1] > 1 << 16 else None
    return torch.linalg.vector_norm(torch.view_as_real(S), dim=(-2, -1), dtype=acc)


def _out(z: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return z if z.dtype == dtype else z.to(dtype)


# --------------------------------------------------------------------------------------------- HRR
def bind(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Circular convolution over the last dimension (research report sec. 2.1; Plate 1995).

    z_i = sum_j x_j y_{(i - j) mod d}, computed by the convolution theorem with real FFTs as
    `irfft(rfft(x) * rfft(y), n=d)`. Exact for every `d` (odd too: `n=d` keeps the last sample),
    commutative and associative; identity element `e_0 = (1, 0, ..., 0)`. Differentiable.

    Args:
        x: [..., d] real floating tensor (float16/bfloat16 are computed in float32 and cast back).
        y: [..., d], broadcastable with `x` over the leading dimensions.

    Returns:
        [broadcast(...), d] tensor of the promoted dtype, on the inputs' device.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: x and y with different last dimensions; NaN or Inf input while validation is on
            (`suite.set_validation`).

    Example:
        >>> bind(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 0.0])).round(decimals=4)
        tensor([3., 1., 2.])
    """
    return _bind(x, y, "x", "y")


def _bind(x: torch.Tensor, y: torch.Tensor, nx: str, ny: str) -> torch.Tensor:
    x, y, dtype = _real_pair(x, y, nx, ny)
    d = x.shape[-1]
    empty = _empty(torch.broadcast_shapes(x.shape, y.shape), x, dtype)
    if empty is not None:
        return empty
    inplace = _inplace_ok(x, y)
    Z = _mul(torch.fft.rfft(x), torch.fft.rfft(y), inplace)
    _check_dc_finite(Z, ((x, nx), (y, ny)))
    return _out(torch.fft.irfft(Z, n=d), dtype)


def involution(x: torch.Tensor) -> torch.Tensor:
    """Plate's approximate inverse `x^dagger_i = x_{(-i) mod d}` (Plate 1995; torchhd: `roll(flip(x), 1)`).

    Its spectrum is `conj(rfft(x))`, so `bind(z, involution(y))` is circular correlation.

    Args:
        x: [..., d] real floating tensor.

    Returns:
        [..., d] tensor, the same dtype and device as `x`.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: x with no dimension; NaN or Inf input while validation is on (`suite.set_validation`).

    Example:
        >>> involution(torch.tensor([1.0, 2.0, 3.0]))
        tensor([1., 3., 2.])
    """
    _check_vectors(x, "x")
    _check_finite_values(x, "x")
    return torch.cat([x[..., :1], x[..., 1:].flip(-1)], dim=-1)


def unbind(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Circular correlation `unbind(z, y) = bind(z, involution(y))` (Plate 1995; research report sec. 2.1).

    Computed as `irfft(rfft(z) * conj(rfft(y)), n=d)`. Exact inverse of `bind(., y)` when `y` has a unit
    spectrum (e.g. `y = project(v)`); for other keys it is Plate's noisy-but-stable approximate inverse (it
    never divides by the spectrum).

    Args:
        z: [..., d] real floating tensor (a binding or a superposition of bindings).
        y: [..., d] key, broadcastable with `z`.

    Returns:
        [broadcast(...), d] tensor of the promoted dtype.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: z and y with different last dimensions; NaN or Inf input while validation is on
            (`suite.set_validation`).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, key = torch.randn(5, generator=g), project(torch.randn(5, generator=g))
        >>> torch.allclose(unbind(bind(x, key), key), x, atol=1e-6)
        True
    """
    z, y, dtype = _real_pair(z, y, "z", "y")
    d = z.shape[-1]
    empty = _empty(torch.broadcast_shapes(z.shape, y.shape), z, dtype)
    if empty is not None:
        return empty
    inplace = _inplace_ok(z, y)
    Z = _mul(torch.fft.rfft(z), torch.fft.rfft(y).conj(), inplace)
    _check_dc_finite(Z, ((z, "z"), (y, "y")))
    return _out(torch.fft.irfft(Z, n=d), dtype)


def _unit_spectrum(x: torch.Tensor, name: str, inplace: bool) -> torch.Tensor:
    """`rfft(x) / |rfft(x)|` for every finite `x`, the scale-safe way: where a row max lies outside the ordinary
    range the row is first rescaled by a power of two (`_pow2_rescale`), so the transform neither overflows
    (float32 input near 3e38) nor leaves bins subnormal (input below ~1e-38, or float64 subnormals)."""
    if x.numel() == 0:
        return torch.zeros(*x.shape[:-1], x.shape[-1] // 2 + 1, dtype=x.dtype.to_complex(), device=x.device)
    lo, hi = _extremes([_row_norm(x)], [])
    _check_norms_finite([hi], [(x, name)])
    if not _ordinary(lo, hi, x.shape[-1], x.dtype):
        x = _pow2_rescale(x, _row_absmax(x))
    return _unit(torch.fft.rfft(x), inplace)


def project(x: torch.Tensor) -> torch.Tensor:
    """Unitary projection `pi(x) = irfft(X / |X|, n=d)`, `X = rfft(x)` (Ganesan et al. 2021, NeurIPS, eq. 6).

    Every bin of `rfft(pi(x))` has modulus 1 (a zero bin gets phase 0), hence `||pi(x)|| = 1`,
    `pi(pi(x)) = pi(x)`, `bind(pi(a), involution(pi(a))) = e_0` and `||bind(pi(a), b)|| = ||b||`.
    The DC (and, for even d, Nyquist) bin of a real vector is real, so it maps to +-1 and the spectrum
    stays Hermitian: the output is exactly real. Scale-invariant over the whole float range, subnormals
    included (`pi(c x) = pi(x)` for c > 0): rows far from unit scale are rescaled by a power of two first.

    Args:
        x: [..., d] real floating tensor.

    Returns:
        [..., d] tensor of unit norm per row, the dtype and device of `x`.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: x with no dimension; NaN or Inf input while validation is on (`suite.set_validation`).

    Example:
        >>> p = project(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        >>> torch.fft.rfft(p).abs().round(decimals=4), round(float(p.norm()), 4)
        (tensor([1., 1., 1.]), 1.0)
        >>> project(torch.zeros(3))  # zero bins get phase 0: the identity e_0, not NaN
        tensor([1., 0., 0.])
    """
    x, dtype = _real_one(x, "x")
    d = x.shape[-1]
    if x.numel() == 0:
        return _out(x.clone(), dtype)
    return _out(torch.fft.irfft(_unit_spectrum(x, "x", _inplace_ok(x)), n=d), dtype)


def phasor_key(y: torch.Tensor) -> torch.Tensor:
    """The unit spectrum `rfft(project(y))`, to cache a fixed key (Ganesan et al. 2021's projection).

    `phasor_bind(x, phasor_key(y)) == phasor_bind(x, y)` and saves one FFT per call.

    Args:
        y: [..., d] real floating tensor.

    Returns:
        [..., d // 2 + 1] complex tensor (complex64 for float32 input, complex128 for float64) of modulus 1.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: y with no dimension; NaN or Inf input while validation is on (`suite.set_validation`).

    Example:
        >>> y = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> key = phasor_key(y)
        >>> key.shape, torch.allclose(phasor_bind(torch.ones(4), key), phasor_bind(torch.ones(4), y))
        (torch.Size([3]), True)
    """
    y, _ = _real_one(y, "y")
    return _unit_spectrum(y, "y", _inplace_ok(y))


def _key_range(Y: torch.Tensor) -> list[torch.Tensor]:
    """[min_k |Y_k|^2, max_k |Y_k|^2] of a cached key (NaN for a NaN entry): one product and one min/max pass;
    only while validating."""
    return list(torch.aminmax(_sq_modulus(Y)))


def _check_key_range(lo: float, hi: float) -> None:
    """A cached key must have |y_k|^2 within 1e-3 of 1 in every bin (NaN fails)."""
    defect = math.nan if math.isnan(lo + hi) else max(hi - 1, 1 - lo)
    if not defect < 1e-3:
        raise ValueError("key y must be a finite unit spectrum (a phasor_key: |y_k| = 1 in every bin), got "
                         f"max ||y_k|^2 - 1| = {defect}")


def phasor_bind(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Phasor (unit-spectrum) binding `bind(project(x), project(y))` (research report sec. 2.3.1).

    Fused: the product of two unit phasors is the unit phasor of the product, so this projects the product
    once, `irfft(sgn(X * Y), n=d)`, and checks in the same device sync that the shortcut was exact: every row
    max of x and y in the ordinary range, read off the row norms (`_ordinary`: no bin overflows, no product of
    informative bins turns subnormal, where `sgn` gives NaN or a wrong phase) and every bin of the result of
    modulus 1 (one reduction: a zero bin of a factor leaves a zero). Otherwise (structured input:
    zero-mean, periodic, all-zero; or extreme scale) it recomputes with `project`'s own arithmetic,
    `irfft(sgn(X') * sgn(Y'), n=d)` on rescaled rows with zero bins set to 1. Two forward FFTs and one
    inverse, instead of six for the unfused form.

    The output has a unit spectrum and norm 1 and equals `bind(project(x), project(y))` for every finite
    input, tiny, huge and subnormal scales included.

    Args:
        x: [..., d] real floating tensor.
        y: [..., d] real tensor broadcastable with `x`, or a cached key from `phasor_key` (complex,
            last dimension `d // 2 + 1`), which saves its FFT.

    Returns:
        [broadcast(...), d] real tensor of unit norm per row.

    Raises:
        TypeError: `x` not a real floating tensor, or `y` neither real floating nor complex.
        ValueError: mismatched last dimensions (`d`, or `d // 2 + 1` for a key); a key that is not a
            finite unit spectrum, or NaN/Inf input, while validation is on.

    Example:
        >>> x, y = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -1.0, 2.0])
        >>> torch.allclose(phasor_bind(x, y), bind(project(x), project(y)), atol=1e-6)
        True
    """
    check_tensor(y, "y")
    keyed = y.is_complex()
    if keyed:
        x, dtype = _real_one(x, "x")
        d = x.shape[-1]
        if y.shape[-1] != d // 2 + 1:
            raise ValueError(f"key y (a phasor_key) must have last dimension d // 2 + 1 = {d // 2 + 1} for "
                             f"x of last dimension {d}, got {y.shape[-1]}")
        y = y.to(torch.promote_types(y.dtype, torch.complex64 if x.dtype == torch.float32 else torch.complex128))
    else:
        x, y, dtype = _real_pair(x, y, "x", "y")
        d = x.shape[-1]
    empty = _empty(torch.broadcast_shapes(x.shape[:-1], y.shape[:-1]) + (d,), x, dtype)
    if empty is not None:
        return empty
    inplace = _inplace_ok(x, y)
    X = torch.fft.rfft(x)
    Y = y.to(X.dtype) if keyed else torch.fft.rfft(y)
    Z = _mul(X, Y, inplace, b_writable=not keyed)
    Z = Z.sgn_() if inplace else torch.sgn(Z)
    pairs = [(x, "x")] + ([] if keyed else [(y, "y")])
    check_key = keyed and validation_enabled()
    # the one device sync: row-norm range of x (and y), smallest unit energy of Z, key range while validating
    stats = _extremes([_row_norm(t) for t, _ in pairs] + [_unit_energy(Z.detach())],
                      _key_range(y) if check_key else [])
    n = len(pairs)
    _check_norms_finite(stats[n + 1:2 * n + 1], pairs)
    if check_key:
        _check_key_range(*stats[-2:])
    if all(_ordinary(stats[i], stats[n + 1 + i], d, x.dtype) for i in range(n)) \
            and stats[n] > math.sqrt(Z.shape[-1] - 0.5):
        return _out(torch.fft.irfft(Z, n=d), dtype)
    # Per-factor: sgn of each (rescaled) spectrum with zero bins -> 1, as `project` does, then the product of
    # two unit phasors, which cannot overflow or underflow whatever the scale of x and y.
    X = _unit(torch.fft.rfft(_pow2_rescale(x, _row_absmax(x))), inplace)
    Y = y if keyed else _unit(torch.fft.rfft(_pow2_rescale(y, _row_absmax(y))), inplace)  # a key is already unit
    return _out(torch.fft.irfft(_mul(X, Y, inplace, b_writable=not keyed), n=d), dtype)


def random_phasor(*batch: int, d: int, generator: torch.Generator | None = None,
                  dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Random real vectors with a unit spectrum, `project(N(0, 1/d))` (Ganesan et al. 2021; Plate 1995).

    The phases are drawn through a real vector, so the spectrum is Hermitian by construction (drawing phases
    bin by bin in a full complex spectrum and keeping `.real` of the inverse FFT loses half the energy).

    Args:
        *batch: leading sizes (non-negative ints).
        d: vector dimension (int >= 1).
        generator: optional `torch.Generator` (the global RNG when None).
        dtype: real floating dtype (default: torch's default dtype).  device: where to draw.

    Returns:
        [*batch, d] tensor, every row of norm 1 and unit spectrum.

    Raises:
        ValueError: a size that is not a non-negative integer, `d < 1`.
        TypeError: a non-real-floating `dtype`.

    Example:
        >>> v = random_phasor(2, d=8, generator=torch.Generator().manual_seed(0))
        >>> v.shape, v.norm(dim=-1).round(decimals=4)
        (torch.Size([2, 8]), tensor([1., 1.]))
    """
    _check_int(d, "d", 1)
    _check_batch(batch)
    dtype = dtype or torch.get_default_dtype()
    _check_real_dtype(dtype)
    x = torch.randn(*batch, d, generator=generator, dtype=_work_dtype(dtype))
    return project(x.to(device) if device is not None else x).to(dtype)


# --------------------------------------------------------------------------------------------- circulant
def circulant_index(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The N x N index matrix `idx[i, j] = (i - j) mod N`: `w[..., idx]` is the circulant of `w`.

    Args:
        n: matrix size (a Python int >= 1).  device: where to build it.

    Returns:
        [n, n] int64 tensor.

    Example:
        >>> circulant_index(3)
        tensor([[0, 2, 1],
                [1, 0, 2],
                [2, 1, 0]])
    """
    i = torch.arange(n, device=device)
    return (i[:, None] - i[None, :]) % n


def circulant_matrix(w: torch.Tensor) -> torch.Tensor:
    """The N x N circulant matrix `C[i, j] = w[(i - j) mod N]`, so that `C @ x == bind(w, x)`.

    For inspection and tests; `CirculantLinear` never builds it.

    Args:
        w: [..., N] real floating kernel.

    Returns:
        [..., N, N] tensor of `w`'s dtype.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: w with no dimension; NaN or Inf input while validation is on (`suite.set_validation`).

    Example:
        >>> circulant_matrix(torch.tensor([1.0, 2.0, 3.0]))
        tensor([[1., 3., 2.],
                [2., 1., 3.],
                [3., 2., 1.]])
    """
    _check_vectors(w, "w")
    _check_finite_values(w, "w")
    return w[..., circulant_index(w.shape[-1], w.device)]


class _Circulant(torch.autograd.Function):
    """`y = irfft(X W + B, n=d) = w (*) x + b` for a kernel `w` [N] and bias `b` [N], with their spectra `W` and
    `B = rfft(b)` passed in so that a layer can cache them. Folding the bias into the spectrum is exact (irfft
    is linear and `irfft(rfft(b), n) = b`) and costs no pass of its own: `addcmul(B, X, W)` is the product.
    Backward is two FFT products (adjoint of circular convolution, Cheng et al. 2015 sec. 3):
    `dL/dx = irfft(G conj(W))` (correlation with w), `dL/dw = irfft(sum_batch G conj(X))`, `dL/db = sum_batch g`.
    First derivatives only (`once_differentiable`: a double backward raises)."""

    @staticmethod
    def forward(ctx, x, w, b, W, B):
        d = x.shape[-1]
        X = torch.fft.rfft(x)
        _check_dc_finite(X, ((x, "x"),))
        keep_x = ctx.needs_input_grad[1]
        if B is not None:
            Z = torch.addcmul(B, X, W)
        else:
            Z = X * W if keep_x else X.mul_(W)
        ctx.save_for_backward(X if keep_x else None, W)
        return torch.fft.irfft(Z, n=d)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        X, W = ctx.saved_tensors
        d = g.shape[-1]
        batch = tuple(range(g.dim() - 1))
        G = torch.fft.rfft(g)
        gw = torch.fft.irfft((G * X.conj()).sum(batch), n=d) if ctx.needs_input_grad[1] else None
        gx = torch.fft.irfft(G.mul_(W.conj()), n=d) if ctx.needs_input_grad[0] else None
        gb = g.sum(batch) if ctx.needs_input_grad[2] else None
        return gx, gw, gb, None, None


def _kernel_spectra(w: torch.Tensor, b: torch.Tensor | None, unitary: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(rfft(w) or its unit projection, rfft(b)), without autograd (`_Circulant` differentiates itself); the
    finiteness of w and b is read off the DC bins while validating (off the row norms of the projection's
    scale guard for a unitary w: `_unit_spectrum`)."""
    with torch.no_grad():
        if unitary:
            W = _unit_spectrum(w, "w", _inplace_ok(w))
        else:
            W = torch.fft.rfft(w)
            _check_dc_finite(W, ((w, "w"),))
        B = None if b is None else torch.fft.rfft(b)
        if B is not None:
            _check_dc_finite(B, ((b, "b"),))
    return W, B


def circulant_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Functional circulant layer `y = w (*) x + b = x @ C(w)^T + b`, by FFT (Cheng et al., ICCV 2015).

    The spectrum of the kernel `w` is computed once and broadcast over the batch of `x`. A kernel [N] with a
    bias [N] (or none) runs as one product `irfft(X W + B, n=N)` with a two-FFT-product backward
    (`_Circulant`); batched kernels or biases broadcast through `bind`.

    Args:
        x: [..., N] real floating input.
        w: [N] (or [..., N], broadcastable) kernel.
        b: [N] bias or None.

    Returns:
        [..., N] tensor of the promoted dtype.

    Raises:
        TypeError: an argument that is not a real floating tensor (int, bool, complex).
        ValueError: x, w, b with different last dimensions; NaN or Inf input while validation is on
            (`suite.set_validation`).

    Example:
        >>> x, w = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([0.0, 1.0, 0.0])
        >>> circulant_linear(x, w, torch.ones(3)).round(decimals=4)
        tensor([[4., 2., 3.]])
    """
    single = isinstance(w, torch.Tensor) and w.dim() == 1
    if not (single and (b is None or isinstance(b, torch.Tensor) and b.dim() == 1)):
        y = _bind(x, w, "x", "w")
        if b is not None:
            _check_bias(b, y)
            y = y + b.to(y.dtype)
        return y
    x, w, dtype = _real_pair(x, w, "x", "w")
    if b is not None:
        _check_bias(b, x)
        b = b.to(x.dtype)
    empty = _empty(x.shape, x, dtype)
    if empty is not None:
        return empty
    W, B = _kernel_spectra(w, b, False)
    return _out(_Circulant.apply(x, w, b, W, B), dtype)


def _check_bias(b: torch.Tensor, y: torch.Tensor) -> None:
    """A per-feature bias: real, last dimension N, broadcastable to the output, finite (while validating)."""
    check_real(b, "b")
    if b.shape[-1] != y.shape[-1]:
        raise ValueError(f"b must have last dimension features = {y.shape[-1]}, got shape {tuple(b.shape)}")
    if not _broadcasts(b.shape, y.shape) or torch.broadcast_shapes(b.shape, y.shape) != y.shape:
        raise ValueError(f"b of shape {tuple(b.shape)} must broadcast to the output shape {tuple(y.shape)}")
    _check_finite_values(b, "b")


class CirculantLinear(nn.Module):
    """Circulant linear layer `y = w (*) x + b` applied by FFT (research report sec. 2.3.2; Cheng et al., ICCV 2015).

    `features` parameters (plus `features` for the bias) instead of `features**2`, O(N log N) time instead of
    O(N^2). The kernel is initialised with a unit spectrum (a random orthogonal circulant), so a stack of
    such layers neither shrinks nor grows signal and gradient norms at initialisation. With `unitary=True`
    the layer applies the projected kernel `project(weight)`, i.e. it stays orthogonal by construction during
    training; the projection's graph is built only when a gradient is taken.

    The spectra of kernel and bias are cached between calls and recomputed only when a parameter changes
    (`_spectra`); the bias is folded into the spectral product and the backward is two FFT products
    (`_Circulant`). Equivalent dense weight: `circulant_matrix(self.weight)` (`y = x @ C^T + b`).

    Args:
        features: N, the size of input and output (int >= 1).
        bias: learn an additive bias [N].
        unitary: apply `project(weight)` instead of `weight`.
        device, dtype: of the parameters (real floating dtype).

    Shapes:
        input [..., N] -> output [..., N].

    Raises:
        ValueError: `features` not an integer >= 1.  TypeError: `unitary` not a bool, a non-real `dtype`.

    Example:
        >>> layer = CirculantLinear(8)
        >>> sum(p.numel() for p in layer.parameters()), layer(torch.ones(2, 8)).shape
        (16, torch.Size([2, 8]))
    """

    def __init__(self, features: int, bias: bool = True, *, unitary: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        _check_int(features, "features", 1)
        if not isinstance(unitary, bool):
            raise TypeError(f"unitary must be a bool, got {unitary!r}")
        if dtype is not None:
            _check_real_dtype(dtype)
        self.features = features
        self.unitary = unitary
        self.weight = nn.Parameter(torch.empty(features, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(features, device=device, dtype=dtype)) if bias else None
        self._spectra_cache: tuple | None = None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        w = torch.randn(self.features, dtype=_work_dtype(self.weight.dtype), device=self.weight.device)
        self.weight.copy_(project(w))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.features)
            self.bias.uniform_(-bound, bound)

    def kernel(self) -> torch.Tensor:
        return project(self.weight) if self.unitary else self.weight

    def _spectra(self, work: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The kernel's and bias's spectra, recomputed only when a parameter changed: the cache is keyed on each
        parameter's version counter (bumped by every in-place write: optimiser steps, `copy_` under no_grad,
        `load_state_dict`) and storage (`.to()`, `.double()`). Writes through `.data` bypass the version
        counter, as they bypass autograd's own checks; write under `torch.no_grad()` instead."""
        params = (self.weight,) if self.bias is None else (self.weight, self.bias)
        key = (work, self.unitary) + tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in params)
        if self._spectra_cache is None or self._spectra_cache[0] != key:
            b = None if self.bias is None else self.bias.detach().to(work)
            self._spectra_cache = (key, *_kernel_spectra(self.weight.detach().to(work), b, self.unitary))
        return self._spectra_cache[1], self._spectra_cache[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_vectors(x, "x")
        if x.shape[-1] != self.features:
            raise ValueError(f"x must have last dimension features = {self.features}, got {x.shape[-1]}")
        dtype = torch.promote_types(x.dtype, self.weight.dtype)
        work = _work_dtype(dtype)
        if x.numel() == 0:
            return torch.zeros(x.shape, dtype=dtype, device=x.device)
        W, B = self._spectra(work)
        # the kernel itself is needed only for its gradient: projected (with its graph) only when one is taken
        w = self.kernel() if self.unitary and torch.is_grad_enabled() and self.weight.requires_grad else self.weight
        b = None if self.bias is None else self.bias.to(work)
        return _out(_Circulant.apply(x.to(work), w.to(work), b, W, B), dtype)

    def dense_weight(self) -> torch.Tensor:
        return circulant_matrix(self.kernel())

    def extra_repr(self) -> str:
        return f"features={self.features}, bias={self.bias is not None}, unitary={self.unitary}"


# --------------------------------------------------------------------------------------------- GHRR
def _haar_unitary(n_mats: int, m: int, generator: torch.Generator | None) -> torch.Tensor:
    """Haar-random m x m unitaries (QR of a complex Ginibre matrix with the phases of diag(R) absorbed,
    Mezzadri 2007), drawn in complex128 on the CPU generator."""
    g = torch.randn(n_mats, m, m, 2, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(torch.complex(g[..., 0], g[..., 1]))
    ph = torch.sgn(torch.diagonal(r, dim1=-2, dim2=-1))
    return q * ph.unsqueeze(-2)


def _fractional_power(u: torch.Tensor, s: float) -> torch.Tensor:
    """u**s for unitary u via its eigendecomposition (principal angles); unitary for every s."""
    if s == 1.0:
        return u
    evals, vecs = torch.linalg.eig(u)
    theta = torch.angle(evals)
    p = vecs @ torch.diag_embed(torch.polar(torch.ones_like(theta), s * theta)) @ torch.linalg.inv(vecs)
    # polish back onto U(m): eig of a unitary gives (numerically) orthonormal vectors, QR removes the drift
    q, r = torch.linalg.qr(p)
    return q * torch.sgn(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)


def ghrr_random(*batch: int, D: int, m: int, diagonality: float = 0.0, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.complex64, device: torch.device | str | None = None) -> torch.Tensor:
    """Random GHRR hypervectors, each slot a unitary `a_j = Q_j^s Lambda_j` (Yeung, Zou & Imani 2024, arXiv 2405.09689).

    `Lambda_j` is a diagonal of uniform phasors, `Q_j` Haar-random and `s = 1 - diagonality`.
    diagonality = 0: slots are Haar-random unitaries, binding is maximally non-commutative
    (`E[ghrr_similarity(a*b, b*a)] = 1/m^2`); diagonality = 1: slots are diagonal (m independent FHRR
    phasors), binding commutes. In between, `Q^s` is the fractional matrix power (eigen-angles scaled by s),
    so commutativity rises monotonically with diagonality. m = 1 is FHRR.

    Args:
        *batch: leading sizes (non-negative ints).
        D: number of slots (int >= 1).  m: slot matrix size (int >= 1).
        diagonality: float in [0, 1].
        generator: optional `torch.Generator`.  dtype: complex64 (default) or complex128.  device.

    Returns:
        [*batch, D, m, m] complex tensor of unitary slots.

    Raises:
        ValueError: a size that is not a non-negative integer, `D` or `m` < 1, `diagonality` outside [0, 1].
        TypeError: a non-complex `dtype`.

    Example:
        >>> a = ghrr_random(3, D=4, m=2, generator=torch.Generator().manual_seed(0))
        >>> a.shape, a.dtype
        (torch.Size([3, 4, 2, 2]), torch.complex64)
    """
    _check_int(D, "D", 1)
    _check_int(m, "m", 1)
    _check_batch(batch)
    if isinstance(diagonality, bool) or not isinstance(diagonality, (int, float)) or not 0.0 <= diagonality <= 1.0:
        raise ValueError(f"diagonality must lie in [0, 1], got {diagonality!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_complex):
        raise TypeError(f"dtype must be complex (complex64/complex128), got {dtype}")
    n = math.prod(batch) * D
    phases = torch.rand(n, m, generator=generator, dtype=torch.float64) * (2 * math.pi)
    lam = torch.polar(torch.ones_like(phases), phases)
    s = 1.0 - float(diagonality)
    if s == 0.0:
        slots = torch.diag_embed(lam)
    else:
        q = _fractional_power(_haar_unitary(n, m, generator), s)
        slots = q * lam.unsqueeze(-2)  # Q @ diag(lam)
    out = slots.reshape(*batch, D, m, m).to(dtype)
    return out.to(device) if device is not None else out


def _check_ghrr(a: torch.Tensor, name: str) -> None:
    check_complex(a, name, min_dim=3)
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must have shape [..., D, m, m] with square slots, got {tuple(a.shape)}")
    _check_finite_values(a, name)


def _check_ghrr_pair(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    _check_ghrr(a, na)
    _check_ghrr(b, nb)
    if a.shape[-3:] != b.shape[-3:]:
        raise ValueError(f"{na} and {nb} must have the same [D, m, m] trailing shape, got "
                         f"{tuple(a.shape[-3:])} and {tuple(b.shape[-3:])}")
    if not _broadcasts(a.shape[:-3], b.shape[:-3]):
        raise ValueError(f"the batch shapes of {na} {tuple(a.shape)} and {nb} {tuple(b.shape)} do not broadcast")


def ghrr_bind(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GHRR binding: the slot-wise matrix product `(a * b)_j = a_j b_j` (Yeung, Zou & Imani 2024, arXiv 2405.09689).

    Non-commutative for m > 1.

    Args:
        a, b: [..., D, m, m] complex tensors (broadcastable leading dimensions).

    Returns:
        [broadcast(...), D, m, m] complex tensor.

    Raises:
        TypeError: non-complex input.  ValueError: mismatched `[D, m, m]`, non-square slots.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a, b = ghrr_random(D=8, m=2, generator=g), ghrr_random(D=8, m=2, generator=g)
        >>> torch.allclose(ghrr_bind(a, b), ghrr_bind(b, a))  # m > 1: binding does not commute
        False
    """
    _check_ghrr_pair(a, b, "a", "b")
    return a @ b


def ghrr_unbind(z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GHRR unbinding from the right, `z_j b_j^H` (Yeung, Zou & Imani 2024, arXiv 2405.09689).

    Exact (`ghrr_unbind(ghrr_bind(a, b), b) == a`) because the slots are unitary.

    Args:
        z: [..., D, m, m] complex binding.  b: [..., D, m, m] complex key.

    Returns:
        [broadcast(...), D, m, m] complex tensor.

    Raises:
        TypeError: non-complex input.  ValueError: mismatched `[D, m, m]`, non-square slots.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a, b = ghrr_random(D=8, m=2, generator=g), ghrr_random(D=8, m=2, generator=g)
        >>> torch.allclose(ghrr_unbind(ghrr_bind(a, b), b), a, atol=1e-6)
        True
    """
    _check_ghrr_pair(z, b, "z", "b")
    return z @ b.conj().transpose(-2, -1)


def ghrr_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GHRR similarity `delta(a, b) = Re tr(sum_j a_j b_j^H) / (m D)` (Yeung, Zou & Imani 2024, arXiv 2405.09689).

    1 for a == b, ~0 for independent random hypervectors.

    Args:
        a, b: [..., D, m, m] complex tensors (broadcastable leading dimensions).

    Returns:
        [broadcast(...)] real tensor.

    Raises:
        TypeError: non-complex input.  ValueError: mismatched `[D, m, m]`, non-square slots.

    Example:
        >>> a = ghrr_random(2, D=64, m=2, generator=torch.Generator().manual_seed(0))
        >>> ghrr_similarity(a, a).round(decimals=4)
        tensor([1., 1.])
    """
    _check_ghrr_pair(a, b, "a", "b")
    D, m = a.shape[-3], a.shape[-1]
    return (a * b.conj()).real.sum(dim=(-3, -2, -1)) / (m * D)
