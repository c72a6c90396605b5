"""Differentiable scalar diffraction (suite.optics): band-limited angular spectrum, scalable angular
spectrum, Fresnel, Fraunhofer (`propagation`), and exact ground truths to test them against (`references`).

See `suite.optics.propagation` for the conventions (SI units, exp(+ikz), fields [..., Ny, Nx], axis at
index N // 2) and the dtype promotion rule.
"""

from suite.optics.propagation import (  # noqa: F401
    MIN_BAND_SAMPLES, OpticsValidityWarning, Propagator, asm, asm_validity, band_limit_frequency,
    critical_distance, fraunhofer, fresnel, sas, sas_distance_limit, transfer_function, aliased_fraction,
    MAX_ALIASED_FRACTION,
)
from suite.optics.references import (  # noqa: F401
    circular_aperture, circular_aperture_on_axis, gaussian_beam_exact, gaussian_field, grid_coords,
    rayleigh_sommerfeld_direct, square_aperture, square_aperture_fresnel, fresnel_direct,
)

__all__ = [
    "OpticsValidityWarning", "asm", "Propagator", "sas", "fresnel", "fraunhofer", "transfer_function",
    "band_limit_frequency", "critical_distance", "asm_validity", "sas_distance_limit", "MIN_BAND_SAMPLES",
    "aliased_fraction", "MAX_ALIASED_FRACTION",
    "grid_coords", "circular_aperture", "square_aperture", "gaussian_field", "circular_aperture_on_axis",
    "square_aperture_fresnel", "gaussian_beam_exact", "rayleigh_sommerfeld_direct", "fresnel_direct",
]
