"""Propagation: band-limited angular spectrum (`asm`, `Propagator`), scalable angular spectrum (`sas`),
Fresnel and Fraunhofer transforms, and the sampling criteria that choose between them.

Conventions: SI units (metres), time dependence such that a plane wave travelling to +z is exp(+i k z),
fields are complex tensors `[..., Ny, Nx]` on a square pitch `dx`; pixel (j, i) sits at
x = (i - Nx // 2) dx, y = (j - Ny // 2) dy, so the optical axis is the pixel `[Ny // 2, Nx // 2]`.
Leading dimensions are batch dimensions. Everything follows the field's device and dtype and is
differentiable with respect to the field.

Dtype rule (documented promotion): complex64/complex128 fields are used as they are; a real floating field
(an amplitude mask) is promoted to the complex dtype of the same precision (float16/bfloat16/float32 ->
complex64, float64 -> complex128); integer or bool fields raise TypeError.

Why the fixed `asm` differs from the obvious FFT one-liner (research report section 5):
- zero padding (default 2x) makes the FFT's circular convolution linear over the input window;
- the Matsushima-Shimobaba band limit (Opt. Express 17, 19662, 2009) removes the frequencies whose sampled
  transfer-function chirp aliases: u_limit = 1 / (lambda sqrt((2 du z)^2 + 1)), du = 1 / (padded width).
  It is the identity up to z_c ~ P dx^2 / lambda (P the padded size; 2 N dx^2 / lambda for 2x padding);
- the phase k z sqrt(1 - s^2), s = lambda |f|, is built in float64 with the carrier k z split off
  (k z sqrt(1 - s^2) = k z - k z s^2 / (1 + sqrt(1 - s^2))), reduced modulo 2 pi and only then cast to the
  field's precision, so complex64 propagation keeps a ~1e-7 phase error at any k z;
- evanescent components (s > 1) get exp(-k |z| sqrt(s^2 - 1)): they decay for both signs of z (the naive
  complex square root makes them grow as exp(+k |z| ...) for z < 0, which overflows to Inf/NaN).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from suite.checks import check_tensor, validation_enabled

__all__ = [
    "OpticsValidityWarning", "asm", "Propagator", "sas", "fresnel", "fraunhofer", "transfer_function",
    "band_limit_frequency", "critical_distance", "asm_validity", "sas_distance_limit", "MIN_BAND_SAMPLES",
    "aliased_fraction", "MAX_ALIASED_FRACTION",
]

TWO_PI = 2.0 * math.pi

# asm() keeps only the band-limited frequencies; when fewer than this many samples per axis survive the
# band limit (~4 S^2 / (lambda z) at long distance; capped at half the padded grid for small grids), the
# result is dominated by lost bandwidth: on the circular-aperture ground truth (study
# optics.error_vs_distance) the on-axis error passes 1e-2 between ~65 and ~35 kept samples (N = 256..1024).
MIN_BAND_SAMPLES = 48

# asm(band_limit=False) warns when more than this share of the propagating band has its transfer-function
# phase sampled below Nyquist (`aliased_fraction`). Measured on white-noise fields (the worst case: every
# frequency equally lit) against a 16x-padded band-limited reference, N = 16 and 32, dx = lambda/4 .. 2 lambda:
# below a share of 0.1 the unbanded result is never more than 1.3x worse than the band-limited one, above 0.5
# it is always 3x or more worse; 0.25 sits in the middle of the transition.
MAX_ALIASED_FRACTION = 0.25


class OpticsValidityWarning(UserWarning):
    """A propagation method is used outside the distance range where it is accurate.

    The message names the method to switch to. Raised as a warning (a `UserWarning` subclass) by `asm`, `Propagator` and
        `sas`; filter it with
    `warnings.simplefilter("ignore", OpticsValidityWarning)` where the regime is intended.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _ = asm(torch.ones(16, 16), 1e-6, 0.5e-6, 1e-2)  # 10 mm: ~40 critical distances
        >>> caught[0].category.__name__, "sas" in str(caught[0].message)
        ('OpticsValidityWarning', True)
    """


# ----------------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------------

def _number(value, name: str) -> float:
    """A real number: a Python/NumPy int or float, or a one-element real tensor. bool, str, complex and None
    are not numbers here (True would silently mean 1 metre)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must be a real number, got a {value.dtype} tensor")
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def _positive(value, name: str) -> float:
    v = _number(value, name)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return v


def _distance(z, name: str = "z") -> float:
    v = _number(z, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite distance in metres, got {z!r}")
    return v


def _scalars(dx, wavelength, z) -> tuple[float, float, float]:
    return _positive(dx, "dx"), _positive(wavelength, "wavelength"), _distance(z)


def _size(n, name: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _shape2(shape, name: str = "shape") -> tuple[int, int]:
    """A grid shape (Ny, Nx) of positive integers."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ValueError(f"{name} must be a pair (Ny, Nx) of positive integers, got {shape!r}")
    return _size(shape[0], name), _size(shape[1], name)


def _pad(pad, name: str = "pad") -> float:
    v = _number(pad, name) if not isinstance(pad, (bool, np.bool_)) else None
    if v is None or not (math.isfinite(v) and v >= 1):
        raise ValueError(f"{name} must be a finite number >= 1 (1 = no padding), got {pad!r}")
    return v


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _field_checked(u, name: str = "u") -> tuple[torch.Tensor, int]:
    """Validate a field `[..., Ny, Nx]`, apply the documented dtype promotion, and (with validation on) check
    finiteness and return the power-of-two exponent e that brings max|u| near 1 when it lies outside
    [2^-k, 2^k], k = maxexp / 3 of the dtype (float32: 42): linear propagation of u 2^-e then times 2^e is
    exact scaling, and keeps the FFT sums (up to P^2 max|u|) away from overflow and subnormals. One pass
    (max of |re|, |im|) serves both checks; NaN propagates through the max. Returns (field, e)."""
    check_tensor(u, name)
    if u.dim() < 2 or u.shape[-1] == 0 or u.shape[-2] == 0:
        raise ValueError(f"{name} must be a field [..., Ny, Nx] with Ny, Nx >= 1, got shape {tuple(u.shape)}")
    if not u.is_complex():
        if u.dtype == torch.float64:
            u = u.to(torch.complex128)
        elif u.dtype in (torch.float16, torch.bfloat16, torch.float32):
            u = u.to(torch.complex64)
        else:
            raise TypeError(f"{name} must be a complex field (complex64/complex128) or a real floating amplitude "
                            f"(promoted to complex), got {u.dtype}")
    if not validation_enabled() or u.numel() == 0:
        return u, 0
    m = float(torch.view_as_real(u.detach()).abs().amax())
    if not math.isfinite(m):
        raise ValueError(f"{name} contains NaN or Inf; finite input is required")
    k = math.frexp(torch.finfo(u.real.dtype).max)[1] // 3
    if m == 0.0 or 2.0 ** -k <= m <= 2.0 ** k:
        return u, 0
    e = math.frexp(m)[1]
    return _ldexp(u, -e), e


def _field(u, name: str = "u") -> torch.Tensor:
    """`_field_checked` without the rescaling (for the references, which work in float64)."""
    return _field_checked(u, name)[0]


def _ldexp(x: torch.Tensor, e: int) -> torch.Tensor:
    """x 2^e in two exact steps, so each factor is representable in float32 (|e| up to ~280)."""
    if e == 0:
        return x
    h = e // 2
    return x * (2.0 ** h) * (2.0 ** (e - h))


def _padded_size(n: int, pad: float) -> int:
    return max(int(n), int(math.ceil(pad * n)))


# ----------------------------------------------------------------------------------------------------------
# sampling criteria
# ----------------------------------------------------------------------------------------------------------

def band_limit_frequency(padded_n: int, dx: float, wavelength: float, z: float) -> float:
    """Matsushima & Shimobaba (Opt. Express 17, 19662, 2009) eq. 13: u_limit = 1 / (lambda sqrt((2 du z)^2 + 1)).

    du = 1/(P dx). Frequencies |f_x| > u_limit have a transfer-function chirp sampled below Nyquist on the
    frequency grid of step du; their light also leaves the padded window. Depends on |z| only.

    Args:
        padded_n: P, samples of the padded grid along the axis (int >= 1).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: propagation distance in metres (finite, either sign).

    Returns:
        u_limit in cycles per metre (float).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z,.

    Example:
        >>> round(band_limit_frequency(2048, 1e-6, 0.5e-6, 16e-3))  # 1 / (2 dx) = 5e5 would be the whole grid
        127739
    """
    padded_n, dx, wavelength, z = _size(padded_n, "padded_n"), *_scalars(dx, wavelength, z)
    du = 1.0 / (padded_n * dx)
    return 1.0 / (wavelength * math.sqrt((2.0 * du * abs(z)) ** 2 + 1.0))


def critical_distance(n: int, dx: float, wavelength: float, pad: float = 2) -> float:
    """z_c: the largest |z| at which the band limit keeps the whole grid, |f| <= 1/(2 dx) (Matsushima & Shimobaba 2009).

    From 1/(2 dx) <= u_limit: z_c = (P dx / 2) sqrt(4 dx^2 / lambda^2 - 1) ~ P dx^2 / lambda
    (= 2 N dx^2 / lambda for 2x padding). For dx < lambda/2 the grid holds evanescent frequencies and the
    band limit (at most 1/lambda) always cuts some of them: z_c = 0.

    Args:
        n: samples along the axis (int >= 1).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        pad: padding factor (>= 1; P = n * pad).

    Returns:
        z_c in metres (float, >= 0).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z, a bad pad.

    Example:
        >>> round(critical_distance(1024, 1e-6, 0.5e-6) * 1e3, 3)  # mm; 2 N dx^2 / lambda = 4.096 mm
        3.966
    """
    n, dx, wavelength = _size(n, "n"), _positive(dx, "dx"), _positive(wavelength, "wavelength")
    p = _padded_size(n, _pad(pad))
    arg = (2.0 * dx / wavelength) ** 2 - 1.0
    return 0.5 * p * dx * math.sqrt(arg) if arg > 0 else 0.0


def aliased_fraction(padded_shape, dx: float, wavelength: float, z: float) -> float:
    """Share of the propagating band whose sampled transfer-function phase aliases (unbanded ASM).

    phi(u, v) = 2 pi z sqrt(1/lambda^2 - u^2 - v^2) is sampled with steps du = 1/(P_x dx), dv = 1/(P_y dx).
    Nyquist along u, |d phi/du| du <= pi, is u^2 (1 + (2 du z)^2) + v^2 <= 1/lambda^2, and the same along v
    (Matsushima & Shimobaba, Opt. Express 17, 19662, 2009, eqs. 11-13; their band limit is the rectangle
    inscribed in this region). Light in the other bins walks off by more than half the padded window and the
    circular convolution wraps it back in. Returned: the area share of the propagating disc inside the grid
    band (|u|, |v| <= 1/(2 dx), u^2 + v^2 <= 1/lambda^2) that violates either condition, by the midpoint rule
    on a `samples`^2 grid of one quadrant. For a white input spectrum it is the share of the light misplaced.
    Unlike the critical distance it is continuous across dx = lambda/2, where the band starts to hold
    grazing and evanescent frequencies. Cached per configuration (asm checks it on every call).

    Args:
        padded_shape: (P_y, P_x), the padded grid.
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (finite, either sign).

    Returns:
        float in [0, 1].

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z,, a bad shape.

    Example:
        >>> aliased_fraction((64, 64), 1e-6, 0.5e-6, 1e-5), aliased_fraction((64, 64), 1e-6, 0.5e-6, 1e-2) > 0.9
        (0.0, True)
    """
    py, px = _shape2(padded_shape, "padded_shape")
    dx, wavelength, z = _scalars(dx, wavelength, z)
    return _aliased_fraction(py, px, dx, wavelength, abs(z))


@functools.lru_cache(maxsize=256)
def _aliased_fraction(py: int, px: int, dx: float, wavelength: float, z: float, samples: int = 256) -> float:
    # in direction cosines c = lambda f (scale-free): the disc is c^2 <= 1, the band |c| <= lambda / (2 dx)
    top = min(0.5 * wavelength / dx, 1.0)
    t = (np.arange(samples) + 0.5) * (top / samples)
    u, v = t[None, :], t[:, None]
    prop = u * u + v * v <= 1.0
    ax, ay = (2.0 * z / (px * dx)) ** 2, (2.0 * z / (py * dx)) ** 2
    bad = prop & ((u * u * (1.0 + ax) + v * v > 1.0) | (v * v * (1.0 + ay) + u * u > 1.0))
    return float(bad.sum()) / float(prop.sum())


def asm_validity(shape, dx: float, wavelength: float, z: float, pad: float = 2,
                 aperture: float | None = None) -> dict:
    """Sampling diagnostics of `asm` for a grid `shape` (Ny, Nx) (Matsushima & Shimobaba 2009).

    Critical distance, how many frequency samples per axis survive the band limit, which method to use
    ("asm" or "sas"), and the share of the propagating band that an unbanded transfer function aliases
    (`aliased_fraction`).

    The research report's criterion (section 5.2.1), dx <= lambda z / (2 D), is returned for comparison as
    `report_condition_ok` (D = `aperture`, default the window width N dx). With D = N dx it holds only for
    |z| >= 2 N dx^2 / lambda = z_c: the *opposite* of where the band-limited ASM is exact (study
    optics.error_vs_distance measures both sides).

    Args:
        shape: (..., Ny, Nx) of the field.
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres.  pad: padding factor (>= 1).
        aperture: D in metres for the report's criterion (default N dx).

    Returns:
        dict with "z_c" (m), "band_samples" (int), "method" ("asm" or "sas"), "aliased_fraction" (float)
        and "report_condition_ok" (bool).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z, a bad pad, a shape that does not end with (Ny,
            Nx).

    Example:
        >>> v = asm_validity((128, 128), 1e-6, 0.5e-6, 2e-2)  # 40 z_c
        >>> v["method"], v["band_samples"], v["report_condition_ok"]
        ('sas', 7, True)
    """
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) < 2:
        raise ValueError(f"shape must end with (Ny, Nx), got {shape!r}")
    ny, nx = _shape2(tuple(shape)[-2:])
    dx, wavelength, z = _scalars(dx, wavelength, z)
    pad = _pad(pad)
    aperture = None if aperture is None else _positive(aperture, "aperture")
    samples, zc = [], []
    for n in (ny, nx):
        p = _padded_size(n, pad)
        ul = band_limit_frequency(p, dx, wavelength, z)
        nyq = 1.0 / (2.0 * dx)
        samples.append(min(p, int(2 * math.floor(min(ul, nyq) * p * dx)) + 1))
        zc.append(critical_distance(n, dx, wavelength, pad))
    kept = min(samples)
    need = min(MIN_BAND_SAMPLES, min(_padded_size(ny, pad), _padded_size(nx, pad)) // 2)
    method = "asm" if kept >= need else "sas"
    width = aperture if aperture is not None else max(ny, nx) * dx
    padded = (_padded_size(ny, pad), _padded_size(nx, pad))
    return {"z_c": min(zc), "band_samples": kept, "method": method,
            "aliased_fraction": aliased_fraction(padded, dx, wavelength, abs(z)),
            "report_condition_ok": dx <= wavelength * abs(z) / (2.0 * width)}


def sas_distance_limit(n: int, dx: float, wavelength: float) -> float:
    """Upper distance limit of SAS (Heintzmann, Loetgering & Wechsler, Optica 10, 1407, 2023, z_limit with L = N dx).

    z_lim = 4 L dx / (lambda (1 - 2 sqrt(2) dx / sqrt(8 dx^2 + lambda^2))).

    Args:
        n: samples per axis (int >= 1).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).

    Returns:
        z_lim in metres (float).

    Raises:
        TypeError: a non-number argument.  ValueError: n not a positive integer, dx or wavelength not positive.

    Example:
        >>> round(sas_distance_limit(64, 1e-6, 0.5e-6) * 1e3, 2)  # mm
        33.53
    """
    n, dx, wavelength = _size(n, "n"), _positive(dx, "dx"), _positive(wavelength, "wavelength")
    L = n * dx
    denom = 1.0 - 2.0 * math.sqrt(2.0) / math.sqrt(8.0 + (wavelength / dx) ** 2)
    return 4.0 * L * dx / (wavelength * denom) if denom > 0 else math.inf


# ----------------------------------------------------------------------------------------------------------
# transfer function
# ----------------------------------------------------------------------------------------------------------

def _freq_sq(ny: int, nx: int, dx: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    fy = torch.fft.fftfreq(ny, d=dx, dtype=torch.float64, device=device)
    fx = torch.fft.fftfreq(nx, d=dx, dtype=torch.float64, device=device)
    return fy[:, None], fx[None, :]


def _abs_cosine(n: int, dx: float, wavelength: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    """lambda |fftfreq(n, dx)| (direction cosines, scale-free) on its n // 2 + 1 distinct values, and the
    FFT-layout index into them."""
    i = torch.arange(n, device=device)
    idx = torch.minimum(i, n - i)
    return torch.arange(n // 2 + 1, dtype=torch.float64, device=device) * (wavelength / dx / n), idx


def _complex_of(dtype: torch.dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not (dtype.is_complex or dtype.is_floating_point):
        raise TypeError(f"dtype must be a complex or real floating torch.dtype, got {dtype!r}")
    return dtype if dtype.is_complex else (torch.complex128 if dtype == torch.float64 else torch.complex64)


def transfer_function(shape, dx: float, wavelength: float, z: float, *, band_limit: bool = True,
                      padded_shape=None, dtype: torch.dtype = torch.complex64, device=None) -> torch.Tensor:
    """The angular-spectrum transfer function on an FFT-layout grid `shape` (Ny, Nx) (Matsushima & Shimobaba 2009).

    H = exp(i k z sqrt(1 - s^2)) for s = lambda |f| <= 1, exp(-k |z| sqrt(s^2 - 1)) for s > 1, times the
    Matsushima-Shimobaba rectangle |f_x| <= u_limit, |f_y| <= v_limit on the propagating bins when
    `band_limit` (limits computed for `padded_shape`, default `shape`). Phase built in float64 without the
    carrier, reduced mod 2 pi. H depends on |f_x|, |f_y| only: it is built on one quadrant (a quarter of the
    float64 work) and gathered into the FFT layout.

    Args:
        shape: (Ny, Nx) of the (padded) FFT grid.
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (finite, either sign).
        band_limit: apply the band limit.  padded_shape: grid the limits are computed for (default `shape`).
        dtype: complex64 (default) or complex128 (a real dtype means its complex counterpart).  device.

    Returns:
        [Ny, Nx] complex tensor, |H| <= 1, in FFT (unshifted) order.

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z,, a bad shape.  TypeError: a dtype that is
            neither complex nor real floating.

    Example:
        >>> H = transfer_function((4, 4), 1e-6, 0.5e-6, 1e-4)
        >>> H.shape, H.dtype, float(H[0, 0].abs())  # the DC bin passes unchanged in modulus
        (torch.Size([4, 4]), torch.complex64, 1.0)
    """
    dx, wavelength, z = _scalars(dx, wavelength, z)
    ny, nx = _shape2(shape)
    py, px = _shape2(padded_shape, "padded_shape") if padded_shape is not None else (ny, nx)
    band_limit, cdt = _flag(band_limit, "band_limit"), _complex_of(dtype)
    cy, iy = _abs_cosine(ny, dx, wavelength, device)
    cx, ix = _abs_cosine(nx, dx, wavelength, device)
    cy, cx = cy[:, None], cx[None, :]
    s2 = cx * cx + cy * cy
    k = TWO_PI / wavelength
    prop = s2 <= 1.0
    root = torch.sqrt(torch.clamp(1.0 - s2, min=0.0))
    # k z sqrt(1-s^2) = k z - k z s^2/(1+sqrt(1-s^2)); the carrier k z is reduced in Python double.
    carrier = math.fmod(k * z, TWO_PI)
    phase = torch.remainder(carrier - k * z * s2 / (1.0 + root) + math.pi, TWO_PI) - math.pi
    decay = torch.exp(-k * abs(z) * torch.sqrt(torch.clamp(s2 - 1.0, min=0.0)))
    amp = torch.where(prop, torch.ones_like(decay), decay)
    phase = torch.where(prop, phase, torch.zeros_like(phase))
    if band_limit:
        vl = wavelength * band_limit_frequency(py, dx, wavelength, z)
        ul = wavelength * band_limit_frequency(px, dx, wavelength, z)
        # 1e-9 slack: at exactly z_c the Nyquist bin must stay (u_limit and fftfreq round differently).
        # evanescent bins are kept: their transfer function is a smooth decay, not an aliasing chirp, and
        # at small z they carry the real near field (study optics.evanescent).
        keep = ((cx <= ul * (1 + 1e-9)) & (cy <= vl * (1 + 1e-9))) | ~prop
        amp = amp * keep.to(amp.dtype)
    rdt = torch.float64 if cdt == torch.complex128 else torch.float32
    # cast the reduced phase (|phase| <= pi) to the working precision, then exponentiate there.
    quadrant = torch.polar(amp.to(rdt), phase.to(rdt)).to(cdt)
    return quadrant[iy][:, ix]


class _LRU:
    """A tiny cache of transfer functions keyed by everything they depend on, bounded in entries and bytes."""

    def __init__(self, size: int, max_bytes: int = 1 << 30):
        self.size, self.max_bytes, self.data, self.builds = size, max_bytes, OrderedDict(), 0

    @staticmethod
    def _nbytes(value) -> int:
        items = value if isinstance(value, tuple) else (value,)
        return sum(t.numel() * t.element_size() for t in items)

    def get(self, key, build):
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        value = build()
        self.builds += 1
        self.data[key] = value
        while len(self.data) > 1 and (len(self.data) > self.size
                                      or sum(map(self._nbytes, self.data.values())) > self.max_bytes):
            self.data.popitem(last=False)
        return value

    def clear(self):
        self.data.clear()


_TF_CACHE = _LRU(6)


def _warn_asm_validity(shape, dx, wavelength, z, pad, band_limit):
    info = asm_validity(shape, dx, wavelength, z, pad)
    if band_limit and info["method"] != "asm":
        warnings.warn(
            f"asm: at z = {z:.4g} m only {info['band_samples']} frequency samples per axis survive the band "
            f"limit (critical distance z_c = {info['z_c']:.4g} m); the result has lost most of its bandwidth. "
            f"Use suite.optics.sas (or fresnel/fraunhofer in the far field) for this distance.",
            OpticsValidityWarning, stacklevel=3)
    elif not band_limit and info["aliased_fraction"] > MAX_ALIASED_FRACTION:
        warnings.warn(
            f"asm(band_limit=False): at z = {z:.4g} m the transfer-function phase is sampled below Nyquist on "
            f"{100 * info['aliased_fraction']:.0f}% of the propagating band (critical distance z_c = "
            f"{info['z_c']:.4g} m); that light wraps around the window. Use band_limit=True (or sas).",
            OpticsValidityWarning, stacklevel=3)


_IFFT2_PROBES: dict = {}


def _ifft2_is_right(shape, dtype, device, norm: str) -> bool:
    """Whether torch.fft.ifft2 gives the right answer for this (shape, dtype, device, CPU threads, norm),
    probed once on seeded noise against the composition of two 1-D inverse transforms and cached.

    Why: torch 2.13.0+cpu (MKL) with 2 threads returns ifft2 of an unbatched complex64 2048 x 2048 array
    divided by 2048^2 a second time (relative error 1.0) with norm="backward"; norm="forward", one thread,
    a batch dimension, other sizes, complex128 and fft2 are right. A probe, not a version check, so the
    fallback applies exactly where the bug shows and nowhere else.
    """
    device = torch.device(device)
    threads = torch.get_num_threads() if device.type == "cpu" else 0
    key = (tuple(shape), dtype, device, threads, norm)
    if key not in _IFFT2_PROBES:
        with torch.no_grad():
            g = torch.Generator(device=device).manual_seed(0)
            x = torch.randn(tuple(shape), dtype=dtype, device=device, generator=g)
            ref = torch.fft.ifft(torch.fft.ifft(x, dim=-2, norm=norm), dim=-1, norm=norm)
            err = torch.linalg.vector_norm(torch.fft.ifft2(x, norm=norm) - ref)
            _IFFT2_PROBES[key] = bool(err <= 1e-3 * torch.linalg.vector_norm(ref))
    return _IFFT2_PROBES[key]


def _ifft2(x: torch.Tensor, norm: str) -> torch.Tensor:
    """torch.fft.ifft2, or two 1-D inverse transforms where the probe found ifft2 wrong."""
    if _ifft2_is_right(x.shape, x.dtype, x.device, norm):
        return torch.fft.ifft2(x, norm=norm)
    return torch.fft.ifft(torch.fft.ifft(x, dim=-2, norm=norm), dim=-1, norm=norm)


def _kernel(H: torch.Tensor) -> torch.Tensor:
    """H / (Py Px): the inverse FFT's normalisation folded into the cached transfer function, so the inverse
    runs with norm="forward" (unscaled) and the convolution costs no extra pass; the product is taken in
    place in the spectrum buffer, so no second padded array is allocated."""
    return H / (H.shape[-2] * H.shape[-1])


def _apply(u: torch.Tensor, K: torch.Tensor, py: int, px: int) -> torch.Tensor:
    """Zero-padded FFT convolution with a cached kernel K = `_kernel(H)`: the field sits in the top-left
    corner of a (py, px) window, one 2-D plan each way (fft2 pads through `s=`), output cropped."""
    ny, nx = u.shape[-2:]
    if u.numel() == 0:  # an empty batch (MKL refuses zero-size transforms)
        return u.new_empty(u.shape)
    U = torch.fft.fft2(u, s=(py, px))
    return _ifft2(U.mul_(K), "forward")[..., :ny, :nx]  # in place: fft2's backward does not need U


def asm(u, dx, wavelength, z, *, pad: float = 2, band_limit: bool = True, cache: bool = True) -> torch.Tensor:
    """Band-limited angular-spectrum propagation of a field [..., Ny, Nx] over z (research report sec. 5.2).

    u(z) = crop( IFFT2( H_bl(f) FFT2( zero_pad(u, pad) ) ) ), H_bl from `transfer_function` (band-limited
    per Matsushima & Shimobaba, Opt. Express 17, 19662, 2009; phase accurate in complex64, evanescent decay
    for both signs of z). Output on the input grid. `pad=1` gives the circular (unpadded) convolution.
    Transfer functions are cached (LRU of 6) by shape/dx/wavelength/z/pad/device/dtype; `Propagator` is
    the explicit cached module.

    Args:
        u: [..., Ny, Nx] complex field (a real floating amplitude is promoted to complex).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (finite, either sign).
        pad: padding factor (>= 1; default 2).  band_limit: apply the band limit.  cache: reuse H.

    Returns:
        [..., Ny, Nx] complex field on the input grid (complex64 for complex64/float32 input, complex128 for
        complex128/float64).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z, a bad pad, a bad field shape; NaN/Inf while
            validation is on.

    Warns:
        OpticsValidityWarning: too few band-limited samples remain (use `sas`), or, with band_limit=False,
            more than MAX_ALIASED_FRACTION of the band aliases.

    Example:
        >>> from suite.optics.references import gaussian_beam_exact, gaussian_field, grid_coords
        >>> u = gaussian_field(64, 1e-6, 6e-6)  # waist 6 um on a 64 x 64 grid of 1 um pixels
        >>> out = asm(u, 1e-6, 0.5e-6, 1e-4)  # 100 um, below z_c = 0.25 mm
        >>> exact = gaussian_beam_exact(grid_coords(64, 1e-6).abs(), 1e-4, 6e-6, 0.5e-6)  # the row y = 0
        >>> bool((out[32] - exact).norm() / exact.norm() < 1e-6)  # vs the exact angular-spectrum integral
        True
    """
    u, e = _field_checked(u)
    dx, wavelength, z = _scalars(dx, wavelength, z)
    pad, band_limit, cache = _pad(pad), _flag(band_limit, "band_limit"), _flag(cache, "cache")
    ny, nx = u.shape[-2:]
    py, px = _padded_size(ny, pad), _padded_size(nx, pad)
    _warn_asm_validity((ny, nx), dx, wavelength, z, pad, band_limit)

    def build():
        return _kernel(transfer_function((py, px), dx, wavelength, z, band_limit=band_limit, dtype=u.dtype,
                                         device=u.device))

    key = ("asm", py, px, dx, wavelength, z, band_limit, u.dtype, u.device)
    K = _TF_CACHE.get(key, build) if cache else build()
    return _ldexp(_apply(u, K, py, px), e)


class Propagator(nn.Module):
    """`nn.Module` for repeated band-limited angular-spectrum propagation (`asm`) of fields of one shape.

    The transfer function is built once per (device, dtype) and reused (`builds` counts constructions);
    setting `z` invalidates the cache. forward(u) == asm(u, dx, wavelength, z, pad=pad, band_limit=band_limit).

    Args:
        shape: (Ny, Nx) of the fields.
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (finite, either sign).
        pad: padding factor (>= 1).  band_limit: apply the band limit.

    Shapes:
        forward(u [..., Ny, Nx]) -> [..., Ny, Nx] complex; `transfer(device, dtype)` is H on the padded grid.

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z, a bad pad; forward: a field of another spatial
            shape.

    Warns:
        OpticsValidityWarning: as `asm`, when z is set.

    Example:
        >>> from suite.optics.references import gaussian_beam_exact, gaussian_field, grid_coords
        >>> u = gaussian_field(64, 1e-6, 6e-6)  # waist 6 um on a 64 x 64 grid of 1 um pixels
        >>> prop = Propagator((64, 64), 1e-6, 0.5e-6, 1e-4)
        >>> out = prop(u); _ = prop(u)
        >>> prop.builds  # one transfer function for both calls
        1
        >>> exact = gaussian_beam_exact(grid_coords(64, 1e-6).abs(), 1e-4, 6e-6, 0.5e-6)  # the row y = 0
        >>> bool((out[32] - exact).norm() / exact.norm() < 1e-6)  # vs the exact angular-spectrum integral
        True
    """

    def __init__(self, shape, dx: float, wavelength: float, z: float, *, pad: float = 2,
                 band_limit: bool = True):
        super().__init__()
        self.shape = _shape2(shape)
        self.dx, self.wavelength, z = _scalars(dx, wavelength, z)
        self.pad, self.band_limit = _pad(pad), _flag(band_limit, "band_limit")
        self.padded = (_padded_size(self.shape[0], pad), _padded_size(self.shape[1], pad))
        self._cache: dict = {}
        self.builds = 0
        self.z = z

    @property
    def z(self) -> float:
        return self._z

    @z.setter
    def z(self, value) -> None:
        self._z = _distance(value)
        self._cache = {}
        _warn_asm_validity(self.shape, self.dx, self.wavelength, self._z, self.pad, self.band_limit)

    def _kernel(self, device, dtype) -> torch.Tensor:
        key = (torch.device(device), _complex_of(dtype))
        if key not in self._cache:
            self._cache[key] = _kernel(transfer_function(self.padded, self.dx, self.wavelength, self._z,
                                                         band_limit=self.band_limit, dtype=key[1], device=key[0]))
            self.builds += 1
        return self._cache[key]

    def transfer(self, device, dtype) -> torch.Tensor:
        """The transfer function H on the padded FFT grid (the cache holds H / (Py Px), see `_kernel`)."""
        return self._kernel(device, dtype) * (self.padded[0] * self.padded[1])

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u, e = _field_checked(u)
        if tuple(u.shape[-2:]) != self.shape:
            raise ValueError(f"u must have spatial shape {self.shape}, got {tuple(u.shape[-2:])}")
        return _ldexp(_apply(u, self._kernel(u.device, u.dtype), *self.padded), e)

    def extra_repr(self) -> str:
        return (f"shape={self.shape}, dx={self.dx:g}, wavelength={self.wavelength:g}, z={self._z:g}, "
                f"pad={self.pad}, band_limit={self.band_limit}")


# ----------------------------------------------------------------------------------------------------------
# long distance: single-FFT Fresnel, Fraunhofer, scalable angular spectrum
# ----------------------------------------------------------------------------------------------------------

def _centered(n: int, step: float, device) -> torch.Tensor:
    return (torch.arange(n, dtype=torch.float64, device=device) - n // 2) * step


def _square(u: torch.Tensor, fn: str) -> int:
    ny, nx = u.shape[-2:]
    if ny != nx:
        raise ValueError(f"u must be a square field [..., N, N] for {fn}, got spatial shape {(ny, nx)}")
    return nx


def _fresnel_factors(n: int, p: int, dx: float, wavelength: float, z: float, with_input_chirp: bool, dtype,
                     device) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and output factors of the one-step Fresnel transform, built in float64 and cached.

    The field lives in a (p, p) window with the input in the top-left corner, so window index m is the
    centred index m_c = (m + lo) mod p, c = p // 2, lo = c - n // 2, at x = (m_c - c) dx. With q the centred
    output index (x' = (q - c) dq, dq = lambda z / (p dx)) the DFT kernel exp(-2 pi i (m_c - c)(q - c) / p)
    factors exactly, for even and odd p, into
    exp(-2 pi i m q / p) * exp(2 pi i (m c mod p) / p) * exp(-2 pi i ((lo - c)(q - c) mod p) / p):
    the fftshifts and the roll fold into two diagonal factors, so one plain FFT remains. (The familiar
    (-1)^m, (-1)^q form is the even-p special case; for odd p it is off by half a pixel and a sign.)
    The integer products are reduced mod p before scaling, so the phases are exact in float64.
    input  a[m] = exp(i k x^2 / (2z)) exp(2 pi i (m c mod p) / p)           (no chirp: Fraunhofer)
    output b[q] = exp(ikz)/(i lambda z) dx^2 exp(i k x'^2 / (2z)) exp(-2 pi i ((lo - c)(q - c) mod p) / p)
    (2-D: products of the 1-D factors; only the central n outputs q in [lo, lo + n) are kept).
    """
    k = TWO_PI / wavelength
    c = p // 2
    lo = c - n // 2
    mi = torch.arange(p, dtype=torch.int64, device=device)
    qi = torch.arange(lo, lo + n, dtype=torch.int64, device=device)
    x = (torch.remainder(mi + lo, p) - c).to(torch.float64) * dx
    # k x^2 / (2 z) = pi (x / lambda)(x / z): ratios first, so the phases do not depend on the unit of length
    phi_in = (torch.remainder(math.pi * (x / wavelength) * (x / z), TWO_PI) if with_input_chirp
              else torch.zeros_like(x))
    phi_in = phi_in + TWO_PI * torch.remainder(mi * c, p).to(torch.float64) / p
    xq = (qi - c).to(torch.float64) * ((wavelength / dx) * z / p)
    phi_out = (torch.remainder(math.pi * (xq / wavelength) * (xq / z), TWO_PI)
               - TWO_PI * torch.remainder((lo - c) * (qi - c), p).to(torch.float64) / p)
    a = torch.polar(torch.ones_like(phi_in), phi_in)
    b = torch.polar(torch.ones_like(phi_out), phi_out)
    pre = complex(np.exp(1j * math.fmod(k * z, TWO_PI)) / 1j) * (dx / wavelength) * (dx / z)
    cdt = _complex_of(dtype)
    return (a[:, None] * a[None, :]).to(cdt), (b[:, None] * b[None, :] * pre).to(cdt)


def _fresnel_transform(g: torch.Tensor, n: int, dx: float, wavelength: float, z: float,
                       with_input_chirp: bool) -> tuple[torch.Tensor, float]:
    """One-step Fresnel transform of a (p, p) window holding the field top-left, cropped to the central n x n.

    U(x') = exp(ikz)/(i lambda z) exp(ik x'^2/(2z)) sum g(x) exp(ik x^2/(2z)) exp(-i 2pi x x'/(lambda z)) dx^2,
    x' on the pitch lambda z / (p dx) (Goodman, Introduction to Fourier Optics, eq. 4-17). Without the input
    chirp it is the Fraunhofer transform (Goodman eq. 4-25). The FFT along y runs only for the n kept columns.
    """
    p = g.shape[-1]
    if g.numel() == 0:  # an empty batch (MKL refuses zero-size transforms)
        return g.new_empty((*g.shape[:-2], n, n)), (wavelength / dx) * z / p
    lo = p // 2 - n // 2
    key = ("fresnel", n, p, dx, wavelength, z, with_input_chirp, g.dtype, g.device)
    a, b = _TF_CACHE.get(key, lambda: _fresnel_factors(n, p, dx, wavelength, z, with_input_chirp, g.dtype,
                                                        g.device))
    G = torch.fft.fft(g * a, dim=-1)[..., lo:lo + n]
    G = torch.fft.fft(G, dim=-2)[..., lo:lo + n, :]
    return G * b, (wavelength / dx) * z / p


def _pad_to(u: torch.Tensor, p: int) -> torch.Tensor:
    n = u.shape[-1]
    return torch.nn.functional.pad(u, (0, p - n, 0, p - n))


def _integer_pad(pad, fn: str) -> int:
    """The single-FFT transforms pad to pad * N exactly: an integer >= 1 (no silent rounding of 1.5)."""
    if isinstance(pad, (bool, np.bool_)) or not isinstance(pad, (int, np.integer)) or pad < 1:
        raise ValueError(f"pad must be an integer >= 1 for {fn} (1 = no padding), got {pad!r}")
    return int(pad)


def fresnel(u, dx, wavelength, z, *, pad: int = 2) -> tuple[torch.Tensor, float]:
    """Single-FFT Fresnel propagation (paraxial impulse response; Goodman, Introduction to Fourier Optics, eq. 4-17).

    Returns (field, dx_out) with dx_out = lambda z / (pad N dx). Accurate in the Fresnel regime
    (z^3 >> pi ((x - xi)^2 + ...)^2/(4 lambda)), i.e. at long distance; square fields, z > 0. Power is
    conserved: sum |u|^2 dx^2 = sum |U|^2 dx_out^2.

    Args:
        u: [..., N, N] complex field (real amplitudes are promoted).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (> 0).  pad: integer padding factor (>= 1).

    Returns:
        (field [..., N, N] complex, dx_out in metres).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z, a bad pad, a non-square field, z <= 0; NaN/Inf
            while validation is on.

    Example:
        >>> from suite.optics.references import gaussian_field
        >>> u = gaussian_field(64, 1e-6, 8e-6)
        >>> out, dx_out = fresnel(u, 1e-6, 0.5e-6, 1e-3)
        >>> dx_out, torch.allclose((out.abs() ** 2).sum() * dx_out ** 2, (u.abs() ** 2).sum() * 1e-12)
        (3.90625e-06, True)
    """
    return _single_fft(u, dx, wavelength, z, pad, "fresnel", input_chirp=True)


def fraunhofer(u, dx, wavelength, z, *, pad: int = 2) -> tuple[torch.Tensor, float]:
    """Fraunhofer (far-field) propagation: the Fresnel transform without the input chirp (Goodman, eq. 4-25).

    Valid for z >> k (aperture radius)^2 / 2. Returns (field, dx_out = lambda z / (pad N dx)).

    Args:
        u: [..., N, N] complex field (real amplitudes are promoted).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (> 0).  pad: integer padding factor (>= 1).

    Returns:
        (field [..., N, N] complex, dx_out in metres).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z, a bad pad, a non-square field, z <= 0; NaN/Inf
            while validation is on.

    Example:
        >>> from suite.optics.references import gaussian_field
        >>> out, dx_out = fraunhofer(gaussian_field(64, 1e-6, 8e-6), 1e-6, 0.5e-6, 1e-3)
        >>> out.shape, dx_out
        (torch.Size([64, 64]), 3.90625e-06)
    """
    return _single_fft(u, dx, wavelength, z, pad, "fraunhofer", input_chirp=False)


def _single_fft(u, dx, wavelength, z, pad, method: str, *, input_chirp: bool) -> tuple[torch.Tensor, float]:
    """The argument checks and padding shared by `fresnel` and `fraunhofer`, then one Fresnel transform."""
    u, e = _field_checked(u)
    dx, wavelength, z = _scalars(dx, wavelength, z)
    if z <= 0:
        raise ValueError(f"z must be > 0 for {method} (forward propagation), got {z}; use asm for z <= 0")
    n = _square(u, method)
    out, dq = _fresnel_transform(_pad_to(u, _integer_pad(pad, method) * n), n, dx, wavelength, z, input_chirp)
    return _ldexp(out, e), dq


def _sas_precompensation(p: int, dx: float, wavelength: float, z: float, dtype, device) -> torch.Tensor:
    """SAS pre-compensation (Heintzmann et al. 2023, eqs. for H_AS / H_Fr and the anti-aliasing window W):
    W exp(i k z (sqrt(1 - s^2) - (1 - s^2/2))), written cancellation-free as -k z s^4 / (2 (1 + sqrt)^2).
    W: c_x^2 (1 + t_x^2)/t_x^2 + c_y^2 <= 1 and the same with x <-> y, c = lambda f, t = L/(2z) + |c|,
    L = p dx the padded width."""
    fy, fx = _freq_sq(p, p, dx, device)
    cx, cy = wavelength * fx, wavelength * fy
    s2 = cx * cx + cy * cy
    root = torch.sqrt(torch.clamp(1.0 - s2, min=0.0))
    k = TWO_PI / wavelength
    phase = torch.remainder(-k * z * s2 * s2 / (2.0 * (1.0 + root) ** 2), TWO_PI)
    L = p * dx
    tx, ty = L / (2.0 * z) + cx.abs(), L / (2.0 * z) + cy.abs()
    W = ((cx ** 2 * (1 + tx ** 2) / tx ** 2 + cy ** 2 <= 1) & (cy ** 2 * (1 + ty ** 2) / ty ** 2 + cx ** 2 <= 1)
         & (s2 <= 1))
    cdt = _complex_of(dtype)
    rdt = torch.float64 if cdt == torch.complex128 else torch.float32
    return torch.polar(W.to(rdt), phase.to(rdt)).to(cdt)


def sas(u, dx, wavelength, z) -> tuple[torch.Tensor, float]:
    """Scalable angular spectrum for long distances (Heintzmann, Loetgering & Wechsler, Optica 10, 1407, 2023).

    Pad 2x; multiply the spectrum by the (anti-aliased) ratio of the angular-spectrum and Fresnel transfer
    functions; then a one-step Fresnel transform (chirp, FFT). The output grid scales with z
    (dx_out = lambda z / (2 N dx)), so long distances cost three FFTs. Valid for
    z_c ~ 2 N dx^2 / lambda <= z <= `sas_distance_limit`.

    Args:
        u: [..., N, N] complex field (real amplitudes are promoted).
        dx: pixel pitch in metres (> 0).  wavelength: in metres (> 0).
        z: distance in metres (> 0).

    Returns:
        (field [..., N, N] complex, dx_out in metres).

    Raises:
        TypeError: a non-number argument, or a field that is neither complex nor real floating.
        ValueError: dx or wavelength not finite positive, a non-finite z,, a non-square field, z <= 0 (use `asm`);
            NaN/Inf while validation is on.

    Warns:
        OpticsValidityWarning: z below z_c (use `asm`) or beyond the SAS limit (use `fresnel`/`fraunhofer`).

    Example:
        >>> from suite.optics.references import gaussian_beam_exact, gaussian_field, grid_coords
        >>> u = gaussian_field(64, 1e-6, 6e-6)  # waist 6 um on a 64 x 64 grid of 1 um pixels
        >>> out, dx_out = sas(u, 1e-6, 0.5e-6, 1e-3)  # 1 mm = 4 z_c
        >>> exact = gaussian_beam_exact(grid_coords(64, dx_out).abs(), 1e-3, 6e-6, 0.5e-6)  # the row y = 0
        >>> bool((out[32] - exact).norm() / exact.norm() < 1e-6)  # vs the exact angular-spectrum integral
        True
    """
    u, e = _field_checked(u)
    dx, wavelength, z = _scalars(dx, wavelength, z)
    if z <= 0:
        raise ValueError(f"z must be > 0 for sas (it magnifies the grid with z), got {z}; use asm for z <= 0")
    n = _square(u, "sas")
    p = 2 * n
    zc = critical_distance(n, dx, wavelength, 2)
    if z < zc:
        warnings.warn(f"sas: z = {z:.4g} m is shorter than z_c = {zc:.4g} m, where the output pitch "
                      f"{(wavelength / dx) * z / p:.3g} m is finer than needed and the Fresnel chirp of the padded "
                      f"window aliases; use suite.optics.asm (exact there).", OpticsValidityWarning, stacklevel=2)
    zl = sas_distance_limit(n, dx, wavelength)
    if z > zl:
        warnings.warn(f"sas: z = {z:.4g} m is beyond the SAS limit {zl:.4g} m; use suite.optics.fresnel or "
                      f"fraunhofer.", OpticsValidityWarning, stacklevel=2)
    key = ("sas", p, dx, wavelength, z, u.dtype, u.device)
    dH = _TF_CACHE.get(key, lambda: _kernel(_sas_precompensation(p, dx, wavelength, z, u.dtype, u.device)))
    # pre-compensation is a convolution: the top-left placement only relabels the window (see _fresnel_factors)
    if u.numel() == 0:
        return _fresnel_transform(_pad_to(u, p), n, dx, wavelength, z, True)
    g = _ifft2(torch.fft.fft2(u, s=(p, p)) * dH, "forward")
    out, dq = _fresnel_transform(g, n, dx, wavelength, z, True)
    return _ldexp(out, e), dq
