"""Hyperbolic geometry that stays accurate in float32: Lorentz and tangent-coordinate distances,
maps between the Lorentz model, the Poincare ball and the tangent space at the origin.

Convention (as `geoopt.Lorentz(k)`): the hyperboloid is {x in R^{n+1} : <x, x>_L = -k, x_0 > 0} with
<x, y>_L = -x_0 y_0 + sum_i x_i y_i, so the sectional curvature is -1/k (k = 1: curvature -1). The
matching Poincare ball has radius sqrt(k) (geoopt's `PoincareBall(c=1/k)`).
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import torch

from suite.checks import (
    check_finite, check_positive, check_real, check_same_last_dim, check_tensor, validation_enabled,
)

__all__ = [
    "minkowski_inner", "lorentz_residual", "lorentz_distance", "tangent_distance", "lorentz_expmap0",
    "lorentz_logmap0", "lorentz_project", "poincare_to_lorentz", "lorentz_to_poincare", "tangent_cdist",
    "lorentz_cdist",
]

_LOG2 = math.log(2.0)
# Relative tolerance of the on-manifold check: |<x,x>_L + k| must be small compared with the size of the
# terms that cancel in it (x_0^2 + |x_s|^2 + k), which is what rounding of valid coordinates produces.
ON_MANIFOLD_RTOL = 1e-3


# Row-blocked evaluation on the CPU: a [1e6, 16] float64 temporary is 128 MB, and allocating it costs more
# than the arithmetic (page faults); blocks of 1M elements (8 MB) keep the temporaries small while each op
# still has enough work to amortise its parallel region (2^18 and 2^22 were slower on 2 shared cores). Each block is the same
# differentiable computation, so autograd and the results are unchanged. Other devices run in one piece.
# The process-wide thread count is left alone (library code never changes global torch state).
_BLOCK_ELEMENTS = 1 << 20


def _rowwise(fn, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.device.type != "cpu" or a.shape != b.shape or a.dim() < 2 or a.numel() <= 4 * _BLOCK_ELEMENTS:
        return fn(a, b)
    n = a.shape[-1]
    a2, b2 = a.reshape(-1, n), b.reshape(-1, n)
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    out = torch.cat([fn(a2[i:i + rows], b2[i:i + rows]) for i in range(0, a2.shape[0], rows)])
    return out.reshape(a.shape[:-1])


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum(a * b, -1) as (a * b) @ ones: a BLAS matrix-vector product beats a last-dim sum of size n ~ 16.
    Under torch.compile a plain sum, which fuses with the product (a matrix product would not)."""
    ab = a * b
    if torch.compiler.is_compiling():
        return ab.sum(-1)
    return ab @ torch.ones(ab.shape[-1], dtype=ab.dtype, device=ab.device)


def _k(k: float | torch.Tensor) -> float:
    if isinstance(k, bool) or not isinstance(k, (int, float, torch.Tensor)) or (
            isinstance(k, torch.Tensor) and (k.dtype == torch.bool or k.is_complex())):
        raise TypeError(f"k (the curvature parameter, curvature -1/k) must be a real number, got {k!r}")
    if isinstance(k, torch.Tensor):
        if k.numel() != 1:
            raise ValueError(f"k (the curvature parameter, curvature -1/k) must be a scalar, got shape {tuple(k.shape)}")
        k = float(k.detach())
    return check_positive(k, "k (the curvature parameter, curvature -1/k)")


def _check_pair(a, b, na: str, nb: str, *, min_last: int = 1, rows: bool = False) -> None:
    """Real floating tensors with equal last dimensions >= min_last whose batch dimensions broadcast (all
    but the last one; with `rows`, all but the last two, each at least 2-D: [..., B, n] and [..., C, n])."""
    for t, name in ((a, na), (b, nb)):
        check_real(check_tensor(t, name), name, min_dim=2 if rows else 1)
    check_same_last_dim(a, b, na, nb)
    for t, name in ((a, na), (b, nb)):
        if t.shape[-1] < min_last:
            what = "points of the Lorentz model with last dimension n + 1 >= 2" if min_last == 2 else \
                "vectors with a last dimension >= 1"
            raise ValueError(f"{name} must be {what}, got shape {tuple(t.shape)}")
    cut = -2 if rows else -1
    try:
        torch.broadcast_shapes(a.shape[:cut], b.shape[:cut])
    except RuntimeError:
        raise ValueError(f"{na} and {nb} must have broadcastable batch dimensions, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}") from None


def _check_values(t: torch.Tensor, name: str) -> None:
    """Finiteness of t when validation is on (a device sync: `suite.set_validation`)."""
    if validation_enabled():
        check_finite(t, name)


def minkowski_inner(x: torch.Tensor, y: torch.Tensor, *, keepdim: bool = False) -> torch.Tensor:
    """Minkowski inner product <x, y>_L = -x_0 y_0 + sum_{i>=1} x_i y_i over the last dimension (Nickel & Kiela 2018).

    Nickel and Kiela, "Learning Continuous Hierarchies in the Lorentz Model of Hyperbolic Geometry", ICML 2018.

    Args:
        x, y: [..., n+1] real floating tensors, broadcastable.
        keepdim: keep the reduced last dimension (size 1).

    Returns:
        [...] (or [..., 1]) tensor of the promoted dtype.

    Raises:
        TypeError: a non-real-floating argument.  ValueError: different last dimensions.

    Example:
        >>> minkowski_inner(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([2.0, 1.0, 3.0]))
        tensor(-2.)
    """
    _check_pair(x, y, "x", "y")
    _check_values(x, "x")
    _check_values(y, "y")
    xy = x * y
    out = xy[..., 1:].sum(-1, keepdim=keepdim) - xy[..., :1].sum(-1, keepdim=keepdim)
    return out


def lorentz_residual(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """On-manifold residual |<x, x>_L + k| / k (0 for an exact point of the hyperboloid <x, x>_L = -k).

    Args:
        x: [..., n+1] real floating tensor.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).

    Returns:
        [...] non-negative tensor of x's dtype.

    Raises:
        TypeError: x not real floating.  ValueError: k not a finite positive number.

    Example:
        >>> lorentz_residual(torch.tensor([[1.0, 0.0], [2.0, 1.0]]))  # the origin, and a point off the manifold
        tensor([0., 2.])
    """
    k = _k(k)
    _check_pair(x, x, "x", "x", min_last=2)
    _check_values(x, "x")
    return (minkowski_inner(x, x) + k).abs() / k


def _wide(t: torch.Tensor) -> torch.Tensor:
    """The distances are evaluated in float64: products and differences of float16/32 numbers are exact
    there, so the direction and radial terms below keep the digits of the inputs (and squares of float32
    up to 3.4e38 do not overflow)."""
    return t.to(torch.float64)


def _off_manifold(x: torch.Tensor, k: float) -> torch.Tensor:
    """Boolean mask of rows that are not on the hyperboloid to relative tolerance ON_MANIFOLD_RTOL
    (or have x_0 <= 0, or are not finite). In float64, where squares of float32 coordinates cannot
    overflow (x_0 reaches 8e37 at radius 88)."""
    x = _wide(x)
    tot = _dot(x, x)
    resid = (tot - 2 * x[..., 0] ** 2 + k).abs()
    return ~(resid <= ON_MANIFOLD_RTOL * (tot + k)) | ~(x[..., 0] > 0)  # NaN compares False -> flagged


def _manifold_error(name: str, x: torch.Tensor, k: float) -> ValueError:
    check_finite(x, name)
    return ValueError(f"{name} is not on the hyperboloid <x, x>_L = -k (k={k}) with x_0 > 0 (relative "
                      f"tolerance {ON_MANIFOLD_RTOL}); map it there with lorentz_project or lorentz_expmap0")


def _check_lorentz(x, name: str, k: float, check: bool = True) -> torch.Tensor:
    """Type and shape always; on the hyperboloid (and finite) when `check` and validation is on."""
    _check_pair(x, x, name, name, min_last=2)
    if check and validation_enabled() and bool(_off_manifold(x, k).any()):
        raise _manifold_error(name, x, k)
    return x


def _gap_sq(a, b, d, na, nb, dn):
    """sin^2(theta / 2) = |a/na - b/nb|^2 / 4 for the angle theta between a and b (norms na, nb > 0,
    d = a - b, dn = na - nb computed without cancellation), branch-free.

    a/na - b/nb = d/na - b dn / (na nb) for nearby points (error ~eps |d| / na, not eps), and the direct
    difference for far-apart ones (|d|^2 >= min |.|^2; the rewritten form would cancel terms of size
    nb/na there). Below 2^-54 (directions equal to ~1e-8, beyond what the float64 divisions resolve) the
    exact 2x2 minors decide instead (`_needs_minors`, `_minor_sin2_half`)."""
    near = (_dot(d, d) < torch.minimum(na, nb) ** 2).unsqueeze(-1)  # squared norms: no sqrt rounding
    na_, nb_ = na.unsqueeze(-1), nb.unsqueeze(-1)
    diff = torch.where(near, d / na_ - b * (dn / (na * nb)).unsqueeze(-1), a / na_ - b / nb_)
    return (_dot(diff, diff) * 0.25).clamp_max(1.0)


def _needs_minors(s2, na, nb):
    """Pairs whose `_gap_sq` is below 2^-54: the minors decide there (the product guard keeps (na nb)^2
    normal)."""
    return (s2 < 2.0 ** -54) & (na * nb > 2.0 ** -900)


def _direction_gap_sq(a, b, d, na, nb, dn):
    """`_gap_sq` with the pairs that `_needs_minors` recomputed by `_small_angle_sq` (gathered: a host read)."""
    s2 = _gap_sq(a, b, d, na, nb, dn)
    need = _needs_minors(s2, na, nb)
    if bool(need.any()):
        n = a.shape[-1]
        idx = need.reshape(-1).nonzero().squeeze(-1)
        fix = _small_angle_sq(a.reshape(-1, n)[idx], b.reshape(-1, n)[idx], na.reshape(-1)[idx], nb.reshape(-1)[idx])
        s2 = s2.reshape(-1).index_put((idx,), fix).reshape(s2.shape)
    return s2


_MINOR_ELEMENTS = 1 << 22  # [rows, n, n] temporaries of the minors are built this many elements at a time


def _split(x):
    """Veltkamp's split x = hi + lo with 26-bit halves (float64), so that products of halves are exact."""
    c = x * 134217729.0  # 2^27 + 1
    hi = c - (c - x)
    return hi, x - hi


def _two_product(x, y):
    """x y = p + e exactly (Dekker 1971, TwoProduct), p = fl(x y), broadcasting x against y."""
    p = x * y
    xh, xl = _split(x)
    yh, yl = _split(y)
    return p, ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def _minor_sin2_half(a, b, na, nb, exact_products: bool = False):
    """sin^2(theta / 2) for nearly parallel rows a, b [..., n], relative-accurate:
    sin^2(theta) = sum_{i<j} (a_i b_j - a_j b_i)^2 / (na nb)^2 (Lagrange's identity) and
    sin^2(theta / 2) = sin^2(theta) / (2 (1 + cos theta)), cos theta = a.b / (na nb).
    Each product a_i b_j is formed exactly as p + e (`_two_product`; e = 0 for float32 inputs, whose
    products are exact in float64), and p_ij - p_ji is exact where it nearly cancels (Sterbenz), so
    exactly collinear inputs (w = lambda v, any lambda > 0) give exactly 0 and a tiny angle keeps its
    relative accuracy; |a/na - b/nb| cannot resolve either (rounding of na, nb). Builds [..., n, n].
    `exact_products`: a and b hold float16/32 values (unscaled), so e = 0 and only p is formed."""
    if exact_products:
        p = a.unsqueeze(-1) * b.unsqueeze(-2)
        m = p - p.transpose(-1, -2)
    else:
        p, e = _two_product(a.unsqueeze(-1), b.unsqueeze(-2))
        m = (p - p.transpose(-1, -2)) + (e - e.transpose(-1, -2))
    nab = na * nb
    sin2 = (m * m).sum((-1, -2)) * 0.5 / (nab * nab)
    return sin2 / (2 * (1 + _dot(a, b) / nab))


def _small_angle_sq(a, b, na, nb):
    """`_minor_sin2_half` of the rows a, b [m, n], _MINOR_ELEMENTS of the [rows, n, n] minors at a time."""
    n = a.shape[-1]
    rows = max(1, _MINOR_ELEMENTS // max(n * n, 1))
    return torch.cat([_minor_sin2_half(a[i:i + rows], b[i:i + rows], na[i:i + rows], nb[i:i + rows])
                      for i in range(0, a.shape[0], rows)])


def _log_sinh_half_sq(r1, r2, delta_r, s2):
    """log sinh(d/2) for two points at radii r1, r2 (curvature -1), radial difference delta_r = r1 - r2
    (passed in separately because it is computed without cancellation) and s2 = sin^2(theta/2).

    sinh^2(d/2) = sinh^2(delta_r/2) + sinh(r1) sinh(r2) s2   (polar law of cosines, every term >= 0),
    evaluated in logs so that nothing overflows: sinh(a) = e^a (1 - e^{-2a}) / 2, so
      a = log sinh(|dr|/2)            = |dr|/2 - log 2 + log(1 - e^{-|dr|}),
      b = log sqrt(sinh r1 sinh r2 s2) = (r1 + r2)/2 - log 2 + log((1 - e^{-2 r1})(1 - e^{-2 r2}) s2) / 2,
    and log sinh(d/2) = logaddexp(2a, 2b) / 2.
    """
    tiny = torch.finfo(r1.dtype).tiny
    ad = delta_r.abs()
    a = ad * 0.5 - _LOG2 + torch.log((-torch.expm1(-ad)).clamp_min(tiny))
    e12 = torch.expm1(-2 * r1) * torch.expm1(-2 * r2)  # (1 - e^{-2 r1})(1 - e^{-2 r2}), signs cancel
    b = (r1 + r2 - 2 * _LOG2 + torch.log((e12 * s2).clamp_min(tiny))) * 0.5
    both = torch.maximum(a, b) + 0.5 * torch.log1p(torch.exp(-2 * (a - b).abs()))
    # an exactly vanishing angular term (same ray, identical points) must not enter through the tiny clamp
    return torch.where(s2 > 0, both, a)


def _two_asinh_exp(L):
    """2 asinh(e^L) for any L without overflow, with z = e^{-2|L|} <= 1:
    L <= 0: asinh(y) = log1p(y + y^2 / (1 + sqrt(1 + y^2))), y = e^L, y^2 = z;
    L > 0:  asinh(e^L) = L + log1p(sqrt(1 + z))."""
    z = torch.exp(-2 * L.abs())
    sq = torch.sqrt(1 + z)
    small = torch.log1p(torch.exp(L.clamp_max(0)) + z / (1 + sq))
    big = L.clamp_min(0) + torch.log1p(sq)
    return 2 * torch.where(L > 0, big, small)


# Beyond this radius sinh(r1) sinh(r2) could overflow float64: those pairs take the log-domain form.
_DIRECT_RADIUS = 700.0


def _chord_half_sq(radial_sq, s1s2, s2):
    """d = 2 asinh(sqrt(h)), h = sinh^2(d/2) = sinh^2((r1 - r2)/2) + sinh(r1) sinh(r2) sin^2(theta/2):
    the polar law of cosines (cosh d = cosh(r1 - r2) + 2 sinh r1 sinh r2 sin^2(theta/2), minus 1), a sum
    of non-negative terms, so nothing cancels (radial_sq = sinh^2((r1 - r2)/2), s1s2 = sinh r1 sinh r2)."""
    return 2 * torch.asinh(_safe_sqrt(radial_sq + s1s2 * s2))


def _safe_sqrt(n):
    """sqrt(n) with a zero (not infinite) gradient at n = 0 (identical points)."""
    nz = ~(n <= 0)  # NaN takes the sqrt branch and stays NaN
    return torch.where(nz, torch.sqrt(torch.where(nz, n, torch.ones_like(n))), torch.zeros_like(n))


def _far(r1, r2):
    """Mask of the pairs with a radius beyond _DIRECT_RADIUS (log-domain evaluation)."""
    return (r1 > _DIRECT_RADIUS) | (r2 > _DIRECT_RADIUS)


def _polar_distance(r1, r2, delta_r, s2, far):
    """Distance from radii r1, r2, their difference delta_r (computed without cancellation) and
    s2 = sin^2(theta/2): directly in float64 while sinh(r) cannot overflow, in the log domain
    (`_log_sinh_half_sq`, `_two_asinh_exp`) for the pairs beyond _DIRECT_RADIUS (`far`: their mask, or None
    when there is none, decided by the caller in the same host read as the refinement)."""
    if far is None:
        return _chord_half_sq(torch.sinh(delta_r * 0.5) ** 2, torch.sinh(r1) * torch.sinh(r2), s2)
    # both forms for every pair, chosen by torch.where: no gather, no host read; the far pairs enter the direct
    # form as zeros, so that neither form overflows and the gradients stay finite
    r1d, r2d, drd = (torch.where(far, 0.0, t) for t in (r1, r2, delta_r))
    out = _chord_half_sq(torch.sinh(drd * 0.5) ** 2, torch.sinh(r1d) * torch.sinh(r2d), s2)
    out = torch.where(far, _two_asinh_exp(_log_sinh_half_sq(r1, r2, delta_r, s2)), out)
    return out


def _refine_below(dtype: torch.dtype) -> float:
    """Pairs whose Gram-form sin^2(theta/2) is below this (nearby points, common rays) are recomputed from
    the vectors without cancellation. The Gram form's absolute error ~1e-16 is then at most ~1e-7 relative
    for inputs narrower than float64 (threshold 2^-30, directions within 6e-5 rad) and ~1e-10 for float64
    inputs (2^-20), below the rounding of the result in each."""
    return 2.0 ** -20 if dtype == torch.float64 else 2.0 ** -30


def _gram_terms(n1, n2, ab):
    """(|a|, |b|, |a|^2 - |b|^2, sin^2(theta/2)) from the float64 Gram entries n1 = |a|^2, n2 = |b|^2,
    ab = a.b: sin^2(theta/2) = (1 - cos theta) / 2, cos theta = ab / (|a| |b|). Norms are floored at
    sqrt(tiny) (finite reciprocals, zero gradient at the origin); a point at the origin has no direction,
    and its angular term is multiplied by sinh(0) = 0: it gets s2 = 1/2 (0 for two points at the
    origin) through a finite branch."""
    tiny = torch.finfo(n1.dtype).tiny
    na, nb = n1.clamp_min(tiny).sqrt(), n2.clamp_min(tiny).sqrt()
    origin = (n1 == 0) | (n2 == 0)
    cos = torch.where(origin, (n1 == n2).to(n1.dtype), ab) / torch.where(origin, 1.0, na * nb)
    return na, nb, n1 - n2, ((1 - cos) * 0.5).clamp(0.0, 1.0)


def _exact_terms(a, b):
    """|a|^2 - |b|^2 = (a - b).(a + b) and sin^2(theta/2) from the float64 rows a, b [m, n] without
    cancellation (errors ~eps |a - b|, not eps |a|; `_direction_gap_sq`)."""
    _, _, na, nb, d, dn2 = _difference_terms(a, b)
    return dn2, _direction_gap_sq(a, b, d, na, nb, dn2 / (na + nb))


def _difference_terms(a, b):
    """(|a|^2, |b|^2, |a|, |b|, d = a - b, |a|^2 - |b|^2 = d.(a + b)) of float64 rows a, b [..., n]: the
    difference of squared norms without cancellation; norms floored at sqrt(tiny), as in `_gram_terms`."""
    tiny = torch.finfo(a.dtype).tiny
    n1, n2 = _dot(a, a), _dot(b, b)
    d = a - b
    return n1, n2, n1.clamp_min(tiny).sqrt(), n2.clamp_min(tiny).sqrt(), d, _dot(d, a + b)


def _branch_free_terms(a, b, exact_products: bool = False):
    """(|a|, |b|, |a|^2 - |b|^2, sin^2(theta/2)) of every pair of float64 rows a, b [..., n] by the
    cancellation-free forms (`_exact_terms`) and, where `_needs_minors`, the exact minors, each chosen per pair
    by torch.where: no host read, so a compiled kernel can run it in one pass. The unchosen minors see
    zero rows (finite values and gradients); the origin convention is `_gram_terms`'s. Also returns
    |a|^2 + |b|^2 summed (finite iff the inputs are, up to overflow: the validation flag).
    `exact_products`: see `_minor_sin2_half` (it keeps the minors' [..., n, n] work to one product, so that a
    compiled kernel need not store it)."""
    n1, n2, na, nb, d, dn2 = _difference_terms(a, b)
    s2 = _gap_sq(a, b, d, na, nb, dn2 / (na + nb))
    sel = _needs_minors(s2, na, nb)
    keep = sel.unsqueeze(-1)
    one = torch.ones_like(na)
    minors = _minor_sin2_half(torch.where(keep, a, 0.0), torch.where(keep, b, 0.0), torch.where(sel, na, one),
                              torch.where(sel, nb, one), exact_products)
    s2 = torch.where(sel, minors, s2)
    origin = (n1 == 0) | (n2 == 0)
    s2 = torch.where(origin, (n1 != n2).to(s2.dtype) * 0.5, s2)
    return na, nb, dn2, s2, n1.sum() + n2.sum()


def _fetch(values: list[torch.Tensor]) -> list[float]:
    """Device scalars (flags, sums) read on the host in ONE device sync."""
    return torch.stack([v.to(torch.float64) for v in values]).tolist()


def _pair_terms(n1, n2, ab, rows, refine: float, far=None, checks=()):
    """(|a|, |b|, |a|^2 - |b|^2, sin^2(theta/2)) for every pair from its Gram entries (one pass over the
    coordinates, as a textbook distance), with the pairs that the Gram form cannot resolve (s2 below
    `refine`, see `_refine_below`: nearby points, common rays) recomputed by `_exact_terms` from
    `rows(flat_index)`, which returns their float64 rows (a, b). The choice is made per pair.

    Whether any pair needs refining, whether any is `far(|a|, |b|)` (a mask function, or None) and the
    caller's `checks` (device scalars: validation flags) are read in one host read; when some pair needs
    refining, gathering those pairs (`nonzero`, and the refinement's own direction test) costs up to three
    more. Returns the terms, the far mask (None when no pair is far) and the checks' values."""
    na, nb, dn2, s2 = _gram_terms(n1, n2, ab)
    need = s2 < refine
    far_mask = None if far is None else far(na, nb)
    got = _fetch([need.any()] + ([] if far is None else [far_mask.any()]) + list(checks))
    if far is not None:
        far_mask = far_mask if got.pop(1) else None
    if got.pop(0):
        shape = s2.shape
        idx = need.reshape(-1).nonzero().squeeze(-1)
        e_dn2, e_s2 = _exact_terms(*rows(idx))
        dn2 = dn2.expand(shape).reshape(-1).index_put((idx,), e_dn2).reshape(shape)
        s2 = s2.reshape(-1).index_put((idx,), e_s2).reshape(shape)
    return (na, nb, dn2, s2), far_mask, got


def _tangent_from_terms(r1, r2, dn2, s2, far):
    """tangent distance (curvature -1) from `_pair_terms` of the tangent vectors: r1 - r2 = dn2 / (r1 + r2)."""
    return _polar_distance(r1, r2, dn2 / (r1 + r2), s2, far)


def _lorentz_from_terms(p, q, dn2, s2, far=None):
    """Lorentz distance (curvature -1) from `_pair_terms` of the spatial parts (p = |x_s| = sinh r1):
    sinh(r1 - r2) = p y0 - q x0 = (p^2 - q^2) / (p y0 + q x0) =: t (x0 = sqrt(1 + p^2)),
    sinh^2((r1 - r2)/2) = (cosh(r1 - r2) - 1) / 2 = t^2 / (2 (sqrt(1 + t^2) + 1)), sinh r1 sinh r2 = p q.
    No pair is far (`far` is None: float64 holds p q for every float32 point)."""
    one = torch.ones_like(p)
    t = dn2 / (p * torch.hypot(one, q) + q * torch.hypot(one, p))
    return _chord_half_sq(t * t / (2 * (torch.hypot(torch.ones_like(t), t) + 1)), p * q, s2)


def _pointwise(a, b, from_terms, k: float, far=None, checks=(), finite: bool = False):
    """Distance of the row pairs a, b [..., n] (broadcast; evaluated in float64) at curvature -1/k, and the
    values of `checks` (device scalars) read in the same host read as the refinement decision
    (`_pair_terms`), followed, with `finite`, by the sum of the squared norms: not finite iff an entry of a
    or b is, or (float64 input beyond ~1e154) a finite square overflows."""
    refine = _refine_below(torch.result_type(a, b))
    a, b = torch.broadcast_tensors(_wide(a), _wide(b))
    n = a.shape[-1]

    def rows(idx):
        return a.reshape(-1, n)[idx] / math.sqrt(k), b.reshape(-1, n)[idx] / math.sqrt(k)

    n1, n2 = _dot(a, a) / k, _dot(b, b) / k
    checks = list(checks) + ([n1.sum() + n2.sum()] if finite else [])
    terms, far_mask, got = _pair_terms(n1, n2, _dot(a, b) / k, rows, refine, far, checks)
    return math.sqrt(k) * from_terms(*terms, far_mask), got


# CUDA fast path, opt-in: the whole distance as one branch-free function (`_branch_free_terms`: every pair takes
# the cancellation-free terms and, where needed, the exact minors, chosen by torch.where), compiled by
# torch.compile (Triton) into a few fused kernels, so it reads the inputs once and needs no host read unless
# validating (then one, for the flags). Off by default (`COMPILE_ON_CUDA`): on one H200 the first call
# compiled for 52 s (torch 2.11, Triton 3.6) and its speed at device-bound sizes is not measured yet; the
# eager path with its one host read (`_pair_terms`) runs instead. Where Triton is missing or compiling fails
# (warned once), the eager path runs too.
COMPILE_ON_CUDA = False
_COMPILED: dict = {}


def _call_fused(fn, *args):
    """fn(*args) compiled for CUDA tensors when `COMPILE_ON_CUDA` is set and Triton is installed, else None
    (the caller runs eagerly)."""
    if (not COMPILE_ON_CUDA or args[0].device.type != "cuda" or _COMPILED.get(fn, 0) is None
            or importlib.util.find_spec("triton") is None):
        return None
    if fn not in _COMPILED:
        _COMPILED[fn] = torch.compile(fn, dynamic=True)
    try:
        return _COMPILED[fn](*args)
    except Exception as exc:  # an optional fast path: a compiler problem must not break the op
        _COMPILED[fn] = None
        warnings.warn(f"torch.compile of {fn.__name__} failed ({type(exc).__name__}: {str(exc)[:200]}); the "
                      "eager path runs instead", RuntimeWarning, stacklevel=3)
        return None


def _fused_tangent(v, w, k: float):
    """`tangent_distance` of every pair, branch-free (`_branch_free_terms` of the unscaled rows, then the
    radii scaled by 1/sqrt(k): the angle does not depend on k; far pairs by torch.where), and the summed
    squared norms (validation flag)."""
    a, b = torch.broadcast_tensors(_wide(v), _wide(w))
    sk = math.sqrt(k)
    na, nb, dn2, s2, n12 = _branch_free_terms(a, b, torch.result_type(v, w) != torch.float64)
    r1, r2 = na / sk, nb / sk
    return sk * _tangent_from_terms(r1, r2, dn2 / k, s2, _far(r1, r2)), n12


def _fused_lorentz(x, y, k: float, check: bool):
    """`lorentz_distance` of every pair, branch-free (`_branch_free_terms`), and with `check` the on-manifold
    flags of x and y."""
    flags = [_off_manifold(x, k).any(), _off_manifold(y, k).any()] if check else []
    a, b = torch.broadcast_tensors(_wide(x[..., 1:]), _wide(y[..., 1:]))
    sk = math.sqrt(k)
    na, nb, dn2, s2, _ = _branch_free_terms(a, b, torch.result_type(x, y) != torch.float64)
    return sk * _lorentz_from_terms(na / sk, nb / sk, dn2 / k, s2), flags


def lorentz_distance(x: torch.Tensor, y: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """Geodesic distance on the hyperboloid, accurate on every pair (Mishne et al., ICML 2023, sec. 4, corrected).

        sinh^2(d/2) = sinh^2((r1 - r2)/2) + sinh(r1) sinh(r2) sin^2(theta/2)      (curvature -1),

    with sinh(r_i) = |x_s|, |y_s| (the spatial parts), r1 - r2 = asinh((|x_s|^2 - |y_s|^2) / (|x_s| y_0 +
    |y_s| x_0)) and sin(theta/2) = |x_s/|x_s| - y_s/|y_s|| / 2, both without cancellation
    (`_direction_gap_sq`), evaluated in float64 (`_chord_half_sq`).
    Neither textbook form is accurate on all pairs: sqrt(k) arcosh(-<x, y>_L / k) (geoopt `Lorentz.dist`)
    loses close points (arcosh(1 + t), t lost to rounding; Mishne et al. 2023, sec. 4), the Minkowski chord
    2 sqrt(k) asinh(sqrt(<x - y, x - y>_L / k) / 2) loses far points of different radii (it cancels
    e^{2 r}), and both lose nearly radial pairs at large radius; the polar form has no cancellation.

    The point is the one of the hyperboloid with spatial part x_s (x_0 = sqrt(k + |x_s|^2), as
    `geoopt.Lorentz.projx`): x_0 is read only by the on-manifold check, because its rounding
    (eps x_0^2 in <x, x>_L) would otherwise decide the distance of close points beyond radius ~8.

    Cost: as `tangent_distance` (`_fused_lorentz` when compiled on CUDA: no host read unless validating); the
    on-manifold flags are read in the same host read as the rest.

    Args:
        x, y: [..., n+1] points with <x, x>_L = -k, broadcastable; checked to relative tolerance
            ON_MANIFOLD_RTOL when `check` and validation is on (`suite.set_validation`);
            `lorentz_project` is the documented way to bring points back onto the hyperboloid.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).
        check: run the on-manifold check (while validation is on).

    Returns:
        [...] distances in the result dtype of x and y.

    Raises:
        TypeError: a non-real-floating argument.
        ValueError: different last dimensions, k not a finite positive number; while validating, NaN/Inf or a
            point off the hyperboloid (named, with its residual).

    Example:
        >>> x, y = lorentz_expmap0(torch.tensor([0.0, 0.0])), lorentz_expmap0(torch.tensor([2.0, 0.0]))
        >>> round(float(lorentz_distance(x, y)), 4)
        2.0
    """
    k = _k(k)
    _check_pair(x, y, "x", "y", min_last=2)
    check = check and validation_enabled()
    fused = _call_fused(_fused_lorentz, x, y, k, check)
    if fused is not None:
        out, flags = fused
        bad = [f > 0 for f in _fetch(flags)] if check else [False, False]
    else:
        out, bad = _lorentz_eager(x, y, k, check)
    if bad[0]:
        raise _manifold_error("x", x, k)
    if bad[1]:
        raise _manifold_error("y", y, k)
    return out.to(torch.result_type(x, y))


def _lorentz_eager(x, y, k: float, check: bool):
    """`lorentz_distance` by `_pointwise` (row blocks on the CPU) and the on-manifold flags [x, y]."""
    bad = [False, False]

    def block(a, b):
        # the on-manifold flags are read with the refinement decision: one host read per block (one block
        # off the CPU); the error is raised once every block has run
        checks = (_off_manifold(a, k).any(), _off_manifold(b, k).any()) if check else ()
        out, got = _pointwise(a[..., 1:], b[..., 1:], _lorentz_from_terms, k, checks=checks)
        if check:
            bad[0], bad[1] = bad[0] or got[0] > 0, bad[1] or got[1] > 0
        return out

    return _rowwise(block, x, y), bad


def _check_norms_total(total: float, v: torch.Tensor, w: torch.Tensor) -> None:
    """`total` = sum of |v|^2 + |w|^2 is not finite for NaN/Inf input (or a finite square that overflowed):
    only then are v and w checked themselves, naming the bad one."""
    if not math.isfinite(total):
        check_finite(v, "v")
        check_finite(w, "w")


def tangent_distance(v: torch.Tensor, w: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Distance between exp_0(v) and exp_0(w) for tangent vectors at the origin, in the log domain (Mishne et al. 2023).

    |v| is the distance of exp_0(v) from the origin. Formula (curvature -1; for k != 1 distances scale by
    sqrt(k)): with r_i = |v_i| and theta the angle between v and w,
    sinh^2(d/2) = sinh^2((r1 - r2)/2) + sinh(r1) sinh(r2) sin^2(theta/2), a sum of non-negative terms (the
    polar law of cosines cosh d = cosh(r1 - r2) + 2 sinh r1 sinh r2 sin^2(theta/2) minus 1). cosh(r) is never
    formed: log sinh(d/2) is assembled from logs (`_log_sinh_half_sq`) and d = 2 asinh(exp(.)) is evaluated
    without overflow. Two quantities are computed without cancellation:
      r1 - r2 = (v - w).(v + w) / (r1 + r2)                     (not |v| - |w|),
      v/r1 - w/r2 = (v - w)/r1 - w ((v - w).(v + w)) / (r1 r2 (r1 + r2)),  sin(theta/2) = |.|/2,
    so their error scales with |v - w|, not with the radius; directions equal to ~1e-8 (common rays)
    take sin^2(theta) from the exact 2x2 minors instead (`_small_angle_sq`). Everything runs in float64
    (float32 products are exact there): at radius 50 the angular term is multiplied by sinh(r1) sinh(r2)
    ~ e^100, which float32 directions cannot resolve. This is the Euclidean (tangent) parametrisation of
    Mishne et al., "The Numerical Stability of Hyperbolic Representation Learning", ICML 2023, with the
    distance computed in the log domain (beyond the research report).

    Accuracy (tested against mpmath on the exact float inputs, no carve-out): float32 relative error
    < 1e-5 to radius 50, common rays and nearly radial pairs included; float64 inputs 1e-9 to radius 30
    for norms 0 or >= 1e-150 (below that |v|^2 underflows float64).

    Cost: the Gram form with the pairs it cannot resolve refined, decided in one host read (`_pair_terms`;
    up to three more when some pairs do need refining: nearby points, common rays);
    on CUDA with `suite.hyperbolic._geometry.COMPILE_ON_CUDA = True` and Triton, one compiled branch-free
    function (`_fused_tangent`) instead, no host read unless validating (one).

    Args:
        v, w: [..., n] tangent vectors, broadcastable.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).

    Returns:
        [...] distances in the result dtype of v and w.

    Raises:
        TypeError: a non-real-floating argument.
        ValueError: different last dimensions, k not a finite positive number; NaN/Inf while validation is on.

    Example:
        >>> v, w = torch.tensor([50.0, 0.0]), torch.tensor([50.1, 0.0])  # cosh(50) ~ 3e21: no cancellation
        >>> round(float(tangent_distance(v, w)), 4)
        0.1
    """
    k = _k(k)
    _check_pair(v, w, "v", "w")
    validate = validation_enabled()
    fused = _call_fused(_fused_tangent, v, w, k)
    if fused is not None:
        out, n12 = fused
        if validate:
            _check_norms_total(n12.item(), v, w)
        return out.to(torch.result_type(v, w))

    def block(a, b):
        out, got = _pointwise(a, b, _tangent_from_terms, k, far=_far, finite=validate)
        if validate:
            _check_norms_total(got[0], v, w)
        return out

    return _rowwise(block, v, w).to(torch.result_type(v, w))


def lorentz_expmap0(v: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """exp_0: tangent vector v in R^n at the origin -> point of the hyperboloid (Nickel & Kiela 2018, eq. 9).

    x = (sqrt(k) cosh(r/sqrt k), sqrt(k) sinh(r/sqrt k) v/r), r = |v|. sinh(r)/r is evaluated stably near
    r = 0; x_0 is then recomputed as sqrt(k + |x_s|^2) so that the point is on the hyperboloid to rounding
    (scaled, so the squares cannot overflow).

    Args:
        v: [..., n] real floating tangent vectors.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).

    Returns:
        [..., n+1] points of the hyperboloid, v's dtype.

    Raises:
        TypeError: v not real floating.
        ValueError: k not a finite positive number; NaN/Inf while validating; a point not representable in v's
            dtype: x_0 = sqrt(k) cosh(|v|/sqrt k) exceeds the largest float from |v| ~ sqrt(k) log(2 max / sqrt k)
            (about 89 for float32, k = 1).

    Example:
        >>> lorentz_expmap0(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
        tensor([[1.0000, 0.0000, 0.0000],
                [1.5431, 1.1752, 0.0000]])
    """
    k = _k(k)
    _check_pair(v, v, "v", "v")
    _check_values(v, "v")
    sk = math.sqrt(k)
    r = torch.linalg.vector_norm(v, dim=-1, keepdim=True) / sk
    safe = torch.where(r > 0, r, torch.ones_like(r))
    factor = torch.where(r > 0, torch.sinh(safe) / safe, torch.ones_like(r))  # sinh(r)/r -> 1
    xs = v * factor
    s = xs.abs().amax(-1, keepdim=True).clamp_min(sk)  # >= sqrt(k) > 0: no division by zero, no overflow
    x0 = s * torch.sqrt((sk / s) ** 2 + ((xs / s) ** 2).sum(-1, keepdim=True))
    out = torch.cat([x0, xs], dim=-1)
    if validation_enabled() and not bool(torch.isfinite(out).all()):
        limit = sk * (math.log(torch.finfo(v.dtype).max) + math.log(2 / sk))
        raise ValueError(f"v has a tangent vector of norm {float(r.max()) * sk:.4g}: its point on the hyperboloid "
                         f"overflows {v.dtype} (x_0 = sqrt(k) cosh(|v| / sqrt k) is finite only for |v| < about "
                         f"{limit:.4g}); use a wider dtype or shorter tangent vectors")
    return out


def lorentz_logmap0(x: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """log_0: point of the hyperboloid -> tangent vector at the origin (the inverse of `lorentz_expmap0`).

    r = sqrt(k) asinh(|x_s| / sqrt k) (asinh of the spatial norm, not arcosh(x_0 / sqrt k): x_0 =
    sqrt(k) (1 + r^2 / 2k + ...) rounds to sqrt(k) near the origin, so arcosh returns 0 for every r below
    ~3e-4 in float32). The norm is taken in float64, where squares of float32 coordinates cannot overflow
    (|x_s| reaches 8e37 at radius 88).

    Args:
        x: [..., n+1] points of the hyperboloid (checked when `check` and validation is on).
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).
        check: run the on-manifold check (while validation is on).

    Returns:
        [..., n] tangent vectors at the origin, x's dtype.

    Raises:
        TypeError: x not real floating.  ValueError: k not a finite positive number; while validating, NaN/Inf or a
            point off the hyperboloid.

    Example:
        >>> v = torch.tensor([1e-5, 3.0])
        >>> torch.allclose(lorentz_logmap0(lorentz_expmap0(v)), v)
        True
    """
    k = _k(k)
    _check_lorentz(x, "x", k, check)
    sk = math.sqrt(k)
    xs = _wide(x[..., 1:])
    n = _safe_sqrt(_dot(xs, xs)).unsqueeze(-1)
    safe = torch.where(n > 0, n, torch.ones_like(n))
    factor = torch.where(n > 0, sk * torch.asinh(safe / sk) / safe, torch.ones_like(n))
    return (xs * factor).to(x.dtype)


def lorentz_project(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Projection onto the hyperboloid that keeps the spatial part, x_0 <- sqrt(k + |x_s|^2) (geoopt `Lorentz.projx`).

    The documented way to bring an off-manifold point back.

    Args:
        x: [..., n+1] real floating tensor.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).

    Returns:
        [..., n+1] points of the hyperboloid, x's dtype.

    Raises:
        TypeError: x not real floating.  ValueError: k not a finite positive number; NaN/Inf while validation is on.

    Example:
        >>> lorentz_project(torch.tensor([5.0, 3.0, 4.0]))  # x_0 = sqrt(1 + 25)
        tensor([5.0990, 3.0000, 4.0000])
    """
    k = _k(k)
    _check_pair(x, x, "x", "x", min_last=2)
    _check_values(x, "x")
    xs = x[..., 1:]
    return torch.cat([torch.sqrt(k + (xs * xs).sum(-1, keepdim=True)), xs], dim=-1)


def lorentz_to_poincare(x: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """Hyperboloid -> Poincare ball of radius sqrt(k): p = sqrt(k) x_s / (x_0 + sqrt(k)) (no cancellation).

    Nickel & Kiela, ICML 2018, eq. 11.

    Args:
        x: [..., n+1] points of the hyperboloid (checked when `check` and validation is on).
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).
        check: run the on-manifold check (while validation is on).

    Returns:
        [..., n] points of the ball, x's dtype.

    Raises:
        TypeError: x not real floating.  ValueError: k not a finite positive number; while validating, NaN/Inf or a
            point off the hyperboloid.

    Example:
        >>> lorentz_to_poincare(lorentz_expmap0(torch.tensor([2.0, 0.0])))  # |p| = tanh(r / 2)
        tensor([0.7616, 0.0000])
    """
    k = _k(k)
    _check_lorentz(x, "x", k, check)
    sk = math.sqrt(k)
    return sk * x[..., 1:] / (x[..., :1] + sk)


def poincare_to_lorentz(p: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Poincare ball of radius sqrt(k) -> hyperboloid (Nickel & Kiela, ICML 2018, eq. 11, inverted).

    x_0 = sqrt(k) (k + |p|^2) / (k - |p|^2),  x_s = 2 k p / (k - |p|^2),
    with k - |p|^2 formed as (sqrt k - |p|)(sqrt k + |p|) to keep the digits of 1 - |p| near the boundary.

    Args:
        p: [..., n] points strictly inside the ball |p| < sqrt(k).
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).

    Returns:
        [..., n+1] points of the hyperboloid, p's dtype.

    Raises:
        TypeError: p not real floating.  ValueError: k not a finite positive number; points on or outside the
            boundary (they are at infinite distance); NaN/Inf while validation is on.

    Example:
        >>> poincare_to_lorentz(torch.tensor([0.5, 0.0]))
        tensor([1.6667, 1.3333, 0.0000])
    """
    k = _k(k)
    _check_pair(p, p, "p", "p")
    _check_values(p, "p")
    sk = math.sqrt(k)
    n = torch.linalg.vector_norm(p, dim=-1, keepdim=True)
    if validation_enabled() and bool((n >= sk).any()):
        raise ValueError(f"p must lie strictly inside the Poincare ball of radius sqrt(k)={sk}; "
                         f"max norm {float(n.max()):.6g}")
    den = (sk - n) * (sk + n)
    return torch.cat([sk * (k + n * n) / den, 2 * k * p / den], dim=-1)


def _cdist(a, b, from_terms, k: float, far=None, checks=(), finite: bool = False):
    """All-pairs distances of the rows of a [..., B, n] and b [..., C, n] -> [..., B, C] at curvature -1/k:
    the Gram entries come from one matrix product (B x C x n is never materialised) and the pairs that
    the Gram form cannot resolve are refined from their rows (`_pair_terms`), as in `_pointwise`, which also
    says what `checks` and `finite` add to the one host read."""
    refine = _refine_below(torch.result_type(a, b))
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = _wide(a).expand(*batch, *a.shape[-2:])
    b = _wide(b).expand(*batch, *b.shape[-2:])
    ab = a @ b.transpose(-1, -2) / k
    shape = ab.shape

    def rows(idx):
        *bi, i, j = torch.unravel_index(idx, shape)
        return a[(*bi, i)] / math.sqrt(k), b[(*bi, j)] / math.sqrt(k)

    n1, n2 = _dot(a, a) / k, _dot(b, b) / k
    checks = list(checks) + ([n1.sum() + n2.sum()] if finite else [])
    terms, far_mask, got = _pair_terms(n1.unsqueeze(-1), n2.unsqueeze(-2), ab, rows, refine, far, checks)
    return math.sqrt(k) * from_terms(*terms, far_mask), got


def tangent_cdist(v: torch.Tensor, w: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """All-pairs `tangent_distance`: out[..., i, j] = tangent_distance(v[..., i, :], w[..., j, :], k).

    The same accuracy (per pair: the Gram form a.b from one matrix product where it resolves the angle,
    the cancellation-free and exact-minor forms for nearby points and common rays), without forming
    the [..., B, C, n] differences. For contrastive losses over all pairs (geoopt's `Lorentz.cdist`
    plays this role for the arcosh form).

    Args:
        v: [..., B, n] tangent vectors at the origin.
        w: [..., C, n] tangent vectors at the origin; batch dimensions broadcast with v's.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).

    Returns:
        [..., B, C] distances in the result dtype of v and w.

    Raises:
        TypeError: a non-real-floating argument.
        ValueError: fewer than 2 dimensions, different last dimensions, k not a finite positive number; NaN/Inf while
            validating.

    Example:
        >>> v = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
        >>> tangent_cdist(v, torch.tensor([[50.1, 0.0]]))
        tensor([[50.1000],
                [ 0.1000]])
    """
    k = _k(k)
    _check_pair(v, w, "v", "w", rows=True)
    validate = validation_enabled()
    out, got = _cdist(v, w, _tangent_from_terms, k, _far, finite=validate)
    if validate:
        _check_norms_total(got[0], v, w)
    return out.to(torch.result_type(v, w))


def lorentz_cdist(x: torch.Tensor, y: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """All-pairs `lorentz_distance`: out[..., i, j] = lorentz_distance(x[..., i, :], y[..., j, :], k).

    The same accuracy and the same reading of the points (the spatial part decides, x_0 only passes the
    on-manifold check), without forming the [..., B, C, n+1] differences.

    Args:
        x: [..., B, n+1] points of the hyperboloid <x, x>_L = -k, x_0 > 0 (checked when `check` and
            validation is on).
        y: [..., C, n+1] points of the hyperboloid; batch dimensions broadcast with x's.
        k: curvature parameter (curvature -1/k), a finite positive number (default 1).
        check: run the on-manifold check (while validation is on).

    Returns:
        [..., B, C] distances in the result dtype of x and y.

    Raises:
        TypeError: a non-real-floating argument.
        ValueError: fewer than 2 dimensions, different last dimensions, k not a finite positive number; while
            validating, NaN/Inf or a point off the hyperboloid.

    Example:
        >>> x = lorentz_expmap0(torch.tensor([[0.0, 0.0], [3.0, 0.0]]))
        >>> lorentz_cdist(x, x)
        tensor([[0., 3.],
                [3., 0.]])
    """
    k = _k(k)
    _check_pair(x, y, "x", "y", min_last=2, rows=True)
    check = check and validation_enabled()
    checks = (_off_manifold(x, k).any(), _off_manifold(y, k).any()) if check else ()
    out, got = _cdist(x[..., 1:], y[..., 1:], _lorentz_from_terms, k, checks=checks)
    for flag, t, name in zip(got, (x, y), ("x", "y")):  # read with the refinement decision: one host read
        if flag > 0:
            raise _manifold_error(name, t, k)
    return out.to(torch.result_type(x, y))
