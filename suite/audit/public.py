"""The public libraries' functions that the audit judges, mapped onto the signatures of the suite's pairs.

Most are the suite's anchors (`suite.anchors`, the variants the report already times beside naive and
fixed); the two that are not anchors are adapters here. Adapters change layout and types only (no numerics
of their own), so what the audit measures is the library's arithmetic:

- torchhd (HRR): `HRRTensor(x).bind(HRRTensor(y))`, `ifft(fft(x) fft(y)).real`        -> holographic.bind
- hrr (`HRR.with_pytorch`): `projection(x, -1)` (fft, X/|X|, ifft.real, nan_to_num)   -> holographic.project
  and `binding(projection(x), projection(y), -1)`                                      -> holographic.phasor_bind
- geoopt: `Lorentz().dist(x, y)` (arcosh of the Minkowski product)                     -> hyperbolic.lorentz_distance
- TorchOptics: `Field(u, wavelength=, spacing=).propagate_to_z(z, propagation_method="ASM")` -> optics.asm
- PADO (`pado-optics`): `Propagator("ASM").forward(Light(...), z)` (band-limited ASM)  -> optics.asm
- flash-linear-attention (`fla-core`): `chunk_delta_rule`, `fused_recurrent_delta_rule` (Triton, CUDA only,
  layout [B, T, H, D]) on the suite's float32 inputs, and `chunk_delta_rule` in bfloat16 (inputs cast, outputs
  cast back), since its chunked form refuses float32                                   -> fastweights.delta_rule

A library that is not installed is absent from `installed()` and listed by `missing()`; nothing is imported
to find out (`importlib.util.find_spec`). An installed library that fails to import is reported by the
audit as "raised" with the import error, on the first property it is called for.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from suite import anchors


@dataclass(frozen=True)
class PublicImpl:
    """One public function mapped onto a pair: `fn` has the pair's signature; `needs` are the top-level
    packages it imports and `dist` the distribution that provides them (what to `pip install`)."""

    name: str
    library: str
    function: str
    pair: str
    fn: Callable[..., Any]
    needs: tuple[str, ...]
    dist: str
    devices: tuple[str, ...] = ("cpu", "cuda")

    def present(self) -> bool:
        """Every package it needs is installed (found on the path; nothing is imported)."""
        return all(importlib.util.find_spec(pkg) is not None for pkg in self.needs)


def hrr_phasor_bind(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The `hrr` package's own phasor binding: `binding(projection(x, -1), projection(y, -1), -1)`."""
    hrr = anchors.library("HRR.with_pytorch")
    return hrr.binding(hrr.projection(x, -1), hrr.projection(y, -1), -1)


def fla_chunk_delta_rule_fp32(q, k, v, beta):
    """fla's `chunk_delta_rule` on the suite's float32 inputs as given (the anchor `fla_chunk` runs it in
    bfloat16, its supported dtype), through the anchors' layout adapter (`suite.anchors._fla_call`)."""
    return anchors._fla_call(anchors.library("fla.ops.delta_rule").chunk_delta_rule, q.dtype, q, k, v, beta)


PUBLIC: tuple[PublicImpl, ...] = (
    PublicImpl("torchhd_bind", "torchhd", "HRRTensor.bind", "holographic.bind", anchors.torchhd_hrr_bind,
               ("torchhd",), "torch-hd"),
    PublicImpl("hrr_projection", "hrr", "HRR.with_pytorch.projection", "holographic.project",
               anchors.hrr_projection, ("HRR",), "hrr"),
    PublicImpl("hrr_phasor_bind", "hrr", "HRR.with_pytorch.binding(projection, projection)",
               "holographic.phasor_bind", hrr_phasor_bind, ("HRR",), "hrr"),
    PublicImpl("geoopt_lorentz_dist", "geoopt", "geoopt.Lorentz().dist", "hyperbolic.lorentz_distance",
               anchors.geoopt_lorentz_dist, ("geoopt",), "geoopt"),
    PublicImpl("torchoptics_asm", "torchoptics", "Field.propagate_to_z(ASM)", "optics.asm",
               anchors.torchoptics_asm, ("torchoptics",), "torchoptics"),
    PublicImpl("pado_asm", "pado", "Propagator('ASM').forward", "optics.asm", anchors.pado_asm, ("pado",),
               "pado-optics"),
    PublicImpl("fla_chunk", "fla", "fla.ops.delta_rule.chunk_delta_rule", "fastweights.delta_rule",
               fla_chunk_delta_rule_fp32, ("fla",), "fla-core", devices=("cuda",)),
    PublicImpl("fla_chunk_bf16", "fla", "fla.ops.delta_rule.chunk_delta_rule (bfloat16, its supported dtype)",
               "fastweights.delta_rule", anchors.fla_chunk_delta_rule, ("fla",), "fla-core",
               devices=("cuda",)),
    PublicImpl("fla_fused_recurrent", "fla", "fla.ops.delta_rule.fused_recurrent_delta_rule",
               "fastweights.delta_rule", anchors.fla_fused_recurrent_delta_rule, ("fla",), "fla-core",
               devices=("cuda",)),
)


def _selected(pair: str | None) -> list[PublicImpl]:
    return [p for p in PUBLIC if pair in (None, "all") or p.pair == pair]


def installed(pair: str | None = None, device: str = "cpu") -> dict[str, tuple[PublicImpl, Callable[..., Any]]]:
    """{name: (PublicImpl, function)} of the public functions installed here for `pair` (None/"all": every
    pair) that run on `device`."""
    return {p.name: (p, p.fn) for p in _selected(pair) if device in p.devices and p.present()}


def missing(pair: str | None = None, device: str = "cpu") -> list[tuple[PublicImpl, str]]:
    """(PublicImpl, why) of the public functions not audited on `device`: not installed, or not for it."""
    out = []
    for p in _selected(pair):
        if not p.present():
            out.append((p, f"not installed (pip install {p.dist})"))
        elif device not in p.devices:
            out.append((p, f"runs on {', '.join(p.devices)} only, not on {device}"))
    return out
