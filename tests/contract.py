"""The bad-input contract of the public API, shared by the `tests/test_contract_<domain>.py` files.

Every public function, given bad input (NaN/Inf entries, shape or broadcast mismatches, empty tensors,
integer or bool dtypes, zero or negative physical parameters, points off the manifold, ...), must either
raise a `TypeError`/`ValueError` whose message names the offending argument, or return a correct, finite
result. `classify` sorts one call into the outcomes that the contract tests (and the before/after share
in a session's note) count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

CLEAR, RAW, NONFINITE, ACCEPTED = "clear error", "raw error", "NaN/Inf from finite input", "accepted"


@dataclass(frozen=True)
class Case:
    """One bad call: `call()` runs it, `arg` is the argument name the error message must contain."""

    label: str
    call: Callable[[], object]
    arg: str


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def classify(case: Case) -> tuple[str, str]:
    """(outcome, detail) for one case: CLEAR only for TypeError/ValueError naming `case.arg`."""
    try:
        out = case.call()
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        return (CLEAR, msg) if case.arg in msg else (RAW, f"{type(exc).__name__} not naming {case.arg!r}: {msg}")
    except Exception as exc:  # noqa: BLE001 - a raw torch/python error is exactly what we count
        return RAW, f"{type(exc).__name__}: {exc}"
    if any(t.is_floating_point() or t.is_complex() for t in _tensors(out)) and not all(
            bool(torch.isfinite(t).all()) for t in _tensors(out) if t.is_floating_point() or t.is_complex()):
        return NONFINITE, "returned NaN/Inf"
    return ACCEPTED, "returned without an error"


def assert_clear(case: Case) -> None:
    outcome, detail = classify(case)
    assert outcome == CLEAR, f"{case.label}: {outcome} ({detail})"
