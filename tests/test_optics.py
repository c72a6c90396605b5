"""Property tests for diffractive optics: suite.optics (fixed) vs baselines.optics (naive, report snippet).

Grids stay small (N <= 64) so the whole file runs in well under a minute on 2 cores.
"""

import math
import warnings

import pytest
import torch
from hypothesis import given, strategies as st

from baselines import optics as B
from suite import optics as O
from suite.checks import relative_error

LAM = 0.5e-6
K = 2 * math.pi / LAM

pytestmark = pytest.mark.filterwarnings("ignore::suite.optics.OpticsValidityWarning")


def _rand_field(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def _cdt(real):
    return torch.complex64 if real == torch.float32 else torch.complex128


def _tol(dtype):
    return 2e-5 if dtype in (torch.float32, torch.complex64) else 1e-11


sizes = st.integers(min_value=5, max_value=24)
dx_over_lam = st.sampled_from([0.3, 0.5, 0.8, 1.0, 2.0, 4.0])
z_over_zc = st.floats(min_value=-8.0, max_value=8.0, allow_nan=False)
pads = st.sampled_from([1, 1.5, 2])
reals = st.sampled_from([torch.float32, torch.float64])


def _z(n, dx, zr):
    """A distance as a multiple of the 2x-padded critical distance (or of N dx when z_c is 0)."""
    zc = O.critical_distance(n, dx, LAM, 2) or n * dx
    return zr * zc


# ------------------------------------------------------------------------------------------------ bad input

def test_bad_input_is_rejected():
    u = torch.ones(8, 8, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"u must be a field \[\.\.\., Ny, Nx\]"):
        O.asm(torch.ones(8, dtype=torch.complex64), 1e-6, LAM, 1e-3)
    with pytest.raises(ValueError, match="dx"):
        O.asm(u, 0.0, LAM, 1e-3)
    with pytest.raises(ValueError, match="wavelength"):
        O.asm(u, 1e-6, -LAM, 1e-3)
    with pytest.raises(ValueError, match="z"):
        O.asm(u, 1e-6, LAM, float("nan"))
    with pytest.raises(TypeError, match="complex"):
        O.asm(torch.ones(8, 8, dtype=torch.int64), 1e-6, LAM, 1e-3)
    with pytest.raises(ValueError, match="pad"):
        O.asm(u, 1e-6, LAM, 1e-3, pad=0.5)
    with pytest.raises(ValueError, match="square"):
        O.sas(torch.ones(8, 6, dtype=torch.complex64), 1e-6, LAM, 1e-2)
    with pytest.raises(ValueError, match="asm"):
        O.sas(u, 1e-6, LAM, -1e-2)
    with pytest.raises(ValueError, match="spatial shape"):
        O.Propagator((8, 8), 1e-6, LAM, 1e-3)(torch.ones(6, 6, dtype=torch.complex64))
    for f in (O.fresnel, O.fraunhofer):
        for bad in (0, -1, 1.5, 2.0, True, "2"):
            with pytest.raises(ValueError, match="pad"):
                f(u, 1e-6, LAM, 1e-2, pad=bad)
        assert f(u, 1e-6, LAM, 1e-2, pad=1)[0].shape == (8, 8)


def test_real_fields_are_promoted_as_documented():
    # references independent of the promotion: the exact propagation of a uniform real field (a plane wave:
    # u exp(ikz), pad=1 so the FFT convolution is circular) and, for float32, a complex128 run on the field
    z = 1e-5
    wave = complex(math.cos(math.fmod(K * z, 2 * math.pi)), math.sin(math.fmod(K * z, 2 * math.pi)))
    for real, cplx in ((torch.float32, torch.complex64), (torch.float64, torch.complex128)):
        u = _rand_field((6, 6), real, 0)
        out = O.asm(u, 1e-6, LAM, z)
        assert out.dtype == cplx
        if real == torch.float32:
            ref = O.asm(u.to(torch.complex128), 1e-6, LAM, z)
            assert relative_error(out.to(torch.complex128), ref) < 10 * _tol(real)
        flat = O.asm(torch.full((6, 6), 0.5, dtype=real), 1e-6, LAM, z, pad=1)
        assert flat.dtype == cplx
        assert relative_error(flat.to(torch.complex128), torch.full((6, 6), 0.5 * wave, dtype=torch.complex128)) \
            < 10 * _tol(real)


def test_out_of_range_distances_warn_and_name_the_right_method():
    u = torch.ones(16, 16, dtype=torch.complex64)
    dx = 1e-6
    zc = O.critical_distance(16, dx, LAM)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        O.asm(u, dx, LAM, zc)  # exact regime: silent
    with pytest.warns(O.OpticsValidityWarning, match="sas"):
        O.asm(u, dx, LAM, 50 * zc)
    with pytest.warns(O.OpticsValidityWarning, match="band_limit=True"):
        O.asm(u, dx, LAM, 2 * zc, band_limit=False)
    with pytest.warns(O.OpticsValidityWarning, match="asm"):
        O.sas(u, dx, LAM, 0.2 * zc)
    with pytest.warns(O.OpticsValidityWarning, match="fresnel"):
        O.sas(u, dx, LAM, 2 * O.sas_distance_limit(16, dx, LAM))



def _warns(fn) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return any(issubclass(w.category, O.OpticsValidityWarning) for w in caught)


@pytest.mark.parametrize("n", [12, 16])
def test_unbanded_asm_warns_exactly_where_its_sampling_aliases(n):
    # white noise lights every frequency (the worst case for aliasing); the reference is the band-limited ASM
    # on an 8x padded window (no light wraps into the output window). The unbanded transfer function is
    # judged against the band-limited one on the same window, which has the same padding error but no
    # aliasing: the warning must come where the unbanded one is much worse and stay away where it is not,
    # on both sides of dx = lambda/2 (below it z_c = 0 and the old rule never warned, at errors of 10-40x).
    u = _rand_field((n, n), torch.complex128, 18)
    big_error_below_half_wavelength = False
    for dxr in (0.25, 0.4, 0.5, 0.6, 1.0, 2.0):
        dx = dxr * LAM
        for zl in (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0):
            z = zl * LAM
            frac = O.asm_validity((n, n), dx, LAM, z)["aliased_fraction"]
            warned = _warns(lambda: O.asm(u, dx, LAM, z, band_limit=False))
            assert warned == (frac > O.MAX_ALIASED_FRACTION), (dxr, zl, frac)
            ref = O.asm(u, dx, LAM, z, pad=8)
            e_unbanded = relative_error(O.asm(u, dx, LAM, z, band_limit=False), ref)
            e_banded = relative_error(O.asm(u, dx, LAM, z), ref)
            if frac <= 0.1:
                assert not warned and e_unbanded <= 1.5 * e_banded, (dxr, zl, frac, e_unbanded, e_banded)
            if frac >= 0.5:
                assert warned and e_unbanded >= 2 * e_banded and e_unbanded > 0.5, (dxr, zl, frac, e_unbanded)
            big_error_below_half_wavelength |= dxr <= 0.5 and e_unbanded > 10 and warned
    assert big_error_below_half_wavelength


def test_aliased_fraction_is_zero_up_to_the_critical_distance_and_grows_beyond():
    n, dx = 16, 2 * LAM
    zc = O.critical_distance(n, dx, LAM)
    # the disc's corner bins are stricter than the axis (z_c uses v = 0): zero well inside z_c, monotone after
    fracs = [O.aliased_fraction((2 * n, 2 * n), dx, LAM, f * zc) for f in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)]
    assert fracs[0] == fracs[1] == 0.0
    assert all(a <= b for a, b in zip(fracs, fracs[1:])) and fracs[-1] > 0.9
    assert O.aliased_fraction((2 * n, 2 * n), dx, LAM, -4 * zc) == fracs[4]
    # a longer padded axis samples its chirp more finely: fewer aliased bins along it
    assert O.aliased_fraction((2 * n, 8 * n), dx, LAM, 4 * zc) < fracs[4]

# ------------------------------------------------------------------------------------------------ algebra

@given(n=sizes, m=sizes, dxr=dx_over_lam, zr=z_over_zc, pad=pads, real=reals)
def test_linearity(n, m, dxr, zr, pad, real):
    dx = dxr * LAM
    z = _z(max(n, m), dx, zr)
    cdt = _cdt(real)
    u, v = _rand_field((n, m), cdt, 1), _rand_field((n, m), cdt, 2)
    a, b = complex(0.3, -1.2), complex(-0.7, 0.4)
    lhs = O.asm(a * u + b * v, dx, LAM, z, pad=pad)
    rhs = a * O.asm(u, dx, LAM, z, pad=pad) + b * O.asm(v, dx, LAM, z, pad=pad)
    assert relative_error(lhs, rhs) < 10 * _tol(cdt)


@given(n=sizes, dxr=dx_over_lam, zr=z_over_zc, real=reals, s=st.integers(1, 4), t=st.integers(0, 3))
def test_shift_equivariance(n, dxr, zr, real, s, t):
    dx = dxr * LAM
    z = _z(n, dx, zr)
    cdt = _cdt(real)
    u = _rand_field((n, n), cdt, 3)
    # unpadded: circular shifts commute exactly with the circular convolution
    out = O.asm(torch.roll(u, (s, t), (-2, -1)), dx, LAM, z, pad=1)
    assert relative_error(out, torch.roll(O.asm(u, dx, LAM, z, pad=1), (s, t), (-2, -1))) < 10 * _tol(cdt)
    # padded: a field with an empty margin shifted inside the window shifts its output (linear convolution)
    if n - s >= 2:
        u = u.clone()
        u[..., n - s:, :] = 0
        sh = torch.roll(u, s, -2)
        out, ref = O.asm(sh, dx, LAM, z), O.asm(u, dx, LAM, z)
        assert relative_error(out[..., s:, :], ref[..., :n - s, :]) < 10 * _tol(cdt)


@given(n=sizes, m=sizes, dxr=dx_over_lam, zr=z_over_zc, pad=pads, real=reals)
def test_transpose_symmetry(n, m, dxr, zr, pad, real):
    dx = dxr * LAM
    z = _z(max(n, m), dx, zr)
    cdt = _cdt(real)
    u = _rand_field((2, n, m), cdt, 4)
    out = O.asm(u.mT, dx, LAM, z, pad=pad)
    assert relative_error(out, O.asm(u, dx, LAM, z, pad=pad).mT) < 10 * _tol(cdt)


def test_batch_dimensions_broadcast():
    u = _rand_field((2, 3, 10, 12), torch.complex64, 5)
    out = O.asm(u, 1e-6, LAM, 3e-5)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(out[i, j], O.asm(u[i, j], 1e-6, LAM, 3e-5))


# ------------------------------------------------------------------------------------------------ energy

@given(n=sizes, dxr=st.sampled_from([0.75, 1.0, 2.0, 4.0]), zr=z_over_zc, real=reals)
def test_energy_conserved_unpadded_propagating_only(n, dxr, zr, real):
    # dx >= lambda/sqrt(2): every grid frequency propagates, |H| = 1, Parseval conserves energy
    dx = dxr * LAM
    z = _z(n, dx, zr)
    cdt = _cdt(real)
    u = _rand_field((n, n), cdt, 6)
    out = O.asm(u, dx, LAM, z, pad=1, band_limit=False)
    e0, e1 = u.abs().square().sum().item(), out.abs().square().sum().item()
    assert abs(e1 - e0) / e0 < 10 * _tol(cdt)


@given(n=sizes, dxr=dx_over_lam, zr=z_over_zc, pad=pads, bl=st.booleans(), real=reals)
def test_energy_never_increases(n, dxr, zr, pad, bl, real):
    dx = dxr * LAM
    z = _z(n, dx, zr)
    cdt = _cdt(real)
    u = _rand_field((n, n), cdt, 7)
    out = O.asm(u, dx, LAM, z, pad=pad, band_limit=bl)
    assert out.abs().square().sum().item() <= u.abs().square().sum().item() * (1 + 10 * _tol(cdt))


@given(n=sizes, dxr=dx_over_lam, zr=z_over_zc, real=reals)
def test_round_trip_recovers_band_limited_input(n, dxr, zr, real):
    dx = dxr * LAM
    z = _z(n, dx, zr)
    cdt = _cdt(real)
    # keep only frequencies that propagate and pass the band limit at |z| (unpadded grid)
    fy = torch.fft.fftfreq(n, d=dx, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(n, d=dx, dtype=torch.float64)[None, :]
    ul = O.band_limit_frequency(n, dx, LAM, z)
    keep = (fx.abs() <= ul) & (fy.abs() <= ul) & (LAM ** 2 * (fx ** 2 + fy ** 2) <= 1)
    u = torch.fft.ifft2(torch.fft.fft2(_rand_field((n, n), torch.complex128, 8)) * keep).to(cdt)
    back = O.asm(O.asm(u, dx, LAM, z, pad=1), dx, LAM, -z, pad=1)
    assert relative_error(back, u) < 10 * _tol(cdt)


# ------------------------------------------------------------------------------------------------ band limit

@given(n=sizes, dxr=st.sampled_from([0.6, 1.0, 2.0, 4.0]), frac=st.floats(0.0, 1.0), sign=st.sampled_from([-1, 1]),
       real=reals)
def test_band_limit_is_identity_up_to_critical_distance(n, dxr, frac, sign, real):
    dx = dxr * LAM
    zc = O.critical_distance(n, dx, LAM, 2)
    z = sign * frac * zc
    u = _rand_field((n, n), _cdt(real), 9)
    torch.testing.assert_close(O.asm(u, dx, LAM, z), O.asm(u, dx, LAM, z, band_limit=False), rtol=0, atol=0)
    H = O.transfer_function((2 * n, 2 * n), dx, LAM, 3 * zc, dtype=torch.complex128)
    assert bool((H == 0).any()), "beyond z_c the band limit must cut frequencies"


# ------------------------------------------------------------------------------------------------ stability

@given(n=st.integers(6, 20), dxr=st.sampled_from([0.1, 0.25, 0.4]), zl=st.floats(-30, 30), real=reals)
def test_no_nan_for_any_z_sign_below_half_wavelength(n, dxr, zl, real):
    dx = dxr * LAM
    u = _rand_field((n, n), _cdt(real), 10)
    for pad in (1, 2):
        assert bool(torch.isfinite(O.asm(u, dx, LAM, zl * LAM, pad=pad)).all())


def test_naive_evanescent_growth_turns_into_nan_for_negative_z():
    # the claim O3 failure: full transfer function, z < 0, dx < lambda/2
    u = _rand_field((32, 32), torch.complex64, 11)
    dx = LAM / 4
    assert int((~torch.isfinite(B.asm_naive(u, dx, LAM, -10 * LAM))).sum()) > 0
    assert int((~torch.isfinite(B.asm_naive(u, dx, LAM, +10 * LAM))).sum()) == 0
    assert bool(torch.isfinite(O.asm(u, dx, LAM, -10 * LAM)).all())


def test_phase_precision_complex64_at_kz_1e6():
    n, dx = 48, 20e-6
    z = 1e6 / K
    u = O.gaussian_field(n, dx, 6 * dx)
    fixed = relative_error(O.asm(u.to(torch.complex64), dx, LAM, z), O.asm(u, dx, LAM, z))
    naive = relative_error(B.asm_naive(u.to(torch.complex64), dx, LAM, z), B.asm_naive(u, dx, LAM, z))
    assert fixed < 1e-4
    assert naive > 1e-3 and naive > 100 * fixed  # float32 phase: error ~ eps * k z


@given(logkz=st.floats(3.0, 7.0))
def test_phase_error_stays_flat_in_kz(logkz):
    n, dx = 16, 40e-6
    z = 10 ** logkz / K
    u = O.gaussian_field(n, dx, 3 * dx)
    assert relative_error(O.asm(u.to(torch.complex64), dx, LAM, z), O.asm(u, dx, LAM, z)) < 1e-5


def test_gradcheck_float64():
    u = _rand_field((4, 5), torch.complex128, 12).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: O.asm(t, 1e-6, LAM, -4e-5, pad=1.5), (u,))
    v = _rand_field((4, 4), torch.complex128, 13).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: O.sas(t, 4e-6, LAM, 1e-3)[0], (v,))
    assert torch.autograd.gradcheck(O.Propagator((4, 4), 1e-6, LAM, 1e-5), (v,))


# ------------------------------------------------------------------------------------------------ ground truths

def test_circular_aperture_is_area_weighted():
    dx, a = 1e-6, 10.3e-6
    ap = O.circular_aperture(64, dx, a)
    assert abs(ap.real.sum().item() * dx * dx / (math.pi * a * a) - 1) < 1e-3


def test_on_axis_circle_naive_vs_fixed():
    # O1/O2/O4: beyond z_c the unpadded naive ASM is >= 10x worse on axis than the fixed one
    n, dx, a = 256, 1e-6, 25e-6
    z = 4 * O.critical_distance(n, dx, LAM)
    ref = O.circular_aperture_on_axis(z, a, LAM)
    u = O.circular_aperture(n, dx, a, dtype=torch.complex64)
    c = n // 2
    fixed = abs(O.asm(u, dx, LAM, z)[c, c].item() - ref.item()) / abs(ref.item())
    naive = abs(B.asm_naive(u, dx, LAM, z)[c, c].item() - ref.item()) / abs(ref.item())
    assert fixed < 5e-3
    assert naive > 10 * fixed


def test_asm_matches_direct_rayleigh_sommerfeld(device):
    n, dx = 32, LAM / 2  # RS sum is accurate when its kernel is sampled at <= lambda/2
    u = O.gaussian_field(n, dx, 4 * dx, device=device)
    for z in (10 * dx, 30 * dx):
        ref = O.rayleigh_sommerfeld_direct(u, dx, LAM, z)
        assert relative_error(O.asm(u, dx, LAM, z), ref) < 1e-6
        assert relative_error(O.asm(u.to(torch.complex64), dx, LAM, z), ref) < 1e-5


def test_asm_and_sas_match_exact_gaussian_beam():
    n, dx, w = 64, 1e-6, 6e-6
    u = O.gaussian_field(n, dx, w)
    x = O.grid_coords(n, dx)
    r = torch.sqrt(x[:, None] ** 2 + x[None, :] ** 2)
    zc = O.critical_distance(n, dx, LAM)
    for z in (0.3 * zc, zc):
        assert relative_error(O.asm(u.to(torch.complex64), dx, LAM, z), O.gaussian_beam_exact(r, z, w, LAM)) < 1e-5
    z = 8 * zc
    out, dq = O.sas(u.to(torch.complex64), dx, LAM, z)
    q = O.grid_coords(n, dq)
    ref = O.gaussian_beam_exact(torch.sqrt(q[:, None] ** 2 + q[None, :] ** 2), z, w, LAM)
    assert dq == pytest.approx(LAM * z / (2 * n * dx))
    assert relative_error(out, ref) < 1e-5


def test_fresnel_matches_fresnel_integrals_and_fraunhofer_the_far_field():
    n, dx, hw = 64, 1e-6, 8e-6
    u = O.square_aperture(n, dx, hw)
    z = 4e-3
    out, dq = O.fresnel(u, dx, LAM, z)
    q = O.grid_coords(n, dq)
    # hard-edged aperture sampled on pixels: ~2% is the discretisation floor (chromatix tests use 2e-2 MSE)
    assert relative_error(out, O.square_aperture_fresnel(q, q, z, hw, LAM)) < 3e-2
    # Fraunhofer of a Gaussian: exp(ikz)/(i lambda z) exp(ik r^2/2z) pi w^2 exp(-(pi w r / (lambda z))^2)
    w = 4e-6
    g = O.gaussian_field(n, dx, w)
    z = 0.05
    out, dq = O.fraunhofer(g, dx, LAM, z)
    q = O.grid_coords(n, dq)
    r2 = q[:, None] ** 2 + q[None, :] ** 2
    ref = (complex(math.cos(math.fmod(K * z, 2 * math.pi)), math.sin(math.fmod(K * z, 2 * math.pi))) / (1j * LAM * z)
           * torch.polar(torch.ones_like(r2), torch.remainder(K * r2 / (2 * z), 2 * math.pi))
           * math.pi * w * w * torch.exp(-(math.pi * w) ** 2 * r2 / (LAM * z) ** 2))
    assert relative_error(out, ref) < 1e-6


def test_seed_snippet_mask_does_not_depend_on_z():
    # O4: the report's "robust" mask is the evanescent cut only, the same at every distance
    shape, dx = (32, 32), LAM
    masks = [(B.robust_transfer_function(shape, dx, LAM, z, "cpu") != 0) for z in (1e-5, 1e-3, 1e-1)]
    assert all(bool((m == masks[0]).all()) for m in masks)
    Hs = [(O.transfer_function((64, 64), dx, LAM, z) != 0).sum().item() for z in (1e-5, 1e-3, 1e-1)]
    assert Hs[0] > Hs[1] > Hs[2]


# ------------------------------------------------------------------------------------------------ Propagator

def test_propagator_builds_transfer_function_once(device):
    prop = O.Propagator((12, 10), 1e-6, LAM, 2e-5)
    u = _rand_field((3, 12, 10), torch.complex64, 14).to(device)
    first = prop(u)
    for _ in range(4):
        prop(u)
    assert prop.builds == 1
    torch.testing.assert_close(first, O.asm(u, 1e-6, LAM, 2e-5))
    prop(u.to(torch.complex128))
    assert prop.builds == 2  # new dtype -> one more build
    prop.z = 3e-5
    torch.testing.assert_close(prop(u), O.asm(u, 1e-6, LAM, 3e-5))
    assert prop.builds == 3
    assert first.device == u.device


def test_evanescent_near_field_is_kept_by_fixed_and_dropped_by_snippet():
    # z > 0, dx < lambda/2: the complex128 full transfer function is the exact periodic answer
    u = _rand_field((16, 16), torch.complex128, 15)
    dx, z = LAM / 4, 0.1 * LAM
    exact = B.asm_naive(u, dx, LAM, z)
    assert relative_error(O.asm(u, dx, LAM, z, pad=1, band_limit=False), exact) < 1e-10
    H = O.transfer_function((16, 16), dx, LAM, z)
    fy = torch.fft.fftfreq(16, d=dx, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(16, d=dx, dtype=torch.float64)[None, :]
    evan = LAM ** 2 * (fx ** 2 + fy ** 2) > 1
    assert bool((H[evan] != 0).all()), "the band limit must not remove evanescent bins"
    assert relative_error(B.asm_seed(u, dx, LAM, z), exact) > 0.3


# ------------------------------------------------------------------------------------------------ single FFT

@given(n=st.integers(2, 17), pad=st.sampled_from([1, 2, 3]), chirp=st.booleans(), real=reals,
       zr=st.floats(0.2, 50.0))
def test_fresnel_and_fraunhofer_equal_the_direct_sum_for_odd_and_even_sizes(n, pad, chirp, real, zr):
    # the FFT transform must equal the discrete Fresnel sum it implements for every parity of pad * N
    # (the (-1)^m phase shortcut holds only for even pad * N: odd sizes came out ~ -1 x, half a pixel off)
    dx = 2e-6
    z = zr * n * dx * dx / LAM
    cdt = _cdt(real)
    u = _rand_field((2, n, n), cdt, 16)
    fn = O.fresnel if chirp else O.fraunhofer
    out, dq = fn(u, dx, LAM, z, pad=pad)
    assert dq == pytest.approx(LAM * z / (pad * n * dx))
    ref = O.fresnel_direct(u, dx, LAM, z, dq, input_chirp=chirp)
    assert relative_error(out, ref) < 10 * _tol(cdt)



# ------------------------------------------------------------------------------------------------ compositions
# references built in the test from the papers' formulas, in complex128, and composed from plain FFTs

def _freqs(p, dx):
    return torch.fft.fftfreq(p, d=dx, dtype=torch.float64)


def _padded_convolution(u, H, py, px):
    ny, nx = u.shape[-2:]
    U = torch.fft.fft2(torch.nn.functional.pad(u, (0, px - nx, 0, py - ny)))
    return torch.fft.ifft2(U * H)[..., :ny, :nx]


@given(ny=st.integers(4, 12), ratio=st.sampled_from([2, 3]), dxr=st.sampled_from([0.6, 1.0, 2.0]),
       zr=st.floats(1.5, 12.0), pad=st.sampled_from([1, 2]), wide=st.booleans())
def test_band_limit_on_non_square_grids_follows_each_axis(ny, ratio, dxr, zr, pad, wide):
    # Matsushima-Shimobaba: |f_x| <= 1/(lambda sqrt((2 z / (P_x dx))^2 + 1)) with P_x the padded length of the
    # x axis, and the same with y; on a non-square grid the two limits differ, so swapping them changes H
    # (a transpose test cannot see it: it swaps the grid along with the limits)
    nx = ratio * ny
    if wide:
        ny, nx = nx, ny
    dx = dxr * LAM
    z = zr * O.critical_distance(max(ny, nx), dx, LAM, pad)
    py, px = math.ceil(pad * ny), math.ceil(pad * nx)
    fy, fx = _freqs(py, dx)[:, None], _freqs(px, dx)[None, :]
    s2 = LAM ** 2 * (fx ** 2 + fy ** 2)
    ul = 1 / (LAM * math.sqrt((2 * z / (px * dx)) ** 2 + 1))
    vl = 1 / (LAM * math.sqrt((2 * z / (py * dx)) ** 2 + 1))
    keep = ((fx.abs() <= ul * (1 + 1e-9)) & (fy.abs() <= vl * (1 + 1e-9))) | (s2 > 1)
    root = torch.sqrt(torch.clamp(1 - s2, min=0).to(torch.complex128) - torch.clamp(s2 - 1, min=0) + 0j)
    H = torch.exp(1j * (2 * math.pi * z / LAM) * root) * keep
    u = _rand_field((ny, nx), torch.complex128, 19)
    ref = _padded_convolution(u, H, py, px)
    assert relative_error(O.asm(u, dx, LAM, z, pad=pad), ref) < 1e-9


@given(n=st.integers(4, 12), dxr=st.sampled_from([0.55, 0.6, 0.8, 1.0]), zr=st.floats(1.0, 12.0))
def test_sas_on_a_white_spectrum_matches_its_composition_with_the_nyquist_window(n, dxr, zr):
    # white noise lights every bin, so every bin the anti-aliasing window keeps or drops shows in the output.
    # Heintzmann et al. 2023: the pre-compensation psi = k z (sqrt(1 - c^2) - 1 + c^2 / 2), c = lambda f, is
    # kept where it is sampled at Nyquist on the padded grid, |d psi / d f_x| <= pi L (L = 2 N dx), i.e.
    # 2 z |c_x| (1 / sqrt(1 - c^2) - 1) <= L, and the same for y. Then a one-step Fresnel transform.
    dx = dxr * LAM
    z = zr * O.critical_distance(n, dx, LAM) + 1e-3 * LAM
    p, L = 2 * n, 2 * n * dx
    cy, cx = LAM * _freqs(p, dx)[:, None], LAM * _freqs(p, dx)[None, :]
    s2 = cx ** 2 + cy ** 2
    inv = 1 / torch.sqrt(torch.clamp(1 - s2, min=1e-300))
    window = (s2 < 1) & (2 * z * cx.abs() * (inv - 1) <= L) & (2 * z * cy.abs() * (inv - 1) <= L)
    psi = (2 * math.pi * z / LAM) * (torch.sqrt(torch.clamp(1 - s2, min=0)) - 1 + s2 / 2)
    u = _rand_field((n, n), torch.complex128, 20)
    # the pre-compensation is a circular convolution over the whole padded window (no crop)
    g = torch.fft.ifft2(torch.fft.fft2(torch.nn.functional.pad(u, (0, p - n, 0, p - n)))
                        * torch.polar(window.to(torch.float64), psi))
    lo = p // 2 - n // 2  # top-left placement -> the centred window fresnel() expects
    full, dq_ref = O.fresnel(torch.roll(g, (lo, lo), (-2, -1)), dx, LAM, z, pad=1)
    out, dq = O.sas(u, dx, LAM, z)
    assert dq == pytest.approx(dq_ref)
    assert relative_error(out, full[..., lo:lo + n, lo:lo + n]) < 1e-9


@given(ny=st.integers(3, 14), nx=st.integers(3, 14), pad=st.sampled_from([1, 1.25, 2, 3]), bl=st.booleans(),
       dxr=dx_over_lam, zr=z_over_zc, cdt=st.sampled_from([torch.complex64, torch.complex128]),
       batch=st.sampled_from([(), (2,), (2, 3)]))
def test_propagator_with_any_arguments_equals_asm(ny, nx, pad, bl, dxr, zr, cdt, batch):
    dx = dxr * LAM
    z = _z(max(ny, nx), dx, zr)
    prop = O.Propagator((ny, nx), dx, LAM, z, pad=pad, band_limit=bl)
    u = _rand_field((*batch, ny, nx), cdt, 21)
    out = prop(u)
    assert out.dtype == cdt and out.shape == u.shape
    ref = O.asm(u.to(torch.complex128), dx, LAM, z, pad=pad, band_limit=bl)
    assert relative_error(out, ref) < 10 * _tol(cdt)
    assert relative_error(out, O.asm(u, dx, LAM, z, pad=pad, band_limit=bl)) < 10 * _tol(cdt)


# ------------------------------------------------------------------------------------------------ ifft2 probe

def test_ifft2_fallback_applies_only_where_the_probe_finds_ifft2_wrong(monkeypatch):
    from suite.optics import propagation as P
    u = _rand_field((12, 10), torch.complex64, 22)
    ref = O.asm(u.to(torch.complex128), 1e-6, LAM, 2e-5)
    real_ifft2, calls = torch.fft.ifft2, []

    def spy(x, *a, **kw):
        calls.append(tuple(x.shape))
        return real_ifft2(x, *a, **kw)

    monkeypatch.setattr(P, "_IFFT2_PROBES", {})
    monkeypatch.setattr(torch.fft, "ifft2", spy)
    assert relative_error(O.asm(u, 1e-6, LAM, 2e-5, cache=False), ref) < 1e-5
    assert calls.count((24, 20)) == 2  # probe + the transform itself: the fast path is used where it is right
    # an ifft2 that divides by n twice (the torch 2.13 CPU complex64 2048^2 failure), on this shape only
    monkeypatch.setattr(P, "_IFFT2_PROBES", {})
    monkeypatch.setattr(torch.fft, "ifft2", lambda x, *a, **kw: real_ifft2(x, *a, **kw) / x[..., 0, :].numel())
    assert relative_error(O.asm(u, 1e-6, LAM, 2e-5, cache=False), ref) < 1e-5
    assert P._IFFT2_PROBES and not any(P._IFFT2_PROBES.values())


def test_asm_is_right_at_the_size_where_cpu_ifft2_fails():
    # N = 1024 pads to 2048 x 2048 complex64: the size where torch 2.13 CPU ifft2 (norm="backward") fails
    n, dx = 1024, 2e-6
    u = O.gaussian_field(n, dx, 20 * dx)
    z = 0.5 * O.critical_distance(n, dx, LAM)
    out = O.asm(u.to(torch.complex64), dx, LAM, z, cache=False)
    x = O.grid_coords(n, dx)
    c = slice(n // 2 - 64, n // 2 + 64)
    ref = O.gaussian_beam_exact(torch.sqrt(x[c, None] ** 2 + x[None, c] ** 2), z, 20 * dx, LAM)
    assert relative_error(out[c, c], ref) < 1e-4
