"""Holographic binding, the naive way: what public code and the research report's own snippet do.

Each function says which code it reproduces. The fixed twins live in `suite.holographic`.
"""

from __future__ import annotations

import torch

from suite.checks import check_real, check_same_last_dim
from suite.holographic import circulant_index

__all__ = [
    "circular_conv_direct", "bind_fft", "unbind_exact", "exact_inverse", "project_fft", "project_snippet",
    "phasor_bind_fft", "phasor_bind_snippet", "project_irfft_no_n", "project_fft_no_guard",
    "random_phasor_fft", "circulant_dense", "tensor_bind",
]

_DIRECT_CHUNK = 1 << 24  # elements of the gathered [rows, d, d] block per step of circular_conv_direct


def circular_conv_direct(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The definition, `z_i = sum_j x_j y_{(i-j) mod d}`, O(d^2) per vector (research report sec. 2.1; Plate 1995).

    Gathers the circulant of `y` block by block over the (broadcast) batch so memory stays bounded. Used as
    the oracle of the FFT bindings (call it on float64 input).

    Args:
        x, y: [..., d] real floating tensors, broadcastable.

    Returns:
        [broadcast(...), d] tensor.

    Example:
        >>> circular_conv_direct(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 0.0]))
        tensor([3., 1., 2.])
    """
    check_real(x, "x")
    check_real(y, "y")
    check_same_last_dim(x, y, "x", "y")
    d = x.shape[-1]
    shape = torch.broadcast_shapes(x.shape, y.shape)
    dtype = torch.promote_types(x.dtype, y.dtype)
    xf = x.to(dtype).expand(shape).reshape(-1, d)
    yf = y.to(dtype).expand(shape).reshape(-1, d)
    idx = circulant_index(d, x.device)  # idx[i, j] = (i - j) mod d
    rows = max(1, _DIRECT_CHUNK // (d * d))
    out = torch.empty_like(xf)
    for s in range(0, xf.shape[0], rows):
        circ = yf[s:s + rows][:, idx]  # [rows, d, d], circ[b, i, j] = y_b[(i - j) mod d]
        out[s:s + rows] = (circ @ xf[s:s + rows].unsqueeze(-1)).squeeze(-1)
    return out.reshape(shape)


def bind_fft(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """torchhd's HRR bind (torch-hd 5.8.4, `HRRTensor.bind`): `ifft(fft(x) * fft(y)).real`.

    Full complex FFTs of real vectors: correct (the product keeps Hermitian symmetry, the imaginary part is
    rounding), but it transforms twice the data that `rfft` needs.

    Args:
        x, y: [..., d] real floating tensors, broadcastable.

    Returns:
        [broadcast(...), d] tensor.

    Example:
        >>> bind_fft(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 0.0])).round(decimals=4)
        tensor([3., 1., 2.])
    """
    check_real(x, "x")
    check_real(y, "y")
    check_same_last_dim(x, y, "x", "y")
    return torch.fft.ifft(torch.fft.fft(x) * torch.fft.fft(y)).real


def exact_inverse(y: torch.Tensor) -> torch.Tensor:
    """torchhd's `HRRTensor.exact_inverse`: `ifft(1 / fft(y)).real`, with `nan_to_num` hiding the blow-up
    of (near-)zero bins."""
    check_real(y, "y")
    return torch.nan_to_num(torch.fft.ifft(1.0 / torch.fft.fft(y)).real)


def unbind_exact(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbinding by the exact inverse: `bind_fft(z, exact_inverse(y))` (torchhd `exact_inverse` then bind).

    Exact for a single pair, but it divides by the key's spectrum: small bins amplify whatever else is in
    `z` (other superposed pairs, noise) by `1 / |Y_k|`.

    Args:
        z: [..., d] binding.  y: [..., d] key.

    Returns:
        [broadcast(...), d] tensor.

    Example:
        >>> x, y = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 1.001])  # |Y_1| = |Y_2| = 1e-3
        >>> unbind_exact(bind_fft(x, y) + torch.tensor([0.0, 1e-3, 0.0]), y).round(decimals=2)  # noise x 1000
        tensor([ 0.6700, -0.3300,  0.6700])
    """
    check_same_last_dim(z, y, "z", "y")
    return bind_fft(z, exact_inverse(y))


def project_fft(x: torch.Tensor) -> torch.Tensor:
    """The `hrr` package's projection (Ganesan et al. 2021 code): `ifft(fft(x) / |fft(x)|).real`, then `nan_to_num`.

    A zero bin (zero-mean input: DC = 0) gives 0/0 = NaN; the inverse FFT spreads that NaN to every sample,
    and `nan_to_num` then returns the all-zero vector (norm 0 instead of 1).

    Args:
        x: [..., d] real floating tensor.

    Returns:
        [..., d] tensor.

    Example:
        >>> project_fft(torch.tensor([1.0, -1.0, 0.0, 0.0]))  # zero mean: the whole vector is lost
        tensor([0., 0., 0., 0.])
    """
    check_real(x, "x")
    X = torch.fft.fft(x)
    return torch.nan_to_num(torch.fft.ifft(X / torch.abs(X)).real)


def project_fft_no_guard(x: torch.Tensor) -> torch.Tensor:
    """`ifft(X / |X|).real` without `nan_to_num`: the one-liner as usually written; NaN on a zero bin."""
    check_real(x, "x")
    X = torch.fft.fft(x)
    return torch.fft.ifft(X / torch.abs(X)).real


def project_irfft_no_n(x: torch.Tensor) -> torch.Tensor:
    """The `hrr` variant that calls `irfft` without `n`: `irfft(X / |X|)` returns `2 (len(X) - 1)` samples,
    i.e. `d - 1` for odd `d` (a different vector, one sample short)."""
    check_real(x, "x")
    X = torch.fft.rfft(x)
    return torch.nan_to_num(torch.fft.irfft(X / torch.abs(X)))


def project_snippet(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The research report's section 2.3.1 projection as written: `irfft(X / (|X| + eps), n=d)`.

    A zero bin becomes 0 (not a unit phasor) and bins with `|X| ~ eps` get modulus ~1/2: the spectrum is
    unit only where `|X| >> eps`.
    """
    check_real(x, "x")
    d = x.shape[-1]
    X = torch.fft.rfft(x, n=d)
    return torch.fft.irfft(X / (torch.abs(X) + eps), n=d)


def phasor_bind_fft(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Phasor binding as assembled from public pieces: `hrr`'s `project_fft` of both factors, then torchhd's
    `bind_fft` (six full complex FFTs)."""
    return bind_fft(project_fft(x), project_fft(y))


def phasor_bind_snippet(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The research report's section 2.3.1 phasor binding as written: `X = rfft(x, n=d)`,
    `X / (|X| + eps) * Y / (|Y| + eps)`, `irfft(., n=d)`."""
    check_real(x, "x")
    check_real(y, "y")
    check_same_last_dim(x, y, "x", "y")
    d = x.shape[-1]
    X = torch.fft.rfft(x, n=d)
    Y = torch.fft.rfft(y, n=d)
    return torch.fft.irfft(X / (torch.abs(X) + eps) * (Y / (torch.abs(Y) + eps)), n=d)


def random_phasor_fft(*batch: int, d: int, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Phasor vectors drawn directly in the frequency domain: `ifft(exp(i phi)).real` with an independent
    uniform phase per bin of the FULL spectrum (not Hermitian). Taking `.real` discards the anti-Hermitian
    half: `||x||^2 ~ 1/2` and the spectrum is no longer unit, so binding with it is not unitary."""
    phi = torch.rand(*batch, d, generator=generator, dtype=torch.float64) * (2 * torch.pi)
    return torch.fft.ifft(torch.polar(torch.ones_like(phi), phi)).real.to(dtype)


def circulant_dense(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """A circulant layer the dense way: materialise `C[i, j] = w[(i - j) mod N]` (N x N) on every call and multiply.

    `y = x @ C^T` (= `w (*) x`). N^2 memory and O(B N^2) time.

    Args:
        x: [..., N] input.  w: [N] kernel.

    Returns:
        [..., N] tensor.

    Example:
        >>> circulant_dense(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([0.0, 1.0, 0.0]))
        tensor([[3., 1., 2.]])
    """
    check_real(x, "x")
    check_real(w, "w")
    check_same_last_dim(x, w, "x", "w")
    C = w[..., circulant_index(w.shape[-1], w.device)]
    return x @ C.transpose(-2, -1)


def tensor_bind(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Smolensky's tensor-product binding `x (x) y` (outer product, d^2 outputs; research report Table 1 row 1).

    Exact unbinding by contraction with a unit-norm key, at the price of a d x d result.

    Args:
        x, y: [..., d] real floating tensors.

    Returns:
        [..., d, d] tensor.

    Example:
        >>> tensor_bind(torch.ones(3), torch.ones(3)).shape
        torch.Size([3, 3])
    """
    check_real(x, "x")
    check_real(y, "y")
    return x.unsqueeze(-1) * y.unsqueeze(-2)
