"""Declared studies: the seed-spread Y6 rule as declared, needs lookups, and the figures a study draws."""

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from suite import anchors
from suite import hyperbolic_references as yref
from suite.checks import relative_error
from suite import harness
from suite.harness import over_seeds
from suite.plots import plot_clipped, style_figure, text_overlaps
from suite.registry import StudyContext, StudyResult, get_pair, get_study


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


def test_geoopt_poincare_adapters_match_the_polar_distance_inside_geoopts_clamp():
    """v / 2 is geoopt's tangent vector of Riemannian norm |v| (conformal factor 2 at the origin): at radii
    below geoopt's boundary clamp (|p| <= 1 - 1e-5 in float64, radius ~12) the adapter is the exact distance."""
    if not anchors.available("geoopt_poincare_tangent"):
        pytest.skip("geoopt is not installed")
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 64, 5, generator=g, dtype=torch.float64)
    r = 3 * torch.rand(2, 64, 1, generator=g, dtype=torch.float64)  # radius 0..3 from the origin
    v, w = r * u / u.norm(dim=-1, keepdim=True)
    ref = yref.polar_distance(v, w)
    assert relative_error(anchors.geoopt_poincare_tangent(v, w), ref) < 1e-9
    p, q = (torch.tanh(t / 2) * d for t, d in zip(r, u / u.norm(dim=-1, keepdim=True)))  # the same points in the ball
    assert relative_error(anchors.geoopt_poincare_dist(p, q), ref) < 1e-9
    assert {"geoopt_lorentz_tangent", "geoopt_poincare_tangent"} <= set(get_pair("hyperbolic.distance").impls())
    assert "geoopt_lorentz" in get_pair("hyperbolic.lorentz_distance").impls()


def test_plot_clipped_marks_each_run_once_and_stacks_labels_apart():
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    x = np.arange(8.0)
    line = plot_clipped(ax, x, [1, 5, math.inf, math.inf, 2, math.nan, 0.5, 2], lower=1, upper=3)
    np.testing.assert_array_equal(line.get_ydata(), [1, 3, 3, 3, 2, math.nan, 1, 2])
    assert [t.get_text() for t in ax.texts] == ["clipped (3 points, up to inf)", "clipped (0.5)"]
    plot_clipped(ax, x, [4, 4, 4, 1, 1, 1, 1, 1], upper=3)  # a second curve clipped at the same x
    assert [t.get_text() for t in ax.texts][-1] == "clipped (3 points, up to 4)"
    assert text_overlaps(fig) == []


def test_text_overlaps_ignores_tick_labels_the_axis_does_not_draw():
    """A 0..100 axis has a located tick at -25 outside the view; its label is a visible artist but never drawn."""
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.set_yscale("log")
    ax.plot(np.linspace(0, 100, 50), np.logspace(-20, 0, 50))
    assert text_overlaps(fig) == []
    ax.annotate("clash", (0, 1e-10), xytext=(0, 1e-10))  # a drawn text on a drawn y tick label still counts
    ax.annotate("clash", (0, 1e-10), xytext=(0, 1e-10))
    assert ("clash", "clash") in text_overlaps(fig)


def test_adam_runs_the_declared_steps_and_returns_detached_losses():
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0], dtype=torch.float64))
    losses = harness.adam([w], lambda: (w ** 2).sum(), 50, 0.1, cosine=True)
    assert len(losses) == 50 and not losses[-1].requires_grad
    assert float(losses[0]) == 13.0 and float(losses[-1]) < 0.5 * float(losses[0])


@pytest.mark.parametrize("lo, hi", [(0.31, 0.55), (130.0, 210.0), (1e-20, 1.0)])
def test_styled_log_axes_keep_labels_that_do_not_overlap(lo, hi):
    """A log axis within one decade still gets labels (plain round values as minor labels); a wide one at most
    6 labelled decades."""
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [lo, (lo * hi) ** 0.5, hi])
    ax.set_yscale("log")
    style_figure(fig)
    assert text_overlaps(fig) == []
    fig.canvas.draw()
    drawn = [t for t in ax.yaxis.get_ticklabels(which="both") if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert 1 <= len(drawn) <= 6
