"""Naive hyperbolic code, as commonly written: the textbook float32 Poincare ball and the naive
training recipe (Poincare parameters, Euclidean Adam, clip to the ball, Nickel & Kiela's contrastive loss).

- `poincare_distance`: d(x, y) = arcosh(1 + 2 |x - y|^2 / ((1 - |x|^2)(1 - |y|^2))), the formula of
  Nickel & Kiela 2017 eq. 1 and of the research report sec. 3.1 ("d ~ arccosh(1 + delta)"), evaluated as
  written: the conformal factors 1/(1 - |x|^2) blow up near the boundary and arcosh(1 + t) cancels for
  small t.
- `poincare_expmap0(v) = tanh(|v|) v / |v|` and `poincare_logmap0(p) = artanh(|p|) p / |p|` (Ganea et al.
  2018, c = 1, where the metric is lambda^2 |dx|^2 with lambda = 2 / (1 - |x|^2), so |log_0(p)| is half
  the hyperbolic distance of p from the origin: use `expmap0(r / 2)` for a point at distance r).
- `lorentz_distance_arcosh`: arcosh(-<x, y>_L), geoopt's `Lorentz.dist` formula (for curvature -1).
- `train_naive`: Poincare parameters in a plain tensor, torch.optim.Adam on the Euclidean gradient, then
  clip to |p| <= 1 - 1e-5 (Nickel & Kiela's reference code uses eps = 1e-5), loss `contrastive_loss`.
"""

from __future__ import annotations

import math

import torch

from suite.checks import check_real, check_same_last_dim, check_tensor
from suite.hyperbolic.embedding import (
    EmbeddingRun, Tree, _batches, _stop_if_nonfinite, batch_contrastive_loss,
)

CLIP = 1 - 1e-5


def poincare_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Textbook Poincare-ball distance (curvature -1), arcosh form, in the input's precision.

    Nickel & Kiela, NeurIPS 2017, eq. 1:
    d(x, y) = arcosh(1 + 2 |x - y|^2 / ((1 - |x|^2)(1 - |y|^2))). In float32 a point at distance ~17 from
    the origin already rounds onto the boundary |p| = 1, where the formula returns inf.

    Args:
        x, y: [..., n] points of the open unit ball.

    Returns:
        [...] distances.

    Example:
        >>> o, near, far = torch.zeros(1), torch.tanh(torch.tensor([1.0])), torch.tanh(torch.tensor([10.0]))
        >>> poincare_distance(o, near), poincare_distance(o, far)  # true distances 2 and 20
        (tensor(2.), tensor(inf))
    """
    check_real(check_tensor(x, "x"), "x")
    check_real(check_tensor(y, "y"), "y")
    check_same_last_dim(x, y, "x", "y")
    sq = ((x - y) ** 2).sum(-1)
    nx = (x * x).sum(-1)
    ny = (y * y).sum(-1)
    return torch.acosh(1 + 2 * sq / ((1 - nx) * (1 - ny)))


def poincare_expmap0(v: torch.Tensor) -> torch.Tensor:
    """exp_0(v) = tanh(|v|) v / |v| on the unit Poincare ball (Ganea et al. 2018, lemma 2, c = 1).

    Args:
        v: [..., n] tangent vectors at the origin.

    Returns:
        [..., n] points of the ball (rounded onto the boundary once tanh(|v|) rounds to 1).

    Example:
        >>> poincare_expmap0(torch.tensor([20.0]))  # float32: on the boundary, infinitely far away
        tensor([1.])
    """
    check_real(check_tensor(v, "v"), "v")
    n = v.norm(dim=-1, keepdim=True)
    return torch.tanh(n) * v / n


def poincare_logmap0(p: torch.Tensor) -> torch.Tensor:
    """log_0(p) = artanh(|p|) p / |p| on the unit Poincare ball (Ganea et al. 2018, c = 1).

    Args:
        p: [..., n] points of the ball.

    Returns:
        [..., n] tangent vectors at the origin.

    Example:
        >>> poincare_logmap0(poincare_expmap0(torch.tensor([0.3, -0.2])))
        tensor([ 0.3000, -0.2000])
    """
    check_real(check_tensor(p, "p"), "p")
    n = p.norm(dim=-1, keepdim=True)
    return torch.atanh(n) * p / n


def lorentz_distance_arcosh(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Textbook Lorentz distance arcosh(-<x, y>_L) (geoopt `Lorentz.dist`, k = 1), input precision."""
    check_real(check_tensor(x, "x"), "x")
    check_real(check_tensor(y, "y"), "y")
    check_same_last_dim(x, y, "x", "y")
    xy = x * y
    return torch.acosh(xy[..., 0] - xy[..., 1:].sum(-1))


def train_naive(tree: Tree, dim: int, *, steps: int = 300, lr: float = 0.05, batch: int = 64, n_neg: int = 10,
                init_std: float = 1e-2, generator: torch.Generator, dtype: torch.dtype = torch.float32,
                device: str = "cpu") -> EmbeddingRun:
    """Naive recipe: Poincare parameters, Euclidean Adam, clip to the ball, contrastive loss on
    `poincare_distance`. Counts the optimiser steps that carried some point outside the ball."""
    p = torch.nn.Parameter((init_std * torch.randn(tree.n, dim, generator=generator, dtype=dtype)).to(device))
    opt = torch.optim.Adam([p], lr=lr)
    run = EmbeddingRun("naive", torch.empty(0), torch.empty(0), torch.empty(0))
    for e, neg in _batches(tree, steps, batch, n_neg, generator):
        e, neg = e.to(device), neg.to(device)
        loss, _ = batch_contrastive_loss(p, e, neg, poincare_distance)
        if _stop_if_nonfinite(run, loss, p):
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            n = p.norm(dim=-1, keepdim=True)
            run.outside_steps += int(bool((n >= 1).any()))
            p.mul_(torch.where(n > CLIP, CLIP / n, torch.ones_like(n)))  # the clip
        run.losses.append(float(loss.detach()))
    with torch.no_grad():
        pd = p.detach()
        run.tangent = 2 * poincare_logmap0(pd)  # tangent vector whose norm is the hyperbolic radius
        run.radius = run.tangent.norm(dim=-1)
        run.pairwise = poincare_distance(pd.unsqueeze(1), pd.unsqueeze(0))
        run.nonfinite = int((~torch.isfinite(pd)).sum()) + sum(not math.isfinite(v) for v in run.losses)
    return run
