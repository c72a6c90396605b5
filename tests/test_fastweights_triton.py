"""The Triton state recurrence (`backend="triton"`) against the recurrent reference.

On a machine without CUDA the kernels run in Triton's interpreter (TRITON_INTERPRET=1, CPU tensors); on CUDA
they run compiled. Outputs, final state and every gradient are compared with `delta_rule_recurrent` /
`gated_delta_rule_recurrent` in fp32 and fp64, for odd T, with and without an initial state.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read by triton.jit when the kernels are defined
pytest.importorskip("triton", reason="triton is not installed (pip install triton)")

from suite import fastweights as fw  # noqa: E402
from suite.checks import relative_error  # noqa: E402
from tests.test_fastweights import draw, draw_gates  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("no CUDA and TRITON_INTERPRET is not 1", allow_module_level=True)


def _run_both(gated, dtype, B, H, T, Dk, Dv, chunk, init, seed=0, ref_dtype=None):
    q, k, v, beta, S0 = draw(B, H, T, Dk, Dv, seed, beta_max=2.0)
    g = draw_gates(B, H, T, seed, 0.5) if gated else None
    base = [q, k, v, beta] + ([g] if gated else []) + [S0]
    results = []
    for backend in ("triton", "reference"):
        dt = ref_dtype if backend == "reference" and ref_dtype is not None else dtype
        xs = [x.to(dtype=dtype).to(dtype=dt, device=DEVICE).clone().requires_grad_() for x in base]
        s0 = xs[-1] if init else None
        if backend == "triton":
            op = fw.gated_delta_rule if gated else fw.delta_rule
            o, S = op(*xs[:-1], chunk_size=chunk, initial_state=s0, output_final_state=True, backend="triton")
        else:
            op = fw.gated_delta_rule_recurrent if gated else fw.delta_rule_recurrent
            o, S = op(*xs[:-1], initial_state=s0, output_final_state=True)
        w_o = torch.randn(o.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(o)
        w_s = torch.randn(S.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(S)
        ((o * w_o).sum() + (S * w_s).sum()).backward()
        results.append([o, S] + [x.grad for x in (xs if init else xs[:-1])])
    return results


CASES = [  # (B, H, T, Dk, Dv, chunk)
    (1, 2, 37, 8, 8, 16),
    (2, 1, 45, 5, 7, 8),  # dims below 16: masked tiles
    (1, 1, 129, 64, 64, 64),
    (1, 1, 67, 128, 128, 32),
]


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("init", [False, True])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-11), (torch.float32, 1e-5)])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "B{}H{}T{}Dk{}Dv{}C{}".format(*c))
def test_triton_matches_recurrent(case, dtype, tol, init, gated):
    if case[3] == 128 and (init or gated) and DEVICE == "cpu":
        pytest.skip("the largest case runs once per dtype in the interpreter (time)")
    tri, ref = _run_both(gated, dtype, *case, init=init)
    names = ["o", "S_T", "dq", "dk", "dv", "dbeta"] + (["dg"] if gated else []) + (["dS0"] if init else [])
    for name, a, b in zip(names, tri, ref):
        assert a.dtype == dtype and torch.isfinite(a).all(), name
        assert relative_error(a, b) <= tol, (name, relative_error(a, b))


def test_default_precision_follows_the_measurement():
    from suite.fastweights import _triton  # noqa: PLC0415

    assert [_triton.default_precision(torch.float32, d) for d in (8, 64, 65, 128)] == ["ieee"] * 2 + ["tf32x3"] * 2
    assert _triton.default_precision(torch.float64, 128) == "ieee"
    with pytest.raises(ValueError, match="precision must be one of"):
        _triton.state_recurrence(*[torch.zeros(1, 1, 16, 16)] * 2, torch.zeros(1, 1, 16, 16), None,
                                 torch.zeros(1, 16, 16), precision="tf32")


@pytest.mark.skipif(DEVICE != "cuda", reason="tf32x3 products exist only on the GPU (the interpreter computes fp32)")
@pytest.mark.parametrize("gated", [False, True])
def test_tf32x3_path_meets_fp32_contract_at_dk128(gated):
    # Dk = 128 in fp32 takes the split-TF32 products by default; outputs, final state and every gradient
    # against the float64 recurrence on the same (fp32-rounded) inputs, at the fp32 contract 1e-5.
    from suite.fastweights import _triton  # noqa: PLC0415

    assert _triton.default_precision(torch.float32, 128) == "tf32x3"
    tri, ref = _run_both(gated, torch.float32, 2, 2, 517, 128, 128, 64, init=True, ref_dtype=torch.float64)
    names = ["o", "S_T", "dq", "dk", "dv", "dbeta"] + (["dg"] if gated else []) + ["dS0"]
    for name, a, b in zip(names, tri, ref):
        assert relative_error(a, b) <= 1e-5, (name, relative_error(a, b))


def test_backend_argument():
    q, k, v, beta, _ = draw(1, 1, 5, 3, 2, seed=0)
    with pytest.raises(ValueError, match="backend must be"):
        fw.delta_rule(q, k, v, beta, backend="cuda")
    o_t, _ = fw.delta_rule(q, k, v, beta, backend="torch")
    o_a, _ = fw.delta_rule(q, k, v, beta, backend="auto")  # auto on CPU: the PyTorch path
    assert torch.equal(o_t, o_a)
