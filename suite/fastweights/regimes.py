"""Why fp32 matters for the delta rule: the converged regime, measured.

Low-precision kernels stage the residual v_t - S_{t-1}^T k_t in the I/O dtype. Once the state already
predicts the value (the regime a trained memory lives in), the residual is a small difference of two large
numbers: with S^T k = 4098 and v = 4096, bf16 and fp16 both store 0 instead of -2 (their spacing at 4096 is
32 and 4), so the update silently does not happen, nor its d beta term. `converged_inputs` builds such
inputs (orthonormal keys that repeat, values of size `magnitude`, an initial state that predicts every value
to below bf16's resolution, every number exact in bf16); `regime_errors` measures any implementation against
a float64 reference on them: output, final state, the state's update S_T - S_0 (what a converged memory
learns) and every gradient; `staged_delta_rule` is the fixed chunkwise algorithm with the tensors a bf16 /
fp16 kernel stores rounded to that dtype (the mechanism, on any device). The study
`fastweights.converged_regime` (claim F7) runs them. Measured on CPU (T = 256, D = 64): the update's error
is 7e-5 in fp32 and 1.0 with bf16 staging (the output's only 1.2e-3: the loss of learning does not show in
o); fp16 staging 0.12, and its dk overflows (|dk| reaches 1.1e5 > 65504 at values of size 4096).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from suite import anchors
from suite.checks import relative_error
from suite.fastweights.delta import _chunk_forward, _run, _state_recurrence, delta_rule

__all__ = ["converged_inputs", "regime_errors", "staged_delta_rule", "suite_impls", "fla_impls"]

Impl = Callable[..., tuple]  # (q, k, v, beta, S0) in [B, H, T, D] -> (o, S_T)


def _hadamard(D: int) -> torch.Tensor:
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < D:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def converged_inputs(B: int, H: int, T: int, D: int = 64, *, regime: str = "converged", n_keys: int = 16,
                     magnitude: float = 4096.0, seed: int = 0):
    """(q, k, v, beta, S0) in float64 on the CPU, [B, H, T, D] layout, every entry exact in bfloat16.

    Keys cycle at random through `n_keys` rows of the Hadamard matrix / sqrt(D) (orthonormal, and exact
    in bf16 for D a power of 4), so every implementation receives the same numbers whatever its I/O dtype.
    regime="converged": S0 (bf16, entries ~`magnitude`) and v_m = bf16(S0^T k_m): the state already
    predicts every value, the residual S0^T k_m - v_m is below half a bf16 spacing of v (|r| <= 16 at 4096).
    regime="random": the same keys, values of the same size, S0 = 0 (the usual test inputs' regime).
    """
    if regime not in ("converged", "random"):
        raise ValueError(f"regime must be 'converged' or 'random', got {regime!r}")
    if D < 4 or D & (D - 1) or (D.bit_length() - 1) % 2:
        raise ValueError(f"D must be a power of 4 (16, 64, 256: 1/sqrt(D) exact in bf16), got {D}")
    if not 1 <= n_keys <= D:
        raise ValueError(f"n_keys must lie in [1, D = {D}], got {n_keys}")
    g = torch.Generator().manual_seed(seed)
    f64, bf = torch.float64, torch.bfloat16
    exact = lambda x: x.to(bf).to(f64)  # noqa: E731
    rows = torch.randperm(D, generator=g)[:n_keys]
    keys = (_hadamard(D)[rows] / D ** 0.5).expand(B, H, n_keys, D)  # [B, H, M, D]
    W = magnitude * (1 + torch.rand(B, H, n_keys, D, generator=g, dtype=f64))
    S0 = exact(keys.transpose(-1, -2) @ W)  # [B, H, D, D]
    values = exact(keys @ S0) if regime == "converged" else exact(W)  # bf16(S0^T k_m)
    if regime == "random":
        S0 = torch.zeros_like(S0)
    idx = torch.randint(n_keys, (B, H, T), generator=g)
    gather = lambda table: torch.gather(table, 2, idx[..., None].expand(B, H, T, D))  # noqa: E731
    k, v = gather(keys), gather(values)
    q = exact(k + 0.1 * torch.randn(B, H, T, D, generator=g, dtype=f64))
    beta = exact(torch.sigmoid(torch.randn(B, H, T, generator=g, dtype=f64)))
    return q, k.contiguous(), v, beta, S0


METRICS = ("o", "S_T", "update", "dq", "dk", "dv", "dbeta", "dS0", "grad_max")


def _forward_backward(impl: Impl, inputs, dtype, device, seed: int):
    xs = [x.detach().to(device=device, dtype=dtype).clone().requires_grad_() for x in inputs]
    o, S = impl(*xs)
    g = torch.Generator().manual_seed(seed)
    w_o = torch.randn(o.shape, generator=g, dtype=torch.float64).to(device=device, dtype=o.dtype)
    w_s = torch.randn(S.shape, generator=g, dtype=torch.float64).to(device=device, dtype=S.dtype)
    ((o * w_o).sum() + (S * w_s).sum()).backward()
    return o.detach(), S.detach(), [x.grad for x in xs]


def regime_errors(impls: dict[str, tuple[Impl, torch.dtype]], inputs, device="cpu", seed: int = 0,
                  reference: Impl | None = None) -> dict[str, dict[str, float]]:
    """Relative errors (||x - x_ref|| / ||x_ref||) of each implementation against a float64 reference.

    impls: name -> (impl, dtype the inputs are cast to). The reference (default: the float64 chunkwise
    delta rule on `device`, equal to the step-by-step recurrence to 1e-10 by the property tests) runs on the
    very inputs each implementation received (rounded to its dtype), so input rounding is not counted
    against a kernel. Keys of each row (`METRICS`): "o", "S_T", "update" (S_T - S_0), "dq", "dk", "dv",
    "dbeta", "dS0", and "grad_max" (the largest gradient error); an implementation that raises gets NaN for
    each and "error" (the exception).
    """
    ref = reference or (lambda q, k, v, b, S0: delta_rule(q, k, v, b, initial_state=S0, output_final_state=True,
                                                          backend="torch"))
    refs = {}  # per input dtype: the reference on the inputs rounded to that dtype (what the impl received)
    out = {}
    for name, (impl, dtype) in impls.items():
        received = [x.to(dtype).to(torch.float64) for x in inputs]
        if dtype not in refs:
            refs[dtype] = _forward_backward(ref, received, torch.float64, device, seed)
        o_r, S_r, g_r = refs[dtype]
        S0 = received[4].to(device)
        try:
            o, S, grads = _forward_backward(impl, received, dtype, device, seed)
        except Exception as exc:  # noqa: BLE001 - a library kernel that fails here is a row saying so
            out[name] = dict.fromkeys(METRICS, float("nan")) | {"error": f"{type(exc).__name__}: {exc}"[:200]}
            continue
        row = {"o": relative_error(o, o_r), "S_T": relative_error(S, S_r),
               "update": relative_error(S.double() - S0, S_r - S0)}
        for gname, a, b in zip(("dq", "dk", "dv", "dbeta", "dS0"), grads, g_r):
            row[gname] = relative_error(a, b) if a is not None else float("inf")
        row["grad_max"] = max(row[n] for n in ("dq", "dk", "dv", "dbeta", "dS0"))
        out[name] = row
    return out


def _rounding(dtype: torch.dtype):
    """x -> x rounded to `dtype` and back to its own dtype (differentiable: the gradient is rounded too)."""
    return lambda x: x.to(dtype).to(x.dtype)


def staged_delta_rule(dtype: torch.dtype) -> Impl:
    """The fixed chunkwise algorithm with the tensors a low-precision kernel stores staged in `dtype`.

    Arithmetic and accumulation stay float32; rounded to `dtype` are the inputs (as received), the UT
    transform's outputs u = T V and w = T K, the state entering each chunk's products, and the corrected
    values u' = u - w S, which are the staged residual v - S^T k of the step-by-step form; the final state
    stays float32. This mirrors the storage of flash-linear-attention's bf16 chunk kernel (w, u, the chunk
    states h and v_new in the I/O dtype, fp32 accumulators: Yang et al. 2024 sec. 3.2 / fla's
    chunk_delta_rule), and runs on any device.
    """
    stage = _rounding(dtype)

    def recurrence(u, w, kt, decay, S):
        return _state_recurrence(stage(u), stage(w), kt, decay, S, stage=stage)

    def forward(q, k, v, b, g, S0, scale):
        return _chunk_forward(q, k, v, b, None, S0, scale, min(64, q.shape[2]), recurrence)

    def run(q, k, v, beta, S0):
        q, k, v, beta, S0 = (x.float() for x in (q, k, v, beta, S0))  # fp32 compute on the rounded inputs
        return _run(forward, q, k, v, beta, None, scale=None, initial_state=S0, output_final_state=True,
                    layout="BHTD")

    return run


def suite_impls(backends=("torch",)) -> dict[str, tuple[Impl, torch.dtype]]:
    """The fixed delta rule in fp32 (one entry per backend), the same with bf16 I/O (inputs, output and final
    state in bf16, fp32 inside), and the chunkwise algorithm staged in bf16 and fp16 (`staged_delta_rule`)."""
    def make(backend):
        return lambda q, k, v, b, S0: delta_rule(q, k, v, b, initial_state=S0, output_final_state=True,
                                                 backend=backend)
    impls = {f"suite fp32 ({b})": (make(b), torch.float32) for b in backends}
    impls["suite bf16 I/O (fp32 accumulation)"] = (make(backends[0]), torch.bfloat16)
    impls["chunkwise, bf16 staging"] = (staged_delta_rule(torch.bfloat16), torch.bfloat16)
    impls["chunkwise, fp16 staging"] = (staged_delta_rule(torch.float16), torch.float16)
    return impls


def fla_impls() -> dict[str, tuple[Impl, torch.dtype]]:
    """flash-linear-attention's chunk_delta_rule (bf16) and fused_recurrent_delta_rule (fp32) when installed
    (`suite.anchors`; they run on CUDA tensors only)."""
    found = anchors.variants("fla_chunk", "fla_fused_recurrent")

    def adapt(fn):
        return lambda q, k, v, b, S0: fn(q, k, v, b, initial_state=S0, output_final_state=True)

    dtypes = {"fla_chunk": ("fla chunk bf16", torch.bfloat16), "fla_fused_recurrent": ("fla fused_recurrent fp32",
                                                                                      torch.float32)}
    return {dtypes[n][0]: (adapt(fn), dtypes[n][1]) for n, fn in found.items()}


def run(device: str = "cuda", B: int = 1, H: int = 4, T: int = 2048, D: int = 64) -> dict:
    """Both regimes, every available implementation: {regime: {impl: {metric: error}}}."""
    impls = suite_impls(("torch", "triton") if device == "cuda" else ("torch",))
    if device == "cuda":
        impls.update(fla_impls())
    return {regime: regime_errors(impls, converged_inputs(B, H, T, D, regime=regime), device=device)
            for regime in ("converged", "random")}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(*sys.argv[1:2]), indent=1))
