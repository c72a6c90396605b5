"""Hyperbolic embeddings done so they stay accurate in float32 and on the manifold (research report sec. 3,
with the literature's corrections: Mishne et al., ICML 2023, "The Numerical Stability of Hyperbolic
Representation Learning"). Built on geoopt (`geoopt.Lorentz`, `ManifoldParameter`,
`RiemannianAdam`); curvature -1/k with k = 1 by default. Naive twins live in `baselines.hyperbolic`.
"""

from suite.hyperbolic._geometry import (  # noqa: F401
    ON_MANIFOLD_RTOL, lorentz_cdist, lorentz_distance, lorentz_expmap0, lorentz_logmap0, lorentz_project,
    lorentz_residual, lorentz_to_poincare, minkowski_inner, poincare_to_lorentz, tangent_cdist, tangent_distance,
)
from suite.hyperbolic.embedding import (  # noqa: F401
    BOUNDARY_RADIUS, EmbeddingRun, LorentzLinear, Tree, contrastive_loss, effective_rank,
    isotropic_gaussian_loss, random_tree, reconstruction_metrics, train_recommended, train_tangent,
)
from suite.hyperbolic.gmvae import (  # noqa: F401
    GMVAE, EuclideanVAE, WrappedNormalVAE, hierarchical_dataset, pseudo_gaussian_kl,
    pseudo_gaussian_kl_mc, pseudo_gaussian_rsample, pseudo_gaussian_log_prob,
)
