"""Counting host syncs: every read of a tensor's value on the host (`bool(t)`, `t.item()`, `t.tolist()`,
`float(t)`, `int(t)`) and `t.nonzero()` (its output size) block on the device on CUDA. Counting them on the
CPU tells how many syncs an op costs on CUDA without a GPU. Not counted: other data-dependent shapes
(boolean-mask indexing `t[mask]`, `torch.nonzero(t)`, `unique`) and copies to the host (`t.cpu()`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_READS = ("__bool__", "item", "tolist", "__float__", "__int__", "nonzero")


@contextlib.contextmanager
def counting_syncs() -> Iterator[list[int]]:
    """`with counting_syncs() as n: ...` then `n[0]` is the number of host reads made inside the block."""
    n = [0]
    saved = {k: getattr(torch.Tensor, k) for k in _READS}

    def counted(orig):
        def read(self, *args, **kwargs):
            n[0] += 1
            return orig(self, *args, **kwargs)
        return read

    for k, orig in saved.items():
        setattr(torch.Tensor, k, counted(orig))
    try:
        yield n
    finally:
        for k, orig in saved.items():
            setattr(torch.Tensor, k, orig)


def syncs_per_call(fn) -> int:
    """Host reads made by one call of fn."""
    with counting_syncs() as n:
        fn()
    return n[0]
