"""Feature maps and key normalisations for fast-weight memories.

Both normalisations are scale-invariant over the whole floating range: the vector is first divided by its
largest magnitude (as `hypot` does), so that squaring or summing can neither overflow nor underflow, and
a zero vector stays zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from suite.checks import check_finite, check_real, validation_enabled

__all__ = ["elu_plus_one", "dpfp", "sum_normalize", "l2_normalize"]


def _check_features_input(x) -> None:
    check_real(x, "x")
    if validation_enabled():  # a NaN key would otherwise poison every later state of the memory
        check_finite(x, "x")


def elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1 > 0, the linear-attention feature map (Katharopoulos et al. 2020, eq. 7).

    Katharopoulos, Vyas, Pappas, Fleuret, "Transformers are RNNs", ICML 2020.

    Args:
        x: [..., d] real floating tensor.

    Returns:
        [..., d] tensor of x's dtype, positive (0 only where exp underflows).

    Raises:
        TypeError: x not a real floating tensor.  ValueError: NaN/Inf while validation is on.

    Example:
        >>> elu_plus_one(torch.tensor([-1e3, 0.0, 2.0])).tolist()
        [0.0, 1.0, 3.0]
    """
    _check_features_input(x)
    return F.elu(x) + 1.0


def dpfp(x: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """Deterministic parameter-free projection DPFP_nu (Schlag, Irie, Schmidhuber 2021, sec. 5.4), output dim `2 nu d`.

    x' = [relu(x), relu(-x)] in R^{2d};  phi(x) = concat_{j=1..nu} x' * roll(x', j)  (elementwise).
    Non-negative, and sparse: about a quarter of the entries of each block are non-zero.

    Args:
        x: [..., d] real floating tensor.
        nu: number of rolled products, an integer in [1, 2d - 1].

    Returns:
        [..., 2 nu d] non-negative tensor of x's dtype.

    Raises:
        TypeError: x not a real floating tensor.  ValueError: nu not a positive integer, or nu >= 2d;
            NaN/Inf while validation is on.

    Example:
        >>> dpfp(torch.tensor([1.0, -2.0])).tolist()  # x' = [1, 0, 0, 2], roll(x', 1) = [2, 1, 0, 0]
        [2.0, 0.0, 0.0, 0.0]
    """
    _check_features_input(x)
    if isinstance(nu, bool) or not isinstance(nu, int) or nu < 1:
        raise ValueError(f"nu must be a positive integer, got {nu!r}")
    xp = torch.cat([F.relu(x), F.relu(-x)], dim=-1)
    if nu > xp.shape[-1] - 1:
        raise ValueError(f"nu must be < 2 * x.shape[-1] = {xp.shape[-1]}, got {nu}")
    return torch.cat([xp * torch.roll(xp, shifts=j, dims=-1) for j in range(1, nu + 1)], dim=-1)


def _check_dim(x: torch.Tensor, dim) -> None:
    if isinstance(dim, bool) or not isinstance(dim, int) or not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim must be an integer in [{-x.dim()}, {x.dim() - 1}] for x of shape "
                         f"{tuple(x.shape)}, got {dim!r}")


def _divide_by_max_abs(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x * 2^-e along `dim`, with 2^e the power of two just above max|x| (entries in (-1, 1)).

    Scaling by a power of two is exact (no rounding; only entries below max|x| * 2^-149 in float32 flush,
    and those also vanish from any result normalised by max|x|), so normalising y instead of x gives the
    very roundings of the textbook formula wherever that one neither under- nor overflows. 2^-e is applied
    as two factors, each representable even when max|x| is subnormal. Zero vectors stay zero. The scale
    is a constant for autograd: every caller's result is invariant to it.
    """
    _, e = torch.frexp(x.detach().abs().amax(dim=dim, keepdim=True))  # max|x| = m 2^e, m in [0.5, 1)
    half = torch.div(-e, 2, rounding_mode="floor")
    one = torch.ones(e.shape, dtype=x.dtype, device=x.device)
    return x * torch.ldexp(one, half) * torch.ldexp(one, -e - half)


def _divide_or_zero(y: torch.Tensor, denom: torch.Tensor) -> torch.Tensor:
    # After `_divide_by_max_abs` the denominator is >= 0.5 or the vector is zero: 0 / 1 = 0, no NaN.
    return y / torch.where(denom > 0, denom, torch.ones_like(denom))


def l2_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / ||x||_2 along `dim` (DeltaNet's key normalisation, Yang et al. 2024, arXiv 2406.06484, sec. 3).

    Exact at every scale; zero stays zero. Computed as y / ||y||_2 with y = x * 2^-e, 2^e ~ max|x| (the
    rescaling of `hypot`, by an exact power of two), so norms of 1e-30 or 1e30 in float32 (whose squares
    under- or overflow) are normalised as accurately as norms near 1, and near 1 the result is bit for bit
    x / ||x||_2.

    Args:
        x: [..., d, ...] real floating tensor.
        dim: the normalised axis (default -1).

    Returns:
        x's shape and dtype, unit vectors along `dim` (zero vectors stay zero).

    Raises:
        TypeError: x not a real floating tensor.  ValueError: NaN/Inf while validation is on.

    Example:
        >>> x = torch.tensor([3.0, 4.0])
        >>> l2_normalize(x)
        tensor([0.6000, 0.8000])
        >>> torch.equal(l2_normalize(x * 2.0**100), l2_normalize(x))  # (3 * 2^100)^2 overflows float32
        True
    """
    _check_features_input(x)
    _check_dim(x, dim)
    y = _divide_by_max_abs(x, dim)
    return _divide_or_zero(y, torch.linalg.vector_norm(y, dim=dim, keepdim=True))


def sum_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / sum(x) along `dim` for non-negative x (Schlag, Irie, Schmidhuber 2021, sec. 4.2); zero stays zero.

    The result lies on the simplex, so ||x||_2 <= 1 and `beta in [0, 2]` is stable. Computed as
    y / sum|y| with y = x * 2^-e, 2^e ~ max|x| (exact): no overflow of the sum at 1e38, no loss at 1e-40,
    never Inf. Signed input is outside the domain (x / sum(x) is unbounded there): with validation on
    (`suite.set_validation`) it raises ValueError; with validation off the denominator is the L1 norm,
    which equals sum(x) on the domain and keeps every row in the unit L1 ball elsewhere.

    Args:
        x: [..., d, ...] real floating tensor, >= 0 (a positive feature map such as `elu_plus_one`).
        dim: the summed axis (default -1).

    Returns:
        x's shape and dtype, rows summing to 1 (zero rows stay zero).

    Raises:
        TypeError: x not a real floating tensor.
        ValueError: negative entries or NaN/Inf while validation is on.

    Example:
        >>> sum_normalize(torch.tensor([1.0, 3.0])).tolist()
        [0.25, 0.75]
    """
    _check_features_input(x)
    _check_dim(x, dim)
    if validation_enabled() and bool((x < 0).any()):
        raise ValueError(f"x must be non-negative (a positive feature map such as elu_plus_one or dpfp); "
                         f"got a minimum of {x.min().item():.4g}; use l2_normalize for signed vectors")
    y = _divide_by_max_abs(x, dim)
    return _divide_or_zero(y, y.abs().sum(dim=dim, keepdim=True))
