"""Declared studies: the seed-spread Y6 rule as declared, needs lookups, and the figures a study draws."""

import pytest

from suite.harness import over_seeds
from suite.registry import StudyContext, StudyResult, get_study


def _y6(ratios, elbo_ok=True):
    rule = next(r for r in get_study("hyperbolic.gmvae").rules if r.claim == "Y6")
    shown = dict.fromkeys(rule.measures, 0.0)  # the quoted ELBOs and loss spreads do not decide the verdict
    return rule.judge({**shown, **over_seeds("mc_over_closed", ratios), "seeds": len(ratios),
                       "closed_elbo_within_1pct": elbo_ok})


def test_over_seeds_median_min_max():
    assert over_seeds("r", [3.0, 1.0, 2.0, 10.0]) == {"r_median": 2.5, "r_min": 1.0, "r_max": 10.0}
    with pytest.raises(ValueError, match="at least one"):
        over_seeds("r", [])


@pytest.mark.parametrize("ratios, elbo_ok, verdict", [
    ((0.86, 1.14, 0.94, 0.74, 1.23), True, "qualified"),  # seeds disagree on the direction
    ((1.6, 2.0, 1.7), True, "confirmed"),  # every seed >= 1.5 with the ELBO kept
    ((1.6, 2.0, 1.7), False, "qualified"),  # less variance, but the closed form's ELBO is worse
    ((1.6, 1.4, 2.0), True, "qualified"),  # one seed below the confirming bound
    ((0.8, 0.95, 1.0), True, "refuted"),  # no seed shows less gradient variance
])
def test_y6_rule_judges_every_seed(ratios, elbo_ok, verdict):
    v = _y6(ratios, elbo_ok)
    assert v.verdict == verdict
    assert "mc_over_closed_min >= 1.5" in v.evidence and "mc_over_closed_max <= 1" in v.evidence
    assert v.value == pytest.approx(sorted(ratios)[len(ratios) // 2])


def test_result_of_an_undeclared_study_names_the_study_and_its_needs():
    ctx = StudyContext(study="demo.reader", needs=("demo.a",),
                       _results={"demo.a": StudyResult(table=None), "demo.b": StudyResult(table=None)})
    assert ctx.result("demo.a").table is None
    with pytest.raises(KeyError, match=r"demo\.reader.*demo\.b.*needs=\('demo\.a',\)"):
        ctx.result("demo.b")
    with pytest.raises(KeyError, match="demo.reader"):
        StudyContext(study="demo.reader").result("demo.a")
    with pytest.raises(RuntimeError, match="no result"):
        StudyContext(study="demo.reader", needs=("demo.c",)).result("demo.c")
