"""Bad-input contract of `suite.symplectic` and `baselines.symplectic.euler` (tests/contract.py): every bad
call raises a TypeError/ValueError naming the argument; valid edge cases return the correct, finite result."""

import math

import pytest
import torch

from baselines.symplectic import euler
from suite import symplectic as sy
from tests.contract import CLEAR, Case, assert_clear, classify

NAN, INF = math.nan, math.inf
F64 = torch.float64
OSC = sy.HarmonicOscillator(2.0)


def _integrator_cases(name, integ):
    gp = OSC.grad_potential
    q0, p0 = torch.ones(3, 2, dtype=F64), torch.zeros(3, 2, dtype=F64)
    return [
        Case(f"{name}: NaN q0", lambda: integ(gp, torch.full((2,), NAN), torch.ones(2), 0.1, 3), "q0"),
        Case(f"{name}: Inf p0", lambda: integ(gp, torch.ones(2), torch.tensor([0.0, INF]), 0.1, 3), "p0"),
        Case(f"{name}: int q0", lambda: integ(gp, torch.ones(2, dtype=torch.int64), torch.ones(2), 0.1, 3), "q0"),
        Case(f"{name}: bool p0", lambda: integ(gp, torch.ones(2), torch.ones(2, dtype=torch.bool), 0.1, 3), "p0"),
        Case(f"{name}: complex q0", lambda: integ(gp, torch.ones(2, dtype=torch.complex64), torch.ones(2), 0.1, 3),
             "q0"),
        Case(f"{name}: list q0", lambda: integ(gp, [1.0, 2.0], torch.ones(2), 0.1, 3), "q0"),
        Case(f"{name}: shapes [3, 2] vs [2]", lambda: integ(gp, q0, torch.ones(2, dtype=F64), 0.1, 3), "p0"),
        Case(f"{name}: 0-dim q0", lambda: integ(gp, torch.tensor(1.0), torch.tensor(0.0), 0.1, 3), "q0"),
        Case(f"{name}: dtypes float32 vs float64", lambda: integ(gp, q0.float(), p0, 0.1, 3), "p0"),
        Case(f"{name}: h = 0", lambda: integ(gp, q0, p0, 0.0, 3), "h"),
        Case(f"{name}: h = NaN", lambda: integ(gp, q0, p0, NAN, 3), "h"),
        Case(f"{name}: h = Inf", lambda: integ(gp, q0, p0, INF, 3), "h"),
        Case(f"{name}: h = '0.1'", lambda: integ(gp, q0, p0, "0.1", 3), "h"),
        Case(f"{name}: h = True", lambda: integ(gp, q0, p0, True, 3), "h"),
        Case(f"{name}: h tensor", lambda: integ(gp, q0, p0, torch.tensor(0.1), 3), "h"),
        Case(f"{name}: steps = -1", lambda: integ(gp, q0, p0, 0.1, -1), "steps"),
        Case(f"{name}: steps = 2.5", lambda: integ(gp, q0, p0, 0.1, 2.5), "steps"),
        Case(f"{name}: steps = True", lambda: integ(gp, q0, p0, 0.1, True), "steps"),
        Case(f"{name}: steps = '3'", lambda: integ(gp, q0, p0, 0.1, "3"), "steps"),
        Case(f"{name}: grad_potential not callable", lambda: integ(None, q0, p0, 0.1, 3), "grad_potential"),
        Case(f"{name}: grad_potential of the wrong shape", lambda: integ(lambda q: q.sum(-1), q0, p0, 0.1, 3),
             "grad_potential"),
        Case(f"{name}: grad_potential returns a list", lambda: integ(lambda q: [0.0], q0, p0, 0.1, 3),
             "grad_potential"),
        Case(f"{name}: Kepler from the singularity q = 0",
             lambda: integ(sy.Kepler().grad_potential, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), 0.1, 3),
             "q"),
        Case(f"{name}: unstable step blows up to Inf",
             lambda: integ(sy.HarmonicOscillator(1.0).grad_potential, q0, p0, 3.0, 2000), "h"),
    ]


def _system_cases():
    q, p = torch.ones(4, 2, dtype=F64), torch.ones(4, 2, dtype=F64)
    cases = []
    for sname, system in (("HarmonicOscillator", OSC), ("Pendulum", sy.Pendulum()), ("Kepler", sy.Kepler())):
        cases += [
            Case(f"{sname}.energy: shapes [4, 2] vs [3, 2]", lambda s=system: s.energy(q, torch.ones(3, 2)), "p"),
            Case(f"{sname}.energy: int q", lambda s=system: s.energy(torch.ones(4, 2, dtype=torch.int64), p), "q"),
            Case(f"{sname}.energy: NaN p", lambda s=system: s.energy(q, torch.full((4, 2), NAN)), "p"),
            Case(f"{sname}.potential: bool q", lambda s=system: s.potential(torch.ones(2, dtype=torch.bool)), "q"),
            Case(f"{sname}.potential: NaN q", lambda s=system: s.potential(torch.tensor([NAN, 1.0])), "q"),
            Case(f"{sname}.grad_potential: int q",
                 lambda s=system: s.grad_potential(torch.ones(2, dtype=torch.int64)), "q"),
            Case(f"{sname}.grad_potential: Inf q", lambda s=system: s.grad_potential(torch.tensor([INF, 1.0])), "q"),
            Case(f"{sname}.grad_potential: list q", lambda s=system: s.grad_potential([1.0, 1.0]), "q"),
        ]
    cases += [
        Case("HarmonicOscillator: omega = 0", lambda: sy.HarmonicOscillator(0.0), "omega"),
        Case("HarmonicOscillator: omega = -1", lambda: sy.HarmonicOscillator(-1.0), "omega"),
        Case("HarmonicOscillator: omega = NaN", lambda: sy.HarmonicOscillator(NAN), "omega"),
        Case("HarmonicOscillator: omega = Inf", lambda: sy.HarmonicOscillator(INF), "omega"),
        Case("HarmonicOscillator: omega = True", lambda: sy.HarmonicOscillator(True), "omega"),
        Case("HarmonicOscillator: omega = '2'", lambda: sy.HarmonicOscillator("2"), "omega"),
        Case("HarmonicOscillator.exact: t = NaN", lambda: OSC.exact(q, p, NAN), "t"),
        Case("HarmonicOscillator.exact: t = Inf", lambda: OSC.exact(q, p, INF), "t"),
        Case("HarmonicOscillator.exact: t = '1'", lambda: OSC.exact(q, p, "1"), "t"),
        Case("HarmonicOscillator.exact: shapes", lambda: OSC.exact(q, torch.ones(3, 2, dtype=F64), 1.0), "p0"),
        Case("HarmonicOscillator.exact: NaN q0", lambda: OSC.exact(torch.full((2,), NAN), torch.ones(2), 1.0), "q0"),
        Case("HarmonicOscillator.exact: int q0", lambda: OSC.exact(torch.ones(2, dtype=torch.int64), torch.ones(2),
                                                                   1.0), "q0"),
        Case("Kepler.potential: q = 0 (singular)", lambda: sy.Kepler().potential(torch.zeros(2)), "q"),
        Case("Kepler.grad_potential: q = 0 (singular)", lambda: sy.Kepler().grad_potential(torch.zeros(3, 2)), "q"),
        Case("Kepler.energy: q of last dim 3", lambda: sy.Kepler().energy(torch.ones(3), torch.ones(3)), "q"),
        Case("Kepler.grad_potential: q of last dim 1", lambda: sy.Kepler().grad_potential(torch.ones(1)), "q"),
        Case("Kepler.angular_momentum: last dim 3", lambda: sy.Kepler.angular_momentum(torch.ones(3), torch.ones(3)),
             "q"),
        Case("Kepler.initial: e = 1", lambda: sy.Kepler.initial(1.0), "e"),
        Case("Kepler.initial: e = -0.1", lambda: sy.Kepler.initial(-0.1), "e"),
        Case("Kepler.initial: e = NaN", lambda: sy.Kepler.initial(NAN), "e"),
        Case("Kepler.initial: e = '0.5'", lambda: sy.Kepler.initial("0.5"), "e"),
        Case("Kepler.initial: int dtype", lambda: sy.Kepler.initial(0.5, dtype=torch.int64), "dtype"),
    ]
    return cases


def _sympnet_cases():
    x = torch.randn(5, 4)
    cases = []
    for mname, make in (("LinearModule", lambda d: sy.LinearModule(d)), ("ActivationModule", sy.ActivationModule),
                        ("GradientModule", lambda d: sy.GradientModule(d, 4)), ("LASympNet", sy.LASympNet),
                        ("GSympNet", sy.GSympNet)):
        net = make(2)
        cases += [
            Case(f"{mname}: dim = 0", lambda make=make: make(0), "dim"),
            Case(f"{mname}: dim = -1", lambda make=make: make(-1), "dim"),
            Case(f"{mname}: dim = 1.5", lambda make=make: make(1.5), "dim"),
            Case(f"{mname}: dim = True", lambda make=make: make(True), "dim"),
            Case(f"{mname}(x): last dim 3", lambda net=net: net(torch.randn(5, 3)), "x"),
            Case(f"{mname}(x): int x", lambda net=net: net(torch.ones(5, 4, dtype=torch.int64)), "x"),
            Case(f"{mname}(x): bool x", lambda net=net: net(torch.ones(5, 4, dtype=torch.bool)), "x"),
            Case(f"{mname}(x): NaN x", lambda net=net: net(torch.full((5, 4), NAN)), "x"),
            Case(f"{mname}(x): Inf x", lambda net=net: net(x.clone().index_fill_(1, torch.tensor([0]), INF)), "x"),
            Case(f"{mname}(x): 0-dim x", lambda net=net: net(torch.tensor(1.0)), "x"),
        ]
    cases += [
        Case("LinearModule: sublayers = 0", lambda: sy.LinearModule(2, 0), "sublayers"),
        Case("LinearModule: sublayers = 1.5", lambda: sy.LinearModule(2, 1.5), "sublayers"),
        Case("GradientModule: width = 0", lambda: sy.GradientModule(2, 0), "width"),
        Case("GradientModule: width = -4", lambda: sy.GradientModule(2, -4), "width"),
        Case("LASympNet: layers = -1", lambda: sy.LASympNet(2, layers=-1), "layers"),
        Case("LASympNet: sublayers = 0", lambda: sy.LASympNet(2, sublayers=0), "sublayers"),
        Case("GSympNet: layers = 0", lambda: sy.GSympNet(2, layers=0), "layers"),
        Case("GSympNet: width = 2.5", lambda: sy.GSympNet(2, width=2.5), "width"),
        Case("ActivationModule: activation not callable", lambda: sy.ActivationModule(2, activation="tanh"),
             "activation"),
        Case("symplectic_form: n = 0", lambda: sy.symplectic_form(0), "n"),
        Case("symplectic_form: n = -2", lambda: sy.symplectic_form(-2), "n"),
        Case("symplectic_form: n = 1.5", lambda: sy.symplectic_form(1.5), "n"),
        Case("symplectic_form: int dtype", lambda: sy.symplectic_form(2, dtype=torch.int64), "dtype"),
    ]
    return cases


CASES = (_integrator_cases("leapfrog", sy.leapfrog) + _integrator_cases("euler", euler) + _system_cases()
         + _sympnet_cases())


def summary(cases=CASES):
    """{outcome: count} over the bad-input cases (the before/after share in a session's note)."""
    counts: dict[str, int] = {}
    for c in cases:
        outcome = classify(c)[0]
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_input_gets_a_clear_error(case):
    assert_clear(case)


def test_the_share_of_clear_errors_is_complete():
    counts = summary()
    assert counts.get(CLEAR, 0) == len(CASES), counts


# --------------------------------------------------------------------------------- valid edge cases: correct
@pytest.mark.parametrize("integ", [sy.leapfrog, euler])
def test_zero_steps_empty_batch_and_negative_h_are_valid(integ):
    gp = OSC.grad_potential
    q0, p0 = torch.tensor([[1.0, -0.5]], dtype=F64), torch.tensor([[0.25, 2.0]], dtype=F64)
    q, p = integ(gp, q0, p0, 0.1, 0)
    assert q.shape == (1, 1, 2) and torch.equal(q[0], q0) and torch.equal(p[0], p0)
    q, p = integ(gp, torch.zeros(0, 2), torch.zeros(0, 2), 0.1, 4)
    assert q.shape == (5, 0, 2)
    # a negative step runs the flow backwards (a time-symmetric method retraces its path): valid input
    q, p = integ(gp, q0, p0, 0.05, 40)
    qb, pb = integ(gp, q[-1], p[-1], -0.05, 40)
    if integ is sy.leapfrog:
        assert torch.allclose(qb[-1], q0, atol=1e-12) and torch.allclose(pb[-1], p0, atol=1e-12)
    else:
        assert torch.isfinite(qb).all()


def test_tiny_and_huge_scales_are_integrated_linearly():
    # the oscillator's flow is linear: scaling the initial state scales the trajectory exactly (powers of two)
    q0, p0 = torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([0.25, 2.0], dtype=F64)
    q, p = sy.leapfrog(OSC.grad_potential, q0, p0, 0.1, 50)
    for s in (2.0 ** -1000, 2.0 ** 1000):
        qs, ps = sy.leapfrog(OSC.grad_potential, q0 * s, p0 * s, 0.1, 50)
        assert torch.equal(qs / s, q) and torch.equal(ps / s, p)
