"""The declarations `Pair`, `Study` and `Domain`, and the one registry that everything iterates.

asv (`benchmarks/`), pytest-benchmark (`benchmarks/test_speed.py`), the property tests and the report all
read `pairs()`, `studies()` and `domain_list()`. A domain registers its Domain, pairs and studies in
`suite/studies/<domain>.py` with `register(...)`; the registry imports every module of `suite.studies` on
first use, so adding an algorithm or a claim touches no file outside its domain. How a declared study is
run (dependency order, seeds, threads, rules) lives in `suite.harness`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch

from suite.claims import CLAIMS, VERDICTS, Rule, Verdict

__all__ = ["Pair", "Study", "Domain", "Rule", "Verdict", "VERDICTS", "StudyContext", "StudyResult", "SkipSize",
           "register", "pairs", "studies", "domain_list", "claim_owners", "get_pair", "get_study", "domains",
           "available_devices", "plugin_errors", "DEVICES"]

DEVICES: tuple[str, ...] = ("cpu", "cuda")


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
    cuda_sizes: full-mode timing sizes on CUDA when `sizes` would be launch-bound there (the data should be
        several times the GPU's L2 cache, 60 MB on an H200); empty: `sizes` on every device.
    tolerance: the largest relative error vs the oracle the fixed implementation may show at quick sizes.
    threads: intra-op CPU threads its timings run with (None: the caller's setting), e.g. 1 for small FFTs
        whose multi-threaded timings are scheduler-quantised on a shared machine.
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
    devices: tuple[str, ...] = DEVICES
    variants: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    output: Callable[[Any], torch.Tensor] | None = None
    skip: Callable[[str, int, str], str | None] | None = None
    cuda_sizes: tuple[int, ...] = ()
    tolerance: float = 5e-2
    threads: int | None = None

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def impls(self) -> dict[str, Callable[..., Any]]:
        """naive, fixed, the declared variants, then the installed plugins' (entry-point group
        `neurophys.variants`) under names the pair does not already use (`plugin_errors` lists clashes)."""
        own = self._own_impls()
        return own | {n: fn for n, fn in _plugins().get(self.name, {}).items() if n not in own}

    def _own_impls(self) -> dict[str, Callable[..., Any]]:
        """naive, fixed and the declared variants: the names a plugin variant may not take."""
        return {"naive": self.naive, "fixed": self.fixed, **dict(self.variants)}

    def impl(self, name: str) -> Callable[..., Any]:
        impls = self.impls()
        if name not in impls:
            raise KeyError(f"pair {self.name!r} has no implementation {name!r}; it has {sorted(impls)}")
        return impls[name]

    def timing_sizes(self, quick: bool, device: str = "cpu") -> tuple[int, ...]:
        """Quick sizes (the first size when none are given), or the full sizes for `device`."""
        if quick:
            return self.quick_sizes or self.sizes[:1]
        return self.cuda_sizes if device == "cuda" and self.cuda_sizes else self.sizes

    def __post_init__(self) -> None:
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"pair {self.name!r}: threads must be a positive int or None, got {self.threads!r}")

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
    """What a study is handed: its name, its sweep's values for this mode, its device and seed, and its needs.

    `p` holds the Study's sweep resolved for quick or full mode (`ctx.p.steps`). `seed` is the study's own
    seed (derived from its name and `--seed` by `suite.harness.study_seed`). `result(name)` returns a study
    named in `needs`, already run (dependency order); `timings(pair)` the report's timing rows of a Pair on
    this device (the one speed path, `suite.report.collect.speed_rows`).
    """

    quick: bool = True
    device: str = "cpu"
    seed: int = 0
    study: str = ""
    p: SimpleNamespace = field(default_factory=SimpleNamespace)
    needs: tuple[str, ...] = ()
    _results: dict[str, StudyResult] = field(default_factory=dict, repr=False)
    _timings: Callable[[str], list[dict[str, Any]]] | None = field(default=None, repr=False)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU generator seeded from the study's seed (+ offset for independent streams)."""
        return torch.Generator().manual_seed(self.seed + offset)

    def result(self, study_name: str) -> StudyResult:
        """Result of a study this one declares in `needs` (run before it, in the same run)."""
        if study_name not in self.needs:
            raise KeyError(f"study {self.study!r} reads {study_name!r}, which is missing from its "
                           f"needs={self.needs}: declare it in Study(needs=...)")
        if study_name not in self._results:
            raise RuntimeError(f"study {self.study!r} needs {study_name!r}, which has no result "
                               "(it failed or timed out)")
        return self._results[study_name]

    def timings(self, pair_name: str) -> list[dict[str, Any]]:
        """Timing rows of a Pair on this device (impl, size, median_ms, q25_ms, q75_ms, ...)."""
        if self._timings is None:
            raise RuntimeError("no timing source: studies read Pair timings inside a report run")
        return self._timings(pair_name)


@dataclass
class StudyResult:
    """A study's output: named measures (what claim rules read), a tidy table, an optional figure, notes.

    `measures`: numbers (or booleans) keyed by ids, e.g. {"reversal_f64": 3e-13}; rules and the key read
    them. `table`: a tidy pandas DataFrame with id columns. `mirror=True` marks a table that mirrors a table
    of the research report (shown first in its domain). `verdicts` are filled in by the harness from the
    Study's rules (a study not yet declared with rules appends its own). `key` is the headline of the
    report's key-number table (the harness writes it from the Study's `key` measures).
    """

    table: Any  # pandas.DataFrame
    figure: Any = None  # matplotlib.figure.Figure
    measures: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key: str = ""
    mirror: bool = False


@dataclass(frozen=True)
class Study:
    """A declared experiment: what it sweeps, what it needs, where and how it runs, which claims it judges.

    run_fn(ctx) -> StudyResult with measures (never prose about its own rule).
    sweep: {parameter: (quick value, full value)}; `ctx.p.<parameter>` is the value for this run's mode.
    rules: `suite.claims.Rule`s judged on the measures, on each device; `claims` is derived from them.
    needs: studies whose results `ctx.result(name)` reads; run first, each timed and timed out on its own.
    threads: intra-op CPU threads while it runs (None: the caller's setting), e.g. 1 for loops over tiny
        tensors, whose OpenMP hand-offs dominate and get erratic on a shared machine.
    devices: where it runs (every device by default); host: why it is inherently CPU-only, when it is
        (then devices = ("cpu",)). key: measures shown as the study's headline numbers.
    """

    name: str
    title: str
    run_fn: Callable[[StudyContext], StudyResult]
    claims: tuple[str, ...] = ()
    description: str = ""
    devices: tuple[str, ...] = DEVICES
    rules: tuple[Rule, ...] = ()
    sweep: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    threads: int | None = None
    host: str = ""
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for k, v in self.sweep.items():
            if not (isinstance(v, tuple) and len(v) == 2):
                raise ValueError(f"study {self.name!r}: sweep[{k!r}] must be a (quick, full) tuple, got {v!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"study {self.name!r}: threads must be a positive int or None, got {self.threads!r}")
        if self.host:
            object.__setattr__(self, "devices", ("cpu",))
        if not set(self.devices) <= set(DEVICES):
            raise ValueError(f"study {self.name!r}: devices must be among {DEVICES}, got {self.devices}")
        object.__setattr__(self, "claims", tuple(dict.fromkeys((*self.claims, *(r.claim for r in self.rules)))))

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def params(self, quick: bool) -> SimpleNamespace:
        """The sweep's values for quick or full mode."""
        return SimpleNamespace(**{k: v[0] if quick else v[1] for k, v in self.sweep.items()})

    def run(self, ctx: StudyContext) -> StudyResult:
        res = self.run_fn(ctx)
        if not isinstance(res, StudyResult):
            raise TypeError(f"study {self.name!r} returned {type(res).__name__}, expected StudyResult")
        return res


@dataclass(frozen=True)
class Domain:
    """A domain of the suite: its report section's title and the claims it owns (shown in its section)."""

    name: str
    title: str
    claims: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.claims) - set(CLAIMS)
        if unknown:
            raise ValueError(f"domain {self.name!r}: claims {sorted(unknown)} are not ids of CLAIMS")


_PAIRS: dict[str, Pair] = {}
_STUDIES: dict[str, Study] = {}
_DOMAINS: dict[str, Domain] = {}
_LOAD_ERRORS: dict[str, str] = {}
_loaded = False


def register(*items: Pair | Study | Domain) -> None:
    """Add pairs, studies and domains to the registry (called at import of `suite.studies.<domain>`)."""
    for item in items:
        table = {Pair: _PAIRS, Study: _STUDIES, Domain: _DOMAINS}.get(type(item))
        if table is None:
            raise TypeError(f"register() takes Pair, Study or Domain objects, got {type(item).__name__}")
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


def domain_list() -> list[Domain]:
    """Every domain with pairs or studies, in name order: its declared Domain (a bare one if undeclared)."""
    load_all()
    return [_DOMAINS.get(d) or Domain(d, d) for d in domains()]


def claim_owners() -> dict[str, str]:
    """claim id -> the domain that declares it (claims that no Domain declares are cross-domain)."""
    return {c: d.name for d in domain_list() for c in d.claims}


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


def _plugins() -> dict[str, dict[str, Callable[..., Any]]]:
    from suite.audit import plugins

    return plugins.installed()


def plugin_errors() -> dict[str, str]:
    """Installed `neurophys.variants` entry points that are not used, with the reason: they do not load,
    name no registered pair, or take a name the pair already has (naive, fixed, a declared variant)."""
    from suite.audit import plugins

    found = _plugins()
    errors = plugins.variant_errors()
    load_all()
    for pair, fns in sorted(found.items()):
        if pair not in _PAIRS:
            errors |= {f"{pair}:{n}": f"no pair named {pair!r}; registered: {sorted(_PAIRS)}" for n in fns}
            continue
        taken = _PAIRS[pair]._own_impls()
        errors |= {f"{pair}:{n}": f"the name {n!r} is taken by the pair's own {n!r}; rename the entry point"
                   for n in fns if n in taken}
    return errors


def available_devices() -> list[str]:
    return list(DEVICES) if torch.cuda.is_available() else ["cpu"]
