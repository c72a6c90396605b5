"""Issue 10's table, one version of the suite per process (PYTHONPATH picks before/after).

usage: PYTHONPATH=<tree>:/tmp/site python3 gpu_ops.py TAG DEVICE [rows...] > lines of JSON
Medians from torch.utils.benchmark blocked_autorange (CUDA synchronised by the Timer); every row in one run.
Each row also gives `kernels` (per call: CUDA kernels by torch.profiler; on the CPU the aten ops that do work)
and `syncs` (host reads of device values per call), from opcount.py; suite rows come with validation on (the
default) and, as "... validation off", with `suite.checks` validation switched off.
"""
import json
import math
import sys
import time

import torch
import torch.utils.benchmark as tb
from opcount import kernels_per_call, syncs_per_call

TAG, DEV = sys.argv[1], sys.argv[2]
ONLY = set(sys.argv[3:])
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
T0 = time.time()
BUDGET = float(__import__("os").environ.get("BUDGET", "200"))


def t_ms(fn, min_run=0.4):
    for _ in range(3):
        fn()
    if DEV == "cuda":
        torch.cuda.synchronize()
    m = tb.Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()).blocked_autorange(min_run_time=min_run)
    return m.median * 1e3


def row(name, fn, **extra):
    if ONLY and not any(name.startswith(o) for o in ONLY):
        return
    if time.time() - T0 > BUDGET:
        print(json.dumps({"tag": TAG, "dev": DEV, "row": name, "skipped": "budget"}), flush=True)
        return
    try:
        ms = t_ms(fn)
        try:
            extra = {**extra, "kernels": kernels_per_call(fn, DEV), "syncs": syncs_per_call(fn)}
        except Exception as exc:  # a count that fails does not lose the time
            extra = {**extra, "count_error": f"{type(exc).__name__}: {exc}"[:200]}
        print(json.dumps({"tag": TAG, "dev": DEV, "row": name, "ms": ms, **extra}), flush=True)
    except Exception as exc:  # record and go on
        print(json.dumps({"tag": TAG, "dev": DEV, "row": name, "error": f"{type(exc).__name__}: {exc}"[:300]}), flush=True)


g = torch.Generator(device="cpu").manual_seed(0)
try:
    from suite import validation
except Exception:  # an old tree without the switch
    validation = None


def suite_rows(name, fn, **extra):
    """The suite op as it runs by default (validation on) and with validation off."""
    row(name, fn, **extra)
    if validation is not None:
        def off():
            with validation(False):
                return fn()
        row(f"{name} validation off", off, **extra)


def rn(*s, dtype=torch.float32):
    return torch.randn(*s, generator=g, dtype=dtype).to(DEV)


import suite.holographic as H  # noqa: E402

B, d = (16384, 1024) if DEV == "cuda" else (2048, 1024)
x, y = rn(B, d), rn(B, d)
suite_rows("bind suite", lambda: H.bind(x, y), B=B, d=d)
row("bind plain irfft(rfft*rfft)", lambda: torch.fft.irfft(torch.fft.rfft(x) * torch.fft.rfft(y), n=d))
row("bind elementwise floor (x*y)", lambda: x * y)
try:
    import torchhd
    hx, hy = torchhd.HRRTensor(x), torchhd.HRRTensor(y)
    row("bind torchhd HRR", lambda: hx.bind(hy))
except Exception as exc:
    print(json.dumps({"tag": TAG, "row": "torchhd", "error": str(exc)[:200]}))
suite_rows("phasor_bind suite", lambda: H.phasor_bind(x, y))


def plain_phasor():
    X, Y = torch.fft.rfft(x), torch.fft.rfft(y)
    return torch.fft.irfft(torch.sgn(X) * torch.sgn(Y), n=d)


row("phasor_bind plain irfft(sgn sgn)", plain_phasor)
if hasattr(H, "phasor_key"):
    try:
        key = H.phasor_key(y)
        suite_rows("phasor_bind cached key", lambda: H.phasor_bind(x, key))
    except Exception as exc:
        print(json.dumps({"tag": TAG, "row": "phasor_key", "error": str(exc)[:200]}))
try:
    import HRR.with_pytorch as hrr
    import torchhd
    row("phasor_bind hrr project + torchhd bind",
        lambda: torchhd.HRRTensor(hrr.projection(x, -1)).bind(torchhd.HRRTensor(hrr.projection(y, -1))))
except Exception as exc:
    print(json.dumps({"tag": TAG, "row": "hrr", "error": str(exc)[:200]}))

# CirculantLinear
for dd, BB, bwd in ((1024, 4096, True), (4096, 4096, False)):
    xx = rn(BB, dd).requires_grad_(bwd)
    cl = H.CirculantLinear(dd).to(DEV)
    lin = torch.nn.Linear(dd, dd).to(DEV)

    def fb(mod):
        def f():
            out = mod(xx)
            if bwd:
                out.sum().backward()
            return out
        return f
    lab = "fwd+bwd" if bwd else "fwd"
    suite_rows(f"CirculantLinear {lab} d={dd} suite", fb(cl))
    row(f"CirculantLinear {lab} d={dd} nn.Linear fp32", fb(lin))
    if DEV == "cuda":
        def tf32(f=fb(lin)):
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                return f()
            finally:
                torch.backends.cuda.matmul.allow_tf32 = False
        row(f"CirculantLinear {lab} d={dd} nn.Linear tf32", tf32)
    del xx

# distances
import suite.hyperbolic as Y  # noqa: E402

try:
    import geoopt
    man = geoopt.Lorentz()
except Exception:
    man = None
def accuracy(v, w):
    """The CUDA distances (the compiled branch-free path where Triton is installed) against the CPU path on the
    same float32 inputs: the first 20000 benchmark pairs plus common rays, nearby, nearly radial, identical
    and far pairs. Max relative difference (the CPU path meets the mpmath contract, 1e-5, in the tests)."""
    m = 20000
    a = v[:m]
    b = torch.cat([w[: m // 2], a[m // 2: m // 2 + 2000] * 1.7, a[m // 2 + 2000: m // 2 + 4000] + 1e-4,
                   a[m // 2 + 4000: m // 2 + 6000] * 0.6 + 1e-7, a[m // 2 + 6000: m // 2 + 8000],
                   w[m // 2 + 8000: m]])
    a = torch.cat([a[:-100], a[-100:] * 3000])  # far pairs: the log-domain form
    for name, f in (("tangent_distance", Y.tangent_distance),
                    ("lorentz_distance", lambda p, q: Y.lorentz_distance(Y.lorentz_expmap0(p[:-100]),
                                                                         Y.lorentz_expmap0(q[:-100])))):
        try:
            got, ref = f(a, b).double().cpu(), f(a.cpu(), b.cpu()).double()
            err = ((got - ref).abs() / ref.abs().clamp_min(1e-30)).max().item()
            print(json.dumps({"tag": TAG, "dev": DEV, "row": f"accuracy {name} cuda vs cpu", "max_rel": err}),
                  flush=True)
        except Exception as exc:
            print(json.dumps({"tag": TAG, "dev": DEV, "row": f"accuracy {name}", "error": str(exc)[:300]}), flush=True)


for n in ((1_000_000, 4_000_000) if DEV == "cuda" else (1_000_000,)):
    v, w = rn(n, 16) * 0.5, rn(n, 16) * 0.5
    suite_rows(f"tangent_distance n={n} suite", lambda: Y.tangent_distance(v, w))
    row(f"distance n={n} vecdot floor", lambda: torch.linalg.vecdot(v, w))
    xl, yl = Y.lorentz_expmap0(v), Y.lorentz_expmap0(w)
    suite_rows(f"lorentz_distance n={n} suite", lambda: Y.lorentz_distance(xl, yl))
    if man is not None:
        row(f"distance n={n} geoopt Lorentz.dist", lambda: man.dist(xl, yl))
    if DEV == "cuda" and n == 1_000_000 and (not ONLY or any("accuracy".startswith(o) for o in ONLY)):
        accuracy(v, w)
    del v, w, xl, yl

# optics
import suite.optics as O  # noqa: E402

lam, dx, z = 633e-9, 2e-6, 2e-3
for N in ((1024, 2048, 4096) if DEV == "cuda" else (1024,)):
    u = torch.polar(torch.ones(N, N), 2 * math.pi * torch.rand(N, N, generator=g)).to(torch.complex64).to(DEV)
    P = O.Propagator((N, N), dx, lam, z).to(DEV)
    row(f"Propagator N={N} suite", lambda: P(u))
    fx = torch.fft.fftfreq(2 * N, dx, device=DEV)
    fsq = fx[:, None] ** 2 + fx[None, :] ** 2
    arg = (1 / lam**2 - fsq).clamp_min(0)
    Hf = torch.polar(torch.ones_like(arg), (2 * math.pi * z * torch.sqrt(arg.double())).remainder(2 * math.pi).float())

    def plain():
        U = torch.fft.fft2(u, s=(2 * N, 2 * N))
        return torch.fft.ifft2(U * Hf)[..., :N, :N]
    row(f"Propagator N={N} plain padded fft2 + cached TF", plain)
    try:
        import torchoptics
        # TorchOptics builds its planes' tensors on the default device: make that the field's device (as
        # suite/anchors.py does), or a CUDA field fails with "Expected all tensors to be on the same device"
        with torch.device(u.device):
            fld = torchoptics.Field(u, wavelength=lam, spacing=(dx, dx))

        def to_asm(fld=fld, u=u):
            with torch.device(u.device):
                return fld.propagate_to_z(z, propagation_method="ASM")
        if N <= 2048:
            row(f"Propagator N={N} TorchOptics ASM", to_asm)
    except Exception as exc:
        print(json.dumps({"tag": TAG, "row": "torchoptics", "error": str(exc)[:200]}))
    if N == 2048 and DEV == "cuda":
        row("SAS N=2048 suite", lambda: O.sas(u, dx, lam, 0.2))
    del u, P, Hf

# delta rule (suite API only; fla rows come from suite.fastweights.benchmark in the same call)
import suite.fastweights as FW  # noqa: E402

for (Bd, Hd, Td, Dd) in (((4, 8, 1024, 64), (4, 8, 4096, 64), (2, 16, 8192, 128)) if DEV == "cuda" else ((1, 4, 1024, 64),)):
    q = rn(Bd, Hd, Td, Dd)
    k = torch.nn.functional.normalize(rn(Bd, Hd, Td, Dd), dim=-1)
    v = rn(Bd, Hd, Td, Dd)
    beta = torch.sigmoid(rn(Bd, Hd, Td))
    qg, kg, vg, bg = (t.clone().requires_grad_(True) for t in (q, k, v, beta))

    def fwd():
        if validation is not None:
            with validation(False):
                return FW.delta_rule(q, k, v, beta)[0]
        return FW.delta_rule(q, k, v, beta)[0]

    def fwdbwd():
        if validation is not None:
            with validation(False):
                o = FW.delta_rule(qg, kg, vg, bg)[0]
        else:
            o = FW.delta_rule(qg, kg, vg, bg)[0]
        o.sum().backward()
    lab = f"B{Bd} H{Hd} T{Td} D{Dd}"
    row(f"delta_rule fwd {lab} suite fp32", fwd)
    row(f"delta_rule fwd+bwd {lab} suite fp32", fwdbwd)
    del q, k, v, beta, qg, kg, vg, bg
print(json.dumps({"tag": TAG, "dev": DEV, "row": "_done", "wall_s": time.time() - T0}), flush=True)
