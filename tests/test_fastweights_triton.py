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


def _run_both(gated, dtype, B, H, T, Dk, Dv, chunk, init, seed=0):
    q, k, v, beta, S0 = draw(B, H, T, Dk, Dv, seed, beta_max=2.0)
    g = draw_gates(B, H, T, seed, 0.5) if gated else None
    base = [q, k, v, beta] + ([g] if gated else []) + [S0]
    results = []
    for backend in ("triton", "reference"):
        xs = [x.to(dtype=dtype, device=DEVICE).clone().requires_grad_() for x in base]
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


def test_backend_argument():
    q, k, v, beta, _ = draw(1, 1, 5, 3, 2, seed=0)
    with pytest.raises(ValueError, match="backend must be"):
        fw.delta_rule(q, k, v, beta, backend="cuda")
    o_t, _ = fw.delta_rule(q, k, v, beta, backend="torch")
    o_a, _ = fw.delta_rule(q, k, v, beta, backend="auto")  # auto on CPU: the PyTorch path
    assert torch.equal(o_t, o_a)
