"""How declared studies run: dependency order, per-study seeds, thread policy, rules -> verdicts, the
spread of a measure over seeds (`over_seeds`), and the generic speed measures (fitted exponents, crossovers,
speedups) derived from a Pair's timing sweep.

Nothing here knows a domain. `suite.report.collect` calls `run_order` and `execute`; studies call the speed
helpers on `ctx.timings(pair)`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch

from suite.claims import fmt_measure
from suite.registry import Study, StudyContext, StudyResult, get_study
from suite.timing import Timing, speedup, threads


def study_seed(name: str, seed: int) -> int:
    """The seed of one study: CRC-32 of its name mixed with the run's `--seed` (stable across processes)."""
    return (zlib.crc32(name.encode()) + 1_000_003 * int(seed)) % 2**31


def run_order(selected: Iterable[Study]) -> list[Study]:
    """`selected` plus everything they need (transitively), each after its needs (depth-first, name order)."""
    order: list[Study] = []
    state: dict[str, str] = {}

    def visit(study: Study, chain: tuple[str, ...]) -> None:
        if state.get(study.name) == "done":
            return
        if state.get(study.name) == "open":
            raise ValueError(f"studies need each other in a cycle: {' -> '.join((*chain, study.name))}")
        state[study.name] = "open"
        for need in study.needs:
            visit(get_study(need), (*chain, study.name))
        state[study.name] = "done"
        order.append(study)

    for s in sorted(selected, key=lambda s: s.name):
        visit(s, ())
    return order


def execute(study: Study, *, quick: bool, device: str, seed: int, results: dict[str, StudyResult],
            timings: Callable[[str], list[dict[str, Any]]] | None = None) -> StudyResult:
    """Run one study as declared and judge its rules; its result is stored in `results` for dependents.

    The study sees its sweep for this mode, its own seed (also the torch seed, inside `fork_rng`, so module
    initialisation is seeded and the caller's random state is untouched) and its thread policy.
    """
    ctx = StudyContext(quick=quick, device=device, seed=study_seed(study.name, seed), study=study.name,
                       p=study.params(quick), needs=study.needs, _results=results, _timings=timings)
    with torch.random.fork_rng(devices=[]), threads(study.threads or torch.get_num_threads()):
        torch.manual_seed(ctx.seed)
        res = study.run(ctx)
    res.verdicts += [rule.judge(res.measures) for rule in study.rules]
    if study.key:
        res.key = ", ".join(f"{k} {fmt_measure(res.measures[k])}" for k in study.key)
    results[study.name] = res
    return res


def adam(params: Iterable[torch.Tensor], loss: Callable[[], torch.Tensor], steps: int, lr: float, *,
         cosine: bool = False) -> list[torch.Tensor]:
    """`steps` steps of torch Adam (Kingma & Ba 2015) on `loss()` (a fresh forward pass per step), the lr
    cosine-annealed to 0 over the steps when `cosine`; returns the per-step losses, detached (no device sync)."""
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(value.detach())
    return losses


def over_seeds(name: str, values: Iterable[float]) -> dict[str, float]:
    """`{name}_median`, `{name}_min`, `{name}_max` of one measure over a study's seeds: a rule that must hold
    in every seed reads min / max (seeds that disagree fail both the confirming and the refuting bound), the
    median is the headline number."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        raise ValueError(f"over_seeds({name!r}): values must hold at least one seed's measure")
    return {f"{name}_median": float(np.median(v)), f"{name}_min": float(v.min()), f"{name}_max": float(v.max())}


# ------------------------------------------------------------------------------ speed from Pair sweeps
def timing_of(row: Mapping[str, Any]) -> Timing:
    """The `suite.timing.Timing` of one timing row (collect.speed_rows), in seconds."""
    return Timing(median=row["median_ms"] / 1e3, q25=row["q25_ms"] / 1e3, q75=row["q75_ms"] / 1e3,
                  repeats=int(row["repeats"]), threads=int(row.get("threads", 0)),
                  load=float(row.get("load", math.nan)), cores=int(row.get("cores", 1)))


def _ok(rows: Iterable[Mapping[str, Any]], impl: str) -> dict[int, Mapping[str, Any]]:
    return {int(r["size"]): r for r in rows if r["impl"] == impl and r.get("status") == "ok"}


def exponent(rows: Iterable[Mapping[str, Any]], impl: str) -> float | None:
    """Least-squares slope of log(median time) vs log(size) over the sweep: time ~ size^exponent.

    None with fewer than two sizes. Small sizes are launch/overhead-bound, so the fit is over the upper
    half of the sizes (at least two).
    """
    ok = _ok(rows, impl)
    sizes = sorted(ok)
    if len(sizes) < 2:
        return None
    sizes = sizes[min(len(sizes) // 2, len(sizes) - 2):]
    x = np.log([float(s) for s in sizes])
    y = np.log([ok[s]["median_ms"] for s in sizes])
    return float(np.polyfit(x, y, 1)[0])


def speedup_at(rows: Iterable[Mapping[str, Any]], slow: str, fast: str, size: int | None = None) -> float | None:
    """`suite.timing.speedup` of two implementations at `size` (default: the largest both ran): slow/fast
    median time, or None when their interquartile ranges overlap (no verdict) or either did not run."""
    rows = list(rows)
    a, b = _ok(rows, slow), _ok(rows, fast)
    common = sorted(set(a) & set(b))
    if not common:
        return None
    size = common[-1] if size is None else size
    if size not in common:
        return None
    return speedup(timing_of(a[size]), timing_of(b[size]))


def crossover(rows: Iterable[Mapping[str, Any]], slow: str, fast: str) -> float | None:
    """The size from which `fast` is distinguishably faster than `slow` at every larger measured size,
    interpolated log-linearly between the last size where it is not and the first where it is; the
    smallest size when it wins everywhere; None when it does not win at the largest size."""
    rows = list(rows)
    a, b = _ok(rows, slow), _ok(rows, fast)
    sizes = sorted(set(a) & set(b))
    wins = [(speedup(timing_of(a[s]), timing_of(b[s])) or 0.0) > 1 for s in sizes]
    if not sizes or not wins[-1]:
        return None
    losing = [i for i, w in enumerate(wins) if not w]
    if not losing:
        return float(sizes[0])
    first = losing[-1] + 1
    s0, s1 = sizes[first - 1], sizes[first]
    r0 = math.log(a[s0]["median_ms"] / b[s0]["median_ms"])
    r1 = math.log(a[s1]["median_ms"] / b[s1]["median_ms"])
    t = 0.5 if r1 == r0 else min(max(-r0 / (r1 - r0), 0.0), 1.0)
    return float(math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0))))
