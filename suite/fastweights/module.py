"""DeltaRuleFastWeights: a delta-rule fast-weight layer built from the package's ops."""

from __future__ import annotations

import torch
from torch import nn

from suite.checks import check_real
from suite.fastweights.delta import delta_rule
from suite.fastweights.features import dpfp, elu_plus_one, l2_normalize

__all__ = ["DeltaRuleFastWeights"]

_FEATURES = {
    "identity": lambda x: x,
    "elu": elu_plus_one,
    "dpfp": dpfp,
}


class DeltaRuleFastWeights(nn.Module):
    """Delta-rule fast-weight layer (Schlag, Irie, Schmidhuber 2021, sec. 4; DeltaNet normalisation, Yang et al. 2024).

    The forward pass is exactly this composition (heads(z) = z.view(B, T, H, d_head), layout "BTHD"):

        q = l2_normalize(phi(heads(q_proj(x))));  k = l2_normalize(phi(heads(k_proj(x))));
        v = heads(v_proj(x));  beta = sigmoid(beta_proj(x))  [B, T, H];
        o, S = delta_rule(q, k, v, beta, scale=1.0, chunk_size=chunk_size, initial_state=initial_state,
                          output_final_state=True, layout="BTHD");
        y = out_proj(o.reshape(B, T, H * d_head)),

    with phi = `feature` ("identity", "elu" = elu_plus_one, "dpfp" = dpfp with nu = 1, which doubles d_k).
    ||k|| = 1 and beta in (0, 1) keep every step contractive; `l2_normalize` is exact at every scale, so
    inputs of any finite magnitude give finite outputs.

    Args:
        d_model: model width (int >= 1).  n_heads: heads H (int >= 1).  d_head: per-head width (int >= 1).
        feature: "identity" (default), "elu" or "dpfp" (then d_k = 2 d_head).
        chunk_size: the chunk of `delta_rule` (int >= 1).  bias: bias in the q/k/v/out projections.

    Shapes:
        forward(x [B, T, d_model], initial_state [B, H, d_k, d_head] or None)
        -> (y [B, T, d_model], S_T [B, H, d_k, d_head]).

    Raises:
        ValueError: a size not a positive integer, an unknown `feature`, x not [B, T, d_model].
        TypeError: `bias` not a bool, x not a real floating tensor.

    Example:
        >>> m = DeltaRuleFastWeights(8, 2, 4)
        >>> y, S = m(torch.randn(3, 5, 8))
        >>> tuple(y.shape), tuple(S.shape)
        ((3, 5, 8), (3, 2, 4, 4))
    """

    def __init__(self, d_model: int, n_heads: int, d_head: int, *, feature: str = "identity",
                 chunk_size: int = 64, bias: bool = False):
        super().__init__()
        for name, val in (("d_model", d_model), ("n_heads", n_heads), ("d_head", d_head),
                          ("chunk_size", chunk_size)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        if feature not in _FEATURES:
            raise ValueError(f"feature must be one of {sorted(_FEATURES)}, got {feature!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_head
        self.feature, self.chunk_size = feature, chunk_size
        self.q_proj = nn.Linear(d_model, n_heads * d_head, bias=bias)
        self.k_proj = nn.Linear(d_model, n_heads * d_head, bias=bias)
        self.v_proj = nn.Linear(d_model, n_heads * d_head, bias=bias)
        self.beta_proj = nn.Linear(d_model, n_heads, bias=True)
        self.out_proj = nn.Linear(n_heads * d_head, d_model, bias=bias)

    def _heads(self, z: torch.Tensor) -> torch.Tensor:
        B, T, _ = z.shape
        return z.view(B, T, self.n_heads, self.d_head)

    def forward(self, x: torch.Tensor, initial_state: torch.Tensor | None = None):
        check_real(x, "x")
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape [B, T, d_model={self.d_model}], got {tuple(x.shape)}")
        phi = _FEATURES[self.feature]
        q = l2_normalize(phi(self._heads(self.q_proj(x))))
        k = l2_normalize(phi(self._heads(self.k_proj(x))))
        v = self._heads(self.v_proj(x))
        beta = torch.sigmoid(self.beta_proj(x))
        o, S = delta_rule(q, k, v, beta, scale=1.0, chunk_size=self.chunk_size, initial_state=initial_state,
                          output_final_state=True, layout="BTHD")
        B, T, H, D = o.shape
        return self.out_proj(o.reshape(B, T, H * D)), S
