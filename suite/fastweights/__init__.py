"""Fast-weight memories: the delta rule and the gated delta rule (chunkwise-parallel and recurrent),
feature maps and normalisations, and a module.

Default layout: q, k [B, H, T, Dk], v [B, H, T, Dv], beta (and g) [B, H, T], state S [B, H, Dk, Dv].
flash-linear-attention uses [B, T, H, D]: pass `layout="BTHD"` for its tensors; without it they are
silently read as [B, H, T, D]. The delta rule (Schlag, Irie, Schmidhuber 2021, eq. 8; Yang et al. 2024,
"Parallelizing Linear Transformers with the Delta Rule", arXiv 2406.06484) is

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,
    o_t = scale * S_t^T q_t;

the gated delta rule (Yang, Kautz, Hatamizadeh 2025, arXiv 2412.06464) multiplies the transition by
alpha_t = exp(g_t). The transition `I - beta k k^T` has eigenvalue `1 - beta ||k||^2` along k, so the
recurrence is stable iff `0 <= beta ||k||^2 <= 2`. Keys should therefore be normalised (`l2_normalize`, as
DeltaNet does, or `sum_normalize` of a positive feature map, as Schlag et al. do); the ops check
`beta in [0, 2]` (ValueError otherwise) and warn (RuntimeWarning) when some `beta ||k||^2 > 2`, because
then the state can grow without bound: that is the failure of the research report's recipe (sec. 4.3.1,
`baselines.fastweights`).
"""

from suite.fastweights.delta import delta_rule, delta_rule_recurrent, gated_delta_rule, gated_delta_rule_recurrent
from suite.fastweights.features import dpfp, elu_plus_one, l2_normalize, sum_normalize
from suite.fastweights.module import DeltaRuleFastWeights

__all__ = [
    "delta_rule", "delta_rule_recurrent", "gated_delta_rule", "gated_delta_rule_recurrent",
    "elu_plus_one", "dpfp", "sum_normalize", "l2_normalize", "DeltaRuleFastWeights",
]
