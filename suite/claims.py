"""The research report's claims (ids and wording from CLAIMS.md) and the rules that turn measures into verdicts.

A `Rule` is declared once, beside the study that measures it (`Study(rules=...)`): the claim, the named
measures it reads, and the conditions for confirmed / qualified (anything else is refuted, or `otherwise`).
Conditions are text such as ``"reversal_f64 < 1e-9 and reversal_f32 < 1e-4"``, so changing a threshold is
one edit, the report's Methods section prints the rule verbatim, and the evidence sentence is generated from
the rule and the numbers (`Rule.judge`). A measure that is None (e.g. `suite.timing.speedup` of timings whose
interquartile ranges overlap) gives no verdict rather than a guessed one.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

VerdictKind = Literal["confirmed", "refuted", "qualified"]
VERDICTS: tuple[str, ...] = ("confirmed", "refuted", "qualified")
NO_VERDICT = "no verdict"

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
    "F7": ("beyond the report", "bf16 / fp16 delta-rule kernels are accurate enough in the regime a trained model "
                                "lives in, where the state already predicts the value and the residual v - S^T k "
                                "is small."),
    "O1": ("5.1", "ASM aliasing appears and grows with propagation distance z."),
    "O2": ("5.2.1", "Zero padding to 2x turns circular into linear convolution and removes wrap-around."),
    "O3": ("5.1", "Evanescent components get amplified into NaN unless masked."),
    "O4": ("5.2.1, 6.2", "The band-limiting mask removes aliasing (the report's snippet masks only evanescent waves)."),
    "O5": ("5.2.2", "The phase must be computed in complex128 to avoid phase errors."),
    "O6": ("5.2.1", "When dx > lambda z / (2D), ASM is unsuitable; switch to Fresnel, Fraunhofer or SAS."),
    "X1": ("7", "Structure (orthogonality, symplecticity, hyperbolicity) must be enforced by construction rather "
                "than encouraged through the loss."),
}


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
        "!=": operator.ne}
_CONDITION = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    """`measure op threshold`, e.g. ``reversal_f64 < 1e-9``; booleans compare as ``bounded == True``."""

    measure: str
    op: str
    threshold: float | bool

    @classmethod
    def parse(cls, text: str) -> Condition:
        m = _CONDITION.match(text)
        if not m:
            raise ValueError(f"rule condition must read 'measure <op> number' with op in {sorted(_OPS)}, "
                             f"got {text!r}")
        name, op, raw = m.groups()
        value = {"True": True, "False": False}.get(raw)
        return cls(name, op, float(raw) if value is None else value)

    def holds(self, value: float | bool) -> bool:
        return bool(_OPS[self.op](value, self.threshold))

    def __str__(self) -> str:
        return f"{self.measure} {self.op} {self.threshold:g}" if not isinstance(self.threshold, bool) \
            else f"{self.measure} {self.op} {self.threshold}"


def _conditions(text: str) -> tuple[Condition, ...]:
    return tuple(Condition.parse(part) for part in text.split(" and ")) if text else ()


def fmt_measure(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, (int, float)) and math.isfinite(x) and x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.3g}"


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict on one device, computed by `Rule.judge` from one study's measures."""

    claim: str
    verdict: str  # one of VERDICTS, or NO_VERDICT when a measure the rule reads was not measurable
    evidence: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.verdict not in (*VERDICTS, NO_VERDICT):
            raise ValueError(f"verdict must be one of {VERDICTS} or {NO_VERDICT!r}, got {self.verdict!r}")


@dataclass(frozen=True)
class Rule:
    """How a claim is judged from a study's measures.

    confirmed / refuted / qualified: conditions joined by " and " (all must hold). The verdict is the first
    of confirmed, refuted, qualified whose conditions (when given) hold, else `otherwise` ("refuted" unless
    the study can only confirm or qualify the claim). `shows` names further
    measures quoted in the evidence; `value` the measure reported as the claim's number (default: the first
    one the rule reads). `about` says in a few words what the rule's study measures for this claim.
    """

    claim: str
    confirmed: str
    qualified: str = ""
    otherwise: VerdictKind = "refuted"
    refuted: str = ""
    shows: tuple[str, ...] = ()
    value: str = ""
    about: str = ""

    def __post_init__(self) -> None:
        if self.claim not in CLAIMS:
            raise ValueError(f"claim must be an id of CLAIMS ({', '.join(CLAIMS)}), got {self.claim!r}")
        if self.otherwise not in VERDICTS:
            raise ValueError(f"otherwise must be one of {VERDICTS}, got {self.otherwise!r}")
        for text in self._ordered().values():
            _conditions(text)  # parse now: a typo fails at import

    def _ordered(self) -> dict[str, str]:
        return {k: t for k, t in (("confirmed", self.confirmed), ("refuted", self.refuted),
                                  ("qualified", self.qualified)) if t}

    @property
    def measures(self) -> tuple[str, ...]:
        """Every measure the rule reads or quotes, in order, without repeats."""
        names = [c.measure for t in self._ordered().values() for c in _conditions(t)]
        return tuple(dict.fromkeys([*names, *self.shows]))

    def text(self) -> str:
        """The rule in words, as the Methods section lists it."""
        return "; ".join([*(f"{k} if {t}" for k, t in self._ordered().items()), f"otherwise {self.otherwise}"])

    def judge(self, measures: Mapping[str, Any]) -> Verdict:
        missing = [m for m in self.measures if m not in measures]
        if missing:
            raise KeyError(f"rule for {self.claim} reads measures {missing} that the study did not return; "
                           f"it returned {sorted(measures)}")
        numbers = ", ".join(f"{m} = {fmt_measure(measures[m])}" for m in self.measures)
        value = measures[self.value or self.measures[0]]
        value = None if value is None else float(value)
        unmeasurable = [m for m in self.measures if measures[m] is None]
        if unmeasurable:
            return Verdict(self.claim, NO_VERDICT, f"{numbers}: {', '.join(unmeasurable)} could not be told "
                             f"apart from noise, so no verdict ({self.text()})", value)
        verdict = next((k for k, t in self._ordered().items()
                        if all(c.holds(measures[c.measure]) for c in _conditions(t))), self.otherwise)
        prefix = f"{self.about}: " if self.about else ""
        return Verdict(self.claim, verdict, f"{prefix}{numbers} ({self.text()})", value)

