"""Property tests for symplectic integration (suite.symplectic vs baselines.symplectic.euler).

Claims: F5 (leapfrog is reversible), F6 (leapfrog's energy error is bounded, Euler's grows as (1+h^2)^n),
X1 (SympNet modules are symplectic by construction, an MLP is not).
"""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from baselines.symplectic import euler
from suite import symplectic as sy
from baselines.symplectic import ResidualMLP
from suite.symplectic_references import oscillator_flow

F64 = torch.float64
SYSTEMS = {"oscillator": sy.HarmonicOscillator(), "pendulum": sy.Pendulum(), "kepler": sy.Kepler()}


def _start(name, seed, batch=(), dtype=F64):
    g = torch.Generator().manual_seed(seed)
    if name == "kepler":  # bound orbits: pericentre r in [0.5, 1], speed below escape
        e = torch.rand(batch, generator=g, dtype=F64) * 0.7
        q0 = torch.stack([1 - e, torch.zeros_like(e)], -1)
        p0 = torch.stack([torch.zeros_like(e), ((1 + e) / (1 - e)).sqrt()], -1)
        return q0.to(dtype), p0.to(dtype)
    n = 2
    return (torch.randn(*batch, n, generator=g, dtype=F64).to(dtype),
            torch.randn(*batch, n, generator=g, dtype=F64).to(dtype))


# ----------------------------------------------------------------------------------------- reversibility
@given(name=st.sampled_from(sorted(SYSTEMS)), seed=st.integers(0, 2**31 - 1), h=st.floats(0.005, 0.1),
       steps=st.integers(1, 300), batch=st.sampled_from([(), (3,), (2, 2)]))
def test_leapfrog_reversible_float64(name, seed, h, steps, batch):
    system = SYSTEMS[name]
    q0, p0 = _start(name, seed, batch)
    q, p = sy.leapfrog(system.grad_potential, q0, p0, h, steps)
    assert q.shape == (steps + 1, *q0.shape) and p.shape == q.shape
    qb, pb = sy.leapfrog(system.grad_potential, q[-1], -p[-1], h, steps)
    scale = 1 + q.abs().max() + p.abs().max()
    assert (qb[-1] - q0).abs().max() <= 1e-12 * scale * steps ** 0.5 + 1e-13
    assert (pb[-1] + p0).abs().max() <= 1e-12 * scale * steps ** 0.5 + 1e-13


def test_euler_is_not_reversible():
    osc = SYSTEMS["oscillator"]
    q0, p0 = torch.tensor([1.0], dtype=F64), torch.tensor([0.0], dtype=F64)
    q, p = euler(osc.grad_potential, q0, p0, 0.1, 100)
    qb, _ = euler(osc.grad_potential, q[-1], -p[-1], 0.1, 100)
    assert (qb[-1] - q0).abs().item() > 0.5


# ----------------------------------------------------------------------------------------- energy
def test_oscillator_energy_bound_1e5_steps_and_euler_growth():
    osc, h = SYSTEMS["oscillator"], 0.1
    q0 = torch.tensor([[1.0], [0.3], [-2.0]], dtype=F64)
    p0 = torch.tensor([[0.0], [1.0], [0.5]], dtype=F64)
    H0 = osc.energy(q0, p0)
    q, p = sy.leapfrog(osc.grad_potential, q0, p0, h, 100_000)
    err = (osc.energy(q, p) - H0).abs().amax(0)
    assert (err <= h ** 2 * H0 / (4 - h ** 2) * (1 + 1e-6) + 1e-12).all()
    # the modified energy p^2/2 + (1 - h^2/4) q^2/2 is conserved to round-off
    mod = 0.5 * p.pow(2).sum(-1) + 0.5 * (1 - h ** 2 / 4) * q.pow(2).sum(-1)
    assert ((mod - mod[0]).abs().amax(0) <= 1e-10 * H0).all()
    qe, pe = euler(osc.grad_potential, q0, p0, h, 1000)
    growth = osc.energy(qe, pe) / H0
    n = torch.arange(1001, dtype=F64)[:, None]
    assert torch.allclose(growth, (1 + h ** 2) ** n, rtol=1e-9)
    assert growth[-1].min() > 2e4  # ANCHORS: x20959 after 1000 steps


@given(seed=st.integers(0, 2**31 - 1), h=st.floats(0.01, 1.5))
def test_leapfrog_energy_bound_any_stable_step(seed, h):
    osc = SYSTEMS["oscillator"]
    q0, p0 = _start("oscillator", seed, (4,))
    H0 = osc.energy(q0, p0)
    q, p = sy.leapfrog(osc.grad_potential, q0, p0, h, 200)
    assert ((osc.energy(q, p) - H0).abs().amax(0) <= h ** 2 * H0 / (4 - h ** 2) * (1 + 1e-9) + 1e-12).all()


def test_kepler_angular_momentum_conserved_to_round_off():
    kep = SYSTEMS["kepler"]
    q0, p0 = sy.Kepler.initial(0.6)
    steps = int(round(10 * 2 * math.pi / 0.01))  # 10 periods
    q, p = sy.leapfrog(kep.grad_potential, q0, p0, 0.01, steps)
    L = sy.Kepler.angular_momentum(q, p)
    assert (L - 0.8).abs().max() <= 1e-12
    assert abs(kep.energy(q[-1], p[-1]).item() + 0.5) < 1e-3  # ANCHORS: -0.4999
    qe, pe = euler(kep.grad_potential, q0, p0, 0.01, steps)
    assert (sy.Kepler.angular_momentum(qe, pe) - 0.8).abs().max() > 1e-3
    assert kep.energy(qe[-1], pe[-1]).item() > -0.3  # ANCHORS: Euler drifts to H = -0.15


def test_second_order_convergence():
    osc = SYSTEMS["oscillator"]
    q0, p0 = torch.tensor([1.0], dtype=F64), torch.tensor([0.5], dtype=F64)
    errs, errs_e = [], []
    for h in (0.1, 0.05, 0.025, 0.0125):
        n = int(round(2.0 / h))
        qx, px = osc.exact(q0, p0, 2.0)
        q, p = sy.leapfrog(osc.grad_potential, q0, p0, h, n)
        qe, pe = euler(osc.grad_potential, q0, p0, h, n)
        errs.append(float(torch.cat([q[-1] - qx, p[-1] - px]).norm()))
        errs_e.append(float(torch.cat([qe[-1] - qx, pe[-1] - px]).norm()))
    ratios = [a / b for a, b in zip(errs, errs[1:])]
    assert all(3.6 < r < 4.4 for r in ratios), ratios
    assert all(1.6 < a / b < 2.4 for a, b in zip(errs_e, errs_e[1:]))  # Euler: first order


def test_pair_oracle_and_naive_failure():
    g = torch.Generator().manual_seed(0)
    q0, p0 = torch.randn(8, 1, generator=g, dtype=F64), torch.randn(8, 1, generator=g, dtype=F64)
    ref = oscillator_flow(q0, p0, 0.1, 1000)
    lf = sy.leapfrog(SYSTEMS["oscillator"].grad_potential, q0, p0, 0.1, 1000)[0]
    eu = euler(SYSTEMS["oscillator"].grad_potential, q0, p0, 0.1, 1000)[0]
    e_lf = ((lf - ref).norm() / ref.norm()).item()
    e_eu = ((eu - ref).norm() / ref.norm()).item()
    assert e_lf < 0.05 and e_eu > 10 * e_lf


def test_float32_and_device(device):
    pend = SYSTEMS["pendulum"]
    q0 = torch.tensor([[1.0], [2.0]], device=device)
    p0 = torch.zeros(2, 1, device=device)
    q, p = sy.leapfrog(pend.grad_potential, q0, p0, 0.05, 400)
    assert q.dtype == torch.float32 and q.device.type == device
    H = pend.energy(q, p)
    assert ((H - H[0]).abs().max() < 5e-3)


# ----------------------------------------------------------------------------------------- SympNets
def _jacobian_defect(module, dim, seed):
    g = torch.Generator().manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for prm in module.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g, dtype=F64))
    x = torch.randn(2 * dim, generator=g, dtype=F64)
    J = torch.autograd.functional.jacobian(module, x)
    omega = sy.symplectic_form(dim)
    return (J.T @ omega @ J - omega).abs().max().item()


@given(dim=st.integers(1, 3), seed=st.integers(0, 2**31 - 1), up=st.booleans(), kind=st.sampled_from(
    ["linear", "activation", "gradient", "la", "g"]))
def test_sympnet_modules_are_symplectic(dim, seed, up, kind):
    module = {"linear": lambda: sy.LinearModule(dim, 3, up_first=up),
              "activation": lambda: sy.ActivationModule(dim, up=up),
              "gradient": lambda: sy.GradientModule(dim, 5, up=up),
              "la": lambda: sy.LASympNet(dim, layers=2),
              "g": lambda: sy.GSympNet(dim, layers=3, width=4)}[kind]()
    assert _jacobian_defect(module, dim, seed) <= 1e-10


def test_unconstrained_mlp_is_not_symplectic():
    assert _jacobian_defect(ResidualMLP(1, 8), 1, seed=0) > 1e-3


def test_sympnet_batch_and_bad_input():
    net = sy.GSympNet(2)
    assert net(torch.randn(5, 3, 4)).shape == (5, 3, 4)
    with pytest.raises(ValueError, match="last dimension"):
        net(torch.randn(5, 3))


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("integ", [sy.leapfrog, euler])
def test_bad_input(integ):
    gp = SYSTEMS["oscillator"].grad_potential
    q0, p0 = torch.ones(2), torch.ones(2)
    with pytest.raises(ValueError, match="same shape"):
        integ(gp, q0, torch.ones(3), 0.1, 5)
    with pytest.raises(ValueError, match="h must"):
        integ(gp, q0, p0, 0.0, 5)
    with pytest.raises(ValueError, match="h must"):
        integ(gp, q0, p0, math.nan, 5)
    with pytest.raises(ValueError, match="steps"):
        integ(gp, q0, p0, 0.1, -1)
    with pytest.raises(ValueError, match="q0 contains NaN"):
        integ(gp, torch.tensor([math.nan, 0.0]), p0, 0.1, 5)
    with pytest.raises(TypeError, match="real floating"):
        integ(gp, torch.ones(2, dtype=torch.int64), p0, 0.1, 5)
    q, p = integ(gp, q0, p0, 0.1, 0)
    assert q.shape == (1, 2) and torch.equal(q[0], q0)
    with pytest.raises(ValueError, match="eccentricity"):
        sy.Kepler.initial(1.0)


# ----------------------------------------------------------------------------------------- omega != 1
omegas = st.floats(0.1, 10.0).filter(lambda w: abs(w - 1) > 1e-3)


@given(omega=omegas, seed=st.integers(0, 2**31 - 1), t=st.floats(-5.0, 5.0))
def test_oscillator_with_omega_against_analytic_forms(omega, seed, t):
    osc = sy.HarmonicOscillator(omega)
    q0, p0 = _start("oscillator", seed, (3,))
    # energy and force against the textbook forms, written out here independently of the class
    assert torch.allclose(osc.energy(q0, p0), 0.5 * (p0 ** 2).sum(-1) + 0.5 * omega ** 2 * (q0 ** 2).sum(-1),
                          rtol=1e-14, atol=0)
    q = q0.clone().requires_grad_(True)
    (autograd_force,) = torch.autograd.grad(osc.potential(q).sum(), q)
    assert torch.allclose(osc.grad_potential(q0), autograd_force, rtol=1e-14, atol=0)
    assert torch.allclose(osc.grad_potential(q0), omega ** 2 * q0, rtol=1e-14, atol=0)
    # the exact flow is exp(t A) with A = [[0, 1], [-omega^2, 0]] per degree of freedom (matrix_exp, not trig)
    A = torch.tensor([[0.0, 1.0], [-omega ** 2, 0.0]], dtype=F64)
    M = torch.linalg.matrix_exp(t * A)
    qx, px = osc.exact(q0, p0, t)
    scale = 1 + q0.abs().max() * omega + p0.abs().max() / omega
    assert (qx - (M[0, 0] * q0 + M[0, 1] * p0)).abs().max() <= 1e-12 * scale
    assert (px - (M[1, 0] * q0 + M[1, 1] * p0)).abs().max() <= 1e-12 * scale * omega
    assert torch.allclose(osc.energy(qx, px), osc.energy(q0, p0), rtol=1e-12)


@given(omega=omegas, seed=st.integers(0, 2**31 - 1), hw=st.floats(0.01, 1.5))
def test_leapfrog_with_omega_energy_bound_and_modified_energy(omega, seed, hw):
    osc, h = sy.HarmonicOscillator(omega), hw / omega  # the bound depends on h * omega only
    q0, p0 = _start("oscillator", seed, (4,))
    H0 = osc.energy(q0, p0)
    q, p = sy.leapfrog(osc.grad_potential, q0, p0, h, 200)
    assert ((osc.energy(q, p) - H0).abs().amax(0) <= hw ** 2 * H0 / (4 - hw ** 2) * (1 + 1e-9) + 1e-12).all()
    mod = 0.5 * (p ** 2).sum(-1) + 0.5 * (1 - hw ** 2 / 4) * omega ** 2 * (q ** 2).sum(-1)
    assert ((mod - mod[0]).abs().amax(0) <= 1e-11 * H0).all()


@pytest.mark.parametrize("omega", [0.5, 3.0])
def test_leapfrog_with_omega_converges_to_the_exact_flow_second_order(omega):
    osc = sy.HarmonicOscillator(omega)
    q0, p0 = torch.tensor([1.0], dtype=F64), torch.tensor([0.5], dtype=F64)
    T, errs = 2.0, []
    for n in (100, 200, 400):
        qx, px = osc.exact(q0, p0, T)
        q, p = sy.leapfrog(osc.grad_potential, q0, p0, T / n, n)
        errs.append(float(torch.cat([q[-1] - qx, p[-1] - px]).norm()))
    assert all(3.6 < a / b < 4.4 for a, b in zip(errs, errs[1:])), errs
