"""Bad-input contract of the hyperbolic public API (tests/contract.py): every bad call raises a
TypeError/ValueError naming the argument. `CASES` is also what the before/after share counts."""

import pytest
import torch

import suite
import suite.hyperbolic as H
from suite.hyperbolic.gmvae import PseudoGaussian
from tests.contract import CLEAR, Case, assert_clear, classify

NAN, INF = float("nan"), float("inf")


def _pts(n=3, rows=4, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return H.lorentz_expmap0(torch.randn(rows, n, generator=g, dtype=dtype))


def _vec(n=3, rows=4, dtype=torch.float32):
    return torch.randn(rows, n, generator=torch.Generator().manual_seed(1), dtype=dtype)


def _with(t, value, where=(0, 0)):
    t = t.clone()
    t[where] = value
    return t


def _pair_cases(fname, f, a, b, na, nb, *, rows_only=False):
    """The cases every two-argument distance shares: NaN/Inf, dtypes, shapes, broadcasting, bad k."""
    yield Case(f"{fname}: NaN in {na}", lambda: f(_with(a, NAN), b), na)
    yield Case(f"{fname}: Inf in {nb}", lambda: f(a, _with(b, INF)), nb)
    yield Case(f"{fname}: int {na}", lambda: f(a.long(), b), na)
    yield Case(f"{fname}: bool {nb}", lambda: f(a, b.bool()), nb)
    yield Case(f"{fname}: complex {na}", lambda: f(a.to(torch.complex64), b), na)
    yield Case(f"{fname}: list {na}", lambda: f(a.tolist(), b), na)
    yield Case(f"{fname}: last-dim mismatch", lambda: f(a, b[..., :-1]), na)
    yield Case(f"{fname}: k = 0", lambda: f(a, b, 0.0), "k")
    yield Case(f"{fname}: k < 0", lambda: f(a, b, -1.0), "k")
    yield Case(f"{fname}: k NaN", lambda: f(a, b, NAN), "k")
    yield Case(f"{fname}: k Inf", lambda: f(a, b, INF), "k")
    yield Case(f"{fname}: k bool", lambda: f(a, b, True), "k")
    yield Case(f"{fname}: k string", lambda: f(a, b, "1"), "k")
    yield Case(f"{fname}: k vector tensor", lambda: f(a, b, torch.ones(2)), "k")
    if rows_only:
        yield Case(f"{fname}: 1-D {na}", lambda: f(a[0], b), na)
        yield Case(f"{fname}: batch mismatch", lambda: f(a.expand(2, *a.shape), b.expand(3, *b.shape)), na)
    else:
        yield Case(f"{fname}: broadcast mismatch", lambda: f(a, b[:3]), na)
        yield Case(f"{fname}: empty last dim", lambda: f(a[..., :0], b[..., :0]), na)


def _cases():
    x, y = _pts(), _pts(rows=4)
    v, w = _vec(), _vec()
    yield from _pair_cases("lorentz_distance", H.lorentz_distance, x, y, "x", "y")
    yield from _pair_cases("tangent_distance", H.tangent_distance, v, w, "v", "w")
    yield from _pair_cases("lorentz_cdist", H.lorentz_cdist, x, y, "x", "y", rows_only=True)
    yield from _pair_cases("tangent_cdist", H.tangent_cdist, v, w, "v", "w", rows_only=True)
    for fname, f in (("lorentz_distance", H.lorentz_distance), ("lorentz_cdist", H.lorentz_cdist)):
        yield Case(f"{fname}: x off the hyperboloid", lambda f=f: f(x * 1.1, y), "x")
        yield Case(f"{fname}: y on the lower sheet", lambda f=f: f(x, -y), "y")
        yield Case(f"{fname}: last dim 1", lambda f=f: f(x[..., :1], y[..., :1]), "x")
    for fname, f in (("lorentz_logmap0", H.lorentz_logmap0), ("lorentz_to_poincare", H.lorentz_to_poincare),
                     ("lorentz_residual", H.lorentz_residual), ("lorentz_project", H.lorentz_project)):
        yield Case(f"{fname}: NaN", lambda f=f: f(_with(x, NAN)), "x")
        yield Case(f"{fname}: int", lambda f=f: f(x.long()), "x")
        yield Case(f"{fname}: bool", lambda f=f: f(x.bool()), "x")
        yield Case(f"{fname}: list", lambda f=f: f(x.tolist()), "x")
        yield Case(f"{fname}: last dim 1", lambda f=f: f(x[..., :1]), "x")
        yield Case(f"{fname}: k = 0", lambda f=f: f(x, 0.0), "k")
    for fname, f in (("lorentz_logmap0", H.lorentz_logmap0), ("lorentz_to_poincare", H.lorentz_to_poincare)):
        yield Case(f"{fname}: off the hyperboloid", lambda f=f: f(x * 1.1), "x")
    yield Case("minkowski_inner: NaN", lambda: H.minkowski_inner(_with(x, NAN), y), "x")
    yield Case("minkowski_inner: int", lambda: H.minkowski_inner(x, y.long()), "y")
    yield Case("minkowski_inner: last-dim mismatch", lambda: H.minkowski_inner(x, y[..., :2]), "x")
    yield Case("minkowski_inner: broadcast mismatch", lambda: H.minkowski_inner(x, y[:3]), "x")
    yield Case("lorentz_expmap0: NaN", lambda: H.lorentz_expmap0(_with(v, NAN)), "v")
    yield Case("lorentz_expmap0: int", lambda: H.lorentz_expmap0(v.long()), "v")
    yield Case("lorentz_expmap0: bool", lambda: H.lorentz_expmap0(v.bool()), "v")
    yield Case("lorentz_expmap0: empty last dim", lambda: H.lorentz_expmap0(v[..., :0]), "v")
    yield Case("lorentz_expmap0: overflow float32", lambda: H.lorentz_expmap0(v * 100), "v")
    yield Case("lorentz_expmap0: k < 0", lambda: H.lorentz_expmap0(v, -2.0), "k")
    p = H.lorentz_to_poincare(x)
    yield Case("poincare_to_lorentz: outside the ball", lambda: H.poincare_to_lorentz(p * 100), "p")
    yield Case("poincare_to_lorentz: NaN", lambda: H.poincare_to_lorentz(_with(p, NAN)), "p")
    yield Case("poincare_to_lorentz: int", lambda: H.poincare_to_lorentz(p.long()), "p")
    yield Case("poincare_to_lorentz: empty last dim", lambda: H.poincare_to_lorentz(p[..., :0]), "p")
    yield Case("poincare_to_lorentz: k = 0", lambda: H.poincare_to_lorentz(p, 0.0), "k")
    z = _vec(n=4, rows=10)
    for fname, f in (("effective_rank", H.effective_rank), ("isotropic_gaussian_loss", H.isotropic_gaussian_loss)):
        yield Case(f"{fname}: NaN", lambda f=f: f(_with(z, NAN)), "z")
        yield Case(f"{fname}: Inf", lambda f=f: f(_with(z, INF)), "z")
        yield Case(f"{fname}: int", lambda f=f: f(z.long()), "z")
        yield Case(f"{fname}: bool", lambda f=f: f(z.bool()), "z")
        yield Case(f"{fname}: 1-D", lambda f=f: f(z[0]), "z")
        yield Case(f"{fname}: no rows", lambda f=f: f(z[:0]), "z")
        yield Case(f"{fname}: no columns", lambda f=f: f(z[:, :0]), "z")
    for bad in (0.0, -1.0, NAN, INF, True):
        yield Case(f"isotropic_gaussian_loss: sigma {bad}", lambda bad=bad: H.isotropic_gaussian_loss(z, bad), "sigma")
    d_pos, d_neg = torch.rand(5), torch.rand(5, 3)
    yield Case("contrastive_loss: NaN d_pos", lambda: H.contrastive_loss(_with(d_pos, NAN, (0,)), d_neg), "d_pos")
    yield Case("contrastive_loss: int d_neg", lambda: H.contrastive_loss(d_pos, d_neg.long()), "d_neg")
    yield Case("contrastive_loss: batch mismatch", lambda: H.contrastive_loss(d_pos, d_neg[:4]), "d_neg")
    yield Case("contrastive_loss: no negatives", lambda: H.contrastive_loss(d_pos, d_neg[:, :0]), "d_neg")
    layer = H.LorentzLinear(2, 3)
    yield Case("LorentzLinear: NaN x", lambda: layer(_with(x, NAN)), "x")
    yield Case("LorentzLinear: wrong width", lambda: layer(x[..., :2]), "x")
    yield Case("LorentzLinear: int x", lambda: layer(x.long()), "x")
    yield Case("LorentzLinear: in_features 0", lambda: H.LorentzLinear(0, 3), "in_features")
    yield Case("LorentzLinear: out_features -1", lambda: H.LorentzLinear(2, -1), "out_features")
    yield Case("LorentzLinear: in_features 2.5", lambda: H.LorentzLinear(2.5, 3), "in_features")
    yield Case("LorentzLinear: k = 0", lambda: H.LorentzLinear(2, 3, k=0.0), "k")
    g = torch.Generator().manual_seed(0)
    yield Case("random_tree: n = 1", lambda: H.random_tree(1, g), "n")
    yield Case("random_tree: n = 2.5", lambda: H.random_tree(2.5, g), "n")
    yield Case("random_tree: generator None", lambda: H.random_tree(5, None), "generator")
    yield Case("random_tree: max_children 0", lambda: H.random_tree(5, g, max_children=0), "max_children")
    tree = H.random_tree(8, torch.Generator().manual_seed(0))
    yield Case("reconstruction_metrics: wrong shape", lambda: H.reconstruction_metrics(torch.rand(7, 7), tree), "dist")
    yield Case("reconstruction_metrics: int dist", lambda: H.reconstruction_metrics(tree.dist, tree), "dist")
    for fname, f in (("train_tangent", H.train_tangent), ("train_recommended", H.train_recommended)):
        yield Case(f"{fname}: dim 0", lambda f=f: f(tree, 0, steps=1, generator=g), "dim")
        yield Case(f"{fname}: steps -1", lambda f=f: f(tree, 2, steps=-1, generator=g), "steps")
        yield Case(f"{fname}: lr 0", lambda f=f: f(tree, 2, steps=1, lr=0.0, generator=g), "lr")
        yield Case(f"{fname}: lr NaN", lambda f=f: f(tree, 2, steps=1, lr=NAN, generator=g), "lr")
        yield Case(f"{fname}: n_neg 0", lambda f=f: f(tree, 2, steps=1, n_neg=0, generator=g), "n_neg")
        yield Case(f"{fname}: batch 0", lambda f=f: f(tree, 2, steps=1, batch=0, generator=g), "batch")
        yield Case(f"{fname}: iso_weight -1", lambda f=f: f(tree, 2, steps=1, iso_weight=-1.0, generator=g), "iso_weight")
    a = torch.zeros(2, 3, dtype=torch.float64)
    q = PseudoGaussian(a, a, a)
    yield Case("pseudo_gaussian_kl: NaN alpha", lambda: H.pseudo_gaussian_kl(PseudoGaussian(_with(a, NAN), a, a)), "alpha")
    yield Case("pseudo_gaussian_kl: int log_beta2",
               lambda: H.pseudo_gaussian_kl(PseudoGaussian(a, a.long(), a)), "log_beta2")
    yield Case("pseudo_gaussian_kl: shape mismatch",
               lambda: H.pseudo_gaussian_kl(PseudoGaussian(a, a[:, :2], a)), "log_beta2")
    yield Case("pseudo_gaussian_kl: p not a PseudoGaussian", lambda: H.pseudo_gaussian_kl(q, 1.0), "p")
    yield Case("pseudo_gaussian_kl: q a tensor", lambda: H.pseudo_gaussian_kl(a), "q")


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_input_gets_a_clear_error_naming_the_argument(case):
    assert_clear(case)


def test_switching_validation_off_skips_only_the_value_checks():
    """Value checks (finiteness, on-manifold) cost a device sync and are switched off deliberately;
    type, shape and parameter checks still run."""
    x = _pts()
    with suite.validation(False):
        H.lorentz_distance(x * 1.1, x)  # off the manifold: not checked, no error
        assert torch.isnan(H.tangent_distance(_with(_vec(), NAN), _vec())).any()
        with pytest.raises(TypeError, match="x"):
            H.lorentz_distance(x.long(), x)
        with pytest.raises(ValueError, match="k"):
            H.tangent_distance(_vec(), _vec(), 0.0)
    with pytest.raises(ValueError, match="hyperboloid"):
        H.lorentz_distance(x * 1.1, x)


def clear_share(cases=None) -> tuple[int, int]:
    """(clear, total) over `cases` (default: CASES), for the before/after figure."""
    cases = CASES if cases is None else cases
    return sum(classify(c)[0] == CLEAR for c in cases), len(cases)

