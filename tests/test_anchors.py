"""The anchors (public libraries and plain pipelines as Pair variants, `suite.anchors`): each returns its pair's
output shape and matches the pair's oracle to the library's accuracy, or shows its documented failure (the
hrr projection's zero-bin collapse, the unguarded sgn's non-unit DC bin, the plain pipeline's wrong CPU ifft2,
geoopt's arcosh cancellation). A library that is not installed skips its tests with the reason."""

import gc
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from suite import anchors
from suite import holographic as hg
from suite import holographic_references as href
from suite import hyperbolic as hy
from suite import hyperbolic_references as yref
from suite.checks import nonfinite_count, relative_error
from suite.optics import propagation as prop
from suite.registry import SkipSize, get_pair

# (pair, anchor, largest relative error vs the pair's oracle at its quick size, on these inputs)
MATCHES = [
    ("holographic.bind", "torchhd_hrr", 1e-5),        # float32 FFT rounding
    ("holographic.bind", "plain_rfft", 1e-5),
    ("holographic.project", "hrr_projection", 1e-5),
    ("holographic.phasor_bind", "plain_sgn", 1e-5),   # Gaussian inputs: no zero bin
    ("holographic.phasor_bind", "hrr_torchhd", 1e-5),
    ("holographic.circulant", "circulant_module", 1e-5),
    ("holographic.circulant", "nn_linear", 1e-5),
    ("optics.asm", "plain_fft2", 2e-3),    # on-axis value at 4 z_c: the band-limited 2x window's own error
    ("optics.asm", "torchoptics_asm", 2e-3),
    ("optics.asm", "pado_asm", 1e-2),      # PADO's band limit is narrower than the rectangle (1/sqrt(1-s_y^2))
]


def need(name):
    if not anchors.available(name):
        pytest.skip(f"anchor {name} needs {', '.join(anchors.ANCHORS[name].needs)}, not installed here")
    return anchors.ANCHORS[name].fn


def run(fn, *inputs):
    with torch.no_grad():
        return fn(*inputs)


def gauss(shape, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) / math.sqrt(shape[-1])).to(dtype)


# powers of two: their FFTs sum the DC bin by additions only, so an exactly zero-mean row gives DC == 0
# exactly (a prime d's FFT leaves ~1e-9 there, whose phase is then as arbitrary as any other)
pow2 = st.integers(1, 8).map(lambda k: 2 ** k)


def zero_mean(shape, seed):
    """Exactly zero-mean rows (DC bin exactly 0): v - roll(v) of small integers, scaled by a power of two."""
    v = torch.randint(-3, 4, shape, generator=torch.Generator().manual_seed(seed)).double()
    return ((v - v.roll(1, -1)) / 32).float()


# ------------------------------------------------------------------------------------------ wiring
@pytest.mark.parametrize("pair_name,name,tol", MATCHES, ids=[f"{p}-{a}" for p, a, _ in MATCHES])
def test_anchor_returns_pair_shape_and_matches_oracle(pair_name, name, tol, device):
    fn = need(name)
    pair = get_pair(pair_name)
    assert pair.variants.get(name) is fn, f"{pair_name} should list the installed anchor {name}"
    size = pair.timing_sizes(quick=True)[0]
    inputs = pair.inputs(size, device, seed=0)
    out, fixed = run(fn, *inputs), run(pair.fixed, *inputs)
    assert type(out) is torch.Tensor and out.device.type == torch.device(device).type
    assert out.shape == fixed.shape and nonfinite_count(out) == 0
    err = relative_error(pair.select(out), pair.oracle(*inputs))
    assert err < tol, f"{name} is {err:.3g} from the {pair_name} oracle (expected < {tol:g})"


def test_pairs_list_exactly_the_installed_anchors():
    for pair_name in {p for p, _, _ in MATCHES}:
        pair = get_pair(pair_name)
        for name in {a for p, a, _ in MATCHES if p == pair_name}:
            assert (name in pair.variants) == anchors.available(name), (pair_name, name)


def test_absent_library_drops_the_variant_and_a_broken_one_skips(monkeypatch):
    real = anchors.importlib.util.find_spec
    monkeypatch.setattr(anchors.importlib.util, "find_spec", lambda pkg: None if pkg == "torchhd" else real(pkg))
    assert set(anchors.variants("torchhd_hrr", "plain_rfft", "hrr_torchhd")) == {"plain_rfft"}
    with pytest.raises(KeyError, match="no anchor named"):
        anchors.variants("no_such_anchor")
    with pytest.raises(SkipSize, match="no_such_module_xyz does not import"):
        anchors.library("no_such_module_xyz")


# ------------------------------------------------------------------------------------------ holographic
@given(d=st.integers(1, 200), b=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_bind_anchors_are_the_circular_convolution(d, b, seed):
    x, y = gauss((b, d), seed), gauss((b, d), seed + 1)
    ref = href.bind_f64(x, y)
    for name in ("plain_rfft", "torchhd_hrr"):
        if anchors.available(name):
            out = run(anchors.ANCHORS[name].fn, x, y)
            assert out.shape == (b, d) and relative_error(out, ref) < 2e-5, name


@given(d=st.integers(2, 200), seed=st.integers(0, 2**31 - 1))
def test_unguarded_sgn_matches_the_phasor_bind_off_zero_bins(d, seed):
    x, y = gauss((2, d), seed), gauss((2, d), seed + 1)
    assert relative_error(anchors.plain_sgn_phasor_bind(x, y), href.phasor_bind_f64(x, y)) < 2e-5


@given(d=pow2, seed=st.integers(0, 2**31 - 1))
def test_unguarded_sgn_loses_the_dc_phasor_on_zero_mean_input(d, seed):
    y = gauss((2, d), seed + 1)
    xz = zero_mean((2, d), seed)
    out = anchors.plain_sgn_phasor_bind(xz, y)
    assert nonfinite_count(out) == 0
    assert torch.fft.rfft(out.double())[..., 0].abs().max() < 1e-6, "sgn(0) = 0: the DC bin is not a unit phasor"
    assert torch.allclose(torch.fft.rfft(hg.phasor_bind(xz, y).double()).abs(), torch.ones(()).double(), atol=1e-5)


@given(d=st.integers(2, 200), seed=st.integers(0, 2**31 - 1))
def test_hrr_projection_matches_the_projection_off_zero_bins(d, seed):
    project = need("hrr_projection")
    x = gauss((2, d), seed)
    assert relative_error(project(x), href.project_f64(x)) < 2e-5


@given(d=pow2, seed=st.integers(0, 2**31 - 1))
def test_hrr_projection_collapses_zero_mean_rows_to_zero(d, seed):
    project = need("hrr_projection")
    x, xz = gauss((2, d), seed), zero_mean((2, d), seed)
    assert torch.equal(project(xz), torch.zeros_like(xz)), "0/0 NaN spread by the ifft, then nan_to_num -> 0"
    assert torch.allclose(hg.project(xz).norm(dim=-1), torch.ones(2), atol=1e-5)
    if anchors.available("hrr_torchhd"):
        assert torch.equal(anchors.hrr_torchhd_phasor_bind(xz, x), torch.zeros_like(xz))


@given(n=st.integers(1, 96), b=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_layer_anchors_are_the_circulant_map(n, b, seed):
    x, w = gauss((b, n), seed), gauss((n,), seed + 1)
    ref = href.bind_f64(x, w.expand(b, n))
    for fn in (anchors.circulant_module, anchors.nn_linear):
        assert relative_error(run(fn, x, w), ref) < 2e-5, fn.__name__


@pytest.mark.parametrize("name,cache", [("circulant_module", anchors._CIRCULANT_LAYERS),
                                        ("nn_linear", anchors._DENSE_LAYERS)])
def test_layer_anchors_build_once_per_weight_follow_writes_and_let_it_go(name, cache):
    fn = anchors.ANCHORS[name].fn
    x, w = gauss((4, 32), 1), gauss((32,), 2)
    y = run(fn, x, w)
    layer = cache[w][1]
    assert torch.equal(run(fn, x, w), y) and cache[w][1] is layer, "the layer is built once, then called"
    w.mul_(2)
    assert relative_error(run(fn, x, w), 2 * y) < 1e-6, "an in-place write to w must rebuild the layer"
    before = len(cache)
    del w
    gc.collect()
    assert len(cache) == before - 1, "the cache must not keep a dead weight (or its N x N matrix) alive"


# ---------------------------------------------------------------------------------------------- optics
def test_plain_fft2_is_the_fixed_asm_pipeline(device):
    pair = get_pair("optics.asm")
    u, dx, lam, z = pair.inputs(128, device, seed=3)
    out = anchors.plain_fft2_asm(u, dx, lam, z)
    assert out.shape == u.shape and out.dtype == u.dtype
    assert relative_error(out, run(pair.fixed, u, dx, lam, z)) < 1e-5


def test_torchoptics_asm_is_the_unlimited_asm_on_its_5n_window_in_complex128(device):
    fn = need("torchoptics_asm")
    pair = get_pair("optics.asm")
    u, dx, lam, z = pair.inputs(64, device, seed=4)
    out = fn(u, dx, lam, z)
    assert out.shape == u.shape and out.dtype == torch.complex128  # TorchOptics' default dtype is float64
    with pytest.warns(prop.OpticsValidityWarning, match="below Nyquist"):  # TorchOptics computes it silently
        same = prop.asm(u.to(torch.complex128), dx, lam, z, pad=5, band_limit=False)
    assert relative_error(out, same) < 1e-9


def test_pado_asm_keeps_batch_shape(device):
    fn = need("pado_asm")
    pair = get_pair("optics.asm")
    u, dx, lam, z = pair.inputs(64, device, seed=5)
    batch = torch.stack([u, 2 * u]).reshape(2, 1, 64, 64)
    out = fn(batch, dx, lam, z)
    assert out.shape == batch.shape and relative_error(out[1], 2 * out[0]) < 1e-6
    assert relative_error(out[0, 0], fn(u, dx, lam, z)) < 1e-6


def test_plain_fft2_is_wrong_exactly_where_torch_ifft2_is():
    """torch 2.13 CPU (MKL, 2 threads) divides an unbatched complex64 2048^2 ifft2 by 2048^2 twice: the plain
    pipeline at N = 1024 (padded 2048) inherits it wherever the suite's probe finds ifft2 wrong."""
    pair = get_pair("optics.asm")
    u, dx, lam, z = pair.inputs(1024, "cpu", seed=0)
    ref = pair.oracle(u, dx, lam, z)
    err = relative_error(pair.select(anchors.plain_fft2_asm(u, dx, lam, z)), ref)
    assert relative_error(pair.select(run(pair.fixed, u, dx, lam, z)), ref) < 1e-3
    if prop._ifft2_is_right((2048, 2048), torch.complex64, torch.device("cpu"), "backward"):
        assert err < 1e-3
    else:
        assert err > 0.5


# ------------------------------------------------------------------------------------------ hyperbolic
def test_geoopt_lorentz_dist_is_exact_in_float64_and_cancels_in_float32(device):
    fn = need("geoopt_lorentz")
    pair = get_pair("hyperbolic.lorentz_distance")
    x, y = pair.inputs(1000, device, seed=0, dtype=torch.float64)
    out = fn(x, y)
    assert out.shape == (1000,) and relative_error(out, yref.lorentz_stored_distance(x, y)) < 1e-6
    x, y = pair.inputs(1000, device, seed=0)
    ref = yref.lorentz_stored_distance(x, y)
    geo, fixed = relative_error(fn(x, y), ref), relative_error(hy.lorentz_distance(x, y), ref)
    assert geo > 100 * fixed, f"arcosh(-<x,y>) at separation 0.01-0.1: geoopt {geo:.3g} vs fixed {fixed:.3g}"


def test_geoopt_lorentz_tangent_distance(device):
    fn = need("geoopt_lorentz_tangent")
    pair = get_pair("hyperbolic.distance")
    v, w = pair.inputs(1000, device, seed=0, dtype=torch.float64)
    out = fn(v, w)
    assert out.shape == (1000,) and relative_error(out, yref.polar_distance(v, w)) < 1e-6


# ------------------------------------------------------------------------------------------ fast weights
FLA = [  # (pair, anchor, largest relative error vs the pair's float64 oracle at its quick size)
    ("fastweights.delta_rule", "fla_chunk", 2e-2),        # bf16 inputs and storage (measured 4.6e-3 at T=1024)
    ("fastweights.delta_rule", "fla_fused_recurrent", 1e-5),
    ("fastweights.gated_delta_rule", "fla_chunk_gated", 2e-2),
    ("fastweights.gated_delta_rule", "fla_fused_recurrent_gated", 1e-5),
]


@pytest.mark.parametrize("pair_name,name,tol", FLA, ids=[a for _, a, _ in FLA])
def test_fla_anchors_are_listed_when_installed_and_match_the_oracle_on_cuda(pair_name, name, tol):
    pair = get_pair(pair_name)
    assert (name in pair.variants) == anchors.available(name)
    assert pair.skip_reason(name, 256, "cpu") and pair.skip_reason(name, 256, "cuda") is None
    fn = need(name)
    if not torch.cuda.is_available():
        pytest.skip("flash-linear-attention's kernels need CUDA")
    inputs = pair.inputs(pair.timing_sizes(quick=True)[0], "cuda", seed=0)
    out = run(fn, *inputs)
    err = relative_error(pair.select(out), pair.oracle(*inputs))
    assert out[0].dtype == torch.float32 and err < tol, f"{name} is {err:.3g} from the oracle (expected < {tol:g})"


@pytest.mark.parametrize("gated", [False, True])
def test_fla_call_maps_layout_and_argument_names(gated):
    # a stand-in with fla's signature (tensors [B, T, H, D], gated order (q, k, v, g, beta), beta and g by
    # name) that runs the suite's op in layout BTHD: the anchor's output must be the suite's BHTD output
    from suite import fastweights as fw  # noqa: PLC0415

    def fake(q, k, v, g=None, beta=None, initial_state=None, output_final_state=False):
        assert q.dtype == torch.float32 and beta.shape == q.shape[:3]
        extra = (g,) if gated else ()
        op = fw.gated_delta_rule if gated else fw.delta_rule
        return op(q, k, v, beta, *extra, initial_state=initial_state, output_final_state=output_final_state,
                  layout="BTHD")

    pair = get_pair("fastweights.gated_delta_rule" if gated else "fastweights.delta_rule")
    q, k, v, beta, *g = pair.inputs(37, "cpu", seed=1)
    S0 = torch.randn(2, 4, 64, 64, generator=torch.Generator().manual_seed(2))
    o, S = anchors._fla_call(fake, torch.float32, q, k, v, beta, *g, initial_state=S0, output_final_state=True)
    ref = (fw.gated_delta_rule if gated else fw.delta_rule)(q, k, v, beta, *g, initial_state=S0,
                                                            output_final_state=True)
    assert o.shape == q.shape and torch.allclose(o, ref[0], atol=1e-6) and torch.allclose(S, ref[1], atol=1e-6)
