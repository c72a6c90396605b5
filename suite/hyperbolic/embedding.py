"""Hyperbolic embeddings of trees: collapse diagnostics, the isotropy regulariser, LorentzLinear, and the
recommended and tangent-parametrised training recipes (the naive one lives in `baselines.hyperbolic`).

Sources: Nickel & Kiela 2017/2018 (contrastive loss, reconstruction mean rank and MAP); HyperGCL
(arXiv 2310.18209: dimensional collapse, isotropy of tangent features at the origin, effective rank);
Chen et al. 2022 (fully hyperbolic linear layer); Mishne et al. 2023 (tangent parametrisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geoopt
import torch
from torch import nn

from suite.checks import check_finite, check_real, check_tensor, validation, validation_enabled
from suite.hyperbolic._geometry import (
    _k, lorentz_cdist, lorentz_distance, lorentz_expmap0, lorentz_logmap0, lorentz_residual, minkowski_inner,
    tangent_cdist, tangent_distance,
)

__all__ = [
    "effective_rank", "isotropic_gaussian_loss", "LorentzLinear", "Tree", "random_tree", "contrastive_loss",
    "sample_negatives", "reconstruction_metrics", "EmbeddingRun", "train_recommended", "train_tangent",
    "BOUNDARY_RADIUS",
]

# Hyperbolic radius of the Poincare clip |p| <= 1 - 1e-5 used by the naive recipe (Nickel & Kiela's eps):
# 2 artanh(1 - 1e-5) = log((2 - 1e-5) / 1e-5). Points at or beyond it count as "at the boundary clamp".
BOUNDARY_RADIUS = math.log((2 - 1e-5) / 1e-5)


def _count(value, name: str, lo: int) -> int:
    """An int (not a bool) >= lo."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    return value


def _real(value, name: str, *, positive: bool) -> float:
    """A finite real number (not a bool), > 0 or >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be a finite {'positive' if positive else 'non-negative'} number, got {value!r}")
    return v


def effective_rank(z: torch.Tensor, *, center: bool = True) -> torch.Tensor:
    """Effective rank erank = exp(-sum_k p_k log p_k), p_k = sigma_k / sum_j sigma_j (Roy & Vetterli 2007).

    Over the singular values sigma_k of the (centred) rows of z; the collapse measure of HyperGCL
    (arXiv 2310.18209; research report sec. 3.2.2). In [1, min(N, d)]; a matrix with no spread (all
    sigma = 0) has erank 1 by convention.

    Args:
        z: [..., N, d] real floating tensor (N >= 1 rows of d >= 1 features).
        center: subtract the row mean first.

    Returns:
        [...] tensor of z's dtype.

    Raises:
        TypeError: z not real floating.
        ValueError: fewer than 2 dimensions, N = 0 or d = 0; NaN/Inf while validation is on.

    Example:
        >>> round(float(effective_rank(torch.eye(4), center=False)), 4)  # 4 equal singular values
        4.0
        >>> round(float(effective_rank(torch.ones(5, 3))), 4)  # no spread after centring
        1.0
    """
    check_real(check_tensor(z, "z"), "z", min_dim=2)
    if z.shape[-1] == 0 or z.shape[-2] == 0:
        raise ValueError(f"z must have at least one row and one column, got shape {tuple(z.shape)}")
    if validation_enabled():
        check_finite(z, "z")
    if center:
        z = z - z.mean(-2, keepdim=True)
    s = torch.linalg.svdvals(z)
    total = s.sum(-1, keepdim=True)
    p = torch.where(total > 0, s / torch.where(total > 0, total, torch.ones_like(total)), torch.zeros_like(s))
    p = torch.where(total > 0, p, torch.nn.functional.one_hot(torch.zeros_like(total[..., 0], dtype=torch.long),
                                                                s.shape[-1]).to(s.dtype))
    ent = -(torch.where(p > 0, p * torch.log(torch.where(p > 0, p, torch.ones_like(p))), torch.zeros_like(p))).sum(-1)
    return torch.exp(ent).clamp(1.0, float(min(z.shape[-2], z.shape[-1])))


def isotropic_gaussian_loss(z: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Isotropic-Gaussian loss on tangent vectors at the origin (research report sec. 3.2.2; HyperGCL).

    HyperGCL: arXiv 2310.18209.

    Squared MMD between the empirical distribution of the rows of z [..., N, n] and N(0, sigma^2 I),
    Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 l^2)) with l^2 = n sigma^2. The Gaussian side has a
    closed form, so the loss is deterministic (no samples of the target):

      MMD^2 = mean_ij k(z_i, z_j) - 2 mean_i (l^2/(l^2+s^2))^{n/2} exp(-|z_i|^2 / (2(l^2+s^2)))
              + (l^2/(l^2+2 s^2))^{n/2}.

    Map points to the tangent space first (`lorentz_logmap0`, or use tangent parameters directly).
    Scale-safe over the whole float range (as hypot): the rows are divided by their largest entry m
    before squaring and the squared distances rebuilt as (d2 / m^2) m m in float64, where an overflow
    can only mean a kernel value exp(-inf) = 0, never NaN.

    Args:
        z: [..., N, n] tangent vectors (N >= 1, n >= 1).
        sigma: standard deviation of the target Gaussian (> 0).

    Returns:
        [...] non-negative losses, z's dtype.

    Raises:
        TypeError: z not real floating.
        ValueError: fewer than 2 dimensions, N = 0 or n = 0, sigma not positive; NaN/Inf while validating.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> spread, collapsed = torch.randn(64, 2, generator=gen), torch.zeros(64, 2)
        >>> bool(isotropic_gaussian_loss(spread) < isotropic_gaussian_loss(collapsed))
        True
    """
    check_real(check_tensor(z, "z"), "z", min_dim=2)
    if z.shape[-1] == 0 or z.shape[-2] == 0:
        raise ValueError(f"z must have at least one row and one column, got shape {tuple(z.shape)}")
    if validation_enabled():
        check_finite(z, "z")
    s2 = _real(sigma, "sigma", positive=True) ** 2
    n = z.shape[-1]
    l2 = n * s2
    zw = z.to(torch.float64)
    m = zw.abs().amax((-1, -2), keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    zs = zw / m
    sqs = (zs * zs).sum(-1)
    d2s = (sqs.unsqueeze(-1) + sqs.unsqueeze(-2) - 2 * zs @ zs.transpose(-1, -2)).clamp_min(0)
    d2, sq = d2s * m * m, sqs * m[..., 0] * m[..., 0]
    kzz = torch.exp(-d2 / (2 * l2)).mean((-1, -2))
    kzy = ((l2 / (l2 + s2)) ** (n / 2) * torch.exp(-sq / (2 * (l2 + s2)))).mean(-1)
    kyy = (l2 / (l2 + 2 * s2)) ** (n / 2)
    return (kzz - 2 * kzy + kyy).clamp_min(0).to(z.dtype)


class LorentzLinear(nn.Module):
    """Fully hyperbolic linear layer (Chen et al. 2022, "Fully Hyperbolic Neural Networks", ACL, sec. 3.1).

    x in L^n_k -> y with spatial part y_s = W x + b (W acts on all n+1 coordinates) and
    y_0 = sqrt(k + |y_s|^2), so the output is on the hyperboloid by construction (no projection, no
    tangent-space round trip).

    Args:
        in_features, out_features: manifold dimensions n (tensors carry n+1 coordinates), ints >= 1.
        bias: learn b.  k: curvature parameter (curvature -1/k), > 0.

    Shapes:
        input [..., in_features + 1] -> output [..., out_features + 1], on the hyperboloid.

    Raises:
        ValueError: bad sizes or k; input whose last dimension is not in_features + 1; NaN/Inf while
            validating.  TypeError: input not a real floating tensor.

    Example:
        >>> layer = LorentzLinear(2, 3)
        >>> y = layer(lorentz_expmap0(torch.tensor([[0.5, -0.2]])))
        >>> y.shape, bool(lorentz_residual(y).max() < 1e-5)
        (torch.Size([1, 4]), True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, k: float = 1.0):
        super().__init__()
        self.k = _k(k)
        self.in_features, self.out_features = _count(in_features, "in_features", 1), _count(out_features, "out_features", 1)
        self.linear = nn.Linear(self.in_features + 1, self.out_features, bias=bias)
        nn.init.normal_(self.linear.weight, std=0.5 / math.sqrt(self.in_features + 1))
        if bias:
            nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_real(check_tensor(x, "x"), "x")
        if x.shape[-1] != self.in_features + 1:
            raise ValueError(f"x must have last dimension in_features + 1 = {self.in_features + 1}, "
                             f"got {x.shape[-1]}")
        check_finite(x, "x")
        ys = self.linear(x)
        return torch.cat([torch.sqrt(self.k + (ys * ys).sum(-1, keepdim=True)), ys], dim=-1)


# ----------------------------------------------------------------------------------------- tree data
@dataclass
class Tree:
    """A rooted tree: parent[i] < i (root 0 has parent -1), depth, and all-pairs hop distances.

    Fields: `parent` [N] int64, `depth` [N] int64, `dist` [N, N] int64 hop distances. Properties: `n`
    (N), `edges` [N - 1, 2] (parent, child), `adjacency` [N, N] bool.

    Example:
        >>> t = random_tree(5, torch.Generator().manual_seed(0))
        >>> t.n, t.edges.shape, int(t.dist.max()) >= 1
        (5, torch.Size([4, 2]), True)
    """

    parent: torch.Tensor
    depth: torch.Tensor
    dist: torch.Tensor  # [N, N] int64 hop distances
    _adj: torch.Tensor | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.parent.numel())

    @property
    def edges(self) -> torch.Tensor:
        child = torch.arange(1, self.n)
        return torch.stack([self.parent[1:], child], dim=1)

    @property
    def adjacency(self) -> torch.Tensor:
        if getattr(self, "_adj", None) is None:
            self._adj = self.dist == 1
        return self._adj


def random_tree(n: int, generator: torch.Generator, max_children: int = 4) -> Tree:
    """A random tree of n nodes grown breadth-first: each node gets 1..max_children children until n is reached.

    A bushy hierarchy like the synthetic trees of Sala et al. (ICML 2018) and Mishne et al. (ICML 2023).

    Args:
        n: number of nodes (int >= 2).
        generator: `torch.Generator` (required: trees are seeded).
        max_children: most children per node (int >= 1).

    Returns:
        `Tree` of n nodes.

    Raises:
        TypeError: generator not a torch.Generator.  ValueError: n not an integer >= 2, max_children not >= 1.

    Example:
        >>> t = random_tree(10, torch.Generator().manual_seed(0))
        >>> t.n, int(t.parent[0]), bool((t.parent[1:] < torch.arange(1, 10)).all())
        (10, -1, True)
    """
    _count(n, "n", 2)
    _count(max_children, "max_children", 1)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    parent = [-1]
    frontier, i = [0], 1
    while i < n:
        nxt = []
        for p in frontier:
            kids = int(torch.randint(1, max_children + 1, (1,), generator=generator))
            for _ in range(kids):
                if i >= n:
                    break
                parent.append(p)
                nxt.append(i)
                i += 1
        frontier = nxt or [i - 1]
    par = torch.tensor(parent)
    depth = torch.zeros(n, dtype=torch.long)
    for j in range(1, n):
        depth[j] = depth[par[j]] + 1
    # hop distance via lowest common ancestor on the ancestor chains
    anc = [[j] for j in range(n)]
    for j in range(1, n):
        anc[j] = [j] + anc[int(par[j])]
    dist = torch.zeros(n, n, dtype=torch.long)
    sets = [dict((a, t) for t, a in enumerate(chain)) for chain in anc]
    for a in range(n):
        for b in range(a + 1, n):
            sa = sets[a]
            for t, x in enumerate(anc[b]):
                if x in sa:
                    dist[a, b] = dist[b, a] = sa[x] + t
                    break
    return Tree(par, depth, dist)


# ------------------------------------------------------------------------------ loss and evaluation
def sample_negatives(tree: Tree, edges: torch.Tensor, n_neg: int, generator: torch.Generator) -> torch.Tensor:
    """For each edge (u, v), n_neg nodes that are not neighbours of u and not u itself (uniform, with
    replacement). Sampled from the valid nodes directly, so no row falls back to an invalid one."""
    u = edges[:, 0]
    valid = ~tree.adjacency[u] & (torch.arange(tree.n) != u.unsqueeze(1))
    if not bool(valid.any(1).all()):
        raise ValueError("tree has a node adjacent to every other node: it has no negatives to sample")
    return torch.multinomial(valid.float(), n_neg, replacement=True, generator=generator)


def contrastive_loss(d_pos: torch.Tensor, d_neg: torch.Tensor) -> torch.Tensor:
    """Nickel & Kiela (NeurIPS 2017) eq. 6: -log(e^{-d(u,v)} / (e^{-d(u,v)} + sum_neg e^{-d(u,v')})), averaged.

    Args:
        d_pos: [...] distances of the positive pairs.
        d_neg: [..., K] distances to K >= 1 negatives per positive.

    Returns:
        scalar tensor (the mean over [...]).

    Raises:
        TypeError: non-real-floating input.
        ValueError: d_neg not of shape d_pos.shape + (K,) with K >= 1; NaN/Inf while validating.

    Example:
        >>> round(float(contrastive_loss(torch.tensor([0.0]), torch.tensor([[0.0]]))), 4)  # -log(1/2)
        0.6931
    """
    check_real(check_tensor(d_pos, "d_pos"), "d_pos", min_dim=0)
    check_real(check_tensor(d_neg, "d_neg"), "d_neg")
    if d_neg.shape[:-1] != d_pos.shape or d_neg.shape[-1] < 1:
        raise ValueError(f"d_neg must have shape d_pos.shape + (K,) with K >= 1 negatives, got {tuple(d_neg.shape)} "
                         f"for d_pos of shape {tuple(d_pos.shape)}")
    if validation_enabled():
        check_finite(d_pos, "d_pos")
        check_finite(d_neg, "d_neg")
    logits = torch.cat([-d_pos.unsqueeze(-1), -d_neg], dim=-1)
    return -(logits[..., 0] - torch.logsumexp(logits, dim=-1)).mean()


def batch_contrastive_loss(points: torch.Tensor, edges: torch.Tensor, neg: torch.Tensor, distance):
    """Contrastive loss of one batch: anchors `points[edges[:, 0]]`, positives `points[edges[:, 1]]`,
    negatives `points[neg]` ([batch, n_neg]), under `distance(a, b)` of whichever representation `points` are
    in. Shared by every recipe (naive and fixed) so they differ only in representation and optimiser.
    Returns (loss, anchors)."""
    u = points[edges[:, 0]]
    d_pos = distance(u, points[edges[:, 1]])
    d_neg = distance(u.unsqueeze(1).expand(-1, neg.shape[1], -1), points[neg])
    return contrastive_loss(d_pos, d_neg), u


def _lorentz_distance_unchecked(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return lorentz_distance(a, b, check=False)


def reconstruction_metrics(dist: torch.Tensor, tree: Tree) -> dict[str, float]:
    """Mean rank and MAP of every node's true neighbours, ranking the other nodes by `dist`.

    Nickel & Kiela, NeurIPS 2017, sec. 4.1. Non-finite distances rank last.

    Args:
        dist: [N, N] embedding distances of the tree's nodes.
        tree: the `Tree` whose edges are the true neighbours.

    Returns:
        {"mean_rank": float >= 1, "map": float in (0, 1]}.

    Raises:
        ValueError: dist not [N, N] for the tree's N.  TypeError: dist not a real tensor.

    Example:
        >>> t = random_tree(10, torch.Generator().manual_seed(0))
        >>> reconstruction_metrics(t.dist.double(), t)  # the hop distances themselves are perfect
        {'mean_rank': 1.0, 'map': 1.0}
    """
    n = tree.n
    check_real(check_tensor(dist, "dist"), "dist")
    if tuple(dist.shape) != (n, n):
        raise ValueError(f"dist must be the [N, N] = [{n}, {n}] distance matrix of the tree's nodes, got {tuple(dist.shape)}")
    dist = torch.nan_to_num(dist.detach().double(), nan=math.inf, posinf=math.inf)
    adj = tree.adjacency
    ranks, aps = [], []
    eye = torch.eye(n, dtype=torch.bool)
    for u in range(n):
        du = dist[u].masked_fill(eye[u], math.inf)
        nb = adj[u].nonzero().flatten()
        non = (~adj[u] & ~eye[u])
        d_non = du[non]
        # rank of each neighbour among the non-neighbours (1 = best), ties counted against the neighbour
        r = 1 + (d_non.unsqueeze(0) <= du[nb].unsqueeze(1)).sum(1)
        ranks.append(r.double())
        order = torch.argsort(du, stable=True)[: n - 1]
        hits = adj[u][order].double()
        prec = torch.cumsum(hits, 0) / torch.arange(1, n, dtype=torch.double)
        aps.append(float((prec * hits).sum() / hits.sum().clamp_min(1)))
    return {"mean_rank": float(torch.cat(ranks).mean()), "map": float(sum(aps) / n)}


@dataclass
class EmbeddingRun:
    """Outcome of one embedding training run (`train_recommended`, `train_tangent`, the naive recipe).

    Fields: `recipe` (its name); `radius` [N] distance of every node from the origin; `tangent` [N, n]
    (log_0 of every node); `pairwise` [N, N] distances; `losses` per step; `residual_max` and
    `residual_rel_max` (largest |<x,x>_L + 1| after any step, absolute and relative to x_0^2 + |x_s|^2 + 1);
    `first_nonfinite_step` (-1: never); `outside_steps` (naive recipe: steps that left the ball before the
    clip); `nonfinite` (NaN/Inf entries in the final parameters or losses).
    """

    recipe: str
    radius: torch.Tensor  # hyperbolic distance of every node from the origin
    tangent: torch.Tensor  # log_0 of every node [N, n]
    pairwise: torch.Tensor  # [N, N] distances
    losses: list[float] = field(default_factory=list)
    residual_max: float = 0.0  # max |<x,x>_L + 1| seen after any step (Lorentz recipes)
    residual_rel_max: float = 0.0  # same, relative to x_0^2 + |x_s|^2 + 1 (rounding level ~1e-7 in float32)
    first_nonfinite_step: int = -1  # step at which the loss or a parameter became NaN/Inf (-1: never)
    outside_steps: int = 0  # naive recipe: optimiser steps that left the ball before the clip
    nonfinite: int = 0  # NaN/Inf entries in the final parameters or losses


def _stop_if_nonfinite(run: "EmbeddingRun", loss: torch.Tensor, params: torch.Tensor) -> bool:
    """Record the first step where the loss or the parameters stop being finite (training then stops:
    the NaN/Inf rate is an outcome to report, not an exception)."""
    if bool(torch.isfinite(loss.detach())) and bool(torch.isfinite(params.detach()).all()):
        return False
    run.first_nonfinite_step = len(run.losses)
    run.losses.append(float(loss.detach()))
    return True


def _batches(tree: Tree, steps: int, batch: int, n_neg: int, generator: torch.Generator):
    edges = tree.edges
    for _ in range(steps):
        idx = torch.randint(0, edges.shape[0], (min(batch, edges.shape[0]),), generator=generator)
        e = edges[idx]
        yield e, sample_negatives(tree, e, n_neg, generator)


def _check_recipe(tree, dim, steps, lr, batch, n_neg, iso_weight) -> None:
    if not isinstance(tree, Tree):
        raise TypeError(f"tree must be a Tree, got {type(tree).__name__}")
    _count(dim, "dim", 1)
    _count(steps, "steps", 0)
    _count(batch, "batch", 1)
    _count(n_neg, "n_neg", 1)
    _real(lr, "lr", positive=True)
    _real(iso_weight, "iso_weight", positive=False)


def train_recommended(tree: Tree, dim: int, *, steps: int = 300, lr: float = 0.05, iso_weight: float = 1.0,
                      batch: int = 64, n_neg: int = 10, init_std: float = 1e-2,
                      generator: torch.Generator, dtype: torch.dtype = torch.float32,
                      device: str = "cpu", optimizer: str = "riemannian",
                      constraint_penalty: float = 0.0, track_residual: bool = True) -> EmbeddingRun:
    """The research report's recipe (sec. 3.2, 3.3): Lorentz parameters, geoopt RiemannianAdam, an isotropy loss.

    Lorentz-model parameters as a geoopt ManifoldParameter, geoopt RiemannianAdam (retraction + parallel
    transport of the moments), the Nickel & Kiela (2017) contrastive loss on the cancellation-free
    `lorentz_distance`, plus `iso_weight * isotropic_gaussian_loss(log_0(x))`.

    `optimizer="euclidean"` is the control: the same coordinates in a plain Parameter updated by
    torch.optim.Adam (optionally with `constraint_penalty * (<x,x>_L + 1)^2`, the "encourage it through
    the loss" alternative), so the on-manifold residual can be compared. `track_residual=False` skips the
    per-step residual diagnostics (for timing).

    Args:
        tree: the `Tree` to embed.  dim: manifold dimension n (int >= 1).
        steps: optimiser steps (int >= 0).  lr: learning rate (> 0).
        iso_weight: weight of `isotropic_gaussian_loss` (>= 0).
        batch: edges per step (int >= 1).  n_neg: negatives per edge (int >= 1).
        init_std: standard deviation of the initial tangent vectors.
        generator: `torch.Generator` (required: runs are seeded).  dtype, device: of the parameters.
        optimizer: "riemannian" (default) or "euclidean".
        constraint_penalty: weight of the on-manifold penalty (euclidean only).
        track_residual: record the on-manifold residual after every step.

    Returns:
        `EmbeddingRun`; its `recipe` is "recommended" ("lorentz (no iso)" for iso_weight = 0, a euclidean label
        for the control).

    Raises:
        TypeError: tree not a Tree, generator missing.  ValueError: a count, rate or weight out of range,
            an unknown optimizer.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> run = train_recommended(random_tree(10, gen), 2, steps=3, generator=gen)
        >>> run.pairwise.shape, len(run.losses), run.nonfinite
        (torch.Size([10, 10]), 3, 0)
    """
    _check_recipe(tree, dim, steps, lr, batch, n_neg, iso_weight)
    manifold = geoopt.Lorentz(k=1.0)
    v0 = init_std * torch.randn(tree.n, dim, generator=generator, dtype=dtype)
    if optimizer == "riemannian":
        x = geoopt.ManifoldParameter(lorentz_expmap0(v0).to(device), manifold=manifold)
        opt = geoopt.optim.RiemannianAdam([x], lr=lr)
    elif optimizer == "euclidean":
        x = nn.Parameter(lorentz_expmap0(v0).to(device))
        opt = torch.optim.Adam([x], lr=lr)
    else:
        raise ValueError(f"optimizer must be 'riemannian' or 'euclidean', got {optimizer!r}")
    label = "recommended" if iso_weight else "lorentz (no iso)"
    if optimizer == "euclidean":
        label = "lorentz + Euclidean Adam" + (" + penalty" if constraint_penalty else "")
    run = EmbeddingRun(label, torch.empty(0), torch.empty(0), torch.empty(0))
    with validation(False):  # a hot loop: value checks off deliberately (divergence is recorded)
        for e, neg in _batches(tree, steps, batch, n_neg, generator):
            e, neg = e.to(device), neg.to(device)
            loss, u = batch_contrastive_loss(x, e, neg, _lorentz_distance_unchecked)
            if iso_weight:
                # minibatch estimate over the batch's anchor nodes, as HyperGCL does per batch
                loss = loss + iso_weight * isotropic_gaussian_loss(lorentz_logmap0(u, check=False))
            if constraint_penalty:
                loss = loss + constraint_penalty * (minkowski_inner(x, x) + 1).pow(2).mean()
            if _stop_if_nonfinite(run, loss, x):
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.losses.append(float(loss.detach()))
            if not track_residual:  # diagnostics off (timing)
                continue
            xd = x.detach()
            res = lorentz_residual(xd)
            run.residual_max = max(run.residual_max, float(res.max()))
            run.residual_rel_max = max(run.residual_rel_max, float((res / (1 + (xd * xd).sum(-1))).max()))
    with torch.no_grad():
        xd = x.detach()
        run.tangent = lorentz_logmap0(xd, check=False)
        run.radius = torch.linalg.vector_norm(run.tangent, dim=-1)
        run.pairwise = lorentz_cdist(xd, xd, check=False)
        run.nonfinite = int((~torch.isfinite(xd)).sum()) + sum(not math.isfinite(v) for v in run.losses)
    return run


def train_tangent(tree: Tree, dim: int, *, steps: int = 300, lr: float = 0.05, iso_weight: float = 1.0,
                  batch: int = 64, n_neg: int = 10, init_std: float = 1e-2,
                  generator: torch.Generator, dtype: torch.dtype = torch.float32,
                  device: str = "cpu") -> EmbeddingRun:
    """Tangent-parametrised recipe (Mishne et al., ICML 2023): Euclidean parameters lifted by exp_0, plain Adam.

    The parameters v in R^n are the points' tangent vectors at the origin, so every parameter value is a
    valid point (hyperbolicity by construction); `tangent_distance` (log domain) in the Nickel & Kiela
    contrastive loss, ordinary Adam, the same isotropy regulariser as `train_recommended`.

    Args:
        tree: the `Tree` to embed.  dim: manifold dimension n (int >= 1).
        steps: optimiser steps (int >= 0).  lr: learning rate (> 0).
        iso_weight: weight of `isotropic_gaussian_loss` (>= 0).
        batch: edges per step (int >= 1).  n_neg: negatives per edge (int >= 1).
        init_std: standard deviation of the initial tangent vectors.
        generator: `torch.Generator` (required: runs are seeded).  dtype, device: of the parameters.

    Returns:
        `EmbeddingRun` (recipe "tangent").

    Raises:
        TypeError: tree not a Tree, generator missing.  ValueError: a count, rate or weight out of range.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> run = train_tangent(random_tree(10, gen), 2, steps=3, generator=gen)
        >>> run.recipe, run.tangent.shape, run.nonfinite
        ('tangent', torch.Size([10, 2]), 0)
    """
    _check_recipe(tree, dim, steps, lr, batch, n_neg, iso_weight)
    v = nn.Parameter((init_std * torch.randn(tree.n, dim, generator=generator, dtype=dtype)).to(device))
    opt = torch.optim.Adam([v], lr=lr)
    run = EmbeddingRun("tangent", torch.empty(0), torch.empty(0), torch.empty(0))
    with validation(False):  # a hot loop: value checks off deliberately (divergence is recorded)
        for e, neg in _batches(tree, steps, batch, n_neg, generator):
            e, neg = e.to(device), neg.to(device)
            loss, u = batch_contrastive_loss(v, e, neg, tangent_distance)
            if iso_weight:
                loss = loss + iso_weight * isotropic_gaussian_loss(u)  # the batch's anchor nodes
            if _stop_if_nonfinite(run, loss, v):
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.losses.append(float(loss.detach()))
    with torch.no_grad():
        vd = v.detach()
        run.tangent = vd
        run.radius = torch.linalg.vector_norm(vd, dim=-1)
        if bool(torch.isfinite(vd).all()):
            run.pairwise = tangent_cdist(vd, vd)
        else:
            run.pairwise = torch.full((tree.n, tree.n), math.nan, dtype=vd.dtype, device=vd.device)
        run.nonfinite = int((~torch.isfinite(vd)).sum()) + sum(not math.isfinite(v) for v in run.losses)
    return run
