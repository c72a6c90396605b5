"""Checks every registered pair and study must pass, whatever its domain (one file, the whole registry)."""

import math

import pytest
import torch

from suite import registry
from suite.checks import nonfinite_count, relative_error
from suite.claims import CLAIMS

PAIRS = registry.pairs()
STUDIES = registry.studies()
KNOWN_DOMAINS = {"holographic", "hyperbolic", "fastweights", "symplectic", "optics"}


def test_every_domain_module_imports():
    assert registry.load_errors() == {}


def test_every_claim_is_tested_by_some_study():
    covered = {c for s in STUDIES for c in s.claims}
    assert sorted(set(CLAIMS) - covered) == []


@pytest.mark.parametrize("study", STUDIES, ids=[s.name for s in STUDIES])
def test_study_declaration(study):
    assert study.domain in KNOWN_DOMAINS
    assert set(study.claims) <= set(CLAIMS), f"unknown claim ids {set(study.claims) - set(CLAIMS)}"
    assert study.title and set(study.devices) <= {"cpu", "cuda"}


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
        assert math.isfinite(err) and err < 5e-2, f"fixed {pair.name} is {err:.3g} away from its oracle"
