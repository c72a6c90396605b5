"""References for hyperbolic distances, by other routes than the fixed code (float64 polar form; mpmath).

Polar form (Ratcliffe, Foundations of Hyperbolic Manifolds, sec. 3.2; law of cosines): for points at radii
r1, r2 from the origin with angle theta between their directions,
    cosh d - 1 = 2 sinh^2((r1 - r2)/2) + 2 sinh r1 sinh r2 sin^2(theta/2),
and arcosh(1 + t) = log1p(t + sqrt(t (t + 2))) = 2 asinh(sqrt(t / 2)), which neither overflows nor cancels.
"""

from __future__ import annotations

import mpmath
import torch


def polar_distance(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Distance between exp_0(v) and exp_0(w) for tangent vectors at the origin, float64 on the CPU
    (valid without overflow or cancellation for radii up to ~300)."""
    v, w = v.double().cpu(), w.double().cpu()
    r1, r2 = v.norm(dim=-1), w.norm(dim=-1)
    u1 = v / r1.clamp_min(1e-300).unsqueeze(-1)
    u2 = w / r2.clamp_min(1e-300).unsqueeze(-1)
    s2 = ((u1 - u2) ** 2).sum(-1) / 4
    t = 2 * torch.sinh((r1 - r2) / 2) ** 2 + 2 * torch.sinh(r1) * torch.sinh(r2) * s2
    return torch.log1p(t + torch.sqrt(t * (t + 2)))


def lorentz_stored_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Distance between the Lorentz points that the stored spatial coordinates denote (x_0 recomputed in
    float64, so float32 rounding off the hyperboloid counts against no one), by the polar form."""
    def to_tangent(p):
        xs = p[..., 1:].double().cpu()
        n = xs.norm(dim=-1, keepdim=True)
        return torch.asinh(n) * xs / n.clamp_min(1e-300)
    return polar_distance(to_tangent(x), to_tangent(y))


def _mp(t) -> list:
    return [mpmath.mpf(float(a)) for a in t]


def _mp_polar(v: list, w: list):
    r1, r2 = mpmath.sqrt(sum(a * a for a in v)), mpmath.sqrt(sum(a * a for a in w))
    if r1 == 0 or r2 == 0:
        return abs(r1 - r2)
    s2 = sum((a / r1 - b / r2) ** 2 for a, b in zip(v, w)) / 4
    return 2 * mpmath.asinh(mpmath.sqrt(mpmath.sinh((r1 - r2) / 2) ** 2 + mpmath.sinh(r1) * mpmath.sinh(r2) * s2))


def mp_tangent_distance(v, w):
    """Exact (mpmath, at the caller's precision) distance between exp_0 of stored tangent vectors."""
    return _mp_polar(_mp(v), _mp(w))


def mp_poincare_distance(p, q):
    """Exact distance arcosh(1 + 2|p-q|^2 / ((1-|p|^2)(1-|q|^2))) of stored Poincare-ball points; inf on or
    outside the boundary."""
    p, q = _mp(p), _mp(q)
    den = (1 - sum(a * a for a in p)) * (1 - sum(b * b for b in q))
    if den <= 0:
        return mpmath.inf
    return mpmath.acosh(1 + 2 * sum((a - b) ** 2 for a, b in zip(p, q)) / den)


def mp_lorentz_distance(x, y):
    """Exact distance between the points denoted by stored Lorentz spatial coordinates (x_0 recomputed)."""
    def tan(p):
        xs = _mp(p[1:])
        n = mpmath.sqrt(sum(a * a for a in xs))
        return [a * mpmath.asinh(n) / n for a in xs] if n else xs
    return _mp_polar(tan(x), tan(y))
