"""Naive integrator: explicit (forward) Euler, the obvious way to step Hamilton's equations."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from suite.checks import validation
from suite.symplectic import _check_integrator_args, _check_trajectory, _force


def euler(grad_potential: Callable[[torch.Tensor], torch.Tensor], q0: torch.Tensor, p0: torch.Tensor,
          h: float, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Explicit Euler for H = |p|^2/2 + V(q): q_{n+1} = q_n + h p_n, p_{n+1} = p_n - h grad V(q_n).

    The textbook first step of every ODE course (and what "x = x + dt * f(x)" in a training loop does).
    Not symplectic (Hairer, Lubich, Wanner 2006, sec. I.1): on the harmonic oscillator |q|^2 + |p|^2 grows
    by exactly (1 + h^2) per step, so the energy error grows geometrically, not linearly; and running it
    back with -p does not retrace the path. Same signature and return layout as `suite.symplectic.leapfrog`.

    Example:
        >>> from suite.symplectic import HarmonicOscillator
        >>> osc, q0, p0 = HarmonicOscillator(), torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
        >>> q, p = euler(osc.grad_potential, q0, p0, 0.1, 1000)
        >>> round(float(osc.energy(q[-1], p[-1]) / osc.energy(q0, p0)))  # (1 + h^2)^1000
        20959
    """
    _check_integrator_args(grad_potential, q0, p0, h, steps)
    qs, ps = [q0], [p0]
    q, p = q0, p0
    with validation(False):  # as in leapfrog: the path is checked once, after the loop
        for _ in range(steps):
            q, p = q + h * p, p - h * _force(grad_potential, q)
            qs.append(q)
            ps.append(p)
    q, p = torch.stack(qs), torch.stack(ps)
    _check_trajectory(q, p, h)
    return q, p


class ResidualMLP(nn.Module):
    """Unconstrained learned integrator x -> x + MLP(x) (one tanh hidden layer): what a SympNet is compared
    with at equal parameter count; nothing makes its map symplectic."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, hidden), nn.Tanh(), nn.Linear(hidden, 2 * dim))

    def forward(self, x):
        return x + self.net(x)
