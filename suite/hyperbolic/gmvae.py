"""Gaussian-manifold VAE (Cho, Lee & Kim, NeurIPS 2023; ml-postech/GM-VAE) and its two baselines.

Each latent dimension is a univariate Gaussian N(mu, sigma^2), i.e. a point (mu, sigma) of the hyperbolic
half-plane of the Fisher metric. The posterior over that point is a *pseudo-Gaussian* with parameters
(alpha, beta, gamma) and curvature c < 0 (here c = -1):
    mu ~ N(alpha, beta^2 gamma^2),   sigma^2 ~ Gamma(shape 1/(4|c| gamma^2) + 1, rate 1/(4|c| beta^2 gamma^2)),
independently; the prior is alpha = 0, beta = gamma = 1. KL between two pseudo-Gaussians is then the sum
of a normal KL and a gamma KL, both in closed form; samples are reparameterised (normal: location-scale;
gamma: implicit reparameterisation of `torch.distributions.Gamma.rsample`).
Baselines: a Euclidean VAE (closed-form Gaussian KL) and a wrapped-normal VAE on the Lorentz model
(Nagano et al. 2019) whose KL has no closed form and is estimated by Monte Carlo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geoopt
import torch
from torch import nn
from torch.distributions import Gamma, Normal

from suite.checks import check_finite, check_real, check_tensor, validation_enabled
from suite.hyperbolic._geometry import lorentz_distance, lorentz_expmap0, lorentz_logmap0
from suite.hyperbolic.embedding import Tree, random_tree

__all__ = [
    "PseudoGaussian", "pseudo_gaussian_kl", "pseudo_gaussian_kl_mc", "pseudo_gaussian_rsample",
    "pseudo_gaussian_log_prob", "halfplane_distance", "hierarchical_dataset", "HierarchicalData", "GMVAE",
    "EuclideanVAE", "WrappedNormalVAE",
]

C = -1.0  # curvature of the pseudo-Gaussian family


@dataclass
class PseudoGaussian:
    """Parameters (alpha, log beta^2, log gamma^2), each [..., latent]."""

    alpha: torch.Tensor
    log_beta2: torch.Tensor
    log_gamma2: torch.Tensor

    def normal(self) -> Normal:
        return Normal(self.alpha, torch.exp(0.5 * (self.log_beta2 + self.log_gamma2)))

    def gamma(self) -> Gamma:
        a = torch.exp(-self.log_gamma2) / (4 * abs(C)) + 1
        rate = torch.exp(-(self.log_beta2 + self.log_gamma2)) / (4 * abs(C))
        return Gamma(a, rate)

    @staticmethod
    def prior_like(t: torch.Tensor) -> "PseudoGaussian":
        z = torch.zeros_like(t)
        return PseudoGaussian(z, z, z)


def _check_pg(q: PseudoGaussian, name: str) -> None:
    if not isinstance(q, PseudoGaussian):
        raise TypeError(f"{name} must be a PseudoGaussian, got {type(q).__name__}")
    for f in ("alpha", "log_beta2", "log_gamma2"):
        t = getattr(q, f)
        check_real(check_tensor(t, f"{name}.{f}"), f"{name}.{f}")
        if t.shape != q.alpha.shape:
            raise ValueError(f"{name}.{f} must have the shape of {name}.alpha {tuple(q.alpha.shape)}, got {tuple(t.shape)}")
        if validation_enabled():
            check_finite(t, f"{name}.{f}")


def _gamma_kl(a1, b1, a2, b2):
    """KL(Gamma(a1, rate b1) || Gamma(a2, rate b2))
    = (a1 - a2) psi(a1) - lnG(a1) + lnG(a2) + a2 (ln b1 - ln b2) + a1 (b2 - b1) / b1."""
    return ((a1 - a2) * torch.digamma(a1) - torch.lgamma(a1) + torch.lgamma(a2)
            + a2 * (torch.log(b1) - torch.log(b2)) + a1 * (b2 / b1 - 1))


def _normal_kl(m1, v1, m2, v2):
    """KL(N(m1, v1) || N(m2, v2)) = 0.5 (log v2/v1 + (v1 + (m1 - m2)^2) / v2 - 1)."""
    return 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


def pseudo_gaussian_kl(q: PseudoGaussian, p: PseudoGaussian | None = None) -> torch.Tensor:
    """Closed-form KL(q || p) between pseudo-Gaussians: KL(normals) + KL(gammas) (Cho, Lee & Kim, NeurIPS 2023, sec. 4).

    With mu ~ N(alpha, beta^2 gamma^2) and sigma^2 ~ Gamma(1/(4|c| gamma^2) + 1, rate 1/(4|c| beta^2 gamma^2))
    independent (c = -1), the KL splits into a normal KL and a gamma KL, both in closed form; summed over the
    last (latent) dimension.

    Args:
        q: PseudoGaussian with fields [..., latent].
        p: PseudoGaussian of q's shape, or None for the prior (alpha 0, beta = gamma = 1).

    Returns:
        [...] non-negative KL values.

    Raises:
        TypeError: q (or p) not a PseudoGaussian, or a field not a real floating tensor.
        ValueError: fields of different shapes; NaN/Inf while validation is on.

    Example:
        >>> z = torch.zeros(2)
        >>> pseudo_gaussian_kl(PseudoGaussian(z, z, z))  # the prior itself
        tensor(0.)
        >>> pseudo_gaussian_kl(PseudoGaussian(torch.tensor([1.0, 0.0]), z, z))  # the mean moved by one sd
        tensor(0.5000)
    """
    _check_pg(q, "q")
    p = PseudoGaussian.prior_like(q.alpha) if p is None else p
    _check_pg(p, "p")
    qn, pn, qg, pg = q.normal(), p.normal(), q.gamma(), p.gamma()
    kl = (_normal_kl(qn.loc, qn.scale ** 2, pn.loc, pn.scale ** 2)
          + _gamma_kl(qg.concentration, qg.rate, pg.concentration, pg.rate))
    return kl.sum(-1)


def pseudo_gaussian_rsample(q: PseudoGaussian, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised sample (mu, sigma^2) of the latent Gaussians (Cho, Lee & Kim, NeurIPS 2023).

    mu by location-scale, sigma^2 by `torch.distributions.Gamma.rsample` (implicit reparameterisation),
    clamped to the dtype's smallest normal number.

    Args:
        q: PseudoGaussian with fields [..., latent].
        n: number of samples, or None for one sample without a sample dimension.

    Returns:
        (mu, var): each [n, ..., latent] (or [..., latent]), var > 0.

    Example:
        >>> z = torch.zeros(3, 2)
        >>> mu, var = pseudo_gaussian_rsample(PseudoGaussian(z, z, z), 5)
        >>> mu.shape, bool((var > 0).all())
        (torch.Size([5, 3, 2]), True)
    """
    shape = torch.Size([n]) if n is not None else torch.Size()
    mu = q.normal().rsample(shape)
    var = q.gamma().rsample(shape).clamp_min(torch.finfo(q.alpha.dtype).tiny)
    return mu, var


def pseudo_gaussian_log_prob(q: PseudoGaussian, mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """log q(mu, sigma^2) summed over the latent dimension (density w.r.t. d mu d sigma^2; Cho, Lee & Kim 2023).

    Args:
        q: PseudoGaussian with fields [..., latent].
        mu, var: [..., latent] (or with leading sample dimensions), var > 0.

    Returns:
        [...] log densities.

    Example:
        >>> z = torch.zeros(2)
        >>> pseudo_gaussian_log_prob(PseudoGaussian(z, z, z), z, torch.ones(2)).shape
        torch.Size([])
    """
    return (q.normal().log_prob(mu) + q.gamma().log_prob(var)).sum(-1)


def pseudo_gaussian_kl_mc(q: PseudoGaussian, p: PseudoGaussian | None = None, n: int = 1) -> torch.Tensor:
    """Monte Carlo KL estimate mean_s [log q(z_s) - log p(z_s)], z_s ~ q reparameterised.

    What an ELBO without the closed form computes; it agrees with `pseudo_gaussian_kl` (Cho, Lee & Kim,
    NeurIPS 2023) up to sampling error. Draws from the global RNG.

    Args:
        q: PseudoGaussian with fields [..., latent].
        p: PseudoGaussian of q's shape, or None for the prior.
        n: number of samples.

    Returns:
        [...] KL estimates.

    Raises:
        TypeError: q (or p) not a PseudoGaussian, or a field not a real floating tensor.
        ValueError: fields of different shapes; NaN/Inf while validation is on.

    Example:
        >>> z = torch.zeros(2)
        >>> q = PseudoGaussian(torch.tensor([1.0, 0.0]), z, z)
        >>> bool(abs(pseudo_gaussian_kl_mc(q, n=4000) - pseudo_gaussian_kl(q)) < 0.1)  # sampling sd ~0.016
        True
    """
    _check_pg(q, "q")
    p = PseudoGaussian.prior_like(q.alpha) if p is None else p
    mu, var = pseudo_gaussian_rsample(q, n)
    return (pseudo_gaussian_log_prob(q, mu, var) - pseudo_gaussian_log_prob(p, mu, var)).mean(0)


def halfplane_distance(mu1, sd1, mu2, sd2) -> torch.Tensor:
    """Fisher-Rao distance between products of univariate Gaussians N(mu, sd^2), root-sum-square over the
    last dim. Per dim: sqrt(2) * d_H with x = mu / sqrt(2) on the upper half-plane and
    d_H = 2 asinh( sqrt((dx)^2 + (d sd)^2) / (2 sqrt(sd1 sd2)) ) (cancellation-free form)."""
    dx = (mu1 - mu2) / math.sqrt(2)
    dh = 2 * torch.asinh(torch.sqrt(dx * dx + (sd1 - sd2) ** 2) / (2 * torch.sqrt(sd1 * sd2)))
    return math.sqrt(2) * torch.sqrt((dh * dh).sum(-1))


# ------------------------------------------------------------------------------------------------ data
@dataclass
class HierarchicalData:
    tree: Tree
    x_train: torch.Tensor
    node_train: torch.Tensor
    x_test: torch.Tensor
    node_test: torch.Tensor


def hierarchical_dataset(n_nodes: int, obs_dim: int, per_node: int, generator: torch.Generator, *,
                         branch_std: float = 1.0, noise_std: float = 0.3, max_children: int = 3
                         ) -> HierarchicalData:
    """Noisy observations of a random tree's nodes (branching diffusion, as in Mathieu et al., NeurIPS 2019).

    Node features x_child = x_parent + N(0, branch_std^2 I) from x_root = 0; each node yields `per_node`
    training and `per_node` held-out observations x + N(0, noise_std^2 I).

    Args:
        n_nodes: tree size (int >= 2).  obs_dim: observation size.  per_node: observations per node and split.
        generator: `torch.Generator`.  branch_std, noise_std: the two standard deviations.
        max_children: most children per node.

    Returns:
        HierarchicalData: `tree`, `x_train` [n_nodes * per_node, obs_dim], `node_train` [n_nodes * per_node]
        (the node of each row), and the same for the held-out split (`x_test`, `node_test`).

    Raises:
        TypeError: generator not a torch.Generator.  ValueError: n_nodes < 2, max_children < 1.

    Example:
        >>> data = hierarchical_dataset(7, 5, 3, torch.Generator().manual_seed(0))
        >>> data.x_train.shape, data.node_train.shape, data.tree.n
        (torch.Size([21, 5]), torch.Size([21]), 7)
    """
    tree = random_tree(n_nodes, generator, max_children=max_children)
    feats = torch.zeros(n_nodes, obs_dim)
    steps = branch_std * torch.randn(n_nodes, obs_dim, generator=generator) / math.sqrt(obs_dim) * 2
    for j in range(1, n_nodes):
        feats[j] = feats[tree.parent[j]] + steps[j]
    node = torch.arange(n_nodes).repeat_interleave(per_node)

    def draw():
        return feats[node] + noise_std * torch.randn(node.numel(), obs_dim, generator=generator)

    return HierarchicalData(tree, draw(), node, draw(), node.clone())


# ---------------------------------------------------------------------------------------------- models
def _mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, o))


def _gauss_loglik(x, xhat, obs_std):
    return (-0.5 * ((x - xhat) / obs_std) ** 2 - math.log(obs_std) - 0.5 * math.log(2 * math.pi)).sum(-1)


class GMVAE(nn.Module):
    """GM-VAE (Cho, Lee & Kim, NeurIPS 2023): `latent` univariate Gaussians with a pseudo-Gaussian posterior.

    Research report sec. 3.2.1. The decoder reads (mu, log sigma^2) of every latent Gaussian. `kl="closed"`
    uses `pseudo_gaussian_kl`, `kl="mc"` the Monte Carlo estimate from the same samples the reconstruction
    uses.

    Args:
        obs_dim: observation size.  latent: number of latent Gaussians.  hidden: MLP width.
        obs_std: standard deviation of the Gaussian likelihood of the decoder.

    Methods:
        posterior(x [B, obs_dim]) -> PseudoGaussian [B, latent].
        elbo(x [B, obs_dim], *, kl="closed", n_samples=1) -> (elbo, reconstruction log-likelihood, kl),
            each [B], averaged over n_samples reparameterised samples; kl is "closed" or "mc" (else ValueError).
        latent_distance(x1, x2 [B, obs_dim]) -> [B], Fisher-Rao distance between the posterior mean points (alpha,
            beta).

    Example:
        >>> model = GMVAE(obs_dim=5, latent=2, hidden=8)
        >>> elbo, rec, kl = model.elbo(torch.randn(4, 5))
        >>> elbo.shape, model.latent_distance(torch.randn(4, 5), torch.randn(4, 5)).shape
        (torch.Size([4]), torch.Size([4]))
    """

    def __init__(self, obs_dim: int, latent: int = 2, hidden: int = 64, obs_std: float = 0.3):
        super().__init__()
        self.latent, self.obs_std = latent, obs_std
        self.enc = _mlp(obs_dim, hidden, 3 * latent)
        self.dec = _mlp(2 * latent, hidden, obs_dim)

    def posterior(self, x: torch.Tensor) -> PseudoGaussian:
        a, lb, lg = self.enc(x).chunk(3, dim=-1)
        return PseudoGaussian(a, lb.clamp(-8, 8), lg.clamp(-8, 8))

    def elbo(self, x: torch.Tensor, *, kl: str = "closed", n_samples: int = 1) -> tuple[torch.Tensor, ...]:
        """(elbo, reconstruction log-likelihood, kl) per example, averaged over n_samples."""
        q = self.posterior(x)
        mu, var = pseudo_gaussian_rsample(q, n_samples)
        xhat = self.dec(torch.cat([mu, torch.log(var)], dim=-1))
        rec = _gauss_loglik(x, xhat, self.obs_std).mean(0)
        if kl == "closed":
            k = pseudo_gaussian_kl(q)
        elif kl == "mc":
            p = PseudoGaussian.prior_like(q.alpha)
            k = (pseudo_gaussian_log_prob(q, mu, var) - pseudo_gaussian_log_prob(p, mu, var)).mean(0)
        else:
            raise ValueError(f"kl must be 'closed' or 'mc', got {kl!r}")
        return rec - k, rec, k

    def latent_distance(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Fisher-Rao distance between the posterior mean points (alpha, beta) of two inputs."""
        q1, q2 = self.posterior(x1), self.posterior(x2)
        return halfplane_distance(q1.alpha, torch.exp(0.5 * q1.log_beta2), q2.alpha, torch.exp(0.5 * q2.log_beta2))


class EuclideanVAE(nn.Module):
    """Standard VAE (Kingma & Welling 2014) with an isotropic Gaussian prior and closed-form KL (GM-VAE's baseline).

    `latent` = number of real latent coordinates (use 2x the GM-VAE's latent Gaussians for the same
    decoder width).

    Args:
        obs_dim: observation size.  latent: number of real latent coordinates.  hidden: MLP width.
        obs_std: standard deviation of the Gaussian likelihood of the decoder.

    Methods:
        posterior(x [B, obs_dim]) -> (mean, log variance) [B, latent].
        elbo(x [B, obs_dim], *, kl="closed", n_samples=1) -> (elbo, reconstruction log-likelihood, kl),
            each [B], averaged over n_samples reparameterised samples; kl is always the closed form
            (`kl` is accepted for a common signature).
        latent_distance(x1, x2 [B, obs_dim]) -> [B], Euclidean distance between the posterior means.

    Example:
        >>> model = EuclideanVAE(obs_dim=5, latent=4, hidden=8)
        >>> elbo, rec, kl = model.elbo(torch.randn(4, 5))
        >>> elbo.shape, model.latent_distance(torch.randn(4, 5), torch.randn(4, 5)).shape
        (torch.Size([4]), torch.Size([4]))
    """

    def __init__(self, obs_dim: int, latent: int = 4, hidden: int = 64, obs_std: float = 0.3):
        super().__init__()
        self.obs_std = obs_std
        self.enc = _mlp(obs_dim, hidden, 2 * latent)
        self.dec = _mlp(latent, hidden, obs_dim)

    def posterior(self, x):
        m, lv = self.enc(x).chunk(2, dim=-1)
        return m, lv.clamp(-10, 10)

    def elbo(self, x, *, kl: str = "closed", n_samples: int = 1):
        m, lv = self.posterior(x)
        z = m + torch.exp(0.5 * lv) * torch.randn((n_samples,) + m.shape, dtype=m.dtype, device=m.device)
        rec = _gauss_loglik(x, self.dec(z), self.obs_std).mean(0)
        k = _normal_kl(m, lv.exp(), torch.zeros_like(m), torch.ones_like(m)).sum(-1)
        return rec - k, rec, k

    def latent_distance(self, x1, x2):
        return torch.linalg.vector_norm(self.posterior(x1)[0] - self.posterior(x2)[0], dim=-1)


class WrappedNormalVAE(nn.Module):
    """Wrapped-normal VAE on the Lorentz model (Nagano et al., ICML 2019): z = exp_mu(PT_{0->mu}(eps)).

    eps ~ N(0, diag sigma^2); log q(z) = log N(eps) - (n - 1) log(sinh r / r), r = |eps|. The KL has no
    closed form: it is estimated by Monte Carlo from the reparameterised samples.

    Args:
        obs_dim: observation size.  latent: manifold dimension n.  hidden: MLP width.
        obs_std: standard deviation of the Gaussian likelihood of the decoder.

    Methods:
        posterior(x [B, obs_dim]) -> (mean point [B, n+1] on the hyperboloid, log variance [B, n]).
        elbo(x [B, obs_dim], *, kl="mc", n_samples=1) -> (elbo, reconstruction log-likelihood, kl),
            each [B], averaged over n_samples reparameterised samples; kl is always the Monte Carlo
            estimate (`kl` is accepted for a common signature).
        latent_distance(x1, x2 [B, obs_dim]) -> [B], `lorentz_distance` between the posterior means.

    Example:
        >>> model = WrappedNormalVAE(obs_dim=5, latent=2, hidden=8)
        >>> elbo, rec, kl = model.elbo(torch.randn(4, 5))
        >>> elbo.shape, model.latent_distance(torch.randn(4, 5), torch.randn(4, 5)).shape
        (torch.Size([4]), torch.Size([4]))
    """

    def __init__(self, obs_dim: int, latent: int = 4, hidden: int = 64, obs_std: float = 0.3):
        super().__init__()
        self.obs_std, self.n = obs_std, latent
        self.manifold = geoopt.Lorentz(k=1.0)
        self.enc = _mlp(obs_dim, hidden, 2 * latent)
        self.dec = _mlp(latent, hidden, obs_dim)

    def posterior(self, x):
        m, lv = self.enc(x).chunk(2, dim=-1)
        return lorentz_expmap0(m), lv.clamp(-10, 4)

    def _log_wrapped(self, eps, var):
        r = torch.linalg.vector_norm(eps, dim=-1).clamp_min(1e-6)
        logdet = (self.n - 1) * (r + torch.log(-torch.expm1(-2 * r)) - math.log(2) - torch.log(r))
        return Normal(torch.zeros_like(eps), var.sqrt()).log_prob(eps).sum(-1) - logdet

    def elbo(self, x, *, kl: str = "mc", n_samples: int = 1):
        mu, lv = self.posterior(x)
        var = lv.exp()
        eps = torch.exp(0.5 * lv) * torch.randn((n_samples,) + lv.shape, dtype=lv.dtype, device=lv.device)
        u0 = torch.cat([torch.zeros_like(eps[..., :1]), eps], dim=-1)
        mu_b = mu.expand(n_samples, *mu.shape)
        z = self.manifold.expmap(mu_b, self.manifold.transp0(mu_b, u0))
        t = lorentz_logmap0(z, check=False)
        rec = _gauss_loglik(x, self.dec(t), self.obs_std).mean(0)
        k = (self._log_wrapped(eps, var) - self._log_wrapped(t, torch.ones_like(var))).mean(0)
        return rec - k, rec, k

    def latent_distance(self, x1, x2):
        return lorentz_distance(self.posterior(x1)[0], self.posterior(x2)[0], check=False)
