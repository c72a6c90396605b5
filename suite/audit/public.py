"""Adapters from public libraries to the signatures of the suite's pairs.

Each adapter is built only when its library imports; a library that is not installed is simply absent.
The adapters change layout and types only (no numerics of their own), so what the audit measures is the
library's arithmetic:

- torchhd (HRR): `torchhd.bind` on `HRRTensor`s, `ifft(fft(x) fft(y)).real`         -> holographic.bind
- hrr (`HRR.with_pytorch`): `projection(x, -1)` (fft, X/|X|, ifft.real, nan_to_num)   -> holographic.project
  and `binding(projection(x), projection(y), -1)`                                      -> holographic.phasor_bind
- geoopt: `Lorentz().dist(x, y)` (arcosh of the Minkowski product)                     -> hyperbolic.lorentz_distance
- TorchOptics: `Field(u, wavelength=, spacing=).propagate_to_z(z, propagation_method="ASM")` -> optics.asm
- PADO (`pado-optics`): `Propagator("ASM").forward(Light(...), z)` (band-limited ASM)  -> optics.asm
- flash-linear-attention: `chunk_delta_rule`, `fused_recurrent_delta_rule` (Triton, CUDA, layout
  [B, T, H, D], run here in float32)                                                    -> fastweights.delta_rule
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class PublicImpl:
    """One public function mapped onto a pair: `build()` returns the adapter, or None when not importable."""

    name: str
    library: str
    function: str
    pair: str
    build: Callable[[], Callable[..., Any] | None]
    devices: tuple[str, ...] = ("cpu", "cuda")


def _import(module: str):
    try:
        return importlib.import_module(module)
    except Exception:  # noqa: BLE001 - not installed or broken: absent, never a failure
        return None


def _torchhd_bind():
    torchhd = _import("torchhd")
    if torchhd is None:
        return None

    def torchhd_hrr_bind(x, y):
        hx, hy = torchhd.ensure_vsa_tensor(x, "HRR"), torchhd.ensure_vsa_tensor(y, "HRR")
        return torchhd.bind(hx, hy).as_subclass(torch.Tensor)
    return torchhd_hrr_bind


def _hrr_projection():
    hrr = _import("HRR.with_pytorch")
    if hrr is None:
        return None

    def hrr_projection(x):
        return hrr.projection(x, -1)
    return hrr_projection


def _hrr_phasor_bind():
    hrr = _import("HRR.with_pytorch")
    if hrr is None:
        return None

    def hrr_phasor_bind(x, y):
        return hrr.binding(hrr.projection(x, -1), hrr.projection(y, -1), -1)
    return hrr_phasor_bind


def _geoopt_dist():
    geoopt = _import("geoopt")
    if geoopt is None:
        return None
    manifold = geoopt.Lorentz()

    def geoopt_lorentz_dist(x, y):
        return manifold.dist(x, y)
    return geoopt_lorentz_dist


def _torchoptics_asm():
    torchoptics = _import("torchoptics")
    if torchoptics is None:
        return None

    def torchoptics_asm(u, dx, wavelength, z):
        # TorchOptics builds its planes' spacing on the default device: make that the field's device
        with torch.device(u.device):
            field = torchoptics.Field(u, wavelength=wavelength, spacing=dx)
            return field.propagate_to_z(z, propagation_method="ASM").data
    return torchoptics_asm


def _pado_asm():
    pado = _import("pado")
    if pado is None:
        return None

    def pado_asm(u, dx, wavelength, z):
        lead, (ny, nx) = u.shape[:-2], u.shape[-2:]
        field = u.reshape(-1, 1, ny, nx)
        light = pado.Light(dim=tuple(field.shape), pitch=float(dx), wvl=float(wavelength), field=field,
                           device=str(u.device))
        out = pado.Propagator(mode="ASM").forward(light, float(z)).field
        return out.reshape(*lead, *out.shape[-2:])
    return pado_asm


def _fla(name: str):
    def build():
        if not torch.cuda.is_available():
            return None
        ops = _import("fla.ops.delta_rule")
        fn = getattr(ops, name, None) if ops is not None else None
        if fn is None:
            return None

        def fla_delta_rule(q, k, v, beta):
            # suite layout [B, H, T, D] -> fla's [B, T, H, D]; fla's default scale is also Dk ** -0.5
            tr = lambda x: x.transpose(1, 2).contiguous()  # noqa: E731
            o, s = fn(tr(q), tr(k), tr(v), beta.transpose(1, 2).contiguous(), output_final_state=True)
            return o.transpose(1, 2), s
        fla_delta_rule.__name__ = f"fla_{name}"
        return fla_delta_rule
    return build


PUBLIC: tuple[PublicImpl, ...] = (
    PublicImpl("torchhd_bind", "torchhd", "torchhd.bind (HRR)", "holographic.bind", _torchhd_bind),
    PublicImpl("hrr_projection", "hrr", "HRR.with_pytorch.projection", "holographic.project", _hrr_projection),
    PublicImpl("hrr_phasor_bind", "hrr", "HRR.with_pytorch.binding(projection, projection)", "holographic.phasor_bind",
               _hrr_phasor_bind),
    PublicImpl("geoopt_lorentz_dist", "geoopt", "geoopt.Lorentz().dist", "hyperbolic.lorentz_distance", _geoopt_dist),
    PublicImpl("torchoptics_asm", "torchoptics", "Field.propagate_to_z(ASM)", "optics.asm", _torchoptics_asm),
    PublicImpl("pado_asm", "pado", "Propagator('ASM').forward", "optics.asm", _pado_asm),
    PublicImpl("fla_chunk", "fla", "fla.ops.delta_rule.chunk_delta_rule", "fastweights.delta_rule",
               _fla("chunk_delta_rule"), devices=("cuda",)),
    PublicImpl("fla_fused_recurrent", "fla", "fla.ops.delta_rule.fused_recurrent_delta_rule", "fastweights.delta_rule",
               _fla("fused_recurrent_delta_rule"), devices=("cuda",)),
)


def installed(pair: str | None = None, device: str = "cpu") -> dict[str, tuple[PublicImpl, Callable[..., Any]]]:
    """{name: (PublicImpl, adapter)} of the public functions importable here for `pair` (None/"all": every
    pair) on `device`."""
    out = {}
    for p in PUBLIC:
        if pair not in (None, "all") and p.pair != pair or device not in p.devices:
            continue
        fn = p.build()
        if fn is not None:
            out[p.name] = (p, fn)
    return out
