"""GPU comparison of the delta-rule kernels with flash-linear-attention (run: python -m suite.fastweights.benchmark).

Rows: suite fp32 on the PyTorch path and on the Triton state recurrence (its default precision, and
"ieee" and "tf32x3" products forced),
fla's chunk kernel (bf16; it refuses fp32) and fla's fused recurrent kernel (fp32), forward and
forward+backward medians (triton.testing.do_bench, validation off: fla checks nothing), with each one's
output error against the float64 chunkwise delta rule on the same (rounded) inputs. A hard wall-clock cap
skips the remaining rows (Triton compile time counts) and says so.
"""

from __future__ import annotations

import functools
import json
import sys
import time

import torch
import torch.nn.functional as F

from suite.checks import relative_error, validation
from suite.fastweights.delta import _chunk_forward, _run, delta_rule, gated_delta_rule

SIZES = ((4, 8, 1024, 64), (4, 8, 4096, 64), (2, 16, 8192, 128))


def _inputs(B, H, T, D, gated, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, device="cuda")  # noqa: E731
    q, k, v = r(B, H, T, D), F.normalize(r(B, H, T, D), dim=-1), r(B, H, T, D)
    beta = torch.sigmoid(r(B, H, T))
    gate = F.logsigmoid(r(B, H, T) + 4.0) if gated else None  # decays ~0.98
    return q, k, v, beta, gate


def _impls(gated):
    from suite.fastweights import _triton  # noqa: PLC0415

    op = gated_delta_rule if gated else delta_rule
    extra = lambda g: (g,) if gated else ()  # noqa: E731

    def suite(backend, precision=None):
        if backend == "torch" or precision is None:  # None: the op's own choice (default_precision)
            return lambda q, k, v, b, g: op(q, k, v, b, *extra(g), backend=backend)[0]
        rec = functools.partial(_triton.state_recurrence, precision=precision)
        fwd = lambda q, k, v, b, g, S0, s: _chunk_forward(q, k, v, b, g, S0, s, min(64, q.shape[2]), rec)  # noqa
        return lambda q, k, v, b, g: _run(fwd, q, k, v, b, g, scale=None, initial_state=None,
                                          output_final_state=False, layout="BHTD")[0]

    impls = {"suite fp32 torch": (suite("torch"), torch.float32),
             "suite fp32 triton (default precision)": (suite("triton"), torch.float32),
             "suite fp32 triton ieee": (suite("triton", "ieee"), torch.float32),
             "suite fp32 triton tf32x3": (suite("triton", "tf32x3"), torch.float32)}
    try:
        if gated:
            from fla.ops.gated_delta_rule import chunk_gated_delta_rule, fused_recurrent_gated_delta_rule  # noqa
            fla = {"fla chunk bf16": (chunk_gated_delta_rule, torch.bfloat16),
                   "fla fused_recurrent fp32": (fused_recurrent_gated_delta_rule, torch.float32)}
        else:
            from fla.ops.delta_rule import chunk_delta_rule, fused_recurrent_delta_rule  # noqa: PLC0415
            fla = {"fla chunk bf16": (chunk_delta_rule, torch.bfloat16),
                   "fla fused_recurrent fp32": (fused_recurrent_delta_rule, torch.float32)}
    except Exception as exc:  # noqa: BLE001
        print(f"fla not available: {exc!r}", flush=True)
        fla = {}
    for name, (f, dt) in fla.items():
        def run(q, k, v, b, g, f=f):
            tr = lambda x: x.transpose(1, 2).contiguous()  # noqa: E731
            kw = {"g": tr(g), "beta": tr(b)} if gated else {"beta": tr(b)}  # by name: fla's orders differ
            return f(tr(q), tr(k), tr(v), **kw)[0].transpose(1, 2)
        impls[name] = (run, dt)
    return impls


def run(cap_s: float = 150.0, sizes=SIZES, gated_sizes=((4, 8, 4096, 64),)) -> list[dict]:
    from triton.testing import do_bench  # noqa: PLC0415

    t0, rows = time.time(), []
    for gated, size_list in ((False, sizes), (True, gated_sizes)):
        impls = _impls(gated)
        for size in size_list:
            xs64 = [x.double() if x is not None else None for x in _inputs(*size, gated)]
            for name, (f, dt) in impls.items():
                row = {"op": "gated_delta_rule" if gated else "delta_rule", "BHTD": size, "impl": name}
                if time.time() - t0 > cap_s:
                    row["skipped"] = f"time cap {cap_s:.0f} s reached"
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    continue
                try:
                    xs = [x.to(dt) if x is not None else None for x in xs64]
                    ref_in = [x.double() if x is not None else None for x in xs]
                    ref_op = gated_delta_rule if gated else delta_rule
                    ref = ref_op(*ref_in[:4], *((ref_in[4],) if gated else ()), backend="torch")[0]
                    with validation(False), torch.no_grad():
                        o = f(*xs)
                        row["err_fwd"] = relative_error(o.float(), ref)
                        row["fwd_ms"] = do_bench(lambda: f(*xs), warmup=3, rep=20)
                    leaves = [x.clone().requires_grad_() if x is not None else None for x in xs]
                    do = torch.randn_like(o)

                    def fb():
                        for x in leaves:
                            if x is not None:
                                x.grad = None
                        f(*leaves).backward(do)

                    with validation(False):
                        row["fwd_bwd_ms"] = do_bench(fb, warmup=2, rep=20)
                except Exception as exc:  # noqa: BLE001 - report and go on
                    row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
                row["elapsed_s"] = round(time.time() - t0, 1)
                rows.append(row)
                print(json.dumps(row), flush=True)
            del xs64
            torch.cuda.empty_cache()
    return rows


if __name__ == "__main__":
    out = run(float(sys.argv[1]) if len(sys.argv) > 1 else 150.0)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as fh:
            json.dump(out, fh, indent=1)
