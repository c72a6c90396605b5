"""Ground truths and test fields for diffraction (complex128, independent of the FFT propagators): sampled
grids and area-weighted apertures, the exact on-axis field of a circle (first Rayleigh-Sommerfeld), the
Fresnel integrals of a square, the exact non-paraxial Gaussian beam (Hankel integral), and a brute-force
Rayleigh-Sommerfeld sum for small grids. Coordinates: pixel i at (i - N // 2) dx (axis at index N // 2).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from suite.checks import check_positive
from suite.optics.propagation import TWO_PI, _centered, _distance, _field, _scalars

__all__ = [
    "grid_coords", "circular_aperture", "square_aperture", "gaussian_field", "circular_aperture_on_axis",
    "square_aperture_fresnel", "gaussian_beam_exact", "rayleigh_sommerfeld_direct", "fresnel_direct",
]


def grid_coords(n: int, dx: float, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Pixel-centre coordinates (i - n // 2) dx, so index n // 2 is the optical axis.

    Args:
        n: samples.  dx: pitch in metres.  dtype: real dtype (float64).  device.

    Returns:
        [n] tensor.

    Example:
        >>> grid_coords(4, 1.0)
        tensor([-2., -1.,  0.,  1.], dtype=torch.float64)
    """
    return _centered(int(n), float(dx), device).to(dtype)


def circular_aperture(n: int, dx: float, radius: float, *, supersample: int = 32, dtype=torch.complex128,
                      device=None) -> torch.Tensor:
    """Uniformly lit circle of `radius`, area-weighted: each pixel holds the fraction of its area inside the circle.

    Edge pixels by `supersample`^2 sub-samples, so the sampled aperture has the right area and centroid
    (which the exact on-axis ground truth `circular_aperture_on_axis` needs).

    Args:
        n: samples per axis.  dx: pitch in metres.  radius: in metres.
        supersample: sub-samples per axis in edge pixels.  dtype: complex128 (default).  device.

    Returns:
        [n, n] field, centred on pixel [n // 2, n // 2].

    Example:
        >>> u = circular_aperture(64, 1e-6, 10e-6)
        >>> round(float(u.real.sum()), 1), round(math.pi * 10 ** 2, 1)  # area in pixels
        (314.2, 314.2)
    """
    x = grid_coords(n, dx, device=device)
    r = torch.sqrt(x[:, None] ** 2 + x[None, :] ** 2)
    inside = (r <= radius - dx / math.sqrt(2)).to(torch.float64)
    edge = (r > radius - dx / math.sqrt(2)) & (r < radius + dx / math.sqrt(2))
    idx = edge.nonzero(as_tuple=True)
    s = (torch.arange(supersample, dtype=torch.float64, device=device) + 0.5) / supersample - 0.5
    sy = x[idx[0]][:, None, None] + dx * s[None, :, None]
    sx = x[idx[1]][:, None, None] + dx * s[None, None, :]
    frac = ((sy ** 2 + sx ** 2) <= radius ** 2).to(torch.float64).mean(dim=(-2, -1))
    inside[idx] = frac
    return inside.to(dtype)


def square_aperture(n: int, dx: float, half_width: float, *, dtype=torch.complex128, device=None) -> torch.Tensor:
    """Uniformly lit square |x|, |y| <= half_width with exact area weights (separable 1-D overlaps).

    Args:
        n: samples per axis.  dx: pitch in metres.  half_width: in metres.  dtype: complex128.  device.

    Returns:
        [n, n] field, centred on pixel [n // 2, n // 2].

    Example:
        >>> square_aperture(4, 1.0, 1.0).real  # edges of half a pixel
        tensor([[0.0000, 0.0000, 0.0000, 0.0000],
                [0.0000, 0.2500, 0.5000, 0.2500],
                [0.0000, 0.5000, 1.0000, 0.5000],
                [0.0000, 0.2500, 0.5000, 0.2500]], dtype=torch.float64)
    """
    x = grid_coords(n, dx, device=device)
    w = torch.clamp(torch.minimum(x + dx / 2, torch.tensor(half_width, dtype=torch.float64, device=device))
                    - torch.maximum(x - dx / 2, torch.tensor(-half_width, dtype=torch.float64, device=device)),
                    min=0.0) / dx
    return (w[:, None] * w[None, :]).to(dtype)


def gaussian_field(n: int, dx: float, waist: float, *, dtype=torch.complex128, device=None) -> torch.Tensor:
    """The Gaussian beam waist u0 = exp(-(x^2 + y^2) / waist^2) on the centred grid.

    Args:
        n: samples per axis.  dx: pitch in metres.  waist: w0 in metres.  dtype: complex128.  device.

    Returns:
        [n, n] field.

    Example:
        >>> gaussian_field(3, 1.0, 1.0).real
        tensor([[0.1353, 0.3679, 0.1353],
                [0.3679, 1.0000, 0.3679],
                [0.1353, 0.3679, 0.1353]], dtype=torch.float64)
    """
    x = grid_coords(n, dx, device=device)
    return torch.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / waist ** 2).to(dtype)


def circular_aperture_on_axis(z, radius: float, wavelength: float):
    """Exact on-axis field behind a unit plane wave through a circle (first Rayleigh-Sommerfeld).

    Osterberg & Smith, JOSA 1961.

    U(0, 0, z) = e^{ikz} - (z/R) e^{ikR}, R = sqrt(z^2 + a^2), written cancellation-free as
    e^{ikz} (1 - (z/R) e^{ik a^2/(R + z)}).

    Args:
        z: distance(s) in metres (> 0), a float or an array.
        radius: a in metres (> 0).  wavelength: in metres (> 0).

    Returns:
        complex128 tensor of z's shape.

    Raises:
        ValueError: z <= 0, radius or wavelength not positive.

    Example:
        >>> circular_aperture_on_axis(1e-3, 1e-4, 0.5e-6)
        tensor(0.0171+0.1549j, dtype=torch.complex128)
    """
    radius, wavelength = check_positive(radius, "radius"), check_positive(wavelength, "wavelength")
    zt = torch.as_tensor(z, dtype=torch.float64)
    if bool((zt <= 0).any()):
        raise ValueError("z must be > 0 for the on-axis ground truth")
    k = TWO_PI / wavelength
    R = torch.sqrt(zt * zt + radius * radius)
    carrier = torch.remainder(k * zt, TWO_PI)
    inner = torch.remainder(k * radius * radius / (R + zt), TWO_PI)
    one = torch.ones_like(zt)
    return torch.polar(one, carrier) * (1 - (zt / R) * torch.polar(one, inner))


def square_aperture_fresnel(x, y, z: float, half_width: float, wavelength: float) -> torch.Tensor:
    """Fresnel-approximation field of a unit plane wave through the square |xi|, |eta| <= half_width (Goodman sec. 4.3).

    U = e^{ikz} / (2i) F(x) F(y), F(x) = [C(a2) - C(a1)] + i [S(a2) - S(a1)],
    a1 = -sqrt(2/(lambda z)) (w + x), a2 = sqrt(2/(lambda z)) (w - x) (Goodman, Introduction to Fourier
    Optics; scipy.special.fresnel returns (S, C)). Exact for the Fresnel propagator, so it is the oracle of
    `fresnel`.

    Args:
        x: [Nx] and y: [Ny] output coordinates in metres.
        z: distance in metres (finite).  half_width: w in metres.  wavelength: in metres.

    Returns:
        [Ny, Nx] complex128 field.

    Example:
        >>> x = grid_coords(8, 2e-6)
        >>> square_aperture_fresnel(x, x, 1e-3, 2e-5, 0.5e-6).shape
        torch.Size([8, 8])
    """
    from scipy.special import fresnel as fresnel_integrals

    z = _distance(z)
    k = TWO_PI / wavelength
    scale = math.sqrt(2.0 / (wavelength * z))

    def F(v):
        v = np.asarray(torch.as_tensor(v, dtype=torch.float64).cpu())
        s2, c2 = fresnel_integrals(scale * (half_width - v))
        s1, c1 = fresnel_integrals(-scale * (half_width + v))
        return (c2 - c1) + 1j * (s2 - s1)

    fx, fy = F(x), F(y)
    out = np.exp(1j * math.fmod(k * z, TWO_PI)) / 2j * fy[:, None] * fx[None, :]
    return torch.from_numpy(out)


def gaussian_beam_exact(r, z: float, waist: float, wavelength: float, *, nodes_per_panel: int = 6) -> torch.Tensor:
    """Exact (non-paraxial, scalar) field of u0 = exp(-r^2/w0^2) at radius r and distance z, by its Hankel integral.

    U(r, z) = 2 pi int_0^inf A(rho) J0(2 pi rho r) exp(i 2 pi z sqrt(1/lambda^2 - rho^2)) rho d rho,
    A(rho) = pi w0^2 exp(-pi^2 w0^2 rho^2) (the angular spectrum of the Gaussian; Goodman sec. 3.10), by
    composite Gauss-Legendre quadrature with panels short enough for the integrand's oscillation. Needs
    waist >= 2 lambda (spectrum negligible beyond 1/lambda). Evaluated once per distinct radius.

    Args:
        r: radii in metres (any shape).  z: distance in metres.  waist: w0 in metres (>= 2 wavelength).
        wavelength: in metres.  nodes_per_panel: Gauss-Legendre nodes per panel.

    Returns:
        complex128 tensor of r's shape.

    Raises:
        ValueError: waist or wavelength not positive, waist < 2 wavelength.

    Example:
        >>> gaussian_beam_exact(torch.tensor([0.0, 1e-6]), 0.0, 4e-6, 0.5e-6)  # z = 0: exp(-r^2 / w0^2)
        tensor([1.0000+0.j, 0.9394+0.j], dtype=torch.complex128)
    """
    from scipy.special import j0

    waist, wavelength = check_positive(waist, "waist"), check_positive(wavelength, "wavelength")
    if waist < 2 * wavelength:
        raise ValueError("gaussian_beam_exact needs waist >= 2 * wavelength (evanescent part neglected)")
    z = _distance(z)
    r = np.asarray(torch.as_tensor(r, dtype=torch.float64).cpu())
    ru, inv = np.unique(np.round(r, 15), return_inverse=True)
    rho_max = min(7.0 / (math.pi * waist), 1.0 / wavelength)
    k = TWO_PI / wavelength
    s2max = (wavelength * rho_max) ** 2
    total_phase = abs(k * z) * s2max / (1 + math.sqrt(1 - s2max)) + TWO_PI * rho_max * float(ru.max(initial=0))
    panels = int(total_phase / math.pi) + 16
    t, w = np.polynomial.legendre.leggauss(nodes_per_panel)
    edges = np.linspace(0.0, rho_max, panels + 1)
    h = np.diff(edges)[:, None]
    rho = (edges[:-1, None] + 0.5 * h * (t[None, :] + 1)).ravel()
    wts = (0.5 * h * w[None, :]).ravel()
    s2 = (wavelength * rho) ** 2
    phase = np.mod(-k * z * s2 / (1 + np.sqrt(1 - s2)), TWO_PI)
    spec = TWO_PI * math.pi * waist ** 2 * np.exp(-(math.pi * waist * rho) ** 2) * rho * wts * np.exp(1j * phase)
    out = np.empty(ru.shape, dtype=np.complex128)
    for i in range(0, ru.size, 512):  # chunks bound the (radii x nodes) Bessel table
        out[i:i + 512] = j0(TWO_PI * ru[i:i + 512, None] * rho[None, :]) @ spec
    out = out * np.exp(1j * math.fmod(k * z, TWO_PI))
    return torch.from_numpy(out[inv].reshape(r.shape))


def rayleigh_sommerfeld_direct(u, dx, wavelength, z) -> torch.Tensor:
    """Brute-force first Rayleigh-Sommerfeld sum on the input grid (Goodman sec. 3.5; complex128, O(N^4): small grids).

    U(x) = sum_xi u(xi) h(x - xi) dx^2, h = (1/2pi) (z/r^2) (1/r - ik) e^{ikr}, r = sqrt(|x - xi|^2 + z^2).
    The kernel is tabulated on the (2N-1)^2 offsets and summed by a direct (non-FFT) correlation.

    Args:
        u: [..., Ny, Nx] field.  dx, wavelength: in metres (> 0).  z: distance in metres (z = 0 returns u).

    Returns:
        [..., Ny, Nx] complex128 field.

    Raises:
        TypeError: a field that is neither complex nor real floating.  ValueError: dx or wavelength not positive.

    Example:
        >>> u = gaussian_field(24, 0.25e-6, 1e-6)
        >>> out = rayleigh_sommerfeld_direct(u, 0.25e-6, 0.5e-6, 2e-6)
        >>> exact = gaussian_beam_exact(grid_coords(24, 0.25e-6).abs(), 2e-6, 1e-6, 0.5e-6)
        >>> bool((out[12] - exact).norm() / exact.norm() < 1e-4)
        True
    """
    u = _field(u).to(torch.complex128)
    dx, wavelength, z = _scalars(dx, wavelength, z)
    if z == 0:
        return u.clone()
    ny, nx = u.shape[-2:]
    k = TWO_PI / wavelength
    oy = (torch.arange(-(ny - 1), ny, dtype=torch.float64, device=u.device) * dx)[:, None]
    ox = (torch.arange(-(nx - 1), nx, dtype=torch.float64, device=u.device) * dx)[None, :]
    r = torch.sqrt(oy ** 2 + ox ** 2 + z * z)
    h = (z / (TWO_PI * r * r)) * torch.complex(1.0 / r, -k * torch.ones_like(r)) \
        * torch.polar(torch.ones_like(r), torch.remainder(k * r, TWO_PI)) * dx * dx
    batch = u.shape[:-2]
    x = u.reshape(-1, 1, ny, nx)
    # conv2d correlates: out[i] = sum_m x[m] K[m - i + (N-1)]; flipping h turns it into the convolution.
    K = torch.flip(h, dims=(0, 1))[None, None]
    pad = (nx - 1, nx - 1, ny - 1, ny - 1)
    xr, xi = x.real, x.imag
    Kr, Ki = K.real.contiguous(), K.imag.contiguous()

    def conv(a, b):
        return torch.nn.functional.conv2d(torch.nn.functional.pad(a, pad), b)

    out = torch.complex(conv(xr, Kr) - conv(xi, Ki), conv(xr, Ki) + conv(xi, Kr))
    return out.reshape(*batch, ny, nx)


def fresnel_direct(u, dx, wavelength, z, dx_out, *, input_chirp: bool = True) -> torch.Tensor:
    """The discrete one-step Fresnel sum evaluated directly (no FFT, complex128; Goodman eq. 4-17).

    On the output grid x' = (j - N // 2) dx_out of the input's size:
    U(x') = e^{ikz}/(i lambda z) e^{ik x'^2/(2z)} sum_x u(x) e^{ik x^2/(2z)} e^{-2 pi i x x'/(lambda z)} dx^2
    (Goodman, Introduction to Fourier Optics; without the input chirp, the Fraunhofer sum, eq. 4-25). The
    kernel is separable, so the sum is two matrix products (O(N^3)). Phases are reduced in float64.

    Args:
        u: [..., Ny, Nx] field.  dx, wavelength: in metres (> 0).  z: distance in metres (non-zero).
        dx_out: output pitch in metres (> 0).  input_chirp: False for the Fraunhofer sum.

    Returns:
        [..., Ny, Nx] complex128 field.

    Raises:
        ValueError: z = 0, dx, wavelength or dx_out not positive.

    Example:
        >>> from suite.optics import fresnel
        >>> u = gaussian_field(32, 1e-6, 4e-6)
        >>> fast, dx_out = fresnel(u, 1e-6, 0.5e-6, 1e-3, pad=1)
        >>> bool((fast - fresnel_direct(u, 1e-6, 0.5e-6, 1e-3, dx_out)).norm() < 1e-12)
        True
    """
    u = _field(u).to(torch.complex128)
    dx, wavelength, z = _scalars(dx, wavelength, z)
    dx_out = check_positive(dx_out, "dx_out")
    if z == 0:
        raise ValueError("z must be non-zero for the Fresnel sum")
    k = TWO_PI / wavelength

    def kernel(n_in: int, n_out: int) -> torch.Tensor:
        x = grid_coords(n_in, dx, device=u.device)
        xq = grid_coords(n_out, dx_out, device=u.device)
        turns = torch.remainder(xq[:, None] * x[None, :] / (wavelength * z), 1.0)
        chirp = torch.remainder(k * x * x / (2.0 * z), TWO_PI) if input_chirp else torch.zeros_like(x)
        return torch.polar(torch.ones_like(turns), chirp[None, :] - TWO_PI * turns)

    def out_chirp(n_out: int) -> torch.Tensor:
        xq = grid_coords(n_out, dx_out, device=u.device)
        return torch.polar(torch.ones_like(xq), torch.remainder(k * xq * xq / (2.0 * z), TWO_PI))

    ny, nx = u.shape[-2:]
    pre = complex(np.exp(1j * math.fmod(k * z, TWO_PI)) / (1j * wavelength * z)) * dx * dx
    s = kernel(ny, ny) @ u @ kernel(nx, nx).mT
    return pre * out_chirp(ny)[:, None] * out_chirp(nx)[None, :] * s
