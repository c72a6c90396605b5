"""Reusable numerical properties for any callable with a pair's signature, each with the verdict a reader sees.

A `Property` draws a *case* (a few numbers: size, seed, radius, distance...) with a hypothesis strategy, builds
float32 inputs from it, calls the implementation and asks whether the output keeps one promise (right shape,
finite, unitary, within K times the fixed version's error against the float64 oracle, ...). `check` searches
with `hypothesis.find` for a case that breaks the promise; hypothesis then shrinks it, so a failure comes with
the smallest failing case it found ("d=3" rather than "d=211").

The edge inputs are those that break the obvious implementations (see the research report, sections 2.3, 3.2,
4.2, 5.2): zero spectral bins (exactly zero-mean vectors), odd sizes (`irfft` without `n`), nearby points far
from the origin (cancellation in `arcosh(-<x, y>_L)`), long propagation distances (wrap-around beyond
`z_c = 2 N dx^2 / lambda`), keys that are not unit vectors.

The oracle is evaluated on the very float32 numbers the implementation received (the pair's `oracle`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from suite import registry
from suite.audit.guard import ImplFailure, guarded
from suite.checks import nonfinite_count, relative_error

K_ORACLE = 10.0  # "error vs float64 oracle <= K x the fixed version's"
EPS32 = float(torch.finfo(torch.float32).eps)
FLOOR = 8 * EPS32  # a fixed error of 0 (d = 1, exact sums) must not make the bound 0


@dataclass(frozen=True)
class Check:
    """One evaluation: whether the promise held, the number behind it and a sentence."""

    ok: bool
    number: float
    detail: str


@dataclass(frozen=True)
class Property:
    """A named promise of one pair. `evaluate(impl, case) -> Check`; `failure` is the verdict on failure."""

    pair: str
    name: str
    failure: str
    strategy: st.SearchStrategy
    evaluate: Callable[[Callable[..., Any], dict], Check]
    max_examples: int = 25


@dataclass(frozen=True)
class PropertyResult:
    """Outcome of one property for one implementation. status: passed, failed, raised, timeout, wrong shape."""

    pair: str
    impl: str
    property: str
    status: str
    number: float
    detail: str
    example: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def verdict(self) -> str:
        return "passes" if self.passed else self.detail


# ============================================================================================ helpers
def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _tensor_out(out: Any, what: str) -> torch.Tensor:
    t = _first(out)
    if not isinstance(t, torch.Tensor):
        raise ImplFailure("wrong shape", f"{what} returned {type(t).__name__}, expected a torch.Tensor")
    return t


def _same_shape(out: torch.Tensor, like: torch.Tensor, what: str) -> None:
    if tuple(out.shape) != tuple(like.shape):
        raise ImplFailure("wrong shape", f"{what}: output shape {tuple(out.shape)}, expected {tuple(like.shape)}")


def shape_check(out: torch.Tensor, expected: tuple, case: dict, failure: str) -> Check:
    ok = tuple(out.shape) == tuple(expected)
    return Check(ok, float(ok), "shape as expected" if ok else
                 f"{failure}: output shape {tuple(out.shape)}, expected {tuple(expected)}")


def oracle_check(err: float, err_fixed: float, k: float = K_ORACLE) -> Check:
    """err <= k * max(err_fixed, FLOOR); the number is err / max(err_fixed, FLOOR)."""
    bound = max(err_fixed, FLOOR)
    ratio = err / bound
    return Check(ratio <= k, ratio, f"relative error {err:.2e} vs the fixed version's {err_fixed:.2e} "
                                    f"({ratio:.3g}x, bound {k:g}x)")


def finite_check(out: torch.Tensor, failure: str) -> Check:
    n = nonfinite_count(out)
    return Check(n == 0, float(n), "all finite" if n == 0 else f"{failure}: {n} of {out.numel()} entries NaN/Inf")


def _both(first: Check, second: Check) -> Check:
    return first if not first.ok else second


def _pair(name: str) -> registry.Pair:
    return registry.get_pair(name)


# ============================================================================================ holographic
B_HOLO = 4
HOLO_D = st.integers(1, 129)
SEED = st.integers(0, 2**16)


def holo_vectors(d: int, seed: int, n: int = 2, zero_mean: bool = False) -> tuple[torch.Tensor, ...]:
    """`n` float32 batches [B_HOLO, d] of N(0, 1/d) entries; zero_mean: v - roll(v) of small integers / 32,
    every sum exact, so the DC bin is exactly 0 (what a mean-subtracted layer output looks like)."""
    g = _gen(seed)
    if zero_mean:
        out = []
        for _ in range(n):
            v = torch.randint(-3, 4, (B_HOLO, d), generator=g).double()
            out.append(((v - v.roll(1, -1)) / 32).float())
        return tuple(out)
    return tuple((torch.randn(B_HOLO, d, generator=g, dtype=torch.float64) / math.sqrt(d)).float() for _ in range(n))


def unitary_deviation(x: torch.Tensor) -> float:
    """max over bins of | |rfft(x)| - 1 | in float64 (0 for a unitary vector)."""
    return float((torch.fft.rfft(x.double(), dim=-1).abs() - 1).abs().max())


def _holo_props(pair: str, n_args: int, unitary: bool) -> list[Property]:
    def call(impl, case, zero_mean=False):
        args = holo_vectors(case["d"], case["seed"], n_args, zero_mean)
        return args, _tensor_out(impl(*args), pair)

    def shape(impl, case):
        args, out = call(impl, case)
        return shape_check(out, args[0].shape, case, "odd d loses a sample" if case["d"] % 2 else "wrong length")

    def accuracy(impl, case):
        args, out = call(impl, case)
        p = _pair(pair)
        ref = p.oracle(*args)
        _same_shape(out, ref, pair)
        return oracle_check(relative_error(out, ref), relative_error(_first(p.fixed(*args)), ref))

    def zero_bins(impl, case):
        args, out = call(impl, case, zero_mean=True)
        fin = finite_check(out, "NaN on zero-mean input")
        if not unitary or not fin.ok:
            return fin
        dev = unitary_deviation(out)
        return Check(dev <= 1e-3, dev, f"max | |spectrum| - 1 | = {dev:.2e} on zero-mean input" +
                     ("" if dev <= 1e-3 else ": a zero spectral bin is not mapped to a unit phasor"))

    props = [
        Property(pair, "odd d keeps every sample", "odd d loses a sample",
                 st.fixed_dictionaries({"d": st.integers(2, 129), "seed": SEED}), shape),
        Property(pair, f"error vs float64 oracle <= {K_ORACLE:g}x the fixed version's",
                 f"error vs float64 oracle > {K_ORACLE:g}x the fixed version's",
                 st.fixed_dictionaries({"d": HOLO_D, "seed": SEED}), accuracy),
        Property(pair, "zero spectral bins (zero-mean input)" + (": unit phasors" if unitary else ": finite"),
                 "NaN on zero-mean input" if not unitary else "zero spectral bin breaks the unitary projection",
                 st.fixed_dictionaries({"d": st.integers(2, 129), "seed": SEED}), zero_bins),
    ]
    if unitary:
        def unit(impl, case):
            _, out = call(impl, case)
            fin = finite_check(out, "NaN/Inf output")
            dev = unitary_deviation(out) if fin.ok else math.inf
            return _both(fin, Check(dev <= 1e-3, dev, f"max | |spectrum| - 1 | = {dev:.2e}"))
        props.append(Property(pair, "output is unitary (|rfft| = 1 in every bin)", "output is not unitary",
                              st.fixed_dictionaries({"d": HOLO_D, "seed": SEED}), unit))
    return props


# ============================================================================================ hyperbolic
LORENTZ = "hyperbolic.lorentz_distance"
DIM_H = 16
B_HYP = 8


def lorentz_points(radius: float, sep: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """B_HYP pairs of float32 Lorentz points (dim 16 + 1): x at `radius` from the origin, y = exp_0(v + sep u)
    a geodesic-ish `sep` away; built in float64 by the cancellation-free exp_0, then rounded."""
    from suite import hyperbolic as hy

    g = _gen(seed)
    unit = lambda: torch.nn.functional.normalize(torch.randn(B_HYP, DIM_H, generator=g, dtype=torch.float64), dim=-1)  # noqa: E731
    v = radius * unit()
    w = v + sep * unit()
    return hy.lorentz_expmap0(v).float(), hy.lorentz_expmap0(w).float()


def _hyp_props() -> list[Property]:
    pair = LORENTZ

    def accuracy(impl, case):
        x, y = lorentz_points(case["radius"], case["sep"], case["seed"])
        out = _tensor_out(impl(x, y), pair)
        p = _pair(pair)
        ref = p.oracle(x, y)
        _same_shape(out, ref, pair)
        return oracle_check(relative_error(out, ref), relative_error(_first(p.fixed(x, y)), ref))

    def self_distance(impl, case):
        x, _ = lorentz_points(case["radius"], 0.0, case["seed"])
        out = _tensor_out(impl(x, x.clone()), pair)
        fin = finite_check(out, "NaN/Inf for d(x, x)")
        worst = float(out.abs().max()) if fin.ok else math.inf
        return _both(fin, Check(worst <= 1e-3, worst, f"max d(x, x) = {worst:.2e} at radius {case['radius']:.3g}"
                                + ("" if worst <= 1e-3 else ": d(x, x) != 0 (cancellation)")))

    def far(impl, case):
        x, y = lorentz_points(case["radius"], 1.0, case["seed"])
        out = _tensor_out(impl(x, y), pair)
        fin = finite_check(out, f"NaN/Inf at radius {case['radius']:.3g}")
        neg = int((out < 0).sum()) if fin.ok else 0
        return _both(fin, Check(neg == 0, float(neg), f"{neg} negative distances"))

    near = st.fixed_dictionaries({"radius": st.floats(0, 12), "sep": st.floats(1e-3, 0.5), "seed": SEED})
    return [
        Property(pair, f"nearby points: error vs float64 oracle <= {K_ORACLE:g}x the fixed version's",
                 "small distances lost to cancellation", near, accuracy),
        Property(pair, "d(x, x) = 0 at every radius", "d(x, x) != 0",
                 st.fixed_dictionaries({"radius": st.floats(0, 12), "seed": SEED}), self_distance),
        Property(pair, "finite and >= 0 up to radius 40 (float32)", "NaN/Inf at large radius",
                 st.fixed_dictionaries({"radius": st.floats(0, 40), "seed": SEED}), far),
    ]


# ============================================================================================ optics
ASM = "optics.asm"
LAM, DX = 0.5e-6, 1e-6
OPT_N = st.sampled_from([33, 63, 65, 32, 64])  # odd sizes first: the shape property is about them
OPT_EVEN = st.sampled_from([32, 48, 64, 96, 128])


def circle_case(n: int, z_over_zc: float, seed: int):
    """A uniformly lit circle (radius N dx / 10.24, random complex amplitude) in complex64, the distance
    z = z_over_zc * 2 N dx^2 / lambda, and the exact first-Rayleigh-Sommerfeld on-axis value (complex128)."""
    from suite import optics as op

    g = _gen(seed)
    r = 0.5 + float(torch.rand((), generator=g, dtype=torch.float64))
    ph = 2 * math.pi * float(torch.rand((), generator=g, dtype=torch.float64))
    amp = complex(r * math.cos(ph), r * math.sin(ph))
    radius = n * DX / 10.24
    u = (amp * op.circular_aperture(n, DX, radius)).to(torch.complex64)
    z = z_over_zc * 2 * n * DX * DX / LAM
    # the oracle reads the amplitude the implementation received (the rounded complex64 centre value)
    ref = u[n // 2, n // 2].to(torch.complex128) * op.circular_aperture_on_axis(z, radius, LAM)
    return (u, DX, LAM, z), torch.as_tensor(ref, dtype=torch.complex128)


def _opt_props() -> list[Property]:
    pair = ASM

    def field(impl, args):
        return _tensor_out(impl(*args), pair)

    def center(f):
        return f[..., f.shape[-2] // 2, f.shape[-1] // 2]

    def shape(impl, case):
        args, _ = circle_case(case["n"], case["zf"], case["seed"])
        out = field(impl, args)
        return shape_check(out, args[0].shape, case, "odd N changes the grid" if case["n"] % 2 else "grid changed")

    def accuracy(impl, case):
        args, ref = circle_case(case["n"], case["zf"], case["seed"])
        out = field(impl, args)
        _same_shape(out, args[0], pair)
        fixed = _first(_pair(pair).fixed(*args))
        return oracle_check(relative_error(center(out), ref), relative_error(center(fixed), ref))

    def energy(impl, case):
        args, _ = circle_case(case["n"], case["zf"], case["seed"])
        out = field(impl, args)
        fin = finite_check(out, "NaN/Inf output")
        if not fin.ok:
            return fin
        ratio = float(out.detach().cpu().to(torch.complex128).abs().pow(2).sum() /
                      args[0].to(torch.complex128).abs().pow(2).sum())
        return Check(ratio <= 1 + 1e-3, ratio, f"output / input energy = {ratio:.6f}" +
                     ("" if ratio <= 1 + 1e-3 else ": energy grows (propagation cannot create power)"))

    dist = st.fixed_dictionaries({"n": OPT_EVEN, "zf": st.floats(0.05, 8.0), "seed": SEED})
    return [
        Property(pair, "odd N keeps the grid", "odd N changes the grid",
                 st.fixed_dictionaries({"n": OPT_N, "zf": st.floats(0.05, 8.0), "seed": SEED}), shape,
                 max_examples=10),
        Property(pair, f"on-axis error vs exact Rayleigh-Sommerfeld <= {K_ORACLE:g}x the fixed version's "
                       "(z up to 8 z_c)", "long distances: wrap-around / phase error", dist, accuracy),
        Property(pair, "energy does not grow, output finite", "energy grows", dist, energy, max_examples=15),
    ]


# ============================================================================================ fast weights
DELTA = "fastweights.delta_rule"


def delta_case(t: int, d: int, knorm: float, seed: int) -> tuple[torch.Tensor, ...]:
    """q, k, v [1, 2, T, d], beta [1, 2, T] in float32: q, v ~ N(0, 1), keys of norm `knorm` (1 = the
    normalised keys of DeltaNet), beta = sigmoid(N(0, 1)) scaled so that beta ||k||^2 < 2 (contractive)."""
    g = _gen(seed)
    q = torch.randn(1, 2, t, d, generator=g, dtype=torch.float64)
    k = knorm * torch.nn.functional.normalize(torch.randn(1, 2, t, d, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(1, 2, t, d, generator=g, dtype=torch.float64)
    beta = torch.sigmoid(torch.randn(1, 2, t, generator=g, dtype=torch.float64)) * min(1.0, 1.9 / knorm**2)
    return tuple(x.float() for x in (q, k, v, beta))


def _fw_props() -> list[Property]:
    pair = DELTA

    def shape(impl, case):
        args = delta_case(case["t"], case["d"], 1.0, case["seed"])
        out = _tensor_out(impl(*args), pair)
        return shape_check(out, args[2].shape, case, "T not a multiple of the chunk size loses steps")

    def accuracy(impl, case):
        args = delta_case(case["t"], case["d"], case["knorm"], case["seed"])
        out = _tensor_out(impl(*args), pair)
        p = _pair(pair)
        ref = p.oracle(*args)
        _same_shape(out, ref, pair)
        return oracle_check(relative_error(out, ref), relative_error(_first(p.fixed(*args)), ref))

    ts = st.integers(1, 80)
    ds = st.sampled_from([4, 8, 16])
    return [
        Property(pair, "any T (odd, not a multiple of the chunk) keeps every step", "odd T loses a step",
                 st.fixed_dictionaries({"t": ts, "d": ds, "seed": SEED}), shape, max_examples=10),
        Property(pair, f"unit keys: error vs float64 oracle <= {K_ORACLE:g}x the fixed version's",
                 f"error vs float64 oracle > {K_ORACLE:g}x the fixed version's",
                 st.fixed_dictionaries({"t": ts, "d": ds, "knorm": st.just(1.0), "seed": SEED}), accuracy,
                 max_examples=15),
        Property(pair, "unnormalised keys (|k| in [0.1, 1.4], beta |k|^2 < 2): error <= "
                       f"{K_ORACLE:g}x the fixed version's", "unnormalised keys break it",
                 st.fixed_dictionaries({"t": ts, "d": ds, "knorm": st.floats(0.1, 1.4), "seed": SEED}),
                 accuracy, max_examples=15),
    ]


def properties(pair: str) -> list[Property]:
    """The named properties of one pair (an empty list for a pair that has none yet)."""
    if pair in ("holographic.bind",):
        return _holo_props(pair, 2, unitary=False)
    if pair == "holographic.project":
        return _holo_props(pair, 1, unitary=True)
    if pair == "holographic.phasor_bind":
        return _holo_props(pair, 2, unitary=True)
    if pair == LORENTZ:
        return _hyp_props()
    if pair == ASM:
        return _opt_props()
    if pair == DELTA:
        return _fw_props()
    return []


AUDITED_PAIRS = ("holographic.bind", "holographic.project", "holographic.phasor_bind", LORENTZ, ASM, DELTA)


# ============================================================================================ runner
def _describe(case: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in case.items())


def check(prop: Property, impl: Callable[..., Any], impl_name: str = "impl", *, timeout: float = 10.0,
          max_examples: int | None = None) -> PropertyResult:
    """Search for the smallest case that breaks `prop` for `impl` (hypothesis.find, shrinking on).

    An implementation that raises, hangs past `timeout` seconds per call, or returns the wrong shape fails
    the property with that status; a hang stops the search at once (every further call would hang too).
    """
    call = guarded(impl, timeout, impl_name)
    worst: list[float] = []
    stop: list[ImplFailure] = []

    def outcome(case: dict) -> Check | ImplFailure:
        try:
            return prop.evaluate(call, case)
        except ImplFailure as exc:
            return exc

    def breaks(case: dict) -> bool:
        if stop:
            return False
        res = outcome(case)
        if isinstance(res, ImplFailure):
            if res.status == "timeout":
                stop.append(res)
                stop.append(case)  # type: ignore[arg-type]
                return False
            return True
        if math.isfinite(res.number):
            worst.append(res.number)
        return not res.ok

    n = max_examples or prop.max_examples
    cfg = settings(max_examples=n, deadline=None, database=None, derandomize=True, print_blob=False,
                   suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    base = dict(pair=prop.pair, impl=impl_name, property=prop.name)
    try:
        case = find(prop.strategy, breaks, settings=cfg)
    except NoSuchExample:
        if stop:
            return PropertyResult(**base, status="timeout", number=math.nan, detail=str(stop[0]),
                                  example=_describe(stop[1]))  # type: ignore[arg-type]
        return PropertyResult(**base, status="passed", number=max(worst, default=math.nan),
                              detail=f"passes ({n} cases)")
    res = outcome(case)
    if isinstance(res, ImplFailure):
        return PropertyResult(**base, status=res.status, number=math.nan, detail=str(res), example=_describe(case))
    detail = res.detail if res.detail.startswith(prop.failure) else f"{prop.failure}: {res.detail}"
    return PropertyResult(**base, status="failed", number=res.number, detail=detail, example=_describe(case))


def _cpu(x: Any) -> Any:
    return x.cpu() if isinstance(x, torch.Tensor) else x


def on_device(impl: Callable[..., Any], device: str) -> Callable[..., Any]:
    """`impl` called with its tensor arguments moved to `device` and its tensor outputs brought back to the
    CPU, where the properties' checks, the oracles and the fixed reference run (the identity on "cpu")."""
    if device == "cpu":
        return impl

    def call(*args):
        out = impl(*(a.to(device) if isinstance(a, torch.Tensor) else a for a in args))
        return type(out)(_cpu(o) for o in out) if isinstance(out, (tuple, list)) else _cpu(out)
    return call


def check_all(pair: str, impl: Callable[..., Any], impl_name: str = "impl", *, device: str = "cpu",
              timeout: float = 10.0, quick: bool = True) -> list[PropertyResult]:
    """Every property of `pair` against one implementation run on `device` (quick: a third of the
    examples, at least 5)."""
    out = []
    on = on_device(impl, device)
    for prop in properties(pair):
        n = max(5, prop.max_examples // 3) if quick else prop.max_examples
        out.append(check(prop, on, impl_name, timeout=timeout, max_examples=n))
    return out
