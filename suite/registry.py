"""The two core abstractions, `Pair` and `Study`, and the one registry that everything iterates.

asv (`benchmarks/`), pytest-benchmark (`benchmarks/test_speed.py`), the property tests and the report all
read `pairs()` and `studies()`. A domain registers its pairs and studies in `suite/studies/<domain>.py`
with `register(...)`; the registry imports every module of `suite.studies` on first use, so adding an
algorithm touches no file outside its domain.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

VerdictKind = Literal["confirmed", "refuted", "qualified"]
VERDICTS: tuple[str, ...] = ("confirmed", "refuted", "qualified")


class SkipSize(Exception):
    """Raised by a Pair's `skip` rule or an implementation when a size cannot run here (e.g. memory)."""


@dataclass(frozen=True)
class Pair:
    """One algorithm, naive vs fixed, with the same call signature.

    make_inputs(size, device, dtype, generator) -> tuple of positional arguments, drawn from `generator`
        (never zeros: timings on zeros lie). `generator` is a CPU `torch.Generator`; move to `device` after.
    oracle(*inputs) -> the reference output, computed in float64 / complex128 (or analytically) from the
        same inputs; None when the pair is speed-only.
    output(out) -> the tensor compared against the oracle (default: `out[0]` for tuples, else `out`).
    skip(impl, size, device) -> a reason string when that combination must not run (memory), else None.
    variants: extra named implementations (the report's own snippet, a public library when installed).
    """

    name: str
    naive: Callable[..., Any]
    fixed: Callable[..., Any]
    make_inputs: Callable[[int, torch.device, torch.dtype, torch.Generator], tuple]
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...] = ()
    oracle: Callable[..., torch.Tensor] | None = None
    claim: str | None = None
    description: str = ""
    size_label: str = "n"
    dtype: torch.dtype = torch.float32
    devices: tuple[str, ...] = ("cpu", "cuda")
    variants: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    output: Callable[[Any], torch.Tensor] | None = None
    skip: Callable[[str, int, str], str | None] | None = None

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def impls(self) -> dict[str, Callable[..., Any]]:
        return {"naive": self.naive, "fixed": self.fixed, **dict(self.variants)}

    def impl(self, name: str) -> Callable[..., Any]:
        impls = self.impls()
        if name not in impls:
            raise KeyError(f"pair {self.name!r} has no implementation {name!r}; it has {sorted(impls)}")
        return impls[name]

    def timing_sizes(self, quick: bool) -> tuple[int, ...]:
        return (self.quick_sizes or self.sizes[:1]) if quick else self.sizes

    def skip_reason(self, impl: str, size: int, device: str) -> str | None:
        return self.skip(impl, size, device) if self.skip else None

    def inputs(self, size: int, device: str | torch.device = "cpu", seed: int = 0,
               dtype: torch.dtype | None = None) -> tuple:
        """Seeded inputs for one size: the same seed always gives the same tensors on every device."""
        gen = torch.Generator().manual_seed(seed)
        return tuple(self.make_inputs(size, torch.device(device), dtype or self.dtype, gen))

    def select(self, out: Any) -> torch.Tensor:
        if self.output is not None:
            return self.output(out)
        return out[0] if isinstance(out, (tuple, list)) else out


@dataclass
class StudyContext:
    """What a study is handed: quick or full sweep, device, seed, and access to other studies' results."""

    quick: bool = True
    device: str = "cpu"
    seed: int = 0
    _results: dict[str, StudyResult] = field(default_factory=dict, repr=False)

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + offset)

    def result(self, study_name: str) -> StudyResult:
        """Result of another study in the same run (runs it now if it has not run yet)."""
        if study_name not in self._results:
            self._results[study_name] = get_study(study_name).run(self)
        return self._results[study_name]


@dataclass(frozen=True)
class Verdict:
    """A claim's measured verdict, computed by code from a study's numbers, never typed in by hand."""

    claim: str
    verdict: VerdictKind
    evidence: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass
class StudyResult:
    """A study's output: a tidy table, an optional figure, claim verdicts and free-text notes.

    `mirror=True` marks a table that mirrors a table of the research report (shown first in its domain).
    `key` is the study's headline number shown in the stability table ("naive recovery at L=16: 0.09").
    """

    table: Any  # pandas.DataFrame
    figure: Any = None  # matplotlib.figure.Figure
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key: str = ""
    mirror: bool = False


@dataclass(frozen=True)
class Study:
    """A stability experiment (a sweep) that returns a StudyResult; `quick` mode must stay CI-cheap."""

    name: str
    title: str
    run_fn: Callable[[StudyContext], StudyResult]
    claims: tuple[str, ...] = ()
    description: str = ""
    devices: tuple[str, ...] = ("cpu",)

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def run(self, ctx: StudyContext) -> StudyResult:
        res = self.run_fn(ctx)
        if not isinstance(res, StudyResult):
            raise TypeError(f"study {self.name!r} returned {type(res).__name__}, expected StudyResult")
        return res


_PAIRS: dict[str, Pair] = {}
_STUDIES: dict[str, Study] = {}
_LOAD_ERRORS: dict[str, str] = {}
_loaded = False


def register(*items: Pair | Study) -> None:
    """Add pairs and studies to the registry (called at import of `suite.studies.<domain>`)."""
    for item in items:
        table = _PAIRS if isinstance(item, Pair) else _STUDIES if isinstance(item, Study) else None
        if table is None:
            raise TypeError(f"register() takes Pair or Study objects, got {type(item).__name__}")
        if item.name in table and table[item.name] is not item:
            raise ValueError(f"{type(item).__name__} {item.name!r} is registered twice")
        table[item.name] = item


def load_all() -> None:
    """Import every module of `suite.studies` once, so each registers its pairs and studies."""
    global _loaded
    if _loaded:
        return
    import suite.studies as pkg

    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
        try:
            importlib.import_module(f"suite.studies.{mod}")
        except Exception as exc:  # noqa: BLE001 - one broken domain must not take the others down
            _LOAD_ERRORS[mod] = f"{type(exc).__name__}: {exc}"
    _loaded = True


def load_errors() -> dict[str, str]:
    """Domain modules of `suite.studies` that failed to import, with their error (the report lists them)."""
    load_all()
    return dict(_LOAD_ERRORS)


def _filtered(table: Mapping[str, Any], domain: str | Sequence[str] | None) -> list:
    load_all()
    domains = {domain} if isinstance(domain, str) else set(domain) if domain else None
    return [v for k, v in sorted(table.items()) if domains is None or v.domain in domains]


def pairs(domain: str | Sequence[str] | None = None) -> list[Pair]:
    return _filtered(_PAIRS, domain)


def studies(domain: str | Sequence[str] | None = None) -> list[Study]:
    return _filtered(_STUDIES, domain)


def get_pair(name: str) -> Pair:
    load_all()
    if name not in _PAIRS:
        raise KeyError(f"no pair named {name!r}; registered: {sorted(_PAIRS)}")
    return _PAIRS[name]


def get_study(name: str) -> Study:
    load_all()
    if name not in _STUDIES:
        raise KeyError(f"no study named {name!r}; registered: {sorted(_STUDIES)}")
    return _STUDIES[name]


def domains() -> list[str]:
    load_all()
    return sorted({p.domain for p in _PAIRS.values()} | {s.domain for s in _STUDIES.values()})


def available_devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
