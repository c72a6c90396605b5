"""Kernels and host syncs per call of an op, for gpu_ops.py and the CPU before/after counts.

kernels: on CUDA the device kernels (and copies) that torch.profiler records during one call; on the CPU
the aten ops that do work (views, aliases, allocations and pure dispatchers excluded), the closest CPU
analogue (`_cpu_kernels`).
syncs: host reads of device values during one call (Tensor.__bool__/item/tolist/__float__/__int__), each of
which blocks on the device on CUDA (tests/syncs.py).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile


def _load_syncs():
    """tests/syncs.py of the tree this script lives in, by path: the tree being timed (PYTHONPATH) may be an
    older one without it."""
    spec = importlib.util.spec_from_file_location("_syncs", Path(__file__).resolve().parents[2] / "tests" / "syncs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


syncs_per_call = _load_syncs().syncs_per_call

_NO_WORK = {
    "aten::view", "aten::reshape", "aten::_reshape_alias", "aten::as_strided", "aten::select", "aten::slice",
    "aten::unsqueeze", "aten::squeeze", "aten::expand", "aten::t", "aten::transpose", "aten::permute",
    "aten::view_as_real", "aten::view_as_complex", "aten::_conj", "aten::conj", "aten::real", "aten::imag",
    "aten::detach", "aten::alias", "aten::lift_fresh", "aten::empty", "aten::empty_like", "aten::empty_strided",
    "aten::resize_", "aten::unbind", "aten::broadcast_tensors", "aten::flatten", "aten::unflatten",
    "aten::_unsafe_view", "aten::expand_as", "aten::split", "aten::chunk", "aten::narrow", "aten::numpy_T",
    "aten::resolve_neg", "aten::result_type", "aten::is_nonzero", "aten::_local_scalar_dense", "aten::item",
    "aten::set_", "aten::contiguous", "aten::to", "aten::_to_copy", "aten::type_as", "aten::view_as",
    "aten::squeeze_", "aten::unsqueeze_", "aten::_has_compatible_shallow_copy_type", "aten::movedim",
    "aten::promote_types", "aten::as_strided_",
}
# ops that only dispatch to the aten ops below them (their children are counted, not they)
_WRAPPERS = {
    "aten::fft_rfft", "aten::fft_irfft", "aten::fft_fft", "aten::fft_ifft", "aten::fft_fft2", "aten::fft_ifft2",
    "aten::fft_fftn", "aten::fft_ifftn", "aten::fft_rfftn", "aten::fft_irfftn", "aten::clone", "aten::isfinite",
    "aten::linalg_norm", "aten::norm",
}


def kernels_per_call(fn, device: str) -> int:
    """Number of kernels one call of fn launches (see the module docstring); fn runs once before."""
    fn()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=acts) as prof:
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
    evs = prof.events()
    if device == "cuda":
        return sum(1 for e in evs if e.device_type == torch.autograd.DeviceType.CUDA)
    return sum(_cpu_kernels(e) for e in evs if e.name.startswith("aten::")
               and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")))


def _cpu_kernels(e) -> int:
    """Kernels of an aten op on the CPU: those of the aten ops it calls, plus one for its own work unless it is
    a view, an allocation or a pure dispatcher. An approximation (a CPU reduction's initial fill_ counts too);
    on CUDA the profiler's kernel count is exact."""
    inner = sum(_cpu_kernels(c) for c in e.cpu_children if c.name.startswith("aten::"))
    return inner + int(e.name not in _NO_WORK and e.name not in _WRAPPERS)
