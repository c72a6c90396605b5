"""Bad-input contract of `suite.holographic` (tests/contract.py): every bad call raises a TypeError/ValueError
naming the argument; every edge case that is valid input returns the correct, finite result."""

import math

import pytest
import torch

import suite
from suite import holographic as hg
from tests.contract import CLEAR, Case, assert_clear, classify

NAN, INF = math.nan, math.inf


def _v(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=torch.float64).to(dtype)


def _with(t, value, index=(0,)):
    t = t.clone()
    t[index] = value
    return t


def _vector_cases():
    x, y = _v(4, 8), _v(4, 8)
    cases = []
    for fname, f, a, b in (("bind", hg.bind, "x", "y"), ("unbind", hg.unbind, "z", "y"),
                           ("phasor_bind", hg.phasor_bind, "x", "y")):
        cases += [
            Case(f"{fname}: NaN in {a}", lambda f=f: f(_with(x, NAN, (1, 3)), y), a),
            Case(f"{fname}: Inf in {b}", lambda f=f: f(x, _with(y, INF, (2, 5))), b),
            Case(f"{fname}: -Inf in {a}", lambda f=f: f(_with(x, -INF, (0, 0)), y), a),
            Case(f"{fname}: int64 {b}", lambda f=f: f(x, torch.ones(4, 8, dtype=torch.int64)), b),
            Case(f"{fname}: bool {a}", lambda f=f: f(torch.ones(4, 8, dtype=torch.bool), y), a),
            Case(f"{fname}: int32 {a}", lambda f=f: f(torch.ones(4, 8, dtype=torch.int32), y), a),
            Case(f"{fname}: list {b}", lambda f=f: f(x, [1.0] * 8), b),
            Case(f"{fname}: last dims 8 vs 9", lambda f=f: f(x, _v(4, 9)), b),
            Case(f"{fname}: batch 4 vs 3 does not broadcast", lambda f=f: f(x, _v(3, 8)), b),
            Case(f"{fname}: empty last dim", lambda f=f: f(_v(4, 0), _v(4, 0)), a),
            Case(f"{fname}: 0-dim {a}", lambda f=f: f(torch.tensor(1.0), y), a),
        ]
    for fname, f in (("project", hg.project), ("phasor_key", lambda v: hg.phasor_key(v)),
                     ("involution", hg.involution)):
        n = "y" if fname == "phasor_key" else "x"
        cases += [
            Case(f"{fname}: NaN", lambda f=f: f(_with(x, NAN, (1, 1))), n),
            Case(f"{fname}: Inf", lambda f=f: f(_with(x, INF, (3, 7))), n),
            Case(f"{fname}: int64", lambda f=f: f(torch.arange(8)), n),
            Case(f"{fname}: bool", lambda f=f: f(torch.ones(8, dtype=torch.bool)), n),
            Case(f"{fname}: complex", lambda f=f: f(torch.ones(8, dtype=torch.complex64)), n),
            Case(f"{fname}: empty last dim", lambda f=f: f(_v(3, 0)), n),
            Case(f"{fname}: 0-dim", lambda f=f: f(torch.tensor(2.0)), n),
            Case(f"{fname}: numpy-like list", lambda f=f: f([1.0, 2.0]), n),
        ]
    key = hg.phasor_key(y)
    cases += [
        Case("phasor_bind: key of the wrong length", lambda: hg.phasor_bind(x, hg.phasor_key(_v(4, 10))), "y"),
        Case("phasor_bind: key with NaN", lambda: hg.phasor_bind(x, _with(key, NAN, (0, 1))), "y"),
        Case("phasor_bind: key not unit (a raw spectrum)", lambda: hg.phasor_bind(x, torch.fft.rfft(y) * 3), "y"),
        Case("phasor_bind: complex x", lambda: hg.phasor_bind(key, key), "x"),
    ]
    return cases


def _random_phasor_cases():
    return [
        Case("random_phasor: d = 0", lambda: hg.random_phasor(3, d=0), "d"),
        Case("random_phasor: d = -2", lambda: hg.random_phasor(3, d=-2), "d"),
        Case("random_phasor: d = 2.5", lambda: hg.random_phasor(3, d=2.5), "d"),
        Case("random_phasor: d = True", lambda: hg.random_phasor(3, d=True), "d"),
        Case("random_phasor: d = '8'", lambda: hg.random_phasor(3, d="8"), "d"),
        Case("random_phasor: batch -1", lambda: hg.random_phasor(-1, d=8), "batch"),
        Case("random_phasor: batch 2.5", lambda: hg.random_phasor(2.5, d=8), "batch"),
        Case("random_phasor: int dtype", lambda: hg.random_phasor(3, d=8, dtype=torch.int64), "dtype"),
        Case("random_phasor: complex dtype", lambda: hg.random_phasor(3, d=8, dtype=torch.complex64), "dtype"),
    ]


def _nan_weight(layer):
    with torch.no_grad():
        layer.weight[3] = NAN
    return layer


def _circulant_cases():
    x, w, b = _v(5, 8), _v(8), _v(8)
    layer = hg.CirculantLinear(8)
    return [
        Case("circulant_matrix: int w", lambda: hg.circulant_matrix(torch.arange(8)), "w"),
        Case("circulant_matrix: NaN w", lambda: hg.circulant_matrix(_with(w, NAN)), "w"),
        Case("circulant_matrix: empty w", lambda: hg.circulant_matrix(torch.zeros(0)), "w"),
        Case("circulant_linear: NaN x", lambda: hg.circulant_linear(_with(x, NAN, (1, 1)), w, b), "x"),
        Case("circulant_linear: Inf w", lambda: hg.circulant_linear(x, _with(w, INF), b), "w"),
        Case("circulant_linear: NaN b", lambda: hg.circulant_linear(x, w, _with(b, NAN)), "b"),
        Case("circulant_linear: b of length 7", lambda: hg.circulant_linear(x, w, _v(7)), "b"),
        Case("circulant_linear: b [2, 8] for x [5, 8]", lambda: hg.circulant_linear(x, w, _v(2, 8)), "b"),
        Case("circulant_linear: int b", lambda: hg.circulant_linear(x, w, torch.ones(8, dtype=torch.int64)), "b"),
        Case("circulant_linear: list b", lambda: hg.circulant_linear(x, w, [0.0] * 8), "b"),
        Case("circulant_linear: w length 9", lambda: hg.circulant_linear(x, _v(9), b), "w"),
        Case("CirculantLinear: features 0", lambda: hg.CirculantLinear(0), "features"),
        Case("CirculantLinear: features -3", lambda: hg.CirculantLinear(-3), "features"),
        Case("CirculantLinear: features 2.5", lambda: hg.CirculantLinear(2.5), "features"),
        Case("CirculantLinear: features True", lambda: hg.CirculantLinear(True), "features"),
        Case("CirculantLinear: int dtype", lambda: hg.CirculantLinear(8, dtype=torch.int64), "dtype"),
        Case("CirculantLinear: unitary='yes'", lambda: hg.CirculantLinear(8, unitary="yes"), "unitary"),
        Case("CirculantLinear(x): last dim 9", lambda: layer(_v(5, 9)), "x"),
        Case("CirculantLinear(x): int x", lambda: layer(torch.ones(5, 8, dtype=torch.int64)), "x"),
        Case("CirculantLinear(x): bool x", lambda: layer(torch.ones(5, 8, dtype=torch.bool)), "x"),
        Case("CirculantLinear(x): NaN x", lambda: layer(_with(x, NAN, (2, 2))), "x"),
        Case("CirculantLinear(x): Inf x", lambda: layer(_with(x, INF, (0, 7))), "x"),
        Case("CirculantLinear(x): 0-dim x", lambda: layer(torch.tensor(1.0)), "x"),
        Case("CirculantLinear: NaN weight", lambda: _nan_weight(hg.CirculantLinear(8))(x), "w"),
        Case("CirculantLinear(unitary=True): NaN weight", lambda: _nan_weight(hg.CirculantLinear(8, unitary=True))(x),
             "w"),
    ]


def _ghrr_cases():
    a, b = hg.ghrr_random(D=4, m=2), hg.ghrr_random(D=4, m=2)
    cases = [
        Case("ghrr_random: D = 0", lambda: hg.ghrr_random(D=0, m=2), "D"),
        Case("ghrr_random: D = -1", lambda: hg.ghrr_random(D=-1, m=2), "D"),
        Case("ghrr_random: D = 2.5", lambda: hg.ghrr_random(D=2.5, m=2), "D"),
        Case("ghrr_random: D = True", lambda: hg.ghrr_random(D=True, m=2), "D"),
        Case("ghrr_random: m = 0", lambda: hg.ghrr_random(D=4, m=0), "m"),
        Case("ghrr_random: m = -2", lambda: hg.ghrr_random(D=4, m=-2), "m"),
        Case("ghrr_random: m = 1.5", lambda: hg.ghrr_random(D=4, m=1.5), "m"),
        Case("ghrr_random: m = False", lambda: hg.ghrr_random(D=4, m=False), "m"),
        Case("ghrr_random: diagonality NaN", lambda: hg.ghrr_random(D=4, m=2, diagonality=NAN), "diagonality"),
        Case("ghrr_random: diagonality 1.5", lambda: hg.ghrr_random(D=4, m=2, diagonality=1.5), "diagonality"),
        Case("ghrr_random: diagonality -0.1", lambda: hg.ghrr_random(D=4, m=2, diagonality=-0.1), "diagonality"),
        Case("ghrr_random: diagonality '0.5'", lambda: hg.ghrr_random(D=4, m=2, diagonality="0.5"), "diagonality"),
        Case("ghrr_random: float dtype", lambda: hg.ghrr_random(D=4, m=2, dtype=torch.float32), "dtype"),
        Case("ghrr_random: batch -2", lambda: hg.ghrr_random(-2, D=4, m=2), "batch"),
        Case("ghrr_random: batch 1.5", lambda: hg.ghrr_random(1.5, D=4, m=2), "batch"),
    ]
    for fname, f, na, nb in (("ghrr_bind", hg.ghrr_bind, "a", "b"), ("ghrr_unbind", hg.ghrr_unbind, "z", "b"),
                             ("ghrr_similarity", hg.ghrr_similarity, "a", "b")):
        cases += [
            Case(f"{fname}: real {na}", lambda f=f: f(a.real, b), na),
            Case(f"{fname}: int {nb}", lambda f=f: f(a, torch.ones(4, 2, 2, dtype=torch.int64)), nb),
            Case(f"{fname}: m 2 vs 3", lambda f=f: f(a, hg.ghrr_random(D=4, m=3)), nb),
            Case(f"{fname}: D 4 vs 5", lambda f=f: f(a, hg.ghrr_random(D=5, m=2)), nb),
            Case(f"{fname}: non-square slots", lambda f=f: f(a[..., :1], b[..., :1]), na),
            Case(f"{fname}: 2-dim {na}", lambda f=f: f(a[0], b[0]), na),
            Case(f"{fname}: NaN in {na}", lambda f=f: f(_with(a, complex(NAN, 0), (1, 0, 1)), b), na),
            Case(f"{fname}: Inf in {nb}", lambda f=f: f(a, _with(b, complex(INF, 0), (0, 1, 1))), nb),
            Case(f"{fname}: batch 2 vs 3", lambda f=f: f(hg.ghrr_random(2, D=4, m=2), hg.ghrr_random(3, D=4, m=2)), nb),
            Case(f"{fname}: list {nb}", lambda f=f: f(a, [[1.0]]), nb),
        ]
    return cases


CASES = _vector_cases() + _random_phasor_cases() + _circulant_cases() + _ghrr_cases()


def summary(cases=CASES):
    """{outcome: count} over the bad-input cases (the before/after share in a session's note)."""
    counts: dict[str, int] = {}
    for c in cases:
        counts[classify(c)[0]] = counts.get(classify(c)[0], 0) + 1
    return counts


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_input_gets_a_clear_error(case):
    assert_clear(case)


def test_the_share_of_clear_errors_is_complete():
    counts = summary()
    assert counts.get(CLEAR, 0) == len(CASES), counts


# --------------------------------------------------------------------------------- valid edge cases: correct
def test_empty_batch_and_d_one_are_valid():
    x = torch.zeros(0, 8)
    for f in (hg.bind, hg.unbind, hg.phasor_bind):
        assert f(x, x).shape == (0, 8)
    assert hg.project(x).shape == (0, 8)
    one = torch.tensor([[-3.0], [2.0], [0.0]])
    assert torch.equal(hg.project(one), torch.tensor([[-1.0], [1.0], [1.0]]))  # sign, zero -> phase 0
    assert torch.equal(hg.bind(one, one), one * one)


def test_validation_off_skips_value_checks_only():
    x = _with(_v(4, 8), NAN, (1, 3))
    with suite.validation(False):
        assert torch.isnan(hg.bind(x, x)).any()  # checks of values are off: garbage in, garbage out
        with pytest.raises(TypeError, match="x must be a real floating"):
            hg.bind(torch.ones(4, 8, dtype=torch.int64), x)  # type checks cost nothing and always run
    with pytest.raises(ValueError, match="x contains NaN"):
        hg.bind(x, x)
