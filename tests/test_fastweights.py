"""Property tests for the fast-weight memories (suite.fastweights vs baselines.fastweights).

Oracle: `suite.studies.fastweights.delta_oracle`, a float64 step-by-step recurrence written from the
definition. Claims: F1 (delta vs additive on a repeated key), F4 (the report's recipe diverges).
"""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from baselines import fastweights as nv
from suite import fastweights as fw
from suite.checks import relative_error
from suite.fastweights_references import delta_oracle, fixed_recipe

F64 = torch.float64


def draw(B, H, T, Dk, Dv, seed, dtype=F64, beta_max=1.0, device="cpu", unit_keys=True):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, Dk, generator=g, dtype=F64)
    k = torch.randn(B, H, T, Dk, generator=g, dtype=F64)
    if unit_keys:
        k = F.normalize(k, dim=-1)
    v = torch.randn(B, H, T, Dv, generator=g, dtype=F64)
    beta = torch.rand(B, H, T, generator=g, dtype=F64) * beta_max
    S0 = torch.randn(B, H, Dk, Dv, generator=g, dtype=F64)
    return tuple(x.to(dtype).to(device) for x in (q, k, v, beta, S0))


shapes = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 37), st.integers(1, 9), st.integers(1, 9))


# ---------------------------------------------------------------------------------- chunked == recurrent
@given(shape=shapes, chunk=st.integers(1, 40), init=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_chunked_equals_recurrent_float64(shape, chunk, init, seed):
    B, H, T, Dk, Dv = shape
    q, k, v, beta, S0 = draw(B, H, T, Dk, Dv, seed, beta_max=2.0)
    S0 = S0 if init else None
    o_c, S_c = fw.delta_rule(q, k, v, beta, chunk_size=chunk, initial_state=S0, output_final_state=True)
    o_r, S_r = fw.delta_rule_recurrent(q, k, v, beta, initial_state=S0, output_final_state=True)
    ref = delta_oracle(q, k, v, beta, initial_state=S0)
    tol = 1e-10 * (1 + ref.abs().max().item())
    assert (o_c - o_r).abs().max().item() <= tol
    assert (S_c - S_r).abs().max().item() <= 1e-10 * (1 + S_r.abs().max().item())
    assert (o_c - ref).abs().max().item() <= tol


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 16, 64, 100])
@pytest.mark.parametrize("T", [1, 63, 64, 65, 130])
def test_every_chunk_size_and_length(chunk, T):
    q, k, v, beta, S0 = draw(1, 2, T, 8, 5, seed=chunk * 1000 + T, beta_max=2.0)
    o, S = fw.delta_rule(q, k, v, beta, chunk_size=chunk, initial_state=S0, output_final_state=True)
    o_r, S_r = fw.delta_rule_recurrent(q, k, v, beta, initial_state=S0, output_final_state=True)
    assert o.shape == (1, 2, T, 5) and S.shape == (1, 2, 8, 5)
    assert torch.allclose(o, o_r, rtol=0, atol=1e-10) and torch.allclose(S, S_r, rtol=0, atol=1e-10)


@pytest.mark.parametrize("impl", [nv.delta_rule_loop, nv.chunk_loop_port, fw.delta_rule_recurrent])
def test_naive_twins_compute_the_same_delta_rule(impl):
    q, k, v, beta, S0 = draw(2, 2, 45, 6, 6, seed=3)
    o, S = impl(q, k, v, beta, chunk_size=8, initial_state=S0, output_final_state=True)
    assert torch.allclose(o, delta_oracle(q, k, v, beta, initial_state=S0), atol=1e-10, rtol=0)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 1.5e-2), (torch.float16, 3e-3)])
def test_low_precision_against_float64_oracle(device, dtype, tol):
    q, k, v, beta, _ = draw(2, 2, 200, 32, 32, seed=5, dtype=dtype, device=device)
    ref = delta_oracle(q, k, v, beta)
    o, S = fw.delta_rule(q, k, v, beta, output_final_state=True)
    assert o.dtype == dtype and S.dtype == dtype and o.device.type == device
    err = relative_error(o, ref)
    assert err <= tol
    if dtype == torch.bfloat16:  # the loop without float32 accumulation is worse
        assert relative_error(nv.delta_rule_loop(q, k, v, beta)[0], ref) > err


@given(T=st.integers(1, 40), chunk=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_float32_chunked_matches_oracle(T, chunk, seed):
    q, k, v, beta, S0 = draw(2, 2, T, 7, 4, seed, dtype=torch.float32, beta_max=2.0)
    o, _ = fw.delta_rule(q, k, v, beta, chunk_size=chunk, initial_state=S0)
    assert relative_error(o, delta_oracle(q, k, v, beta, initial_state=S0)) < 1e-5


# ---------------------------------------------------------------------------------- algebraic properties
@given(shape=shapes, chunk=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_beta_zero_is_identity_on_state(shape, chunk, seed):
    B, H, T, Dk, Dv = shape
    q, k, v, beta, S0 = draw(B, H, T, Dk, Dv, seed)
    o, S = fw.delta_rule(q, k, v, torch.zeros_like(beta), chunk_size=chunk, initial_state=S0,
                         output_final_state=True, scale=1.0)
    assert torch.allclose(S, S0, atol=1e-12, rtol=0)
    assert torch.allclose(o, torch.einsum("bhtk,bhkv->bhtv", q, S0), atol=1e-10, rtol=0)


@given(shape=shapes, chunk=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_beta_one_unit_keys_retrieve_last_value_exactly(shape, chunk, seed):
    B, H, T, Dk, Dv = shape
    _, k, v, beta, S0 = draw(B, H, T, Dk, Dv, seed)
    # o_t = S_t^T k_t when q = k and scale = 1; with beta = 1 and ||k|| = 1 that is v_t exactly
    o, _ = fw.delta_rule(k, k, v, torch.ones_like(beta), chunk_size=chunk, initial_state=S0, scale=1.0)
    assert torch.allclose(o, v, atol=1e-10, rtol=0)


def test_repeated_key_delta_gives_last_value_additive_gives_sum():
    # orthonormal keys e0, e1; e0 written three times with different values
    Dk, Dv = 4, 3
    e = torch.eye(Dk, dtype=F64)
    k = torch.stack([e[0], e[1], e[0], e[0]])[None, None]
    v = torch.randn(1, 1, 4, Dv, dtype=F64, generator=torch.Generator().manual_seed(0))
    _, S = fw.delta_rule(k, k, v, torch.ones(1, 1, 4, dtype=F64), output_final_state=True)
    delta_read = S[0, 0].T @ e[0]
    assert torch.allclose(delta_read, v[0, 0, 3], atol=1e-12)
    W_sum = torch.einsum("tk,tv->kv", k[0, 0], v[0, 0])  # the purely additive rule
    assert torch.allclose(W_sum.T @ e[0], v[0, 0, 0] + v[0, 0, 2] + v[0, 0, 3], atol=1e-12)
    # the naive additive_fwp (elu+1 + denominator) does not return the last value either (F1)
    y = nv.additive_fwp(k, k, v)[0, 0, -1]
    assert (y - v[0, 0, 3]).norm() > 0.1 * v[0, 0, 3].norm()


@given(shape=shapes, chunk=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_state_norm_bound_unit_keys(shape, chunk, seed):
    B, H, T, Dk, Dv = shape
    q, k, v, beta, S0 = draw(B, H, T, Dk, Dv, seed, beta_max=1.0)
    _, S = fw.delta_rule(q, k, v, beta, chunk_size=chunk, initial_state=S0, output_final_state=True)
    lhs = S.pow(2).sum((-1, -2))
    rhs = S0.pow(2).sum((-1, -2)) + v.pow(2).sum((-1, -2))
    assert (lhs <= rhs * (1 + 1e-10)).all()


# ---------------------------------------------------------------------------------- the report's recipe (F4)
def test_seed_recipe_diverges_fixed_stays_bounded():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 200, 16, generator=g) for _ in range(3))
    beta = torch.sigmoid(torch.randn(1, 2, 200, generator=g))
    assert (beta * fw.elu_plus_one(k).pow(2).sum(-1)).median() > 2  # most steps are expansive
    y_seed = nv.delta_rule_seed(q, k, v, beta)
    y_fix = fixed_recipe(q, k, v, beta)
    seed_blowup = (~torch.isfinite(y_seed)).any() or y_seed.abs().max() > 1e6
    assert seed_blowup
    assert torch.isfinite(y_fix).all() and y_fix.abs().max() <= v.abs().max()


@pytest.mark.parametrize("gain,diverges", [(1.0, False), (1.9, False), (3.0, True), (4.0, True)])
def test_divergence_threshold_beta_k2_equals_two(gain, diverges):
    g = torch.Generator().manual_seed(1)
    u = F.normalize(torch.randn(1, 1, 400, 8, generator=g, dtype=F64), dim=-1)
    v = torch.randn(1, 1, 400, 8, generator=g, dtype=F64)
    beta = torch.full((1, 1, 400), 0.5, dtype=F64)
    k = u * math.sqrt(gain / 0.5)
    _, S = nv.delta_rule_loop(k, k, v, beta, output_final_state=True)
    norm = S.abs().max().item()
    assert (norm > 1e6 or not math.isfinite(norm)) == diverges
    # the fixed delta_rule refuses nothing here but warns that the transition is expansive
    if diverges:
        with pytest.warns(RuntimeWarning, match="beta \\* \\|\\|k\\|\\|\\^2"):
            fw.delta_rule(k, k, v, beta)
    # with L2-normalised keys and the same beta the fixed one is bounded
    _, S_fix = fw.delta_rule(u, u, v, beta, output_final_state=True)
    assert S_fix.pow(2).sum() <= v.pow(2).sum() * (1 + 1e-10)


# ---------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("init", [False, True])
@pytest.mark.parametrize("T,chunk", [(5, 2), (40, 17), (40, 32)])  # > 16: the blocked inverse's grad path
def test_gradcheck_float64(init, T, chunk):
    q, k, v, beta, S0 = draw(1, 1, T, 3, 2, seed=11)
    args = [x.clone().requires_grad_() for x in (q, k, v, beta)]
    s0 = S0.clone().requires_grad_() if init else None

    def f(q, k, v, beta, *s):
        o, S = fw.delta_rule(q, k, v, beta, chunk_size=chunk, initial_state=s[0] if s else None,
                             output_final_state=True)
        return o, S

    inputs = tuple(args) + ((s0,) if init else ())
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, fast_mode=T > 5)  # fast: random directions


@pytest.mark.parametrize("T,chunk", [(20, 6), (50, 17), (70, 32), (100, 64), (150, 64)])
def test_gradients_match_recurrent(T, chunk):
    q, k, v, beta, S0 = draw(2, 1, T, 4, 3, seed=12, beta_max=2.0)
    grads = []
    for impl in (fw.delta_rule, fw.delta_rule_recurrent):
        xs = [x.clone().requires_grad_() for x in (q, k, v, beta, S0)]
        o, S = impl(*xs[:4], chunk_size=chunk, initial_state=xs[4], output_final_state=True)
        (o.sin().sum() + S.cos().sum()).backward()
        grads.append([x.grad for x in xs])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------------- feature maps
@given(d=st.integers(1, 12), nu=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
       dtype=st.sampled_from([torch.float32, F64]))
def test_feature_maps(d, nu, seed, dtype):
    x = torch.randn(3, 2, d, generator=torch.Generator().manual_seed(seed), dtype=F64).to(dtype)
    assert (fw.elu_plus_one(x) > 0).all()
    if nu < 2 * d:
        phi = fw.dpfp(x, nu)
        xp = torch.cat([F.relu(x), F.relu(-x)], -1)
        ref = torch.cat([xp * torch.roll(xp, j, -1) for j in range(1, nu + 1)], -1)
        assert phi.shape[-1] == 2 * nu * d and (phi >= 0).all() and torch.equal(phi, ref)
    s = fw.sum_normalize(fw.elu_plus_one(x))
    assert torch.allclose(s.sum(-1), torch.ones((), dtype=dtype), atol=1e-5)
    n = fw.l2_normalize(x)
    assert torch.allclose(n.norm(dim=-1), torch.ones((), dtype=dtype), atol=1e-5)


def test_normalisers_keep_zero_finite():
    z = torch.zeros(2, 5)
    assert torch.equal(fw.sum_normalize(z), z) and torch.equal(fw.l2_normalize(z), z)
    assert torch.equal(fw.sum_normalize(fw.dpfp(z)), torch.zeros(2, 10))


# ---------------------------------------------------------------------------------- module
@pytest.mark.parametrize("feature", ["identity", "elu", "dpfp"])
def test_module_shapes_finite_and_differentiable(device, feature):
    torch.manual_seed(0)
    m = fw.DeltaRuleFastWeights(16, 2, 8, feature=feature, chunk_size=5).to(device)
    x = torch.randn(3, 13, 16, device=device) * 10  # large inputs: normalised keys keep it bounded
    y, S = m(x)
    assert y.shape == (3, 13, 16) and torch.isfinite(y).all()
    dk = 8 * (2 if feature == "dpfp" else 1)
    assert S.shape == (3, 2, dk, 8)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    y2, _ = m(x[:, 7:], initial_state=m(x[:, :7])[1])  # streaming in two pieces equals one pass
    assert torch.allclose(y2, y[:, 7:], atol=1e-4)


def test_module_default_chunk_size_backward_long_sequence(device):
    # T > 64 = the default chunk: the blocked triangular inverse (C > 16) must be differentiable
    torch.manual_seed(0)
    m = fw.DeltaRuleFastWeights(16, 2, 8).to(device)
    assert m.chunk_size == 64
    x = torch.randn(2, 150, 16, device=device)
    y, S = m(x)
    assert y.shape == (2, 150, 16) and torch.isfinite(y).all() and torch.isfinite(S).all()
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    m64 = fw.DeltaRuleFastWeights(16, 2, 8).to(device=device, dtype=F64)
    m64.load_state_dict(m.state_dict())
    x64 = x.to(F64).requires_grad_()
    m64(x64)[0].square().mean().backward()
    m64.chunk_size = 1  # chunks of one step: no blocked inverse, the same gradients
    x1 = x.to(F64).requires_grad_()
    m64.zero_grad()
    m64(x1)[0].square().mean().backward()
    assert torch.allclose(x64.grad, x1.grad, atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------------- bad input
def _ok():
    return draw(1, 2, 5, 3, 4, seed=0)[:4]


@pytest.mark.parametrize("impl", [fw.delta_rule, fw.delta_rule_recurrent])
def test_bad_input(impl):
    q, k, v, beta = _ok()
    with pytest.raises(ValueError, match="q and k"):
        impl(q[..., :2], k, v, beta)
    with pytest.raises(ValueError, match="v must"):
        impl(q, k, v[:, :1], beta)  # mismatched heads
    with pytest.raises(ValueError, match="beta must have shape"):
        impl(q, k, v, beta[..., :3])
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        impl(q, k, v, beta + 2.5)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        impl(q, k, v, -beta - 0.1)
    with pytest.raises(ValueError, match="T = 0"):
        impl(q[:, :, :0], k[:, :, :0], v[:, :, :0], beta[:, :, :0])
    with pytest.raises(ValueError, match="v contains NaN"):
        impl(q, k, v.clone().index_fill_(2, torch.tensor([1]), math.inf), beta)
    with pytest.raises(ValueError, match="q contains NaN"):
        impl(q.clone().index_fill_(2, torch.tensor([3]), math.nan), k, v, beta)
    with pytest.raises(ValueError, match="shape \\[B, H, T, D\\]"):
        impl(q[0], k[0], v[0], beta[0])
    with pytest.raises(TypeError, match="q must be a real floating"):
        impl(q.to(torch.int64), k, v, beta)
    with pytest.raises(ValueError, match="initial_state"):
        impl(q, k, v, beta, initial_state=torch.zeros(1, 2, 4, 3, dtype=F64))
    with pytest.raises(ValueError, match="initial_state contains NaN"):
        impl(q, k, v, beta, initial_state=torch.full((1, 2, 3, 4), math.nan, dtype=F64))
    with pytest.raises(TypeError, match="scale"):
        impl(q, k, v, beta, scale=True)
    if impl is fw.delta_rule:
        with pytest.raises(ValueError, match="chunk_size"):
            impl(q, k, v, beta, chunk_size=0)


@pytest.mark.parametrize("impl", [fw.delta_rule, fw.delta_rule_recurrent])
def test_initial_state_on_another_device(impl):
    q, k, v, beta = _ok()
    with pytest.raises(ValueError, match="initial_state must be on the device"):
        impl(q, k, v, beta, initial_state=torch.zeros(1, 2, 3, 4, dtype=F64, device="meta"))
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="initial_state must be on the device"):
            impl(*(x.cuda() for x in (q, k, v, beta)), initial_state=torch.zeros(1, 2, 3, 4, dtype=F64))


def test_finite_inputs_give_finite_outputs_with_large_values():
    q, k, v, beta = _ok()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # unit keys, beta <= 1: no warning
        o, S = fw.delta_rule(q * 1e30, k, v * 1e30, beta, output_final_state=True)
    assert torch.isfinite(o).all() and torch.isfinite(S).all()
