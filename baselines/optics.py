"""Naive angular-spectrum propagation, the way it is commonly written (and the research report's snippet).

Both take a complex field `[..., Ny, Nx]` and return the field after a distance z on the same grid.
Their failure modes are the subject of the optics studies (suite/studies/optics.py):
- no zero padding: the FFT's circular convolution wraps light leaving one edge back in at the other;
- no band limit: the sampled transfer-function chirp aliases beyond z_c ~ N dx^2 / lambda;
- the phase 2 pi z sqrt(1/lambda^2 - f^2) is formed in the field's precision (float32 for complex64), so
  its absolute error grows like ~1e-7 k z;
- `asm_naive` keeps the full transfer function with a complex square root: evanescent waves decay for
  z > 0 but grow as exp(+k |z| sqrt(s^2 - 1)) for z < 0 (overflow -> Inf -> NaN);
- `asm_seed` zeroes evanescent waves and calls that mask robust; it is independent of z, so it is not a
  band limit, and its phase is float32 although its comment asks for complex128.
"""

from __future__ import annotations

import math

import torch


def asm_naive(u: torch.Tensor, dx: float, wavelength: float, z: float) -> torch.Tensor:
    """Unpadded FFT angular spectrum with the full transfer function, in the field's precision.

    H = exp(i 2 pi z sqrt(1/lambda^2 - fx^2 - fy^2)) with a complex square root (evanescent bins get
    i sqrt(f^2 - 1/lambda^2)); u(z) = ifft2(fft2(u) H). This is the textbook one-liner found in many
    repositories (e.g. odak/diffractsim-style code without padding): complex64 in, complex64 arithmetic.

    Args:
        u: [..., Ny, Nx] complex field.  dx, wavelength, z: in metres.

    Returns:
        [..., Ny, Nx] complex field.

    Example:
        >>> from suite.optics.references import gaussian_field
        >>> u = gaussian_field(16, 0.2e-6, 1e-6).to(torch.complex64)  # dx < lambda / 2: evanescent bins
        >>> asm_naive(u, 0.2e-6, 0.5e-6, -1e-4).isfinite().all().item()  # they grow as exp(+k|z|...) for z < 0
        False
    """
    ny, nx = u.shape[-2:]
    real = u.real.dtype if u.is_complex() else u.dtype
    fx = torch.fft.fftfreq(nx, d=dx, dtype=real, device=u.device)
    fy = torch.fft.fftfreq(ny, d=dx, dtype=real, device=u.device)
    arg = (1.0 / wavelength ** 2 - fx[None, :] ** 2 - fy[:, None] ** 2).to(u.dtype if u.is_complex() else
                                                                           torch.complex64)
    H = torch.exp(1j * (2 * math.pi * z) * torch.sqrt(arg))
    return torch.fft.ifft2(torch.fft.fft2(u) * H)


def robust_transfer_function(shape, dx, wavelength, z, device):
    """The research report's `robust_transfer_function` (section 6.2), reproduced as written.

    fftfreq in the default dtype (float32), meshgrid(fx, fy, indexing='xy'), evanescent mask
    f^2 <= 1/lambda^2, root clamped at 0, phase = 2 pi (z/lambda) sqrt(1 - lambda^2 f^2) in float32
    (the comment recommends complex128 but the code never uses it), H = exp(1j phase) * mask.complex64.
    """
    ny, nx = shape
    fx = torch.fft.fftfreq(nx, d=dx, device=device)
    fy = torch.fft.fftfreq(ny, d=dx, device=device)
    FX, FY = torch.meshgrid(fx, fy, indexing="xy")
    f_sq = FX ** 2 + FY ** 2
    mask = f_sq <= (1 / wavelength) ** 2
    root_arg = 1 - (wavelength ** 2 * f_sq)
    root_arg = torch.clamp(root_arg, min=0)
    phase = 2 * torch.pi * (z / wavelength) * torch.sqrt(root_arg)
    H = torch.exp(1j * phase)
    H = H * mask.type(torch.complex64)
    return H


def propagate_asm(U_in, H):
    """The report's `propagate_asm` (section 6.2): ifft2(fft2(U) * H), no padding."""
    U_f = torch.fft.fft2(U_in)
    U_out = torch.fft.ifft2(U_f * H)
    return U_out


def asm_seed(u: torch.Tensor, dx: float, wavelength: float, z: float) -> torch.Tensor:
    """The research report's snippet end to end (sec. 6.2): `propagate_asm(u, robust_transfer_function(...))`.

    No padding and no band limit; the mask removes the evanescent bins, so z < 0 stays finite.

    Args:
        u: [..., Ny, Nx] complex field.  dx, wavelength, z: in metres.

    Returns:
        [..., Ny, Nx] complex64 field.

    Example:
        >>> from suite.optics.references import gaussian_field
        >>> u = gaussian_field(16, 0.2e-6, 1e-6).to(torch.complex64)
        >>> asm_seed(u, 0.2e-6, 0.5e-6, -1e-4).isfinite().all().item()
        True
    """
    return propagate_asm(u, robust_transfer_function(tuple(u.shape[-2:]), dx, wavelength, z, u.device))
