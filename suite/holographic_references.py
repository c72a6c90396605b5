"""References for the holographic bindings' report (float64 / complex128, by definitions that share no code
path with the fixed rfft implementations in `suite.holographic`)."""

from __future__ import annotations

import torch

from baselines.holographic import circular_conv_direct


def project_f64(x: torch.Tensor) -> torch.Tensor:
    """Unitary projection pi(x) = F^-1(X / |X|) in complex128 through the FULL DFT (Plate 2003; report
    section 2.3.1); a zero bin gets phase 0, the fixed projection's convention."""
    X = torch.fft.fft(x.double())
    mag = X.abs()
    return torch.fft.ifft(torch.where(mag > 0, X / torch.where(mag > 0, mag, torch.ones_like(mag)),
                                      torch.ones_like(X))).real


def bind_f64(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Circular convolution z_i = sum_j x_j y_{(i-j) mod d} by its O(d^2) definition, in float64."""
    return circular_conv_direct(x.double(), y.double())


def unbind_f64(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Circular correlation: convolution with the involution y*_i = y_{-i mod d} (Plate 2003), in float64."""
    d = y.shape[-1]
    return bind_f64(z, y[..., (-torch.arange(d, device=y.device)) % d])


def phasor_bind_f64(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Phasor binding bind(pi(x), pi(y)) from the complex128 projection and the O(d^2) definition."""
    return circular_conv_direct(project_f64(x), project_f64(y))
