"""Property tests of the hyperbolic domain: distances against mpmath, axioms, conversions, on-manifold
residuals after every op and optimiser step, pseudo-Gaussian KL, effective rank, bad input."""

import contextlib
import math

import geoopt
import mpmath
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import baselines.hyperbolic as B
import suite.hyperbolic as H
from suite.hyperbolic.gmvae import PseudoGaussian
from suite.hyperbolic.references import mp_lorentz_distance, mp_lorentz_logmap0, mp_tangent_distance

mpmath.mp.dps = 130  # the hyperboloid form cancels ~e^{2R}: R = 100 needs ~90 digits
DTYPES = [torch.float32, torch.float64]


def mp_poincare_distance(p, q, k) -> float:
    """sqrt(k) arcosh(1 + 2 k |p - q|^2 / ((k - |p|^2)(k - |q|^2))) on the ball of radius sqrt(k), mpmath."""
    p = [mpmath.mpf(float(a)) for a in p]
    q = [mpmath.mpf(float(a)) for a in q]
    k = mpmath.mpf(k)
    num = 2 * k * sum((a - b) ** 2 for a, b in zip(p, q))
    den = (k - sum(a * a for a in p)) * (k - sum(b * b for b in q))
    return float(mpmath.sqrt(k) * mpmath.acosh(1 + num / den))


def _unit(n, gen, dtype=torch.float64):
    u = torch.randn(n, generator=gen, dtype=torch.float64)
    return (u / u.norm()).to(dtype)


TANGENT_KINDS = ("generic", "near", "ray", "axis", "diagonal", "pow2", "radial")


@st.composite
def tangent_pairs(draw, max_radius=50.0, dtype=torch.float32, min_sep=1e-3, kinds=TANGENT_KINDS):
    """(v, w) tangent vectors in `dtype`: generic pairs; nearby pairs (separation min_sep..1 relative to
    1 + r, directions differing well above rounding); common rays w = lambda v for any lambda (rounded to
    the dtype, so directions equal up to rounding), along an axis or the diagonal (exactly equal
    directions for any lambda) and as w = 2^j v; nearly radial pairs (w = lambda v plus a tiny
    perpendicular offset)."""
    n = draw(st.integers(2, 16))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    kind = draw(st.sampled_from(kinds))
    r = draw(st.floats(0.0, max_radius))
    if dtype == torch.float64 and r < 1e-150:  # float64 domain: |v|^2 must not underflow (float32 inputs
        r = 0.0                                 # have no such limit: their squares are normal in float64)
    g = torch.Generator().manual_seed(seed)
    u = _unit(n, g)
    if kind == "axis":
        u = torch.zeros(n, dtype=torch.float64)
        u[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1.0, 1.0]))
    elif kind == "diagonal":
        u = torch.ones(n, dtype=torch.float64) / math.sqrt(n)
    v = (r * u).to(dtype)
    lam = draw(st.floats(0.0, 2.0)) if kind != "pow2" else 2.0 ** draw(st.integers(-3, 1))
    if kind == "generic":
        w = (draw(st.floats(0.0, max_radius)) * _unit(n, g)).to(dtype)
    elif kind == "near":
        eps = 10 ** draw(st.floats(math.log10(min_sep), 0.0))  # log-uniform: small separations are drawn
        w = (v.double() + eps * (1 + r) * _unit(n, g)).to(dtype)
    elif kind == "radial":
        w = (lam * v.double() + 10 ** draw(st.floats(-9.0, -4.0)) * _unit(n, g)).to(dtype)
    else:
        w = (lam * v.double()).to(dtype) if kind != "pow2" else v * lam
    return v, w


@given(tangent_pairs())
def test_tangent_distance_float32_matches_mpmath_to_radius_50(pair):
    """No carve-out: common rays at any radius to 50 (v = 50 e_1, w = 50.1 e_1 is 0.1), nearly radial
    pairs, nearby and generic pairs, against mpmath on the exact float32 inputs."""
    v, w = pair
    ref = mp_tangent_distance(v, w)
    d = float(H.tangent_distance(v, w))
    assert abs(d - ref) <= 1e-5 * ref + 1e-30, (d, ref)


def test_tangent_distance_on_a_common_ray_at_radius_50():
    for r in (20.0, 30.0, 50.0):
        v, w = torch.tensor([r, 0.0, 0.0]), torch.tensor([r * 1.002, 0.0, 0.0])
        assert float(H.tangent_distance(v, w)) == pytest.approx(mp_tangent_distance(v, w), rel=1e-6)


@given(tangent_pairs(max_radius=30.0, dtype=torch.float64, min_sep=1e-12, kinds=("near", "radial", "ray", "generic")))
def test_tangent_distance_float64_matches_mpmath(pair):
    """float64 inputs (products are not exact there): nearby pairs down to 1e-12 relative separation
    catch |v| - |w| and v/|v| - w/|w| in place of the cancellation-free terms."""
    v, w = pair
    ref = mp_tangent_distance(v, w)
    assert abs(float(H.tangent_distance(v, w)) - ref) <= 1e-9 * ref + 1e-300, ref


@settings(max_examples=120)
@given(tangent_pairs(max_radius=30.0, dtype=torch.float64, min_sep=1e-10, kinds=("near", "radial")))
def test_tangent_distance_float64_nearby_and_nearly_radial_pairs(pair):
    """Where the cancellation-free terms decide (float64 cannot lean on exact products): separations
    1e-10..1 relative, and w = lambda v plus an offset of 1e-9..1e-4, to 1e-9 relative."""
    v, w = pair
    ref = mp_tangent_distance(v, w)
    assert abs(float(H.tangent_distance(v, w)) - ref) <= 1e-9 * ref + 1e-300, ref


@st.composite
def lorentz_pairs(draw, max_radius=88.0):
    """float32 points of the hyperboloid (float64 exp_0, rounded), to the float32 limit (x_0 = cosh 88
    ~ 8e37): generic pairs, nearby pairs, and nearly radial / same-ray pairs of different radii."""
    n = draw(st.integers(1, 12))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    kind = draw(st.sampled_from(["generic", "near", "radial"]))
    r1 = draw(st.floats(0.0, max_radius))
    u = _unit(n, g)
    v = r1 * u
    if kind == "generic":
        w = draw(st.floats(0.0, max_radius)) * _unit(n, g)
    elif kind == "near":
        w = v + draw(st.floats(1e-6, 1.0)) * _unit(n, g)
    else:
        w = draw(st.floats(0.0, max_radius)) * u + draw(st.sampled_from([0.0, 1e-6, 1e-3])) * _unit(n, g)
    return H.lorentz_expmap0(v).float(), H.lorentz_expmap0(w).float()


@settings(max_examples=80)
@given(lorentz_pairs())
def test_lorentz_distance_float32_at_least_as_accurate_as_geoopt_and_arcosh(pair):
    """Every pair, to the float32 limit: relative error vs mpmath on the exact float32 coordinates
    <= max(1e-5, 2x the error of geoopt's Lorentz.dist and of the textbook arcosh form)."""
    x, y = pair
    ref = mp_lorentz_distance(x, y)
    d = float(H.lorentz_distance(x, y))
    others = [float(geoopt.Lorentz().dist(x, y)), float(B.lorentz_distance_arcosh(x, y))]
    best = min(abs(o - ref) if math.isfinite(o) else math.inf for o in others)
    assert abs(d - ref) <= max(1e-5 * ref, 2 * best), (d, ref, others)


def test_minkowski_chord_alone_returns_zero_for_far_points_of_different_radii():
    """The case of the trust issue: radii 18.0 and 0.73 in float32. The chord form 2 asinh(sqrt(<d,d>_L)/2)
    cancels e^{2r}: its result is quantised to steps of ~0.4 (and can be 0);
    the polar form is exact to float32 rounding."""
    g = torch.Generator().manual_seed(11)
    u1, u2 = torch.randn(200, 4, generator=g, dtype=torch.float64), torch.randn(200, 4, generator=g, dtype=torch.float64)
    x = H.lorentz_expmap0(18.0 * u1 / u1.norm(dim=-1, keepdim=True)).float()
    y = H.lorentz_expmap0(0.73 * u2 / u2.norm(dim=-1, keepdim=True)).float()
    ref = torch.tensor([mp_lorentz_distance(a, b) for a, b in zip(x, y)], dtype=torch.float64)
    dl = y - x
    q = (dl[:, 1:] ** 2).sum(-1) - dl[:, 0] ** 2
    chord = 2 * torch.asinh(q.clamp_min(0).sqrt() / 2)
    chord_err = (chord.double() - ref).abs() / ref
    assert float(chord_err.max()) >= 0.05 and float((chord_err > 1e-3).double().mean()) >= 0.5
    assert float(((H.lorentz_distance(x, y).double() - ref).abs() / ref).max()) <= 1e-6


def test_naive_poincare_fails_where_tangent_form_holds():
    """Y1: float32 Poincare arcosh distance is inf/NaN at radius 20; the tangent form is exact there."""
    g = torch.Generator().manual_seed(0)
    u = _unit(8, g, torch.float32)
    v, w = 20 * u, 20 * u + 0.05 * _unit(8, g, torch.float32)
    naive = B.poincare_distance(B.poincare_expmap0(v / 2), B.poincare_expmap0(w / 2))
    assert not torch.isfinite(naive)
    ref = mp_tangent_distance(v, w)
    assert abs(float(H.tangent_distance(v, w)) - ref) <= 1e-5 * ref


def test_textbook_lorentz_arcosh_loses_small_distances_in_float32():
    """Y2: at radius 4, distance ~0.01, geoopt's arcosh form is >= 10x less accurate than the stable one."""
    g = torch.Generator().manual_seed(1)
    errs_naive, errs_fixed = [], []
    for _ in range(20):
        u = _unit(4, g)
        v = 4 * u
        w = v + 0.01 * _unit(4, g)
        ref = mp_tangent_distance(v.float(), w.float())
        x, y = H.lorentz_expmap0(v).float(), H.lorentz_expmap0(w).float()
        errs_naive.append(abs(float(geoopt.Lorentz().dist(x, y)) - ref) / ref)
        errs_fixed.append(abs(float(H.lorentz_distance(x, y)) - ref) / ref)
    assert max(errs_naive) >= 10 * max(errs_fixed)


@st.composite
def lorentz_points(draw, dtype=torch.float64, max_radius=6.0, batch=(3,)):
    n = draw(st.integers(1, 9))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    r = max_radius * torch.rand(*batch, 1, generator=g, dtype=torch.float64)
    u = torch.randn(*batch, n, generator=g, dtype=torch.float64)
    return (r * u / u.norm(dim=-1, keepdim=True)).to(dtype)


@given(lorentz_points(batch=(3,)), st.sampled_from([0.5, 1.0, 2.0]))
def test_lorentz_distance_axioms_and_poincare_agreement(v, k):
    x = H.lorentz_expmap0(v, k)
    a, b, c = x[0], x[1], x[2]
    dab, dba, dbc, dac = (H.lorentz_distance(p, q, k) for p, q in ((a, b), (b, a), (b, c), (a, c)))
    assert dab >= 0 and torch.allclose(dab, dba, rtol=1e-12, atol=1e-12)
    assert float(H.lorentz_distance(a, a, k)) <= 1e-7
    assert dac <= dab + dbc + 1e-9
    # d_L(x, y) == d_P(to_poincare(x), to_poincare(y)), the Poincare distance evaluated in mpmath
    pa, pb = H.lorentz_to_poincare(a, k), H.lorentz_to_poincare(b, k)
    assert abs(float(dab) - mp_poincare_distance(pa, pb, k)) <= 1e-8 * max(float(dab), 1.0)
    # and the tangent form gives the same distance
    assert torch.allclose(dab, H.tangent_distance(v[0], v[1], k), rtol=1e-9, atol=1e-9)


@given(lorentz_points(dtype=torch.float64, max_radius=10.0, batch=(2, 3)), st.sampled_from([0.5, 1.0, 3.0]))
def test_round_trips_and_on_manifold_after_every_op(v, k):
    x = H.lorentz_expmap0(v, k)
    assert float(H.lorentz_residual(x, k).max()) <= 1e-9 * float(x[..., 0].max() ** 2)
    assert torch.allclose(H.lorentz_logmap0(x, k), v, rtol=1e-9, atol=1e-9)
    p = H.lorentz_to_poincare(x, k)
    assert float(p.norm(dim=-1).max()) < math.sqrt(k)
    x2 = H.poincare_to_lorentz(p, k)
    assert torch.allclose(x2, x, rtol=1e-7, atol=1e-9)
    assert torch.allclose(H.lorentz_to_poincare(x2, k), p, rtol=1e-10, atol=1e-12)
    off = x.clone()
    off[..., 0] *= 1.5
    assert float(H.lorentz_residual(H.lorentz_project(off, k), k).max()) <= 1e-9 * float(off[..., 1:].pow(2).sum(-1).max() + k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lorentz_linear_output_on_manifold(dtype, device):
    torch.manual_seed(0)
    layer = H.LorentzLinear(5, 3, k=2.0).to(device=device, dtype=dtype)
    x = H.lorentz_expmap0(torch.randn(4, 7, 5, dtype=dtype, device=device), 2.0)
    y = layer(x)
    assert y.shape == (4, 7, 4) and y.dtype == dtype and y.device.type == device
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert float((H.lorentz_residual(y.detach(), 2.0) / (1 + y.detach()[..., 0] ** 2)).max()) <= tol
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("dtype", DTYPES)
def test_device_dtype_batch_broadcast_and_gradients(dtype, device):
    g = torch.Generator().manual_seed(3)
    v = (3 * torch.randn(2, 5, 6, generator=g, dtype=dtype)).to(device).requires_grad_()
    w = (3 * torch.randn(1, 5, 6, generator=g, dtype=dtype)).to(device)
    d = H.tangent_distance(v, w)
    assert d.shape == (2, 5) and d.dtype == dtype and d.device.type == device
    d.sum().backward()
    assert torch.isfinite(v.grad).all()
    # zero vectors and identical points: finite value and gradient
    z = torch.zeros(3, 4, dtype=dtype, device=device, requires_grad=True)
    q = torch.tensor([[0.0, 0, 0, 0], [1.0, 2, 0, 0], [0, 0, 0, 5]], dtype=dtype, device=device)
    dz = H.tangent_distance(z, q)
    assert torch.allclose(dz, q.norm(dim=-1), rtol=1e-5)
    dz.sum().backward()
    assert torch.isfinite(z.grad).all()
    same = q.clone().requires_grad_()
    ds = H.tangent_distance(same, q)
    assert float(ds.abs().max()) <= 1e-6
    ds.sum().backward()
    assert torch.isfinite(same.grad).all()
    x, y = H.lorentz_expmap0(v.detach()), H.lorentz_expmap0(w)
    dl = H.lorentz_distance(x, y)
    assert dl.shape == (2, 5) and dl.dtype == dtype
    assert torch.allclose(dl, d.detach(), rtol=1e-3 if dtype == torch.float32 else 1e-9)


def test_large_inputs_take_the_blocked_path_with_identical_results():
    from suite.hyperbolic import _geometry as geo
    rows = 4 * geo._BLOCK_ELEMENTS // 16 + 1000  # just past the threshold of the blocked CPU path
    g = torch.Generator().manual_seed(4)
    v, w = 5 * torch.randn(rows, 16, generator=g), 5 * torch.randn(rows, 16, generator=g)
    full = H.tangent_distance(v, w)
    idx = torch.tensor([0, 1, rows // 2, rows - 1])
    assert torch.allclose(full[idx], H.tangent_distance(v[idx], w[idx]), rtol=1e-6, atol=0)
    x, y = H.lorentz_expmap0(v), H.lorentz_expmap0(w)
    assert torch.allclose(H.lorentz_distance(x, y)[idx], H.lorentz_distance(x[idx], y[idx]), rtol=1e-5, atol=0)


def test_riemannian_adam_stays_on_manifold_euclidean_adam_leaves_it():
    """Y5: residual |<x,x>_L + 1| after every step of RiemannianAdam on a ManifoldParameter stays at
    rounding level; plain Adam on the same coordinates leaves the hyperboloid."""
    g = torch.Generator().manual_seed(5)
    v0 = torch.randn(32, 4, generator=g, dtype=torch.float64)
    target = H.lorentz_expmap0(2 * torch.randn(32, 4, generator=g, dtype=torch.float64))
    xr = geoopt.ManifoldParameter(H.lorentz_expmap0(v0), manifold=geoopt.Lorentz())
    xe = torch.nn.Parameter(H.lorentz_expmap0(v0))
    opt_r = geoopt.optim.RiemannianAdam([xr], lr=0.05)
    opt_e = torch.optim.Adam([xe], lr=0.05)
    worst_r = worst_e = 0.0
    for _ in range(30):
        for x, opt in ((xr, opt_r), (xe, opt_e)):
            opt.zero_grad()
            H.lorentz_distance(x, target, check=False).pow(2).sum().backward()
            opt.step()
        worst_r = max(worst_r, float(H.lorentz_residual(xr.detach()).max()))
        worst_e = max(worst_e, float(H.lorentz_residual(xe.detach()).max()))
    assert worst_r <= 1e-9
    assert worst_e >= 1e-2


@st.composite
def pseudo_gaussians(draw, shape=(4, 3)):
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    return PseudoGaussian(torch.randn(*shape, generator=g, dtype=torch.float64),
                          torch.randn(*shape, generator=g, dtype=torch.float64),
                          torch.randn(*shape, generator=g, dtype=torch.float64).clamp(-2, 2))


@given(pseudo_gaussians(), pseudo_gaussians())
def test_pseudo_gaussian_kl_nonnegative_zero_iff_equal(q, p):
    kl = H.pseudo_gaussian_kl(q, p)
    differs = ((q.alpha != p.alpha) | (q.log_beta2 != p.log_beta2) | (q.log_gamma2 != p.log_gamma2)).any(-1)
    assert (kl[differs] > 0).all() and (kl[~differs].abs() <= 1e-10).all()
    assert float(H.pseudo_gaussian_kl(q, q).abs().max()) <= 1e-10


@settings(max_examples=5)
@given(pseudo_gaussians(shape=(3, 2)))
def test_pseudo_gaussian_kl_closed_form_equals_monte_carlo(q):
    torch.manual_seed(0)
    n = 20000
    p = PseudoGaussian.prior_like(q.alpha)
    mu, var = H.pseudo_gaussian_rsample(q, n)
    terms = H.pseudo_gaussian_log_prob(q, mu, var) - H.pseudo_gaussian_log_prob(p, mu, var)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(n)
    assert ((mc - H.pseudo_gaussian_kl(q)).abs() <= 5 * se + 1e-6).all()


@given(st.integers(2, 40), st.integers(1, 12), st.integers(0, 1000))
def test_effective_rank_bounds(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    er = float(H.effective_rank(z))
    assert 1.0 <= er <= min(n, d) + 1e-9
    rank1 = torch.randn(n, 1, generator=g, dtype=torch.float64) * torch.randn(1, d, generator=g, dtype=torch.float64)
    assert float(H.effective_rank(rank1, center=False)) == pytest.approx(1.0, abs=1e-6)


def test_effective_rank_of_isotropic_and_isotropy_loss_orders_collapse():
    g = torch.Generator().manual_seed(6)
    iso = torch.randn(4000, 8, generator=g, dtype=torch.float64)
    assert float(H.effective_rank(iso)) >= 7.8
    collapsed = iso.clone()
    collapsed[:, 2:] *= 1e-3
    boundary = 10 * iso
    li = float(H.isotropic_gaussian_loss(iso[:500]))
    assert li < 0.01 * float(H.isotropic_gaussian_loss(collapsed[:500]))
    assert li < 0.01 * float(H.isotropic_gaussian_loss(boundary[:500]))
    assert float(H.isotropic_gaussian_loss(iso[:500])) >= 0


def test_bad_input_raises_clear_errors():
    x = H.lorentz_expmap0(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="hyperboloid"):
        H.lorentz_distance(x * 1.1, x)
    with pytest.raises(ValueError, match="hyperboloid"):
        H.lorentz_distance(x, -x)
    with pytest.raises(ValueError, match="last dimension"):
        H.lorentz_distance(x, x[..., :3])
    with pytest.raises(ValueError, match="k"):
        H.lorentz_distance(x, x, k=0.0)
    with pytest.raises(ValueError, match="k"):
        H.tangent_distance(x, x, k=-1.0)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        H.lorentz_distance(bad, x)
    with pytest.raises(ValueError, match="NaN or Inf"):
        H.tangent_distance(torch.tensor([[math.inf, 0.0]]), torch.tensor([[1.0, 0.0]]))
    with pytest.raises(TypeError, match="floating"):
        H.tangent_distance(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="inside the Poincare ball"):
        H.poincare_to_lorentz(torch.tensor([[0.6, 0.8]]))
    with pytest.raises(ValueError, match="in_features"):
        H.LorentzLinear(3, 2)(x[..., :3])
    with pytest.raises(ValueError, match="n \\+ 1 >= 2"):
        H.lorentz_distance(torch.ones(3, 1), torch.ones(3, 1))


def test_lorentz_expmap0_is_finite_to_the_dtype_limit_and_raises_beyond():
    u = torch.tensor([0.6, 0.8])
    x = H.lorentz_expmap0(89.0 * u.unsqueeze(0))  # |x_s|^2 ~ 1e76 overflows float32; x_0 must not
    assert torch.isfinite(x).all()
    exact = mpmath.cosh(89)
    assert abs(float(x[0, 0]) / float(exact) - 1) < 1e-5
    with pytest.raises(ValueError, match=r"^v .*float32.*89\.4"):
        H.lorentz_expmap0(90.0 * u.unsqueeze(0))
    with pytest.raises(ValueError, match=r"^v .*float16"):
        H.lorentz_expmap0(12.0 * u.unsqueeze(0).half())
    assert torch.isfinite(H.lorentz_expmap0(90.0 * u.unsqueeze(0).double())).all()


def test_sample_negatives_never_returns_u_or_a_neighbour():
    from suite.hyperbolic.embedding import sample_negatives
    g = torch.Generator().manual_seed(0)
    tree = H.random_tree(7, g)  # node 1 has one non-neighbour: 20 uniform candidates rarely hold 10 valid
    edges = tree.edges.repeat(50, 1)
    neg = sample_negatives(tree, edges, 10, g)
    u = edges[:, :1]
    assert neg.shape == (edges.shape[0], 10)
    assert not bool((neg == u).any()) and not bool(tree.adjacency[u, neg].any())
    star = H.Tree(torch.tensor([-1, 0, 0]), torch.tensor([0, 1, 1]), torch.tensor([[0, 1, 1], [1, 0, 2], [1, 2, 0]]))
    with pytest.raises(ValueError, match="no negatives"):
        sample_negatives(star, star.edges, 3, g)


def test_diverged_recommended_run_is_recorded_not_raised():
    g = torch.Generator().manual_seed(0)
    tree = H.random_tree(30, g)
    run = H.train_recommended(tree, 2, steps=20, lr=100.0, generator=g)  # diverges within a few steps
    assert run.first_nonfinite_step >= 0 and run.nonfinite > 0


def test_blocked_path_leaves_the_thread_setting_alone(monkeypatch):
    """Library code never changes global torch state: the blocked CPU path must not touch the thread count."""
    from suite.hyperbolic import _geometry as geo

    def refuse(n):
        raise AssertionError(f"library code called torch.set_num_threads({n})")

    monkeypatch.setattr(torch, "set_num_threads", refuse)
    rows = 4 * geo._BLOCK_ELEMENTS // 16 + 16
    v = torch.randn(rows, 16)
    H.tangent_distance(v, v.flip(0))
    x = H.lorentz_expmap0(v)
    H.lorentz_distance(x, x.flip(0))


@given(st.integers(1, 10), st.floats(-30.0, math.log10(88.0)), st.integers(0, 2 ** 31 - 1))
def test_lorentz_logmap0_float32_matches_mpmath_from_the_origin_to_the_float32_limit(n, log_r, seed):
    """Near the origin arcosh(x_0) loses everything (x_0 = 1 + r^2/2 rounds to 1): the asinh of the spatial
    norm keeps the relative accuracy of |x_s| at every radius 1e-30..88."""
    g = torch.Generator().manual_seed(seed)
    x = H.lorentz_expmap0(10 ** log_r * _unit(n, g)).float().unsqueeze(0)
    ref = torch.tensor(mp_lorentz_logmap0(x[0]), dtype=torch.float64)
    out = H.lorentz_logmap0(x)[0].double()
    assert float((out - ref).norm() / ref.norm()) <= 1e-6


def _entropy_rank(s):
    p = [mpmath.mpf(float(a)) / sum(mpmath.mpf(float(b)) for b in s) for a in s]
    return float(mpmath.exp(-sum(q * mpmath.log(q) for q in p if q > 0)))


def test_effective_rank_of_a_known_spectrum():
    """diag(3, 1): p = (3/4, 1/4), erank = exp(H(0.75, 0.25)) = 1.7548 (Roy & Vetterli 2007, from the
    singular values, not their squares)."""
    er = float(H.effective_rank(torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64)), center=False))
    assert er == pytest.approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))), rel=1e-12)
    assert er == pytest.approx(1.7548, abs=1e-4)


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=6).filter(lambda s: sum(s) > 0), st.integers(0, 1000))
def test_effective_rank_equals_the_entropy_of_the_singular_values(s, seed):
    """U diag(s) V^T with random orthogonal U, V has erank exp(H(s / sum s)), computed in mpmath."""
    g = torch.Generator().manual_seed(seed)
    d = len(s)
    u, _ = torch.linalg.qr(torch.randn(d + 3, d, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    z = u @ torch.diag(torch.tensor(s, dtype=torch.float64)) @ v.T
    assert float(H.effective_rank(z, center=False)) == pytest.approx(_entropy_rank(s), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("scale,dtype", [(s, torch.float32) for s in (0.0, 1e-38, 1e-20, 1.0, 1e19, 1e30, 3e37)]
                         + [(s, torch.float64) for s in (1e-300, 1e160, 1e300)])
def test_isotropic_gaussian_loss_is_finite_at_every_scale(scale, dtype):
    """Zero rows and |z| up to the float32 maximum: no NaN in the loss or its gradient, and the value
    agrees with a float64 evaluation of the closed form where that one does not overflow."""
    g = torch.Generator().manual_seed(7)
    z0 = torch.randn(6, 3, generator=g, dtype=dtype)
    z0[0] = 0
    z = (z0 * scale).requires_grad_()
    loss = H.isotropic_gaussian_loss(z)
    assert torch.isfinite(loss)
    if dtype == torch.float32:  # gradients to the float32 maximum (float64 beyond 1e154: the value only)
        loss.backward()
        assert torch.isfinite(z.grad).all()
    zd = z.detach().double()
    n, N = 3, 6
    d2 = ((zd.unsqueeze(0) - zd.unsqueeze(1)) ** 2).sum(-1)
    ref = (torch.exp(-d2 / (2 * n)).mean() - 2 * ((n / (n + 1)) ** (n / 2) * torch.exp(-(zd * zd).sum(-1) / (2 * (n + 1)))).mean()
           + (n / (n + 2)) ** (n / 2))
    assert float(loss) == pytest.approx(float(ref), rel=1e-5, abs=1e-7)


@settings(max_examples=8)
@given(pseudo_gaussians(shape=(2,)))
def test_pseudo_gaussian_kl_matches_an_independent_scipy_monte_carlo(q):
    """The closed form against sampling written from the definition (Cho et al., GM-VAE, NeurIPS 2023,
    curvature c = -1): mu ~ N(alpha, beta^2 gamma^2), sigma^2 ~ Gamma(shape 1/(4|c| gamma^2) + 1,
    rate 1/(4|c| beta^2 gamma^2)), prior alpha = 0, beta = gamma = 1; scipy.stats draws and scores, so
    the suite's own parameterisation (PseudoGaussian.normal/gamma) is not involved."""
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(0)
    n = 200_000

    def dists(alpha, lb2, lg2):
        b2, g2 = math.exp(lb2), math.exp(lg2)
        return stats.norm(alpha, math.sqrt(b2 * g2)), stats.gamma(1 / (4 * g2) + 1, scale=4 * b2 * g2)

    for i in range(q.alpha.shape[-1]):
        qn, qg = dists(float(q.alpha[i]), float(q.log_beta2[i]), float(q.log_gamma2[i]))
        pn, pg = dists(0.0, 0.0, 0.0)
        mu, var = qn.rvs(n, random_state=rng), qg.rvs(n, random_state=rng)
        terms = qn.logpdf(mu) + qg.logpdf(var) - pn.logpdf(mu) - pg.logpdf(var)
        one = PseudoGaussian(q.alpha[i:i + 1], q.log_beta2[i:i + 1], q.log_gamma2[i:i + 1])
        closed = float(H.pseudo_gaussian_kl(one))
        assert abs(closed - terms.mean()) <= 5 * terms.std() / math.sqrt(n) + 1e-9, (closed, terms.mean())


@st.composite
def row_sets(draw, max_radius=50.0):
    """(v [B, n], w [C, n]) float32: w holds common-ray copies, nearby copies and exact copies of v's rows
    next to independent ones, so every kind of pair of the pointwise property appears in the matrix."""
    n = draw(st.integers(2, 8))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    B = draw(st.integers(1, 4))
    r = torch.tensor(draw(st.lists(st.floats(0.0, max_radius), min_size=B, max_size=B)), dtype=torch.float64)
    u = torch.randn(B, n, generator=g, dtype=torch.float64)
    v = r.unsqueeze(-1) * u / u.norm(dim=-1, keepdim=True)
    lam = draw(st.floats(0.0, 2.0))
    near = v + 10 ** draw(st.floats(-6.0, 0.0)) * torch.randn(B, n, generator=g, dtype=torch.float64)
    other = torch.randn(2, n, generator=g, dtype=torch.float64)
    other = max_radius * torch.rand(2, 1, generator=g, dtype=torch.float64) * other / other.norm(dim=-1, keepdim=True)
    v32 = v.float()
    return v32, torch.cat([v32, (lam * v).float(), v32 * 2.0, near.float(), other.float()])


@settings(max_examples=15)
@given(row_sets())
def test_tangent_cdist_matches_mpmath_and_the_pointwise_distance(vw):
    v, w = vw
    out = H.tangent_cdist(v, w)
    assert out.shape == (v.shape[0], w.shape[0]) and out.dtype == torch.float32
    point = H.tangent_distance(v.unsqueeze(1), w.unsqueeze(0))
    assert torch.allclose(out, point, rtol=2e-7, atol=0)
    for i in range(v.shape[0]):
        for j in range(w.shape[0]):
            ref = mp_tangent_distance(v[i], w[j])
            assert abs(float(out[i, j]) - ref) <= 1e-5 * ref + 1e-30, (i, j, float(out[i, j]), ref)


@settings(max_examples=15)
@given(row_sets(max_radius=40.0))
def test_lorentz_cdist_matches_mpmath_and_the_pointwise_distance(vw):
    x, y = (H.lorentz_expmap0(t.double()).float() for t in vw)
    out = H.lorentz_cdist(x, y)
    point = H.lorentz_distance(x.unsqueeze(1), y.unsqueeze(0))
    assert out.shape == point.shape and torch.allclose(out, point, rtol=2e-7, atol=0)
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            ref = mp_lorentz_distance(x[i], y[j])
            assert abs(float(out[i, j]) - ref) <= 1e-5 * ref + 1e-30, (i, j, float(out[i, j]), ref)


def test_cdist_batches_broadcast_k_and_gradients():
    g = torch.Generator().manual_seed(12)
    v = (3 * torch.randn(2, 1, 5, 4, generator=g, dtype=torch.float64)).requires_grad_()
    w = 3 * torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    for k in (0.5, 1.0, 2.0):
        out = H.tangent_cdist(v, w, k)
        assert out.shape == (2, 3, 5, 6)
        point = H.tangent_distance(v.unsqueeze(-2), w.unsqueeze(-3), k)
        assert torch.allclose(out, point, rtol=1e-12, atol=1e-300)
        x, y = H.lorentz_expmap0(v.detach(), k), H.lorentz_expmap0(w, k)
        assert torch.allclose(H.lorentz_cdist(x, y, k), out.detach(), rtol=1e-9)
    self_d = H.tangent_cdist(v, v)  # the diagonal: identical points, distance 0 with a finite gradient
    assert float(self_d.diagonal(dim1=-2, dim2=-1).abs().max()) == 0.0
    self_d.sum().backward()
    assert torch.isfinite(v.grad).all()


def test_cdist_beyond_the_direct_radius_takes_the_log_domain_per_pair():
    """Radii past 700 (sinh overflows float64) in an all-pairs matrix: the log-domain pairs are picked out
    of [B, C] although the radii come as [B, 1] and [1, C]."""
    v = torch.tensor([[800.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([[0.0, 900.0], [2.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(H.tangent_cdist(v, w), H.tangent_distance(v.unsqueeze(1), w.unsqueeze(0)), rtol=1e-12)
    assert float(H.tangent_cdist(v, w)[0, 0]) == pytest.approx(mp_tangent_distance(v[0], w[0]), rel=1e-12)


# ------------------------------------------------------------------------------------------- branch-free path
# The CUDA fast path (`_fused_tangent`, `_fused_lorentz`: compiled by torch.compile where Triton is installed)
# runs here eagerly on the CPU, through the public functions, against the same oracles as the default path.
@contextlib.contextmanager
def _branch_free():
    from suite.hyperbolic import _geometry as geo
    saved = geo._call_fused
    geo._call_fused = lambda fn, *args: fn(*args)
    try:
        yield
    finally:
        geo._call_fused = saved


@given(tangent_pairs())
def test_branch_free_tangent_distance_float32_matches_mpmath_to_radius_50(pair):
    v, w = pair
    ref = mp_tangent_distance(v, w)
    with _branch_free():
        d = float(H.tangent_distance(v, w))
    assert abs(d - ref) <= 1e-5 * ref + 1e-30, (d, ref)


@given(tangent_pairs(max_radius=30.0, dtype=torch.float64, min_sep=1e-12, kinds=("near", "radial", "ray", "generic")))
def test_branch_free_tangent_distance_float64_matches_mpmath(pair):
    v, w = pair
    ref = mp_tangent_distance(v, w)
    with _branch_free():
        d = float(H.tangent_distance(v, w))
    assert abs(d - ref) <= 1e-9 * ref + 1e-300, ref


@settings(max_examples=60)
@given(lorentz_pairs())
def test_branch_free_lorentz_distance_float32_matches_mpmath(pair):
    x, y = pair
    ref = mp_lorentz_distance(x, y)
    with _branch_free():
        d = float(H.lorentz_distance(x, y))
    others = [float(geoopt.Lorentz().dist(x, y)), float(B.lorentz_distance_arcosh(x, y))]
    best = min(abs(o - ref) if math.isfinite(o) else math.inf for o in others)
    assert abs(d - ref) <= max(1e-5 * ref, 2 * best), (d, ref, others)


def test_branch_free_path_beyond_the_direct_radius_exact_rays_gradients_and_errors():
    """Far pairs (log domain) and exactly collinear pairs per pair in one batch, equal to the default path;
    finite gradients at the origin and at identical points; the same errors; no host read with validation
    off and one while validating."""
    from suite.checks import validation
    from tests.syncs import syncs_per_call
    v = torch.tensor([[800.0, 0.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [50.0, 0.0, 0.0]],
                     dtype=torch.float64)
    w = torch.tensor([[0.0, 900.0, 0.0], [6.0, 8.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [50.1, 0.0, 0.0]],
                     dtype=torch.float64)
    ref = H.tangent_distance(v, w)
    assert ref[1] == 5.0 and ref[2] == 0.0 and ref[3] == 0.0
    with _branch_free():
        vg = v.clone().requires_grad_()
        d = H.tangent_distance(vg, w)
        d.sum().backward()
        assert torch.allclose(d.detach(), ref, rtol=1e-14, atol=0)  # equal to rounding
        assert torch.isfinite(vg.grad).all()
        x, y = H.lorentz_expmap0(v[1:]), H.lorentz_expmap0(w[1:])
        assert torch.allclose(H.lorentz_distance(x, y), ref[1:], rtol=1e-12, atol=1e-12)
        assert syncs_per_call(lambda: H.tangent_distance(v, w)) == 1
        assert syncs_per_call(lambda: H.lorentz_distance(x, y)) == 1
        with validation(False):
            assert syncs_per_call(lambda: H.tangent_distance(v, w)) == 0
            assert syncs_per_call(lambda: H.lorentz_distance(x, y)) == 0
        bad = w.clone()
        bad[1, 1] = float("nan")
        with pytest.raises(ValueError, match="^w contains NaN"):
            H.tangent_distance(v, bad)
        with pytest.raises(ValueError, match="y is not on the hyperboloid"):
            H.lorentz_distance(x, y * 1.5)


def test_branch_free_tangent_core_compiled_meets_the_contract():
    """torch.compile of the branch-free core (Inductor's C++ backend here; Triton on CUDA) meets the float32
    contract against mpmath on common rays, nearby, nearly radial and identical pairs (exact zeros), and equals
    the eager core beyond the direct radius (where the mpmath reference runs out of digits). Compiling takes
    20 s to 2 minutes on two cores: one test, one compile."""
    from suite.hyperbolic import _geometry as geo
    g = torch.Generator().manual_seed(7)
    v = 20 * torch.randn(40, 8, generator=g)
    w = torch.cat([v[:8] * 1.5, v[8:16] + 1e-3, v[16:24] * 0.7 + 1e-6 * torch.randn(8, 8, generator=g),
                   v[24:28], 40 * v[28:32], 20 * torch.randn(8, 8, generator=g)])
    out, _ = torch.compile(geo._fused_tangent, dynamic=True)(v, w, 1.0)
    for i in [*range(28), *range(32, 40)]:
        ref = mp_tangent_distance(v[i], w[i])
        assert abs(float(out[i]) - ref) <= 1e-5 * ref + 1e-30, (i, float(out[i]), ref)
    assert (out[24:28] == 0).all()
    assert torch.allclose(out[28:32], geo._fused_tangent(v[28:32], w[28:32], 1.0)[0], rtol=1e-12, atol=0)


def test_distances_read_the_device_once_per_call_on_the_default_path():
    """The refinement decision, the far-radius decision and the validation flags share one host read."""
    from suite.checks import validation
    from tests.syncs import syncs_per_call
    g = torch.Generator().manual_seed(8)
    v, w = torch.randn(6, 5, generator=g), torch.randn(4, 5, generator=g)
    x, y = H.lorentz_expmap0(v), H.lorentz_expmap0(w)
    for f in (lambda: H.tangent_distance(v[:4], w), lambda: H.lorentz_distance(x[:4], y),
              lambda: H.tangent_cdist(v, w), lambda: H.lorentz_cdist(x, y)):
        assert syncs_per_call(f) == 1
        with validation(False):
            assert syncs_per_call(f) == 1
    with pytest.raises(ValueError, match="y is not on the hyperboloid"):
        H.lorentz_cdist(x, y * 2)
    with pytest.raises(ValueError, match="^v contains NaN"):
        H.tangent_cdist(torch.where(v > 1, torch.nan, v), w)


@pytest.mark.parametrize("dtype", DTYPES)
def test_branch_free_path_at_other_curvatures_equals_the_default_path(dtype):
    """k != 1: the branch-free path works on the unscaled rows and scales the radii (the angle does not
    depend on k); the default path scales the rows first. Rays, nearby and generic pairs agree."""
    g = torch.Generator().manual_seed(9)
    v = (4 * torch.randn(30, 6, generator=g, dtype=torch.float64)).to(dtype)
    w = torch.cat([v[:10] * 1.25, v[10:20] + 1e-4, 4 * torch.randn(10, 6, generator=g, dtype=torch.float64).to(dtype)])
    for k in (0.3, 2.5):
        ref_t = H.tangent_distance(v, w, k)
        x, y = H.lorentz_expmap0(v, k), H.lorentz_expmap0(w, k)
        ref_l = H.lorentz_distance(x, y, k)
        with _branch_free():
            assert torch.allclose(H.tangent_distance(v, w, k), ref_t, rtol=1e-6 if dtype == torch.float32 else 1e-12)
            assert torch.allclose(H.lorentz_distance(x, y, k), ref_l, rtol=1e-5 if dtype == torch.float32 else 1e-10)
