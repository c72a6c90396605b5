"""Property tests of the holographic domain: fixed ops vs the O(d^2) definition (float64 oracle), algebraic
laws, the projection's guarantees, GHRR, the circulant layer, bad input, and the naive ops' failures where
the failure is the claim (NaN, lost energy, errors >= 10x)."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from baselines import holographic as nv
from suite import holographic as hg
from suite.checks import validation
from tests.syncs import syncs_per_call

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 2e-5, torch.float64: 1e-12}

dims = st.integers(min_value=1, max_value=70)  # odd and even, including d = 1, 2
batches = st.lists(st.integers(min_value=1, max_value=3), min_size=0, max_size=2).map(tuple)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
dtypes = st.sampled_from(DTYPES)
scales = st.sampled_from([1.0, 1e-3, 1e3])


def gauss(shape, seed, dtype=torch.float64, device="cpu", scale=1.0):
    g = torch.Generator().manual_seed(seed)
    d = shape[-1]
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * (scale / math.sqrt(d))).to(dtype).to(device)


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-300)).item()


def spectrum_mod(x):
    return torch.fft.rfft(x.double()).abs()


# ------------------------------------------------------------------------------------------- bind
@given(d=dims, batch=batches, seed=seeds, dtype=dtypes)
def test_bind_equals_direct_definition(d, batch, seed, dtype):
    x = gauss(batch + (d,), seed, dtype)
    y = gauss((d,), seed + 1, dtype)  # broadcast over the batch
    ref = nv.circular_conv_direct(x.double(), y.double())
    out = hg.bind(x, y)
    assert out.dtype == dtype and out.shape == ref.shape
    assert rel(out, ref) < TOL[dtype] * 10


@given(d=dims, seed=seeds, dtype=dtypes)
def test_bind_commutative_associative_identity(d, seed, dtype):
    x, y, w = (gauss((2, d), seed + i, dtype) for i in range(3))
    tol = TOL[dtype] * 10
    assert rel(hg.bind(x, y), hg.bind(y, x)) < tol
    assert rel(hg.bind(hg.bind(x, y), w), hg.bind(x, hg.bind(y, w))) < tol
    e0 = torch.zeros(d, dtype=dtype)
    e0[0] = 1
    assert rel(hg.bind(x, e0), x) < tol


@given(d=dims, batch=batches, seed=seeds, dtype=dtypes)
def test_unbind_is_correlation(d, batch, seed, dtype):
    z = gauss(batch + (d,), seed, dtype)
    y = gauss(batch + (d,), seed + 1, dtype)
    assert rel(hg.unbind(z, y), nv.circular_conv_direct(z.double(), hg.involution(y).double())) < TOL[dtype] * 10
    assert torch.equal(hg.involution(hg.involution(y)), y)


def test_bind_matches_torchhd_formula(device):
    x, y = gauss((4, 257), 0, torch.float32, device), gauss((4, 257), 1, torch.float32, device)
    out = hg.bind(x, y)
    assert out.device.type == device
    assert rel(out.cpu(), nv.bind_fft(x, y).cpu()) < 1e-5


# ------------------------------------------------------------------------------------------- projection
@given(d=dims, batch=batches, seed=seeds, dtype=dtypes, scale=scales)
def test_projection_unit_spectrum_norm_idempotent(d, batch, seed, dtype, scale):
    x = gauss(batch + (d,), seed, dtype, scale=scale)
    p = hg.project(x)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert p.dtype == dtype and p.shape == x.shape
    assert (spectrum_mod(p) - 1).abs().max().item() < tol
    assert (p.double().norm(dim=-1) - 1).abs().max().item() < tol
    assert rel(hg.project(p), p) < tol * 10


@given(d=dims, seed=seeds, dtype=dtypes)
def test_projected_key_unbinds_exactly_and_preserves_norm(d, seed, dtype):
    a, b = gauss((3, d), seed, dtype), gauss((3, d), seed + 1, dtype)
    pa = hg.project(a)
    z = hg.bind(pa, b)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert rel(hg.unbind(z, pa), b) < tol * 10
    assert ((z.double().norm(dim=-1) / b.double().norm(dim=-1)) - 1).abs().max().item() < tol * 10
    e0 = torch.zeros(d, dtype=torch.float64)
    e0[0] = 1
    assert (hg.bind(pa, hg.involution(pa)).double() - e0).abs().max().item() < tol * 10


@given(d=st.integers(2, 70), seed=seeds, dtype=dtypes)
def test_projection_of_zero_mean_and_zero_input_is_finite_and_unit(d, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    v = torch.randint(-3, 4, (2, d), generator=g).to(dtype)
    x = torch.stack([v[0] - v[0].roll(1), torch.zeros(d, dtype=dtype)])  # exact zero DC; all-zero vector
    p = hg.project(x)
    assert torch.isfinite(p).all()
    assert (spectrum_mod(p) - 1).abs().max().item() < 1e-5
    assert torch.isfinite(hg.phasor_bind(x, v)).all()
    assert (spectrum_mod(hg.phasor_bind(x, v)) - 1).abs().max().item() < 1e-5


@given(d=dims, batch=batches, seed=seeds, dtype=dtypes)
def test_phasor_bind_equals_unfused_definition(d, batch, seed, dtype):
    x, y = gauss(batch + (d,), seed, dtype), gauss((d,), seed + 1, dtype)
    ref = hg.bind(hg.project(x.double()), hg.project(y.double()))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert rel(hg.phasor_bind(x, y), ref) < tol * 10
    assert rel(hg.phasor_bind(x, hg.phasor_key(y)), ref) < tol * 10


extreme_scales = st.integers(min_value=-20, max_value=20).map(lambda e: 10.0 ** e)


@given(d=dims, batch=batches, seed=seeds, dtype=dtypes, sx=extreme_scales, sy=extreme_scales)
def test_phasor_bind_and_project_at_extreme_scales(d, batch, seed, dtype, sx, sy):
    # 1e-20..1e20: the raw spectrum product X * Y overflows (float32) or turns subnormal, where sgn gives NaN
    x, y = gauss(batch + (d,), seed, dtype, scale=sx), gauss((d,), seed + 1, dtype, scale=sy)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for v in (x, y):
        p = hg.project(v)
        assert torch.isfinite(p).all()
        assert (spectrum_mod(p) - 1).abs().max().item() < tol
    ref = hg.bind(hg.project(x.double()), hg.project(y.double()))
    for out in (hg.phasor_bind(x, y), hg.phasor_bind(x, hg.phasor_key(y)),
                hg.phasor_bind(x.clone().requires_grad_(True), y).detach()):  # fast, keyed and autograd paths
        assert out.dtype == dtype and torch.isfinite(out).all()
        assert rel(out, ref) < tol * 10


def test_phasor_bind_zero_bins_follow_the_projection_convention():
    # x has zero DC and a zero bin 2; the fused form must still equal bind(project(x), project(y)).
    x = torch.tensor([1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0, 0.0], dtype=torch.float64)
    y = gauss((8,), 3)
    assert rel(hg.phasor_bind(x, y), hg.bind(hg.project(x), hg.project(y))) < 1e-12


def test_phasor_ops_follow_device(device):
    x, y = gauss((3, 64), 0, torch.float32, device), gauss((3, 64), 1, torch.float32, device)
    out = hg.phasor_bind(x, y)
    assert out.device.type == device and out.dtype == torch.float32
    assert rel(out.cpu(), hg.bind(hg.project(x), hg.project(y)).cpu()) < 1e-5


def test_gradients_finite_at_zero_bins():
    x = torch.tensor([[1.0, -1.0, 2.0, -2.0, 0.0], [0.0] * 5], dtype=torch.float64, requires_grad=True)
    y = gauss((2, 5), 0).requires_grad_(True)
    (hg.phasor_bind(x, y) * gauss((2, 5), 1)).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    x2 = x.detach().clone().requires_grad_(True)
    hg.project(x2).pow(2).sum().backward()
    assert torch.isfinite(x2.grad).all()


def test_gradcheck_bind_unbind_project_phasor():
    x, y = gauss((2, 7), 0).requires_grad_(True), gauss((2, 7), 1).requires_grad_(True)
    for f in (hg.bind, hg.unbind, hg.phasor_bind, lambda a, b: hg.project(a) * b):
        assert torch.autograd.gradcheck(f, (x, y))


# ------------------------------------------------------------------------------------------- recovery
def test_single_pair_recovery_naive_one_over_sqrt2_fixed_one():
    d, n = 1024, 64
    a, b = gauss((n, d), 10, torch.float32), gauss((n, d), 11, torch.float32)
    naive = torch.nn.functional.cosine_similarity(hg.unbind(nv.bind_fft(a, b), a), b, dim=-1).mean().item()
    pa = hg.project(a)
    fixed = torch.nn.functional.cosine_similarity(hg.unbind(hg.bind(pa, b), pa), b, dim=-1).mean().item()
    assert abs(naive - 1 / math.sqrt(2)) < 0.03
    assert fixed > 1 - 1e-5


def test_naive_projection_fails_on_zero_mean_input():
    x = torch.tensor([[3.0, -1.0, 2.0, -4.0, 0.0, 1.0, -1.0]])  # exact zero DC bin
    assert torch.isnan(nv.project_fft_no_guard(x)).all()  # one 0/0 bin poisons every output sample
    assert nv.project_fft(x).norm().item() == 0.0  # nan_to_num turns the whole vector into zeros
    assert abs(hg.project(x).norm().item() - 1) < 1e-6
    snip = nv.project_snippet(x)
    assert (spectrum_mod(snip)[..., 0]).item() < 1e-6  # the eps snippet leaves the zero bin at 0
    assert abs(spectrum_mod(hg.project(x))[..., 0].item() - 1) < 1e-6


def test_irfft_without_n_drops_a_sample_on_odd_d():
    x = gauss((2, 9), 0, torch.float32)
    assert nv.project_irfft_no_n(x).shape[-1] == 8
    assert hg.project(x).shape[-1] == 9


def test_frequency_domain_phases_lose_half_the_energy():
    g = torch.Generator().manual_seed(0)
    naive = nv.random_phasor_fft(2000, d=256, generator=g)
    assert abs(naive.pow(2).sum(-1).mean().item() - 0.5) < 0.02
    fixed = hg.random_phasor(2000, d=256, generator=g)
    assert (fixed.norm(dim=-1) - 1).abs().max().item() < 1e-5


def test_exact_inverse_fails_under_superposition():
    # k = 4 key/filler pairs superposed at d = 256; clean up against a codebook of 500 fillers.
    d, k, n, items = 256, 4, 64, 500
    codebook = gauss((items, d), 21, torch.float64)
    keys = gauss((n, k, d), 20, torch.float64)
    which = torch.randint(0, items, (n, k), generator=torch.Generator().manual_seed(22))
    z = nv.bind_fft(keys, codebook[which]).sum(1)

    def accuracy(unbind):
        out = unbind(z, keys[:, 0])
        sims = torch.nn.functional.normalize(out, dim=-1) @ torch.nn.functional.normalize(codebook, dim=-1).T
        return (sims.argmax(-1) == which[:, 0]).double().mean().item()

    acc_exact, acc_corr = accuracy(nv.unbind_exact), accuracy(hg.unbind)
    assert acc_corr >= 0.95 and acc_exact <= acc_corr - 0.15
    # ... while for a single pair the exact inverse is exact (the reason people use it)
    single = nv.unbind_exact(nv.bind_fft(keys[:, 0], codebook[which[:, 0]]), keys[:, 0])
    assert rel(single, codebook[which[:, 0]]) < 1e-6


# ------------------------------------------------------------------------------------------- bad input
def test_bad_input_errors():
    x = torch.randn(4, 8)
    with pytest.raises(ValueError, match="last dimension"):
        hg.bind(x, torch.randn(4, 9))
    with pytest.raises(TypeError, match="real floating"):
        hg.bind(x, torch.ones(4, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="real floating"):
        hg.project(torch.randn(8, dtype=torch.complex64))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        hg.unbind(x, [1.0] * 8)
    with pytest.raises(ValueError, match="d // 2 \\+ 1"):
        hg.phasor_bind(x, hg.phasor_key(torch.randn(10)))
    with pytest.raises(ValueError, match="features"):
        hg.CirculantLinear(8)(torch.randn(2, 9))
    with pytest.raises(ValueError, match="diagonality"):
        hg.ghrr_random(D=4, m=2, diagonality=1.5)
    with pytest.raises(ValueError, match="trailing shape"):
        hg.ghrr_bind(hg.ghrr_random(D=4, m=2), hg.ghrr_random(D=4, m=3))
    with pytest.raises(TypeError, match="complex"):
        hg.ghrr_similarity(torch.randn(4, 2, 2), torch.randn(4, 2, 2))


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_is_upcast_and_returned_in_input_dtype(half):
    x, y = gauss((3, 33), 0, half), gauss((3, 33), 1, half)
    for f in (hg.bind, hg.unbind, hg.phasor_bind):
        out = f(x, y)
        assert out.dtype == half
        assert rel(out, f(x.float(), y.float())) < 1e-2
    assert hg.project(x).dtype == half


@given(d=dims, seed=seeds, dtype=dtypes, scale=st.sampled_from([0.0, 1e-30, 1e-6, 1.0, 1e6]))
def test_fixed_ops_never_return_nan_on_finite_input(d, seed, dtype, scale):
    x, y = gauss((2, d), seed, dtype, scale=scale), gauss((2, d), seed + 1, dtype)
    for out in (hg.bind(x, y), hg.unbind(x, y), hg.project(x), hg.phasor_bind(x, y), hg.phasor_bind(y, x)):
        assert torch.isfinite(out).all()


# ------------------------------------------------------------------------------------------- GHRR
@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("diagonality", [0.0, 0.5, 1.0])
def test_ghrr_exact_unbinding_and_unitarity(m, diagonality):
    g = torch.Generator().manual_seed(m)
    a = hg.ghrr_random(2, D=64, m=m, diagonality=diagonality, generator=g, dtype=torch.complex128)
    b = hg.ghrr_random(2, D=64, m=m, diagonality=diagonality, generator=g, dtype=torch.complex128)
    eye = torch.eye(m, dtype=a.dtype)
    assert (a @ a.conj().transpose(-2, -1) - eye).abs().max().item() < 1e-12
    assert (hg.ghrr_unbind(hg.ghrr_bind(a, b), b) - a).abs().max().item() < 1e-12
    assert torch.allclose(hg.ghrr_similarity(a, a), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_ghrr_non_commutativity_is_one_over_m_squared(m):
    g = torch.Generator().manual_seed(100 + m)
    a, b = (hg.ghrr_random(D=2000, m=m, generator=g) for _ in range(2))
    delta = hg.ghrr_similarity(hg.ghrr_bind(a, b), hg.ghrr_bind(b, a)).item()
    assert abs(delta - 1 / m**2) < 0.04  # std of the mean over 2000 slots is ~0.01


def test_ghrr_diagonality_controls_commutativity():
    g = torch.Generator().manual_seed(7)
    deltas = []
    for dg in (0.0, 0.5, 0.9, 1.0):
        a, b = (hg.ghrr_random(D=1000, m=3, diagonality=dg, generator=g) for _ in range(2))
        deltas.append(hg.ghrr_similarity(hg.ghrr_bind(a, b), hg.ghrr_bind(b, a)).item())
    assert deltas == sorted(deltas) and deltas[-1] > 1 - 1e-5 and deltas[0] < 0.2
    # m = 1 is FHRR: commutative
    a, b = (hg.ghrr_random(D=100, m=1, generator=g) for _ in range(2))
    assert hg.ghrr_similarity(hg.ghrr_bind(a, b), hg.ghrr_bind(b, a)).item() > 1 - 1e-5


# ------------------------------------------------------------------------------------------- circulant layer
@given(d=st.integers(1, 48), batch=batches, seed=seeds, dtype=dtypes, bias=st.booleans(), unitary=st.booleans())
def test_circulant_linear_equals_dense_circulant_matmul(d, batch, seed, dtype, bias, unitary):
    torch.manual_seed(seed)
    layer = hg.CirculantLinear(d, bias=bias, unitary=unitary, dtype=dtype)
    assert sum(p.numel() for p in layer.parameters()) == d * (2 if bias else 1)
    x = gauss(batch + (d,), seed, dtype)
    ref = x.double() @ hg.circulant_matrix(layer.kernel().double()).T
    if bias:
        ref = ref + layer.bias.double()
    out = layer(x)
    assert out.dtype == dtype
    assert rel(out, ref) < TOL[dtype] * 10
    k = layer.kernel().detach()
    assert rel(nv.circulant_dense(x, k), nv.circular_conv_direct(x.double(), k.double())) < TOL[dtype] * 10


def test_circulant_linear_gradcheck_float64():
    layer = hg.CirculantLinear(9, dtype=torch.float64)
    x = gauss((3, 9), 0).requires_grad_(True)
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True)

    def f(x, w, b):
        return hg.bind(x, w) + b

    assert torch.autograd.gradcheck(f, (x, w, b))
    u = hg.CirculantLinear(8, unitary=True, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: u(x), (gauss((2, 8), 1).requires_grad_(True),))


def test_circulant_linear_init_preserves_norms_through_depth():
    torch.manual_seed(0)
    layers = torch.nn.Sequential(*[hg.CirculantLinear(128, bias=False) for _ in range(16)])
    x = gauss((4, 128), 0, torch.float32)
    assert ((layers(x).norm(dim=-1) / x.norm(dim=-1)) - 1).abs().max().item() < 1e-4


def test_cached_key_is_not_mutated_and_broadcasting_both_ways():
    x, y = gauss((16,), 0, torch.float32), gauss((5, 16), 1, torch.float32)
    key = hg.phasor_key(y)
    before = key.clone()
    out = hg.phasor_bind(x, key)  # x broadcasts against a larger key: the key must not be used as scratch
    assert torch.equal(key, before)
    assert rel(out, hg.bind(hg.project(x), hg.project(y))) < 1e-5
    z = gauss((16,), 2, torch.float32)
    assert rel(hg.unbind(z, y), nv.circular_conv_direct(z.double(), hg.involution(y).double())) < 1e-5
    assert rel(hg.bind(z, y), nv.circular_conv_direct(z.double(), y.double())) < 1e-5


@pytest.mark.parametrize("d", [8, 1001, 140_000])  # the last one checks the float64-accumulated zero-bin test
def test_phasor_bind_detects_a_single_zero_bin(d):
    g = torch.Generator().manual_seed(d)
    v = torch.randint(-3, 4, (2, d), generator=g).double()
    x = v[0] - v[0].roll(1)  # exactly one structural zero: the DC bin
    y = gauss((d,), d)
    for dtype in DTYPES:
        out = hg.phasor_bind(x.to(dtype), y.to(dtype))
        ref = hg.bind(hg.project(x), hg.project(y))
        assert rel(out, ref) < (1e-4 if dtype == torch.float32 else 1e-10)
        assert abs(torch.fft.rfft(out.double())[0].abs().item() - 1) < 1e-4


# ------------------------------------------------------------------------------------------- whole float range
# Exponent ranges that reach the smallest subnormal and the largest finite number: x = m * 2**e with a mantissa
# m of at most 20 significant bits, so that x is exact even as a subnormal; the projection is scale-invariant,
# so the oracle is the float64 projection of m itself.
EXP_RANGE = {torch.float32: (-129, 128), torch.float64: (-1054, 1024)}


def _full_range(shape, seed, dtype, e):
    g = torch.Generator().manual_seed(seed)
    m = torch.randint(-(2 ** 20), 2 ** 20, shape, generator=g, dtype=torch.int64).double() * 2.0 ** -20
    x = (m * 2.0 ** (e // 2) * 2.0 ** (e - e // 2)).to(dtype) if dtype == torch.float64 else \
        (m * 2.0 ** e).to(dtype)
    assert torch.equal(x.double() * 2.0 ** -(e // 2) * 2.0 ** -(e - e // 2), m)  # exact, subnormals included
    return x, m


@given(d=st.integers(1, 40), batch=batches, seed=seeds, dtype=dtypes, data=st.data())
def test_project_and_phasor_bind_over_the_whole_float_range(d, batch, seed, dtype, data):
    lo, hi = EXP_RANGE[dtype]
    ex, ey = (data.draw(st.integers(lo, hi), label=n) for n in ("ex", "ey"))
    x, mx = _full_range(batch + (d,), seed, dtype, ex)
    y, my = _full_range((d,), seed + 1, dtype, ey)
    if (mx == 0).all(-1).any() or (my == 0).all(-1).any():
        return  # all-zero rows have their own test
    tol = 1e-4 if dtype == torch.float32 else 1e-11
    ref_x, ref_y = hg.project(mx), hg.project(my)
    assert torch.isfinite(hg.project(x)).all()
    assert rel(hg.project(x), ref_x) < tol
    ref = hg.bind(ref_x, ref_y)
    for out in (hg.phasor_bind(x, y), hg.phasor_bind(x, hg.phasor_key(y)),
                hg.phasor_bind(x.clone().requires_grad_(True), y).detach()):  # fused, keyed, autograd paths
        assert out.dtype == dtype and torch.isfinite(out).all()
        assert rel(out, ref) < tol


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_scale_examples_that_gave_nan(dtype):
    fi = torch.finfo(dtype)
    sub = fi.tiny * fi.eps  # the smallest subnormal
    g = torch.Generator().manual_seed(5)
    v = torch.randn(3, 16, generator=g, dtype=torch.float64)
    for x in (torch.full((16,), sub, dtype=dtype), (v * 1e-40).to(dtype), (v / v.abs().max() * fi.max / 32).to(dtype),
              torch.tensor([sub, 0.0, -sub, 0.0, 2 * sub], dtype=dtype)):
        p = hg.project(x)
        assert torch.isfinite(p).all() and (spectrum_mod(p) - 1).abs().max().item() < 1e-5
        assert rel(hg.phasor_bind(x, x), hg.bind(p, p)) < 1e-5


@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_bin_after_exact_cancellation_is_phase_zero(dtype):
    # 1 and -1 cancel exactly in the DC bin, leaving a subnormal 2**-140 (float32) / 2**-1060 (float64) there:
    # its exact phase is 0 (a positive real), and torch.sgn of a subnormal complex can return inf + nan j.
    sub = 2.0 ** (-140 if dtype == torch.float32 else -1060)
    for d in (5, 11, 64):
        x = torch.zeros(d, dtype=dtype)
        x[0], x[d - 1], x[d // 2] = 1.0, -1.0, sub
        p = hg.project(x)
        assert torch.isfinite(p).all() and (spectrum_mod(p) - 1).abs().max().item() < 1e-5
        assert torch.fft.rfft(p.double())[0].real.item() > 0.999
        assert torch.isfinite(hg.phasor_bind(x, x)).all()


# ------------------------------------------------------------------------------------------- Haar slots
def _trace_moments(q):
    t = torch.diagonal(q, dim1=-2, dim2=-1).sum(-1)
    t2 = torch.diagonal(q @ q, dim1=-2, dim2=-1).sum(-1)
    return t.mean().abs().item(), t.abs().pow(2).mean().item(), t2.abs().pow(2).mean().item()


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_ghrr_slots_are_haar_distributed(m):
    # Haar measure on U(m) (Diaconis & Shahshahani 1994): E tr Q = 0, E |tr Q|^2 = 1, E |tr Q^2|^2 = min(2, m).
    # 20000 draws: the standard error of each mean is below 0.01, so 0.06 is > 6 sigma; QR without the phase
    # fix of diag(R) gives |E tr Q| ~ 0.6-1.1 and E |tr Q|^2 ~ 1.3-1.9 for m >= 2.
    n = 20000
    g = torch.Generator().manual_seed(40 + m)
    for q in (hg._haar_unitary(n, m, g),
              hg.ghrr_random(n, D=1, m=m, generator=g, dtype=torch.complex128).reshape(n, m, m)):
        mean_tr, tr2, trq2 = _trace_moments(q)
        assert mean_tr < 0.06 and abs(tr2 - 1) < 0.06 and abs(trq2 - min(2, m)) / min(2, m) < 0.06


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("d", [7, 16])
def test_unitary_circulant_stays_orthogonal_after_optimiser_steps(opt, d):
    # Claim X1: unitary=True keeps the layer orthogonal during training, not only at initialisation.
    torch.manual_seed(d)
    layer = hg.CirculantLinear(d, unitary=True, dtype=torch.float64)
    plain = hg.CirculantLinear(d, unitary=False, dtype=torch.float64)
    x, target = gauss((32, d), 1), gauss((32, d), 2) * 5  # a target no orthogonal map reaches: weights move
    for net in (layer, plain):
        o = (torch.optim.SGD(net.parameters(), lr=2.0) if opt == "sgd" else
             torch.optim.Adam(net.parameters(), lr=0.05))
        w0 = net.weight.detach().clone()
        for _ in range(20):
            o.zero_grad()
            (net(x) - target).pow(2).mean().backward()
            o.step()
        assert (net.weight.detach() - w0).abs().max().item() > 1e-2  # training did move the raw weight
    assert (spectrum_mod(layer.kernel().detach()) - 1).abs().max().item() < 1e-12
    with torch.no_grad():
        ratio = (layer(x) - layer.bias).norm(dim=-1) / x.norm(dim=-1)
        assert (ratio - 1).abs().max().item() < 1e-12
        assert torch.allclose(layer(x), x @ hg.circulant_matrix(layer.kernel()).T + layer.bias)
        # the unconstrained layer has left the orthogonal group: the test's premise
        assert (spectrum_mod(plain.kernel()) - 1).abs().max().item() > 1e-2


# ------------------------------------------------------------------------------------------- circulant autograd + cache
def _dense_reference(layer, x):
    """y = x C(k)^T + b with the dense circulant of the layer's kernel: the autograd reference."""
    y = x @ hg.circulant_matrix(layer.kernel()).T
    return y + layer.bias if layer.bias is not None else y


@given(d=st.integers(1, 24), batch=st.sampled_from([(3,), (2, 2), (1,)]), seed=seeds, bias=st.booleans(),
       unitary=st.booleans())
def test_circulant_gradients_equal_the_dense_circulant(d, batch, seed, bias, unitary):
    torch.manual_seed(seed)
    layer = hg.CirculantLinear(d, bias=bias, unitary=unitary, dtype=torch.float64)
    x = gauss(batch + (d,), seed).requires_grad_(True)
    g = gauss(batch + (d,), seed + 1)
    params = [x] + list(layer.parameters())
    grads = torch.autograd.grad((layer(x) * g).sum(), params)
    ref = torch.autograd.grad((_dense_reference(layer, x) * g).sum(), params)
    for a, r in zip(grads, ref):
        assert rel(a, r) < 1e-12
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True) if bias else None
    inputs = (x, w) + ((b,) if bias else ())
    assert torch.autograd.gradcheck(lambda *t: hg.circulant_linear(*t), inputs)


def test_circulant_cache_is_reused_and_invalidated_by_every_kind_of_write():
    torch.manual_seed(0)
    layer = hg.CirculantLinear(16, dtype=torch.float64)
    x = gauss((4, 16), 0)

    def check():
        assert rel(layer(x), _dense_reference(layer, x).detach()) < 1e-12

    check()
    W = layer._spectra_cache[1]
    layer(x)
    assert layer._spectra_cache[1] is W  # unchanged parameters: the spectrum is not recomputed
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        layer(x).pow(2).sum().backward()
        opt.step()
        check()  # optimiser steps write in place: the version counter moves, the cache follows
    with torch.no_grad():
        layer.bias.add_(1.0)
    check()
    with torch.no_grad():
        layer.weight.copy_(gauss((16,), 5))
    check()
    layer.load_state_dict({"weight": gauss((16,), 6), "bias": gauss((16,), 7)})
    check()
    layer.float()
    assert layer(x.float()).dtype == torch.float32
    assert rel(layer(x.float()), _dense_reference(layer, x.float()).detach()) < 1e-5


def test_circulant_double_backward_raises_clearly():
    layer = hg.CirculantLinear(8, dtype=torch.float64)
    x = gauss((2, 8), 0).requires_grad_(True)
    (gx,) = torch.autograd.grad(layer(x).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|twice"):
        gx.sum().backward()


def test_circulant_bias_folded_into_the_spectrum_is_the_per_feature_bias():
    # the bias is a vector per feature, not a constant: it is rfft(b) in every bin, not an offset of the DC bin
    x, w, b = gauss((5, 12), 0), gauss((12,), 1), torch.arange(12, dtype=torch.float64)
    assert rel(hg.circulant_linear(x, w, b), nv.circular_conv_direct(x, w) + b) < 1e-13


@pytest.mark.parametrize("dtype", DTYPES)
def test_phasor_bind_where_every_spectrum_product_is_subnormal(dtype):
    # each factor is of a size a float holds well (2**-64..2**-70 in float32, 2**-520..2**-535 in float64), but
    # the products X_k Y_k land in the subnormal range. There torch.sgn keeps the modulus near 1 with a phase
    # rounded to a few bits (errors up to 6e-3; the energy check cannot see them) or returns NaN: the fused
    # shortcut must not be taken. Bin counts that fill the vector lanes and ones that do not.
    exps = range(64, 71) if dtype == torch.float32 else range(520, 536)
    for shape in ((16, 62), (64, 126), (8, 1000)):
        x, y = gauss(shape, 0), gauss(shape, 1)
        ref = hg.bind(hg.project(x), hg.project(y))
        for e in exps:
            out = hg.phasor_bind((x * 2.0 ** -e).to(dtype), (y * 2.0 ** -e).to(dtype))
            assert rel(out, ref) < (1e-5 if dtype == torch.float32 else 1e-12), e


# ------------------------------------------------------------------------------------------- device syncs
def test_bind_and_unbind_cost_one_sync_validating_and_none_without():
    """Both inputs' finiteness is read off the product's DC bins in one host read; none with validation off.
    A NaN or Inf in either argument is still reported under that argument's name."""
    x, y = gauss((3, 2, 16), 1, torch.float32), gauss((2, 16), 2, torch.float32)
    for op in (hg.bind, hg.unbind):
        assert syncs_per_call(lambda: op(x, y)) == 1
        with validation(False):
            assert syncs_per_call(lambda: op(x, y)) == 0
        for bad, arg in ((float("nan"), 0), (float("inf"), 1), (-float("inf"), 1)):
            args = [x.clone(), y.clone()]
            args[arg][..., 0, 3] = bad
            with pytest.raises(ValueError, match=f"^{'xz'[op is hg.unbind] if arg == 0 else 'y'} contains NaN"):
                op(*args)
    # finite input whose DC sums overflow is not bad input
    big = torch.full((2, 16), 3e38)
    assert hg.bind(big, big).shape == (2, 16)


def test_phasor_bind_and_project_cost_one_sync_and_keep_the_error_names():
    """The guard (row-norm ranges of x and y, smallest unit energy of the product, a key's modulus range while
    validating) is fetched in one host read, with or without validation."""
    x, y = gauss((4, 32), 3, torch.float32), gauss((4, 32), 4, torch.float32)
    key = hg.phasor_key(y)
    for f in (lambda: hg.phasor_bind(x, y), lambda: hg.phasor_bind(x, key), lambda: hg.project(x)):
        assert syncs_per_call(f) == 1
        with validation(False):
            assert syncs_per_call(f) == 1
    bad = y.clone()
    bad[2, 5] = float("inf")
    with pytest.raises(ValueError, match="^y contains NaN or Inf"):
        hg.phasor_bind(x, bad)
    with pytest.raises(ValueError, match="unit spectrum"):
        hg.phasor_bind(x, key * 1.1)
    with pytest.raises(ValueError, match="unit spectrum"):
        hg.phasor_bind(x, torch.where(torch.arange(17) == 3, torch.nan, key))


@pytest.mark.parametrize("dtype", DTYPES)
def test_phasor_bind_at_the_edges_of_the_norm_guard(dtype):
    """Rows whose norm puts them just inside or outside the ordinary range (a lone spike, a flat row) give the
    unfused definition on both paths."""
    fi = torch.finfo(dtype)
    d = 64
    y = gauss((d,), 5, dtype)
    for v in (fi.tiny ** 0.25, 2 * math.sqrt(d) * fi.tiny ** 0.25, fi.max ** 0.25 / 2, fi.max ** 0.25):
        for x in (torch.zeros(d, dtype=dtype).index_fill(0, torch.tensor([7]), v),
                  torch.full((d,), v / math.sqrt(d), dtype=dtype) + gauss((d,), 6, dtype) * (v / d)):
            ref = hg.bind(hg.project(x.double()), hg.project(y.double()))
            assert rel(hg.phasor_bind(x, y), ref) < TOL[dtype] * 10
