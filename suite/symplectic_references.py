"""Exact references for the symplectic integrators' tests and report (float64, analytic)."""

from __future__ import annotations

import torch


def oscillator_flow(q0: torch.Tensor, p0: torch.Tensor, h: float, steps: int) -> torch.Tensor:
    """Exact flow of H = (p^2 + q^2) / 2: q(t) = q0 cos t + p0 sin t at t = n h, n = 0..steps.

    Returns `[steps + 1, *q0.shape]` in float64 on the CPU (Goldstein, Classical Mechanics, sec. 8.6).
    """
    t = torch.arange(int(steps) + 1, dtype=torch.float64) * h
    q0, p0 = (x.detach().to("cpu", torch.float64) for x in (q0, p0))
    shape = (-1,) + (1,) * q0.dim()
    return q0 * torch.cos(t).view(shape) + p0 * torch.sin(t).view(shape)
