"""Checks every registered pair and study must pass, whatever its domain (one file, the whole registry)."""

import math

import pytest
import torch

from suite import harness, registry
from suite.checks import nonfinite_count, relative_error
from suite.claims import CLAIMS, Rule

PAIRS = registry.pairs()
STUDIES = registry.studies()
DOMAINS = registry.domain_list()
KNOWN_DOMAINS = {d.name for d in DOMAINS}


def test_every_domain_module_imports():
    assert registry.load_errors() == {}


def test_every_claim_is_tested_by_some_study():
    covered = {c for s in STUDIES for c in s.claims}
    assert sorted(set(CLAIMS) - covered) == []


def test_every_domain_is_declared_and_claims_have_one_owner():
    assert all(d.title != d.name for d in DOMAINS), "every domain module registers a Domain with a title"
    owned = [c for d in DOMAINS for c in d.claims]
    assert len(owned) == len(set(owned)), "a claim is owned by at most one domain"


@pytest.mark.parametrize("study", STUDIES, ids=[s.name for s in STUDIES])
def test_needs_exist_and_have_no_cycle(study):
    order = [s.name for s in harness.run_order([study])]
    assert order[-1] == study.name and set(study.needs) <= set(order[:-1])


@pytest.mark.parametrize("study", STUDIES, ids=[s.name for s in STUDIES])
def test_study_declaration(study):
    assert study.domain in KNOWN_DOMAINS
    assert set(study.claims) <= set(CLAIMS), f"unknown claim ids {set(study.claims) - set(CLAIMS)}"
    assert study.title and set(study.devices) <= {"cpu", "cuda"}
    assert set(study.devices) == {"cpu", "cuda"} or study.host or not study.rules, \
        "a declared study runs on every device unless `host` says why it cannot"


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_pair_declaration(pair):
    assert pair.domain in KNOWN_DOMAINS
    assert pair.claim is None or pair.claim in CLAIMS
    assert pair.sizes and all(isinstance(s, int) and s > 0 for s in pair.sizes)
    assert set(pair.devices) <= {"cpu", "cuda"}


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_inputs_are_seeded_and_not_zero(pair):
    size = pair.timing_sizes(quick=True)[0]
    a, b = pair.inputs(size, "cpu", seed=3), pair.inputs(size, "cpu", seed=3)
    tensors = [x for x in a if isinstance(x, torch.Tensor)]
    assert tensors, "make_inputs returned no tensor"
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), "the same seed must give the same inputs"
    assert any(bool((t != 0).any()) for t in tensors if t.is_floating_point() or t.is_complex()), \
        "never benchmark on zeros"


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_every_impl_runs_and_fixed_matches_oracle(pair, device):
    if device not in pair.devices:
        pytest.skip(f"{pair.name} does not run on {device}")
    size = pair.timing_sizes(quick=True)[0]
    inputs = pair.inputs(size, device, seed=0)
    outs = {}
    for impl, fn in pair.impls().items():
        if pair.skip_reason(impl, size, device):
            continue
        try:
            with torch.no_grad():
                outs[impl] = pair.select(fn(*inputs))
        except registry.SkipSize:
            continue
    assert "fixed" in outs and "naive" in outs
    fixed = outs["fixed"]
    assert nonfinite_count(fixed) == 0, "a fixed implementation returned NaN/Inf on finite input"
    assert fixed.device.type == torch.device(device).type
    if pair.oracle is not None:
        ref = pair.oracle(*inputs)
        err = relative_error(fixed, ref)
        assert math.isfinite(err) and err < pair.tolerance, \
            f"fixed {pair.name} is {err:.3g} away from its oracle (tolerance {pair.tolerance:g})"


def test_study_seed_depends_on_name_and_seed():
    a = harness.study_seed("x.a", 0)
    assert a == harness.study_seed("x.a", 0)
    assert a != harness.study_seed("x.b", 0) and a != harness.study_seed("x.a", 1)


def test_rule_verdicts_and_no_verdict_on_unmeasurable():
    rule = Rule("F5", "a < 1e-9 and b < 1e-4", qualified="a < 1e-9", shows=("c",))
    assert rule.judge(dict(a=1e-12, b=1e-5, c=3)).verdict == "confirmed"
    assert rule.judge(dict(a=1e-12, b=1e-3, c=3)).verdict == "qualified"
    v = rule.judge(dict(a=1e-3, b=1e-5, c=3))
    assert v.verdict == "refuted" and "a = 0.001" in v.evidence and rule.text() in v.evidence
    assert rule.judge(dict(a=None, b=1e-5, c=3)).verdict == "no verdict"
    with pytest.raises(KeyError, match="did not return"):
        rule.judge(dict(a=1.0))
    with pytest.raises(ValueError, match="measure <op> number"):
        Rule("F5", "a is small")
    with pytest.raises(ValueError, match="claim must be an id"):
        Rule("Z9", "a < 1")


def test_crossover_and_exponent_from_a_sweep():
    def row(impl, n, ms):
        return dict(impl=impl, size=n, status="ok", median_ms=ms, q25_ms=ms * 0.99, q75_ms=ms * 1.01, repeats=10)
    rows = [row("naive", n, n * n * 1e-4) for n in (64, 128, 256, 512)]
    rows += [row("fixed", n, n * 1e-2) for n in (64, 128, 256, 512)]  # equal at n = 100
    assert harness.exponent(rows, "naive") == pytest.approx(2.0)
    assert harness.exponent(rows, "fixed") == pytest.approx(1.0)
    assert harness.crossover(rows, "naive", "fixed") == pytest.approx(100.0, rel=1e-6)
    assert harness.speedup_at(rows, "naive", "fixed") == pytest.approx(512 * 512e-4 / 5.12)
    noisy = [row("naive", 32, 1.0), row("fixed", 32, 0.5)] + rows  # a win at 32, then a loss at 64
    assert harness.crossover(noisy, "naive", "fixed") == pytest.approx(100.0, rel=1e-6)
    overlap = [row("naive", 64, 1.0), {**row("fixed", 64, 1.005)}]
    assert harness.speedup_at(overlap, "naive", "fixed") is None


def test_rule_refuted_clause_is_checked_before_qualified():
    rule = Rule("O6", "a >= 1e-4 and b > 1", refuted="a < 1e-4 and c > 100", qualified="c > 50",
                otherwise="qualified")
    assert rule.text() == ("confirmed if a >= 1e-4 and b > 1; refuted if a < 1e-4 and c > 100; qualified if c > 50; "
                           "otherwise qualified")
    assert [rule.judge(dict(a=a, b=b, c=c)).verdict for a, b, c in ((1e-3, 2, 0), (1e-5, 0, 200), (1e-5, 0, 1))] \
        == ["confirmed", "refuted", "qualified"]
