"""Kernels and host syncs per call of an op, for gpu_ops.py and the CPU before/after counts.

kernels: on CUDA the device kernels (and copies) that torch.profiler records during one call; on the CPU
the leaf aten ops that do work (views, aliases and allocations excluded), the closest CPU analogue.
syncs: host reads of device values during one call (Tensor.__bool__/item/tolist/__float__/__int__), each of
which blocks on the device on CUDA (tests/syncs.py).
"""
from __future__ import annotations

import torch
from torch.profiler import ProfilerActivity, profile

from tests.syncs import syncs_per_call  # noqa: F401  (re-exported for gpu_ops.py)

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
    aten = [e for e in evs if e.name.startswith("aten::")]
    parents = {id(e.cpu_parent) for e in aten if e.cpu_parent is not None}
    return sum(1 for e in aten if id(e) not in parents and e.name not in _NO_WORK)
