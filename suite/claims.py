"""The research report's claims (ids and wording from CLAIMS.md); verdicts come only from studies."""

CLAIMS: dict[str, tuple[str, str]] = {
    # id: (report section, claim)
    "H1": ("2.2.1", "With standard initialisation, stacked circular-convolution bindings make signal and "
                    "gradient norms shrink or grow geometrically with depth; phasor binding keeps them constant."),
    "H2": ("2.1.1", "Using a complex fft instead of rfft leaks imaginary parts and breaks unitarity; rfft keeps "
                    "the result real."),
    "H3": ("2.3.1", "Phasor binding preserves the norm after the inverse transform and prevents vanishing gradients."),
    "H4": ("2.2.2", "Binding loses its encoding power when vectors are not drawn from a distribution that keeps "
                    "them quasi-orthogonal (e.g. uniform on the hypersphere)."),
    "H5": ("2.2.3", "A circulant constraint limits expressiveness compared with a dense layer."),
    "H6": ("2.3.2", "A circulant layer needs N parameters and O(N log N) time instead of N^2 and O(N^2)."),
    "H7": ("2.4", "HRR binding is commutative; GHRR gives non-commutative binding for order-sensitive structure."),
    "Y1": ("3.1", "Near the Poincare boundary the conformal factor explodes; float32 distances lose precision or "
                  "turn NaN."),
    "Y2": ("3.2.1", "The Lorentz model is numerically more stable than the Poincare ball and reaches large radii "
                    "without float64."),
    "Y3": ("3.1", "Contrastive learning in hyperbolic space pushes embeddings to the boundary or into a low-rank "
                  "subspace (dimensional collapse)."),
    "Y4": ("3.2.2", "An isotropic-Gaussian loss on tangent vectors at the origin (or maximising effective rank) "
                    "prevents that collapse."),
    "Y5": ("3.2.3", "Euclidean SGD/Adam leaves the manifold; Riemannian Adam with retraction and parallel transport "
                    "keeps parameters on it."),
    "Y6": ("3.2.1", "A closed-form KL between pseudo-Gaussians makes GM-VAE training more stable than Monte Carlo "
                    "ELBO estimates."),
    "F1": ("4.2", "The purely additive fast-weight update saturates and retrieval collapses as sequences grow; the "
                  "delta rule removes the interference."),
    "F2": ("4.2, 4.3.1", "Positive feature maps such as elu+1 are needed; raw dot products (negative values) are "
                         "unstable."),
    "F3": ("4.3.1", "Linear attention needs the denominator normalisation z_t."),
    "F4": ("4.3.1", "The report's delta-rule recipe (elu+1 keys, learnable beta, denominator) is stable."),
    "F5": ("4.3.2", "A leapfrog integrator lets past states be reconstructed exactly from future ones "
                    "(reversibility), so activations need not be stored."),
    "F6": ("4.3.2", "Symplectic (leapfrog / SympNet) integration conserves energy over long horizons where "
                    "non-symplectic integration drifts."),
    "O1": ("5.1", "ASM aliasing appears and grows with propagation distance z."),
    "O2": ("5.2.1", "Zero padding to 2x turns circular into linear convolution and removes wrap-around."),
    "O3": ("5.1", "Evanescent components get amplified into NaN unless masked."),
    "O4": ("5.2.1, 6.2", "The band-limiting mask removes aliasing (the report's snippet masks only evanescent waves)."),
    "O5": ("5.2.2", "The phase must be computed in complex128 to avoid phase errors."),
    "O6": ("5.2.1", "When dx > lambda z / (2D), ASM is unsuitable; switch to Fresnel, Fraunhofer or SAS."),
    "X1": ("7", "Structure (orthogonality, symplecticity, hyperbolicity) must be enforced by construction rather "
                "than encouraged through the loss."),
}

DOMAIN_OF_PREFIX = {"H": "holographic", "Y": "hyperbolic", "F": "fastweights", "O": "optics", "X": "cross-domain"}


def claim_domain(claim_id: str) -> str:
    return DOMAIN_OF_PREFIX[claim_id[0]]
