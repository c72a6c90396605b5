"""Where hyperbolic dimensional collapse happens: contrastive (InfoNCE) training of hyperbolic embeddings of a
random tree, and the diagnostics of the two collapses HyperGCL names.

Sources: InfoNCE with temperature (van den Oord et al. 2018, "Representation Learning with Contrastive
Predictive Coding", eq. 4) with the negative geodesic distance as the score, as in hyperbolic contrastive
learning (Zhang et al., "Understanding and Mitigating Hyperbolic Dimensional Collapse in Graph Contrastive
Learning", arXiv 2310.18209, "HyperGCL"); reconstruction mean rank / MAP (Nickel & Kiela 2017, sec. 4.1);
effective rank (Roy & Vetterli 2007); dimensional collapse of linear encoders by implicit regularisation
(Jing et al. 2022, "Understanding Dimensional Collapse in Contrastive Self-supervised Learning", sec. 4).

HyperGCL's two failure modes, and how they are measured here:
  * leaf collapse: nodes crowd the outer shell of the ball (the contrastive loss keeps lowering by pushing
    everything outwards, since hyperbolic volume never runs out): `boundary_fraction` (share of nodes at
    hyperbolic radius >= `boundary_radius`), mean / max radius;
  * height collapse: the tangent features at the origin lose rank and the hierarchy flattens:
    `erank_ratio` = effective rank / dim of the centred log_0 vectors, and `depth_radius_spearman`
    (rank correlation of radius with tree depth; ~0 when the levels are no longer ordered radially).
The task metric (`map`, `mean_rank` of the true neighbours) shows whether a regulariser that "prevents"
collapse keeps the embedding useful.

The experiment is plain functions: `CollapseSetting` (a frozen dataclass) + a seed -> `run_collapse` -> a
dict of named numbers. All randomness comes from one `torch.Generator` seeded with the seed; `sweep` names
the cells of the study.

Measured (CPU, float32 unless said, 100-node random tree, seeds 0-2, mean [min, max]; `sweep(False)` cells;
"tangent Adam" = optimizer "adam_tangent"; boundary = radius >= 12.1; MAP of the tree's edges):

  cell                                   erank/dim          boundary frac.     MAP     note
  leaf, T=0.1, tangent Adam              0.985              0                  1.000   InfoNCE saturates
  leaf, T=0.3                            0.935              0                  0.998   mean radius 7.6
  leaf, T=1                              0.953              0.50 [0.43, 0.57]  0.969   leaves 0.80
  leaf, T=3                              0.966              0.74 [0.70, 0.77]  0.800
  leaf, T=1, 10 sampled negatives        0.908              0.08 [0.03, 0.11]  0.954
  leaf, T=1 + isotropy (w=1)             0.970              0                  0.951   radius 11.7 -> 6.8
  leaf, T=1 + erank max. (w=1)           0.982              0.52 [0.47, 0.57]  0.966
  leaf, T=1, RiemannianAdam              (0.968)            (0.00)             (0.752) diverged 3/3, step ~70
  leaf, T=1, RiemannianAdam, float64     0.973              0                  0.793   loss 1.85 vs 0.98
  leaf, T=1, Adam + projection           0.949              0                  0.864   radius capped ~3.5
  height (linear2, dim 16), T=0.1        0.744              0                  1.000
  height (linear2, dim 16), T=1          0.257 [0.24, 0.27] 0.007              0.958   isotropic ref. 0.98
  height, T=1 + isotropy (w=1)           0.320 [0.30, 0.34] 0                  0.971   w=10: 0.42
  height, T=1 + erank max. (w=1)         0.872 [0.87, 0.88] 0.003              0.970   w=10: 0.99, boundary 0.36
  free points dim 32, T=1, tangent Adam  0.534 [0.52, 0.55] 0                  0.974   RiemannianAdam f64 0.78
(parenthesised: metrics of the last finite points of diverged runs.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geoopt
import scipy.stats
import torch
from torch import nn

from suite.checks import check_finite, check_positive, check_real, check_tensor
from suite.hyperbolic._geometry import (
    lorentz_cdist, lorentz_distance, lorentz_expmap0, lorentz_logmap0, lorentz_project,
)
from suite.hyperbolic.embedding import (
    BOUNDARY_RADIUS, Tree, effective_rank, isotropic_gaussian_loss, random_tree, reconstruction_metrics,
    sample_negatives,
)

__all__ = [
    "CollapseSetting", "run_collapse", "collapse_metrics", "boundary_fraction", "depth_radius_spearman",
    "info_nce", "erank_loss", "sweep", "SEEDS", "LEAF_BOUNDARY_FRACTION", "HEIGHT_ERANK_RATIO", "METRIC_NAMES",
    "OPTIMIZERS", "ENCODERS", "REGULARISERS", "DTYPES",
]

OPTIMIZERS = ("riemannian", "adam_project", "adam_tangent")
ENCODERS = ("free", "linear2")
REGULARISERS = ("none", "isotropy", "erank")
DTYPES = ("float32", "float64")
# the names of the numbers `run_collapse` returns
METRIC_NAMES = ("final_loss", "diverged", "steps_run", "erank", "erank_ratio", "boundary_fraction",
                "leaf_boundary_fraction", "mean_radius", "max_radius", "depth_radius_spearman", "mean_rank", "map",
                "residual_rel_max")


# ------------------------------------------------------------------------------------------ metrics
def boundary_fraction(radius: torch.Tensor, boundary_radius: float = BOUNDARY_RADIUS) -> float:
    """Share of points whose hyperbolic distance from the origin is >= boundary_radius (leaf collapse)."""
    check_real(check_tensor(radius, "radius"), "radius")
    check_positive(boundary_radius, "boundary_radius")
    if radius.numel() == 0:
        raise ValueError("radius must hold at least one point, got an empty tensor")
    check_finite(radius, "radius")
    return float((radius >= boundary_radius).double().mean())


def depth_radius_spearman(radius: torch.Tensor, depth: torch.Tensor) -> float:
    """Spearman rank correlation (ties get average ranks; scipy.stats.spearmanr) of the radius of each node
    with its depth in the tree: ~1 when the levels are ordered outwards, ~0 when the hierarchy is flat
    (height collapse). Defined as 0 when either side is constant (no radial order to correlate)."""
    check_real(check_tensor(radius, "radius"), "radius")
    check_tensor(depth, "depth")
    if radius.shape != depth.shape or radius.dim() != 1 or radius.numel() < 2:
        raise ValueError(f"radius and depth must be 1-D of the same length >= 2, got shapes "
                         f"{tuple(radius.shape)} and {tuple(depth.shape)}")
    check_finite(radius, "radius")
    r, d = radius.detach().double().cpu().numpy(), depth.detach().double().cpu().numpy()
    if r.min() == r.max() or d.min() == d.max():
        return 0.0
    return float(scipy.stats.spearmanr(r, d).statistic)


def collapse_metrics(tangent: torch.Tensor, tree: Tree, pairwise: torch.Tensor,
                     boundary_radius: float = BOUNDARY_RADIUS) -> dict[str, float]:
    """Named collapse and task numbers of one embedding: tangent [N, n] = log_0 of every node, pairwise [N, N]
    geodesic distances. erank / erank_ratio: effective rank of the centred tangent vectors (/ n);
    boundary_fraction, leaf_boundary_fraction (leaves only), mean/max radius; depth_radius_spearman;
    map, mean_rank (reconstruction of the tree's edges from `pairwise`)."""
    check_real(check_tensor(tangent, "tangent"), "tangent", min_dim=2)
    if tangent.shape[0] != tree.n or pairwise.shape != (tree.n, tree.n):
        raise ValueError(f"tangent must be [{tree.n}, n] and pairwise [{tree.n}, {tree.n}] for a tree of "
                         f"{tree.n} nodes, got {tuple(tangent.shape)} and {tuple(pairwise.shape)}")
    t = tangent.detach().double()
    radius = torch.linalg.vector_norm(t, dim=-1)
    leaves = torch.ones(tree.n, dtype=torch.bool)
    leaves[tree.parent[1:]] = False
    er = float(effective_rank(t))
    return {"erank": er, "erank_ratio": er / t.shape[-1],
            "boundary_fraction": boundary_fraction(radius, boundary_radius),
            "leaf_boundary_fraction": boundary_fraction(radius[leaves], boundary_radius),
            "mean_radius": float(radius.mean()), "max_radius": float(radius.max()),
            "depth_radius_spearman": depth_radius_spearman(radius, tree.depth),
            **reconstruction_metrics(pairwise, tree)}


# --------------------------------------------------------------------------------------------- losses
def info_nce(dist: torch.Tensor, positive: torch.Tensor, valid: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018, eq. 4) with score -d/temperature:
    mean_b [ d(b, p_b)/T + log sum_{c valid} exp(-d(b, c)/T) ], the positive p_b counted among the valid
    candidates. dist [B, M] anchor-candidate distances, positive [B] column indices, valid [B, M] mask."""
    logits = (-dist / temperature).masked_fill(~valid, -math.inf)
    return nn.functional.cross_entropy(logits, positive)


def erank_loss(z: torch.Tensor) -> torch.Tensor:
    """Effective-rank maximisation as a loss, 1 - erank(z)/n on the centred rows of z [N, n] (0 at full rank;
    the erank HyperGCL reports, used as the objective: research report 3.2.2, "maximising effective rank")."""
    return 1 - effective_rank(z) / z.shape[-1]


# ----------------------------------------------------------------------------------------- experiment
@dataclass(frozen=True)
class CollapseSetting:
    """One configuration of the contrastive embedding experiment.

    encoder: "free" (a point per node) or "linear2" (tangent vectors A @ W from a two-factor linear map of
      one-hot node ids, A [N, hidden], W [hidden, dim]: Jing et al.'s deep linear encoder).
    optimizer: "riemannian" (geoopt RiemannianAdam on a Lorentz ManifoldParameter), "adam_project"
      (torch Adam on the ambient Lorentz coordinates, then `lorentz_project` after each step) or
      "adam_tangent" (torch Adam on tangent vectors at the origin, points = exp_0; the only one for linear2).
    negatives: 0 = every node other than the anchor and its neighbours is a negative (full softmax);
      k > 0 = k negatives sampled per anchor among those.
    regulariser: "none", "isotropy" (`isotropic_gaussian_loss` of the batch's log_0 anchors) or "erank"
      (`erank_loss` of the same), times reg_weight.
    dtype: "float32" or "float64" for parameters and points (separates optimiser from representation limits).
    """

    n_nodes: int = 100
    max_children: int = 4
    dim: int = 8
    encoder: str = "free"
    hidden: int = 32
    optimizer: str = "riemannian"
    negatives: int = 0
    temperature: float = 0.1
    lr: float = 0.05
    steps: int = 300
    batch: int = 64
    init_std: float = 0.1
    regulariser: str = "none"
    reg_weight: float = 1.0
    boundary_radius: float = BOUNDARY_RADIUS
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("n_nodes", "max_children", "dim", "hidden", "steps", "batch"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.n_nodes < 3:
            raise ValueError(f"n_nodes must be >= 3 (a tree with a non-neighbour to contrast), got {self.n_nodes}")
        if not isinstance(self.negatives, int) or self.negatives < 0:
            raise ValueError(f"negatives must be an int >= 0 (0: all non-neighbours), got {self.negatives!r}")
        for name, allowed in (("encoder", ENCODERS), ("optimizer", OPTIMIZERS), ("regulariser", REGULARISERS),
                              ("dtype", DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.encoder == "linear2" and self.optimizer != "adam_tangent":
            raise ValueError(f"encoder 'linear2' has Euclidean weights: optimizer must be 'adam_tangent', "
                             f"got {self.optimizer!r}")
        for name in ("temperature", "lr", "init_std", "boundary_radius"):
            check_positive(getattr(self, name), name)
        if not (math.isfinite(self.reg_weight) and self.reg_weight >= 0):
            raise ValueError(f"reg_weight must be a finite number >= 0, got {self.reg_weight!r}")


def _model(s: CollapseSetting, tree: Tree, g: torch.Generator):
    """(parameters, optimiser, points()) for the setting: points() returns the [N, dim+1] Lorentz points."""
    dt = getattr(torch, s.dtype)
    v0 = s.init_std * torch.randn(tree.n, s.dim, generator=g, dtype=dt)
    if s.encoder == "linear2":
        a = nn.Parameter(torch.randn(tree.n, s.hidden, generator=g, dtype=dt) / math.sqrt(s.hidden))
        w = nn.Parameter(s.init_std * torch.randn(s.hidden, s.dim, generator=g, dtype=dt))
        return [a, w], torch.optim.Adam([a, w], lr=s.lr), lambda: lorentz_expmap0(a @ w)
    if s.optimizer == "adam_tangent":
        v = nn.Parameter(v0)
        return [v], torch.optim.Adam([v], lr=s.lr), lambda: lorentz_expmap0(v)
    if s.optimizer == "riemannian":
        x = geoopt.ManifoldParameter(lorentz_expmap0(v0), manifold=geoopt.Lorentz(k=1.0))
        return [x], geoopt.optim.RiemannianAdam([x], lr=s.lr), lambda: x
    x = nn.Parameter(lorentz_expmap0(v0))
    return [x], torch.optim.Adam([x], lr=s.lr), lambda: x


def _batch_loss(s: CollapseSetting, tree: Tree, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """InfoNCE of one batch of directed edges (anchor u, positive v) against all nodes or sampled negatives,
    plus the regulariser on the anchors' tangent vectors."""
    edges = torch.cat([tree.edges, tree.edges.flip(1)])
    e = edges[torch.randint(0, edges.shape[0], (min(s.batch, edges.shape[0]),), generator=g)]
    u, v = e[:, 0], e[:, 1]
    xu = x[u]
    if s.negatives:
        cand = torch.cat([v.unsqueeze(1), sample_negatives(tree, e, s.negatives, g)], dim=1)
        dist = lorentz_distance(xu.unsqueeze(1), x[cand], check=False)
        loss = info_nce(dist, torch.zeros_like(u), torch.ones_like(cand, dtype=torch.bool), s.temperature)
    else:
        valid = ~tree.adjacency[u] & (torch.arange(tree.n) != u.unsqueeze(1))
        valid[torch.arange(u.numel()), v] = True
        loss = info_nce(lorentz_cdist(xu, x, check=False), v, valid, s.temperature)
    if s.regulariser != "none" and s.reg_weight:
        z = lorentz_logmap0(xu, check=False)
        reg = isotropic_gaussian_loss(z) if s.regulariser == "isotropy" else erank_loss(z)
        loss = loss + s.reg_weight * reg
    return loss


def _finite_points(points) -> torch.Tensor | None:
    """The current points, or None when they are not finite or exp_0 overflowed float32 (the radius ran away)."""
    try:
        x = points()
    except ValueError:
        return None
    return x if bool(torch.isfinite(x).all()) else None


def run_collapse(setting: CollapseSetting, seed: int) -> dict[str, float]:
    """Train one embedding of a random tree (`random_tree(n_nodes)`, drawn from the seed) by InfoNCE and
    return its named numbers: `collapse_metrics` plus final_loss, residual_rel_max (largest
    |<x,x>_L + 1| / (1 + |x|^2) of the final points), steps_run and diverged (1.0 when the loss or a point
    became non-finite or exp_0 overflowed float32). A diverged run stops there and its metrics are those of
    the last finite points (the state it diverged from, e.g. how far out it had been pushed)."""
    if not isinstance(setting, CollapseSetting):
        raise TypeError(f"setting must be a CollapseSetting, got {type(setting).__name__}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    g = torch.Generator().manual_seed(seed)
    tree = random_tree(setting.n_nodes, g, setting.max_children)
    params, opt, points = _model(setting, tree, g)
    last, loss, steps_run = points().detach().clone(), math.nan, 0
    for _ in range(setting.steps):
        x = _finite_points(points)
        if x is None:
            break
        batch_loss = _batch_loss(setting, tree, x, g)
        if not bool(torch.isfinite(batch_loss)):
            break
        last, loss = x.detach().clone(), float(batch_loss.detach())
        opt.zero_grad()
        batch_loss.backward()
        opt.step()
        steps_run += 1
        if setting.optimizer == "adam_project" and bool(torch.isfinite(params[0]).all()):
            with torch.no_grad():  # a non-finite step is caught at the top of the next iteration
                params[0].copy_(lorentz_project(params[0]))
    else:
        x = _finite_points(points)
        if x is not None:
            last = x.detach()
    diverged = steps_run < setting.steps or _finite_points(points) is None
    with torch.no_grad():
        res = (-(last[:, 0] ** 2) + (last[:, 1:] ** 2).sum(-1) + 1).abs() / (1 + (last * last).sum(-1))
        metrics = collapse_metrics(lorentz_logmap0(last, check=False), tree, lorentz_cdist(last, last, check=False),
                                   setting.boundary_radius)
    return {"final_loss": loss, "diverged": float(diverged), "steps_run": float(steps_run), **metrics,
            "residual_rel_max": float(res.max())}


# ------------------------------------------------------------------------------------------------ sweep
SEEDS = (0, 1, 2)  # every cell over these seeds: a collapse counts only when it appears in every seed
LEAF_BOUNDARY_FRACTION = 0.1  # leaf collapse: boundary_fraction above this in every seed
HEIGHT_ERANK_RATIO = 0.5  # height collapse: erank_ratio below this in every seed


def sweep(quick: bool) -> dict[str, CollapseSetting]:
    """The named cells of the study. "leaf": free points, Adam on tangent vectors, all negatives, swept over
    the temperature; at a collapsing temperature also the regularisers and the optimisers. "height": the
    two-factor linear encoder (and, in the full grid, free points in dim 32), the temperatures and the
    regularisers. Quick: 50 nodes, fewer steps (the same collapses appear, smaller)."""
    if quick:
        leaf = dict(n_nodes=50, dim=8, lr=0.3, steps=200, optimizer="adam_tangent")
        height = dict(n_nodes=50, dim=16, lr=0.05, steps=300, encoder="linear2", optimizer="adam_tangent")
        leaf_t, height_t, temps = 3.0, 1.0, {"leaf": (0.1, 3.0), "height": (0.1, 1.0)}
    else:
        leaf = dict(n_nodes=100, dim=8, lr=0.2, steps=500, optimizer="adam_tangent")
        height = dict(n_nodes=100, dim=16, lr=0.05, steps=500, encoder="linear2", optimizer="adam_tangent")
        leaf_t, height_t, temps = 1.0, 1.0, {"leaf": (0.1, 0.3, 1.0, 3.0), "height": (0.1, 1.0)}
    cells = {}
    for kind, base in (("leaf", leaf), ("height", height)):
        for t in temps[kind]:
            cells[f"{kind} T={t:g} none"] = CollapseSetting(**base, temperature=t)
    for reg in ("isotropy", "erank"):
        cells[f"leaf T={leaf_t:g} {reg}"] = CollapseSetting(**leaf, temperature=leaf_t, regulariser=reg)
        cells[f"height T={height_t:g} {reg}"] = CollapseSetting(**height, temperature=height_t, regulariser=reg)
    for opt, dtype in (("riemannian", "float32"), ("riemannian", "float64"), ("adam_project", "float32")):
        for reg in ("none", "isotropy"):
            cells[f"leaf T={leaf_t:g} {reg} {opt} {dtype}"] = CollapseSetting(
                **{**leaf, "optimizer": opt}, temperature=leaf_t, regulariser=reg, dtype=dtype)
    if not quick:
        cells["leaf T=1 none 10 negatives"] = CollapseSetting(**leaf, temperature=1.0, negatives=10)
        free32 = dict(n_nodes=100, dim=32, lr=0.05, steps=500, temperature=1.0)
        for opt, dtype in (("adam_tangent", "float32"), ("riemannian", "float64"), ("adam_project", "float32")):
            cells[f"height free dim 32 T=1 none {opt} {dtype}"] = CollapseSetting(**free32, optimizer=opt, dtype=dtype)
        for reg in ("isotropy", "erank"):
            cells[f"height free dim 32 T=1 {reg}"] = CollapseSetting(**free32, optimizer="adam_tangent",
                                                                     regulariser=reg)
    return cells
