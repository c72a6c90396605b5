"""Hyperbolic geometry that stays accurate in float32: Lorentz and tangent-coordinate distances,
maps between the Lorentz model, the Poincare ball and the tangent space at the origin.

Convention (as `geoopt.Lorentz(k)`): the hyperboloid is {x in R^{n+1} : <x, x>_L = -k, x_0 > 0} with
<x, y>_L = -x_0 y_0 + sum_i x_i y_i, so the sectional curvature is -1/k (k = 1: curvature -1). The
matching Poincare ball has radius sqrt(k) (geoopt's `PoincareBall(c=1/k)`).
"""

from __future__ import annotations

import math

import torch

from suite.checks import check_finite, check_positive, check_real, check_same_last_dim, check_tensor

__all__ = [
    "minkowski_inner", "lorentz_residual", "lorentz_distance", "tangent_distance", "lorentz_expmap0",
    "lorentz_logmap0", "lorentz_project", "poincare_to_lorentz", "lorentz_to_poincare",
]

_LOG2 = math.log(2.0)
# Relative tolerance of the on-manifold check: |<x,x>_L + k| must be small compared with the size of the
# terms that cancel in it (x_0^2 + |x_s|^2 + k), which is what rounding of valid coordinates produces.
ON_MANIFOLD_RTOL = 1e-3


# Row-blocked evaluation on the CPU: a [1e6, 16] float64 temporary is 128 MB, and allocating it costs more
# than the arithmetic (page faults); blocks of 256k elements stay in cache. Each block is the same
# differentiable computation, so autograd and the results are unchanged. Other devices run in one piece.
# The process-wide thread count is left alone (library code never changes global torch state).
_BLOCK_ELEMENTS = 1 << 18


def _rowwise(fn, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.device.type != "cpu" or a.shape != b.shape or a.dim() < 2 or a.numel() <= 4 * _BLOCK_ELEMENTS:
        return fn(a, b)
    n = a.shape[-1]
    a2, b2 = a.reshape(-1, n), b.reshape(-1, n)
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    out = torch.cat([fn(a2[i:i + rows], b2[i:i + rows]) for i in range(0, a2.shape[0], rows)])
    return out.reshape(a.shape[:-1])


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum(a * b, -1) as (a * b) @ ones: a BLAS matrix-vector product beats a last-dim sum of size n ~ 16."""
    ab = a * b
    return ab @ torch.ones(ab.shape[-1], dtype=ab.dtype, device=ab.device)


def _k(k: float | torch.Tensor) -> float:
    if isinstance(k, torch.Tensor):
        if k.numel() != 1:
            raise ValueError(f"k (the curvature parameter, curvature -1/k) must be a scalar, got shape {tuple(k.shape)}")
        k = float(k.detach())
    return check_positive(k, "k (the curvature parameter, curvature -1/k)")


def minkowski_inner(x: torch.Tensor, y: torch.Tensor, *, keepdim: bool = False) -> torch.Tensor:
    """<x, y>_L = -x_0 y_0 + sum_{i>=1} x_i y_i over the last dimension."""
    xy = x * y
    out = xy[..., 1:].sum(-1, keepdim=keepdim) - xy[..., :1].sum(-1, keepdim=keepdim)
    return out


def lorentz_residual(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """On-manifold residual |<x, x>_L + k| / k (0 for an exact point of the hyperboloid)."""
    k = _k(k)
    return (minkowski_inner(x, x) + k).abs() / k


def _off_manifold(x: torch.Tensor, k: float) -> torch.Tensor:
    """Boolean mask of rows that are not on the hyperboloid to relative tolerance ON_MANIFOLD_RTOL
    (or have x_0 <= 0, or are not finite)."""
    tot = _dot(x, x)
    resid = (tot - 2 * x[..., 0] ** 2 + k).abs()
    return ~(resid <= ON_MANIFOLD_RTOL * (tot + k)) | ~(x[..., 0] > 0)  # NaN compares False -> flagged


def _manifold_error(name: str, x: torch.Tensor, k: float) -> ValueError:
    check_finite(x, name)
    return ValueError(f"{name} is not on the hyperboloid <x, x>_L = -k (k={k}) with x_0 > 0 (relative "
                      f"tolerance {ON_MANIFOLD_RTOL}); map it there with lorentz_project or lorentz_expmap0")


def _check_lorentz(x, name: str, k: float) -> torch.Tensor:
    check_real(check_tensor(x, name), name)
    if x.shape[-1] < 2:
        raise ValueError(f"{name} must be points of the Lorentz model with last dimension n + 1 >= 2, "
                         f"got shape {tuple(x.shape)}")
    if bool(_off_manifold(x, k).any()):
        raise _manifold_error(name, x, k)
    return x


def lorentz_distance(x: torch.Tensor, y: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """Geodesic distance on the hyperboloid, cancellation-free:

        d(x, y) = 2 sqrt(k) asinh( sqrt(<y - x, y - x>_L / k) / 2 ),

    from <y - x, y - x>_L = -2k - 2<x, y>_L = 4k sinh^2(d / (2 sqrt k)). The textbook
    sqrt(k) arcosh(-<x, y>_L / k) (geoopt `Lorentz.dist`) evaluates arcosh(1 + t) with t lost to rounding
    when the points are close (Mishne et al. 2023, sec. 4). The Lorentz coordinates themselves still grow
    like e^r, so both forms lose accuracy at large radius r: that is a limit of the representation.

    x, y: [..., n+1] points with <x, x>_L = -k (checked to relative tolerance 1e-3 when `check`;
    `lorentz_project` is the documented way to bring points back onto the hyperboloid).
    """
    k = _k(k)
    check_real(check_tensor(x, "x"), "x")
    check_real(check_tensor(y, "y"), "y")
    check_same_last_dim(x, y, "x", "y")
    for t, name in ((x, "x"), (y, "y")):
        if t.shape[-1] < 2:
            raise ValueError(f"{name} must be points of the Lorentz model with last dimension n + 1 >= 2, "
                             f"got shape {tuple(t.shape)}")
    scale = 2 * math.sqrt(k)
    bad = []

    def block(a, b):
        if check:  # flags are reduced once at the end: one host sync, not one per block
            bad.append((_off_manifold(a, k).any(), _off_manifold(b, k).any()))
        d = b - a
        q = (_dot(d, d) - 2 * d[..., 0] ** 2).clamp_min(0)  # <d,d>_L >= 0 on the hyperboloid; rounding may dip
        return scale * torch.asinh(_safe_sqrt(q / k) * 0.5)

    out = _rowwise(block, x, y)
    if check:
        flags = torch.stack([torch.stack(f) for f in bad]).any(0).tolist()
        if flags[0]:
            raise _manifold_error("x", x, k)
        if flags[1]:
            raise _manifold_error("y", y, k)
    return out


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
    # an exactly vanishing angular term (same ray, identical points) must not enter through the tiny clamp:
    # at radius 30 that would add e^(30 - 44) to sinh(d/2)
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


def _safe_sqrt(n):
    """sqrt(n) with a zero (not infinite) gradient at n = 0 (a point at the origin)."""
    nz = n > 0
    return torch.where(nz, torch.sqrt(torch.where(nz, n, torch.ones_like(n))), torch.zeros_like(n))


def _tangent_distance_unit(v, w):
    """tangent_distance for curvature -1 on one block (see `tangent_distance`)."""
    v, w = torch.broadcast_tensors(v, w)
    tiny = torch.finfo(v.dtype).tiny
    d = v - w
    n1, n2 = _dot(v, v), _dot(w, w)
    # radii floored at sqrt(tiny) ~ 1e-19 (float32): finite 1/r, zero gradient at the origin; a point at the
    # origin then has sinh(r) ~ 1e-19, so the angular term vanishes as it should
    r1, r2 = n1.clamp_min(tiny).sqrt(), n2.clamp_min(tiny).sqrt()
    t1, t2 = 1 / r1, 1 / r2
    dp = _dot(d, v) + _dot(d, w)  # = r1^2 - r2^2 without cancellation (error ~eps |v - w| r)
    delta_r = dp / (r1 + r2)
    # v/r1 - w/r2 = (v - w)/r1 - c w. For nearby points c = (r2 - r1)/(r1 r2) from dp (error ~eps |v-w|/r1);
    # for far-apart ones (|v - w|^2 >= min |.|^2) c = t2 - t1, which is exact when w is v scaled by a power
    # of two (same ray) and no worse otherwise.
    near = _dot(d, d) < torch.minimum(n1, n2)  # squared norms: no sqrt rounding in the comparison
    c = torch.where(near, delta_r * t1 * t2, t2 - t1)
    diff = d * t1.unsqueeze(-1) - w * c.unsqueeze(-1)  # not addcmul: a fused multiply-add breaks exactness
    s2 = (_dot(diff, diff) * 0.25).clamp_max(1.0)
    return _two_asinh_exp(_log_sinh_half_sq(r1, r2, delta_r, s2))


def tangent_distance(v: torch.Tensor, w: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Distance between exp_0(v) and exp_0(w) for tangent vectors v, w in R^n at the origin
    (|v| is the distance of exp_0(v) from the origin), evaluated in the log domain.

    Formula (curvature -1; for k != 1 distances scale by sqrt(k)): with r_i = |v_i| and theta the angle
    between v and w, sinh^2(d/2) = sinh^2((r1 - r2)/2) + sinh(r1) sinh(r2) sin^2(theta/2), a sum of
    non-negative terms (the polar law of cosines cosh d = cosh(r1 - r2) + 2 sinh r1 sinh r2 sin^2(theta/2)
    minus 1). cosh(r) is never formed: log sinh(d/2) is assembled from logs (`_log_sinh_half_sq`) and
    d = 2 asinh(exp(.)) is evaluated without overflow, so float32 works to radii ~80 (sinh overflows at 89).
    Two quantities are computed without cancellation:
      r1 - r2 = (v - w).(v + w) / (r1 + r2)                     (not |v| - |w|),
      v/r1 - w/r2 = (v - w)/r1 - w ((v - w).(v + w)) / (r1 r2 (r1 + r2)),  sin(theta/2) = |.|/2,
    so their error scales with |v - w|, not with the radius (for |v - w| >= min(r1, r2) the direct
    (v - w)/r1 - w (1/r2 - 1/r1) is used, exact on a common ray when the radii differ by a power of 2). This is Mishne et al.'s (ICML 2023)
    Euclidean parametrisation with the distance computed in the log domain (beyond the research report).

    Accuracy domain (float32, tested against mpmath): relative error < 1e-4 up to radius 50 whenever the
    directions of v and w are not equal up to float32 rounding. For directions equal up to rounding
    (e.g. w = 2 v) at radii > ~17, sin(theta/2) ~ 1e-8 is below what float32 resolves and the rounding
    of the directions decides a distance ~2 (min(r1, r2) - 17): a limit of float32 directions.
    """
    k = _k(k)
    check_real(check_tensor(v, "v"), "v")
    check_real(check_tensor(w, "w"), "w")
    check_same_last_dim(v, w, "v", "w")
    sk = math.sqrt(k)

    def block(a, b):
        if k == 1.0:
            return _tangent_distance_unit(a, b)
        return sk * _tangent_distance_unit(a / sk, b / sk)

    out = _rowwise(block, v, w)
    # Non-finite input always propagates to the output (NaN/Inf reach every branch), so one check of the
    # output replaces two full passes over the inputs; the inputs are then checked to name the argument.
    if not bool(torch.isfinite(out).all()):
        check_finite(v, "v")
        check_finite(w, "w")
        raise RuntimeError("tangent_distance produced a non-finite value for finite input: please report")
    return out


def lorentz_expmap0(v: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """exp_0: tangent vector v in R^n at the origin -> point (sqrt(k) cosh(r/sqrt k), sqrt(k) sinh(r/sqrt k) v/r)
    of the hyperboloid, r = |v|. sinh(r)/r is evaluated stably near r = 0; x_0 is then recomputed as
    sqrt(k + |x_s|^2) so that the point is on the hyperboloid to rounding (scaled, so the squares cannot
    overflow). ValueError when the point is not representable in v's dtype: x_0 = sqrt(k) cosh(|v|/sqrt k)
    exceeds the largest float from |v| ~ sqrt(k) log(2 max / sqrt k) (about 89 for float32, k = 1)."""
    k = _k(k)
    check_real(check_tensor(v, "v"), "v")
    check_finite(v, "v")
    sk = math.sqrt(k)
    r = torch.linalg.vector_norm(v, dim=-1, keepdim=True) / sk
    safe = torch.where(r > 0, r, torch.ones_like(r))
    factor = torch.where(r > 0, torch.sinh(safe) / safe, torch.ones_like(r))  # sinh(r)/r -> 1
    xs = v * factor
    s = xs.abs().amax(-1, keepdim=True).clamp_min(sk)  # >= sqrt(k) > 0: no division by zero, no overflow
    x0 = s * torch.sqrt((sk / s) ** 2 + ((xs / s) ** 2).sum(-1, keepdim=True))
    out = torch.cat([x0, xs], dim=-1)
    if not bool(torch.isfinite(out).all()):
        limit = sk * (math.log(torch.finfo(v.dtype).max) + math.log(2 / sk))
        raise ValueError(f"v has a tangent vector of norm {float(r.max()) * sk:.4g}: its point on the hyperboloid "
                         f"overflows {v.dtype} (x_0 = sqrt(k) cosh(|v| / sqrt k) is finite only for |v| < about "
                         f"{limit:.4g}); use a wider dtype or shorter tangent vectors")
    return out


def lorentz_logmap0(x: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """log_0: point of the hyperboloid -> tangent vector at the origin, r = sqrt(k) asinh(|x_s| / sqrt k)
    (asinh of the spatial norm, not arcosh(x_0 / sqrt k), which cancels near the origin)."""
    k = _k(k)
    if check:
        _check_lorentz(x, "x", k)
    sk = math.sqrt(k)
    xs = x[..., 1:]
    n = torch.linalg.vector_norm(xs, dim=-1, keepdim=True)
    safe = torch.where(n > 0, n, torch.ones_like(n))
    factor = torch.where(n > 0, sk * torch.asinh(safe / sk) / safe, torch.ones_like(n))
    return xs * factor


def lorentz_project(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Projection onto the hyperboloid that keeps the spatial part: x_0 <- sqrt(k + |x_s|^2)
    (what geoopt's `Lorentz.projx` does). The documented way to bring an off-manifold point back."""
    k = _k(k)
    check_real(check_tensor(x, "x"), "x")
    check_finite(x, "x")
    xs = x[..., 1:]
    return torch.cat([torch.sqrt(k + (xs * xs).sum(-1, keepdim=True)), xs], dim=-1)


def lorentz_to_poincare(x: torch.Tensor, k: float = 1.0, *, check: bool = True) -> torch.Tensor:
    """Hyperboloid -> Poincare ball of radius sqrt(k): p = sqrt(k) x_s / (x_0 + sqrt(k)) (no cancellation)."""
    k = _k(k)
    if check:
        _check_lorentz(x, "x", k)
    sk = math.sqrt(k)
    return sk * x[..., 1:] / (x[..., :1] + sk)


def poincare_to_lorentz(p: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Poincare ball of radius sqrt(k) -> hyperboloid:
    x_0 = sqrt(k) (k + |p|^2) / (k - |p|^2),  x_s = 2 k p / (k - |p|^2),
    with k - |p|^2 formed as (sqrt k - |p|)(sqrt k + |p|) to keep the digits of 1 - |p| near the boundary.
    Points on or outside the boundary raise (they are at infinite distance)."""
    k = _k(k)
    check_real(check_tensor(p, "p"), "p")
    check_finite(p, "p")
    sk = math.sqrt(k)
    n = torch.linalg.vector_norm(p, dim=-1, keepdim=True)
    if bool((n >= sk).any()):
        raise ValueError(f"p must lie strictly inside the Poincare ball of radius sqrt(k)={sk}; "
                         f"max norm {float(n.max()):.6g}")
    den = (sk - n) * (sk + n)
    return torch.cat([sk * (k + n * n) / den, 2 * k * p / den], dim=-1)
