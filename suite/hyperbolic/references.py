"""mpmath oracles for the hyperbolic distances and maps, evaluated on the exact values of the (float32 or
float64) numbers a function received: every float converts to an mpf without rounding, and the formulas
are the definitions (no cancellation-free rewriting), carried out with enough digits that nothing is lost.

Convention as in `suite.hyperbolic`: hyperboloid <x, x>_L = -k, x_0 > 0, curvature -1/k.
"""

from __future__ import annotations

import mpmath

__all__ = ["mp_tangent_distance", "mp_lorentz_distance", "mp_lorentz_logmap0"]

# The hyperboloid form of a distance cancels ~e^{2R} between terms of size e^R (R: radius): R = 88, the
# float32 limit, needs ~77 digits before the first digit of the result; 200 leaves room for tiny distances.
_DPS = 200


def _mp(vec) -> list:
    return [mpmath.mpf(float(a)) for a in vec]


def mp_tangent_distance(v, w, k: float = 1.0) -> float:
    """Distance between exp_0(v) and exp_0(w) (tangent vectors at the origin) from the definition: lift
    both to the hyperboloid, x = sqrt(k) (cosh(r / sqrt k), sinh(r / sqrt k) v / r), r = |v|, and take
    2 sqrt(k) asinh(sqrt(<x - y, x - y>_L / k) / 2) (<x - y, x - y>_L = 4k sinh^2(d / (2 sqrt k)))."""
    with mpmath.workdps(_DPS):
        sk = mpmath.sqrt(mpmath.mpf(k))

        def lift(u):
            r = mpmath.sqrt(sum(a * a for a in u))
            if r == 0:
                return [sk] + [mpmath.mpf(0)] * len(u)
            return [sk * mpmath.cosh(r / sk)] + [sk * mpmath.sinh(r / sk) * a / r for a in u]

        x, y = lift(_mp(v)), lift(_mp(w))
        d2 = -(x[0] - y[0]) ** 2 + sum((a - b) ** 2 for a, b in zip(x[1:], y[1:]))
        return float(2 * sk * mpmath.asinh(mpmath.sqrt(max(d2, 0) / mpmath.mpf(k)) / 2))


def mp_lorentz_distance(x, y, k: float = 1.0) -> float:
    """Geodesic distance sqrt(k) arcosh(-<x, y>_L / k) between the points of the hyperboloid with the
    spatial coordinates x_s = x[1:], y_s = y[1:] (x_0 = sqrt(k + |x_s|^2), as `geoopt.Lorentz.projx`).

    The spatial part determines a point of the hyperboloid, x_0 carries no further information, and its
    float rounding (relative eps, i.e. eps x_0^2 in <x, x>_L) exceeds -<x, y>_L - k for every pair of
    close points beyond radius ~8: a definition that read x_0 would be decided by that rounding."""
    with mpmath.workdps(_DPS):
        k_ = mpmath.mpf(k)
        xs, ys = _mp(x[1:]), _mp(y[1:])
        x0 = mpmath.sqrt(k_ + sum(a * a for a in xs))
        y0 = mpmath.sqrt(k_ + sum(a * a for a in ys))
        z = (x0 * y0 - sum(a * b for a, b in zip(xs, ys))) / k_
        return float(mpmath.sqrt(k_) * mpmath.acosh(max(z, mpmath.mpf(1))))


def mp_lorentz_logmap0(x, k: float = 1.0) -> list[float]:
    """log_0 of the hyperboloid point with spatial part x_s: sqrt(k) asinh(|x_s| / sqrt k) x_s / |x_s|
    (the inverse of exp_0: |x_s| = sqrt(k) sinh(r / sqrt k))."""
    with mpmath.workdps(_DPS):
        sk = mpmath.sqrt(mpmath.mpf(k))
        xs = _mp(x[1:])
        n = mpmath.sqrt(sum(a * a for a in xs))
        if n == 0:
            return [0.0] * len(xs)
        return [float(sk * mpmath.asinh(n / sk) * a / n) for a in xs]
