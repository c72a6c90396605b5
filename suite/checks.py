"""Shared input validation and accuracy metrics, used by every domain (fixed and naive alike).

Bad input gets a `TypeError`/`ValueError` that names the argument and says what was expected.

Validation follows torch.distributions' convention (`Distribution.set_default_validate_args`): checks that
read tensor values (finiteness, on-manifold, positivity of entries) cost a device sync and are ON by default;
`set_validation(False)` or `with validation(False):` switches them off deliberately for hot loops. Checks of
types, shapes and Python scalars cost nothing and always run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

_VALIDATE = True


def set_validation(enabled: bool) -> None:
    """Switch value checks (the ones that synchronise the device) on or off for the whole process.

    torch.distributions' convention (`Distribution.set_default_validate_args`): on by default; checks of
    types, shapes and Python scalars always run. Prefer the scoped `validation(False)` for hot loops.

    Args:
        enabled: True (checks on) or False.

    Raises:
        TypeError: enabled not a bool.

    Example:
        >>> set_validation(False); validation_enabled()
        False
        >>> set_validation(True)
    """
    global _VALIDATE
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    _VALIDATE = enabled


def validation_enabled() -> bool:
    """Whether value checks run (see `set_validation`).

    Returns:
        bool.

    Example:
        >>> validation_enabled()
        True
    """
    return _VALIDATE


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager: `with validation(False):` runs a block without value checks and restores the previous setting.

    Args:
        enabled: the setting inside the block (bool).

    Raises:
        TypeError: enabled not a bool.

    Example:
        >>> import torch
        >>> from suite.holographic import bind
        >>> x = torch.tensor([float("nan"), 1.0, 0.0])
        >>> with validation(False):  # NaN propagates instead of raising ValueError
        ...     bind(x, x).isnan().all().item()
        True
        >>> validation_enabled()
        True
    """
    prev = _VALIDATE
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(prev)


_REAL = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_tensor(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_real(x: Any, name: str, *, min_dim: int = 1) -> torch.Tensor:
    """A real floating tensor with at least `min_dim` dimensions."""
    check_tensor(x, name)
    if x.dtype not in _REAL:
        raise TypeError(f"{name} must be a real floating tensor (float16/bfloat16/float32/float64), "
                        f"got {x.dtype}")
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}")
    return x


def check_complex(x: Any, name: str, *, min_dim: int = 1) -> torch.Tensor:
    check_tensor(x, name)
    if not x.is_complex():
        raise TypeError(f"{name} must be a complex tensor (complex64/complex128), got {x.dtype}")
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}")
    return x


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf; finite input is required")
    return x


def check_same_last_dim(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"{na} and {nb} must have the same last dimension, got {a.shape[-1]} and {b.shape[-1]}")


def check_positive(value: float, name: str) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return v


def nonfinite_count(x: torch.Tensor) -> int:
    """Number of NaN/Inf entries (counted, never hidden)."""
    return int((~torch.isfinite(x)).sum())


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """||out - ref|| / ||ref|| in float64 (complex-aware); inf when `out` has NaN/Inf entries."""
    out = out.detach().to("cpu")
    ref = ref.detach().to("cpu")
    if out.shape != ref.shape:
        raise ValueError(f"output shape {tuple(out.shape)} differs from the reference's {tuple(ref.shape)}")
    if nonfinite_count(out):
        return math.inf
    dt = torch.complex128 if (out.is_complex() or ref.is_complex()) else torch.float64
    out, ref = out.to(dt), ref.to(dt)
    denom = torch.linalg.vector_norm(ref).item()
    num = torch.linalg.vector_norm(out - ref).item()
    return num / denom if denom > 0 else num
