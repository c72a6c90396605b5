"""Symplectic integration: Stormer-Verlet (leapfrog), three test Hamiltonians, and SympNets.

Separable Hamiltonians with unit mass, H(q, p) = |p|^2 / 2 + V(q); positions and momenta `[..., n]` (the
last dim holds the n degrees of freedom, leading dims are a batch). Sources: Hairer, Lubich, Wanner,
"Geometric Numerical Integration" (2006), sec. I.1 and VI.3 (Stormer-Verlet is symplectic, symmetric,
second order); Jin, Zhang, Zhu, Tang, Karniadakis 2020, "SympNets" (Neural Networks 132), sec. 3.

Validation (`suite.validation`): non-finite states raise a ValueError naming the argument; the integrators check
q0/p0 once and the whole trajectory once after the loop (a path from finite input that turns NaN/Inf, from a
singular force or an unstable step, is an error naming the step and h), not every force evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from suite.checks import check_finite, check_real, validation, validation_enabled

__all__ = [
    "leapfrog", "HarmonicOscillator", "Pendulum", "Kepler",
    "LinearModule", "ActivationModule", "GradientModule", "LASympNet", "GSympNet", "symplectic_form",
]


def _check_int(v, name: str, minimum: int) -> int:
    """A Python integer (bool is not a number) of at least `minimum`."""
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return v


def _check_number(v, name: str) -> float:
    """A finite real Python number (not a bool, a string or a tensor)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a real Python number, got {type(v).__name__} {v!r}")
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return float(v)


def _check_state(t, name: str) -> torch.Tensor:
    """A real floating tensor of at least one dimension (the degrees of freedom); finite while validating."""
    check_real(t, name)
    if validation_enabled():
        check_finite(t, name)
    return t


def _check_pair(q, p, nq: str, np_: str) -> None:
    _check_state(q, nq)
    _check_state(p, np_)
    if q.shape != p.shape or q.dtype != p.dtype:
        raise ValueError(f"{nq} and {np_} must have the same shape and dtype, got {nq} {tuple(q.shape)} {q.dtype} "
                         f"and {np_} {tuple(p.shape)} {p.dtype}")


def _check_integrator_args(grad_potential, q0, p0, h, steps) -> None:
    if not callable(grad_potential):
        raise TypeError(f"grad_potential must be callable (q -> dV/dq), got {type(grad_potential).__name__}")
    _check_pair(q0, p0, "q0", "p0")
    if _check_number(h, "h") == 0:
        raise ValueError("h must be a finite non-zero number (a negative h runs the flow backwards), got 0")
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int, got {type(steps).__name__} {steps!r}")
    _check_int(steps, "steps", 0)


def _force(grad_potential, q: torch.Tensor) -> torch.Tensor:
    """grad_potential(q), which must be a tensor of q's shape (a force per degree of freedom)."""
    f = grad_potential(q)
    if not isinstance(f, torch.Tensor) or f.shape != q.shape:
        got = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
        raise ValueError(f"grad_potential(q) must return a tensor of q's shape {tuple(q.shape)}, got {got}")
    return f


def _check_trajectory(q: torch.Tensor, p: torch.Tensor, h: float) -> None:
    """While validating: a trajectory from finite input that turns NaN/Inf is an error, not a result."""
    if validation_enabled() and not bool(torch.isfinite(q).all() & torch.isfinite(p).all()):
        bad = int((~(torch.isfinite(q) & torch.isfinite(p))).flatten(1).any(1).nonzero()[0])
        raise ValueError(f"the trajectory became NaN/Inf at step {bad}: grad_potential(q) returned NaN/Inf there "
                         f"(a singular point?) or the step h = {h!r} is unstable for this system")


def leapfrog(grad_potential: Callable[[torch.Tensor], torch.Tensor], q0: torch.Tensor, p0: torch.Tensor,
             h: float, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stormer-Verlet (leapfrog), kick-drift-kick, unit mass (Hairer, Lubich, Wanner 2006, eq. I.1.17).

        p_{1/2} = p_n - h/2 grad V(q_n);  q_{n+1} = q_n + h p_{1/2};  p_{n+1} = p_{1/2} - h/2 grad V(q_{n+1}).

    Symplectic, time-symmetric (running with -p, or with -h, retraces the path), second order; one force
    evaluation per step (the closing half-kick's force is reused by the next opening half-kick).

    Args:
        grad_potential: callable q -> dV/dq, returning a tensor of q's shape.
        q0, p0: [..., n] real floating tensors of one shape (positions, momenta).
        h: step (a finite non-zero Python number; negative runs the flow backwards).
        steps: number of steps (int >= 0).

    Returns:
        (q, p): trajectories, each [steps + 1, *q0.shape], element 0 being (q0, p0).

    Raises:
        TypeError: `grad_potential` not callable, `h` or `steps` of the wrong type, non-real tensors.
        ValueError: `h == 0`, `steps < 0`, mismatched shapes, a force of the wrong shape; while validation
            is on, NaN/Inf in q0/p0 or a trajectory that turns NaN/Inf (named step).

    Example:
        >>> osc = HarmonicOscillator()
        >>> q, p = leapfrog(osc.grad_potential, torch.tensor([1.0]), torch.tensor([0.0]), 0.1, 1000)
        >>> q.shape, round(float(osc.energy(q[-1], p[-1])), 3)  # H0 = 0.5, |H - H0| <= h^2 H0 / (4 - h^2)
        (torch.Size([1001, 1]), 0.5)
    """
    _check_integrator_args(grad_potential, q0, p0, h, steps)
    qs, ps = [q0], [p0]
    q, p = q0, p0
    half = 0.5 * h
    with validation(False):  # per-step value checks inside grad_potential: one check of the whole path instead
        force = _force(grad_potential, q)
        for _ in range(steps):
            p_half = p - half * force
            q = q + h * p_half
            force = _force(grad_potential, q)
            p = p_half - half * force
            qs.append(q)
            ps.append(p)
    q, p = torch.stack(qs), torch.stack(ps)
    _check_trajectory(q, p, h)
    return q, p


class HarmonicOscillator:
    """Harmonic oscillator H = |p|^2 / 2 + omega^2 |q|^2 / 2 (Hairer, Lubich, Wanner 2006, sec. I.1).

    The exact flow (`exact(q0, p0, t)`) is a rotation with angular frequency omega. Leapfrog conserves the
    modified energy |p|^2/2 + (1 - h^2 omega^2/4) omega^2 |q|^2/2 exactly, so
    |H_n - H_0| <= h^2 omega^2 H_0 / (4 - h^2 omega^2) for h omega < 2; explicit Euler multiplies H by
    (1 + h^2 omega^2) every step.

    Args:
        omega: angular frequency (finite positive Python number).

    Methods take q, p [..., n] real tensors: `potential(q)` and `energy(q, p)` return [...],
    `grad_potential(q)` returns [..., n], `exact(q0, p0, t)` returns (q, p) [..., n].

    Raises:
        ValueError: `omega <= 0` or not finite; mismatched q/p shapes, NaN/Inf states while validating.

    Example:
        >>> osc = HarmonicOscillator(omega=2.0)
        >>> osc.energy(torch.tensor([1.0]), torch.tensor([1.0]))
        tensor(2.5000)
    """

    def __init__(self, omega: float = 1.0):
        if _check_number(omega, "omega") <= 0:
            raise ValueError(f"omega must be a finite positive number, got {omega!r}")
        self.omega = float(omega)

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        _check_state(q, "q")
        return 0.5 * self.omega ** 2 * (q * q).sum(-1)

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        _check_state(q, "q")
        return self.omega ** 2 * q

    def energy(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        _check_pair(q, p, "q", "p")
        return 0.5 * (p * p).sum(-1) + self.potential(q)

    def exact(self, q0: torch.Tensor, p0: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact flow at time t: q = q0 cos(w t) + p0 sin(w t) / w, p = -q0 w sin(w t) + p0 cos(w t)."""
        _check_pair(q0, p0, "q0", "p0")
        t = _check_number(t, "t")
        w = self.omega
        c, s = math.cos(w * t), math.sin(w * t)
        return q0 * c + p0 * (s / w), -q0 * (w * s) + p0 * c


class Pendulum:
    """Mathematical pendulum H = p^2 / 2 - cos q, per degree of freedom (SympNets' first test problem).

    Methods take q, p [..., n]: `potential(q)` = -sum cos q, `grad_potential(q)` = sin q ([..., n]),
    `energy(q, p)` [...].

    Raises:
        TypeError: non-real tensors.  ValueError: mismatched q/p shapes, NaN/Inf states while validating.

    Example:
        >>> Pendulum().energy(torch.tensor([0.0]), torch.tensor([0.0]))  # at rest at the bottom
        tensor(-1.)
    """

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        _check_state(q, "q")
        return (-torch.cos(q)).sum(-1)

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        _check_state(q, "q")
        return torch.sin(q)

    def energy(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        _check_pair(q, p, "q", "p")
        return 0.5 * (p * p).sum(-1) + self.potential(q)


class Kepler:
    """Two-body problem in the plane, H = |p|^2 / 2 - 1 / |q| (Hairer, Lubich, Wanner 2006, sec. I.2.3).

    `initial(e)` starts at pericentre with eccentricity e: q = (1 - e, 0), p = (0, sqrt((1 + e)/(1 - e))),
    so H = -1/2, period 2 pi, angular momentum L = sqrt(1 - e^2). The force is central, so every kick and
    every drift of leapfrog preserves L = q x p exactly (up to round-off).

    Methods take q, p [..., 2]: `potential`, `energy`, `angular_momentum` return [...],
    `grad_potential(q)` [..., 2]; `initial(e=0.6, *, dtype=torch.float64, device="cpu")` returns (q0, p0).

    Raises:
        ValueError: q not [..., 2], q = 0 (singular), e outside [0, 1).  TypeError: a non-real dtype.

    Example:
        >>> q0, p0 = Kepler.initial(0.6)
        >>> round(float(Kepler().energy(q0, p0)), 6), round(float(Kepler.angular_momentum(q0, p0)), 6)
        (-0.5, 0.8)
    """

    @staticmethod
    def _radius(q: torch.Tensor) -> torch.Tensor:
        """|q| of planar positions `[..., 2]`; q = 0 is the singularity of the potential (checked while
        validating)."""
        _check_state(q, "q")
        if q.shape[-1] != 2:
            raise ValueError(f"q must be planar positions [..., 2], got shape {tuple(q.shape)}")
        r = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
        if validation_enabled() and bool((r == 0).any()):
            raise ValueError("q must be nonzero: the Kepler potential -1/|q| is singular at q = 0")
        return r

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        return -1.0 / self._radius(q).squeeze(-1)

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        return q / self._radius(q) ** 3

    def energy(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        _check_pair(q, p, "q", "p")
        return 0.5 * (p * p).sum(-1) + self.potential(q)

    @staticmethod
    def angular_momentum(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        _check_pair(q, p, "q", "p")
        if q.shape[-1] != 2:
            raise ValueError(f"q and p must be planar [..., 2], got shape {tuple(q.shape)}")
        return q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]

    @staticmethod
    def initial(e: float = 0.6, *, dtype: torch.dtype = torch.float64,
                device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a real floating dtype, got {dtype}")
        if not (0 <= _check_number(e, "eccentricity e") < 1):
            raise ValueError(f"eccentricity e must lie in [0, 1), got {e!r}")
        q0 = torch.tensor([1.0 - e, 0.0], dtype=dtype, device=device)
        p0 = torch.tensor([0.0, math.sqrt((1.0 + e) / (1.0 - e))], dtype=dtype, device=device)
        return q0, p0


# ------------------------------------------------------------------------------------------- SympNets

def symplectic_form(n: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The symplectic matrix Omega = [[0, I], [-I, 0]] for the phase-space layout x = (q, p), q and p in R^n.

    A map is symplectic when its Jacobian satisfies J^T Omega J = Omega (Hairer, Lubich, Wanner 2006,
    sec. VI.2).

    Args:
        n: degrees of freedom (int >= 1).  dtype: real floating dtype (float64).  device.

    Returns:
        [2n, 2n] tensor.

    Raises:
        ValueError: `n` not an integer >= 1.  TypeError: a non-real `dtype`.

    Example:
        >>> symplectic_form(1)
        tensor([[ 0.,  1.],
                [-1.,  0.]], dtype=torch.float64)
    """
    _check_int(n, "n", 1)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a real floating dtype, got {dtype}")
    eye = torch.eye(n, dtype=dtype, device=device)
    zero = torch.zeros(n, n, dtype=dtype, device=device)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)


def _check_activation(activation) -> None:
    if not callable(activation):
        raise TypeError(f"activation must be callable (e.g. torch.tanh), got {activation!r}")


def _split(x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    _check_state(x, "x")
    if x.shape[-1] != 2 * n:
        raise ValueError(f"x must have last dimension 2 * dim = {2 * n} (q then p), got {x.shape[-1]}")
    return x[..., :n], x[..., n:]


class LinearModule(nn.Module):
    """Linear symplectic shear (SympNets, Jin et al. 2020, sec. 3.1): 'up' p <- p + S q, 'low' q <- q + S p.

    S = A + A^T. Jacobian [[I, 0], [S, I]] (or its transpose) with S symmetric, so J^T Omega J = Omega for every A.
    `sublayers` shears alternate up/low, then a bias is added (translations are symplectic).

    Args:
        dim: degrees of freedom n (int >= 1).  sublayers: shears (int >= 1).  up_first: start with 'up'.

    Shapes:
        x = (q, p): [..., 2 dim] -> [..., 2 dim].

    Raises:
        ValueError: `dim` or `sublayers` not an integer >= 1.

    Example:
        >>> net = LinearModule(1).double()
        >>> x = torch.tensor([0.3, -0.2], dtype=torch.float64)
        >>> J, omega = torch.autograd.functional.jacobian(net, x), symplectic_form(1)
        >>> torch.allclose(J.T @ omega @ J, omega)  # symplectic: J^T Omega J = Omega
        True
    """

    def __init__(self, dim: int, sublayers: int = 2, up_first: bool = True):
        super().__init__()
        _check_int(dim, "dim", 1)
        _check_int(sublayers, "sublayers", 1)
        self.dim, self.up_first = dim, up_first
        self.A = nn.Parameter(torch.randn(sublayers, dim, dim) * 0.01)
        self.bias = nn.Parameter(torch.zeros(2 * dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = _split(x, self.dim)
        for i, a in enumerate(self.A):
            S = a + a.T
            if (i % 2 == 0) == self.up_first:
                p = p + q @ S
            else:
                q = q + p @ S
        return torch.cat([q, p], dim=-1) + self.bias


class ActivationModule(nn.Module):
    """Activation shear (SympNets, Jin et al. 2020, sec. 3.1): 'up' p <- p + a * sigma(q), 'low' q <- q + a * sigma(p).

    Jacobian block diag(a sigma'(q)) is symmetric, so the map is symplectic for every a.

    Args:
        dim: degrees of freedom n (int >= 1).  up: shear p ('up') or q ('low').
        activation: elementwise callable sigma (default tanh).

    Shapes:
        x = (q, p): [..., 2 dim] -> [..., 2 dim].

    Raises:
        ValueError: `dim` not an integer >= 1.  TypeError: `activation` not callable.

    Example:
        >>> net = ActivationModule(1).double()
        >>> x = torch.tensor([0.3, -0.2], dtype=torch.float64)
        >>> J, omega = torch.autograd.functional.jacobian(net, x), symplectic_form(1)
        >>> torch.allclose(J.T @ omega @ J, omega)  # symplectic: J^T Omega J = Omega
        True
    """

    def __init__(self, dim: int, up: bool = True, activation: Callable = torch.tanh):
        super().__init__()
        _check_int(dim, "dim", 1)
        _check_activation(activation)
        self.dim, self.up, self.activation = dim, up, activation
        self.a = nn.Parameter(torch.randn(dim) * 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = _split(x, self.dim)
        if self.up:
            p = p + self.a * self.activation(q)
        else:
            q = q + self.a * self.activation(p)
        return torch.cat([q, p], dim=-1)


class GradientModule(nn.Module):
    """Gradient shear (SympNets, Jin et al. 2020, sec. 3.2): 'up' p <- p + K^T (a * sigma(K q + b)), 'low' on q.

    The increment is the gradient of sum_j a_j Sigma(K_j q + b_j) (Sigma' = sigma), so its Jacobian
    K^T diag(a sigma') K is symmetric and the shear is symplectic. K is `width x dim`.

    Args:
        dim: degrees of freedom n (int >= 1).  width: hidden width (int >= 1).  up: shear p or q.
        activation: elementwise callable sigma (default tanh).

    Shapes:
        x = (q, p): [..., 2 dim] -> [..., 2 dim].

    Raises:
        ValueError: `dim` or `width` not an integer >= 1.  TypeError: `activation` not callable.

    Example:
        >>> net = GradientModule(1, 4).double()
        >>> x = torch.tensor([0.3, -0.2], dtype=torch.float64)
        >>> J, omega = torch.autograd.functional.jacobian(net, x), symplectic_form(1)
        >>> torch.allclose(J.T @ omega @ J, omega)  # symplectic: J^T Omega J = Omega
        True
    """

    def __init__(self, dim: int, width: int, up: bool = True, activation: Callable = torch.tanh):
        super().__init__()
        _check_int(dim, "dim", 1)
        _check_int(width, "width", 1)
        _check_activation(activation)
        self.dim, self.up, self.activation = dim, up, activation
        self.K = nn.Parameter(torch.randn(width, dim) / math.sqrt(dim))
        self.a = nn.Parameter(torch.randn(width) * 0.01)
        self.b = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = _split(x, self.dim)
        if self.up:
            p = p + (self.a * self.activation(q @ self.K.T + self.b)) @ self.K
        else:
            q = q + (self.a * self.activation(p @ self.K.T + self.b)) @ self.K
        return torch.cat([q, p], dim=-1)


class LASympNet(nn.Module):
    """LA-SympNet (SympNets, Jin et al. 2020, sec. 3.1): `layers` x (linear, activation shear) + a linear module.

    Modules alternate up/low; symplectic by construction (a composition of shears).

    Args:
        dim: degrees of freedom n (int >= 1).  layers: (linear, activation) pairs (int >= 1).
        sublayers: shears per linear module.  activation: elementwise callable (default tanh).

    Shapes:
        x = (q, p): [..., 2 dim] -> [..., 2 dim].

    Raises:
        ValueError: a size not an integer >= 1.  TypeError: `activation` not callable.

    Example:
        >>> net = LASympNet(1, layers=2).double()
        >>> x = torch.tensor([0.3, -0.2], dtype=torch.float64)
        >>> J, omega = torch.autograd.functional.jacobian(net, x), symplectic_form(1)
        >>> torch.allclose(J.T @ omega @ J, omega)  # symplectic: J^T Omega J = Omega
        True
    """

    def __init__(self, dim: int, layers: int = 3, sublayers: int = 2, activation: Callable = torch.tanh):
        super().__init__()
        _check_int(dim, "dim", 1)
        _check_int(layers, "layers", 1)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(LinearModule(dim, sublayers, up_first=(i % 2 == 0)))
            mods.append(ActivationModule(dim, up=(i % 2 == 0), activation=activation))
        mods.append(LinearModule(dim, sublayers, up_first=(layers % 2 == 0)))
        self.dim = dim
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GSympNet(nn.Module):
    """G-SympNet (SympNets, Jin et al. 2020, sec. 3.2): `layers` gradient shear modules of `width`, alternating up/low.

    Args:
        dim: degrees of freedom n (int >= 1).  layers: modules (int >= 1).  width: hidden width (int >= 1).
        activation: elementwise callable (default tanh).

    Shapes:
        x = (q, p): [..., 2 dim] -> [..., 2 dim].

    Raises:
        ValueError: a size not an integer >= 1.  TypeError: `activation` not callable.

    Example:
        >>> net = GSympNet(1, layers=2, width=4).double()
        >>> x = torch.tensor([0.3, -0.2], dtype=torch.float64)
        >>> J, omega = torch.autograd.functional.jacobian(net, x), symplectic_form(1)
        >>> torch.allclose(J.T @ omega @ J, omega)  # symplectic: J^T Omega J = Omega
        True
    """

    def __init__(self, dim: int, layers: int = 4, width: int = 16, activation: Callable = torch.tanh):
        super().__init__()
        _check_int(dim, "dim", 1)
        _check_int(layers, "layers", 1)
        self.dim = dim
        self.net = nn.Sequential(*[GradientModule(dim, width, up=(i % 2 == 0), activation=activation)
                                   for i in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
