"""The bad-input contract (tests/contract.py) for the public API of `suite.fastweights`.

Every case is a bad call that must raise a TypeError/ValueError naming the argument. `CASES_NEW` use
arguments that exist only since the gated delta rule, `layout=` and `backend=` were added (they are left
out of the before/after count against an older checkout).
"""

from __future__ import annotations

import math

import pytest
import torch

from suite import fastweights as fw
from tests.contract import Case, assert_clear

F64 = torch.float64


def _delta_args(T=5, Dk=3, Dv=4):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 2, T, Dk, generator=g, dtype=F64)
    k = torch.nn.functional.normalize(torch.randn(1, 2, T, Dk, generator=g, dtype=F64), dim=-1)
    v = torch.randn(1, 2, T, Dv, generator=g, dtype=F64)
    beta = torch.rand(1, 2, T, generator=g, dtype=F64)
    return q, k, v, beta


def _with(x: torch.Tensor, value: float) -> torch.Tensor:
    y = x.clone()
    y.view(-1)[1] = value
    return y


def _delta_cases(name: str, op, gated: bool) -> list[Case]:
    q, k, v, beta = _delta_args()
    lg = -torch.rand_like(beta)  # log decays <= 0

    def call(*a, **kw):
        a = list(a) or [q, k, v, beta]
        if gated and len(a) == 4:  # g of the length of k (so that T = 0 is only about T)
            a.append(lg[:, :, :a[1].shape[2]] if a[1].dim() == 4 else lg)
        return lambda: op(*a, **kw)

    def args(**over):
        d = dict(q=q, k=k, v=v, beta=beta)
        d.update(over)
        return [d["q"], d["k"], d["v"], d["beta"]]

    S0 = torch.zeros(1, 2, 3, 4, dtype=F64)
    cases = [
        Case(f"{name}: q is a list", call(*args(q=q.tolist())), "q"),
        Case(f"{name}: k int64", call(*args(k=k.to(torch.int64))), "k"),
        Case(f"{name}: v bool", call(*args(v=v > 0)), "v"),
        Case(f"{name}: beta int", call(*args(beta=(beta > 0.5).long())), "beta"),
        Case(f"{name}: q 3-d", call(*args(q=q[0])), "q"),
        Case(f"{name}: q, k different Dk", call(*args(q=q[..., :2])), "q and k"),
        Case(f"{name}: v other heads", call(*args(v=v[:, :1])), "v"),
        Case(f"{name}: v other length", call(*args(v=v[:, :, :3])), "v"),
        Case(f"{name}: beta wrong shape", call(*args(beta=beta[..., :3])), "beta"),
        Case(f"{name}: beta with a feature axis", call(*args(beta=beta[..., None])), "beta"),
        Case(f"{name}: T = 0", call(*(x[:, :, :0] for x in args())), "T = 0"),
        Case(f"{name}: Dv = 0", call(*args(v=v[..., :0])), "Dv"),
        Case(f"{name}: NaN in q", call(*args(q=_with(q, math.nan))), "q"),
        Case(f"{name}: Inf in k", call(*args(k=_with(k, math.inf))), "k"),
        Case(f"{name}: -Inf in v", call(*args(v=_with(v, -math.inf))), "v"),
        Case(f"{name}: NaN in beta", call(*args(beta=_with(beta, math.nan))), "beta"),
        Case(f"{name}: beta > 2", call(*args(beta=beta + 2.5)), "beta"),
        Case(f"{name}: beta < 0", call(*args(beta=-beta - 0.1)), "beta"),
        Case(f"{name}: initial_state wrong shape", call(initial_state=torch.zeros(1, 2, 4, 3, dtype=F64)),
             "initial_state"),
        Case(f"{name}: initial_state NaN", call(initial_state=_with(S0, math.nan)), "initial_state"),
        Case(f"{name}: initial_state int", call(initial_state=S0.long()), "initial_state"),
        Case(f"{name}: initial_state on meta", call(initial_state=S0.to("meta")), "initial_state"),
        Case(f"{name}: scale=True", call(scale=True), "scale"),
        Case(f"{name}: scale NaN", call(scale=math.nan), "scale"),
        Case(f"{name}: scale a string", call(scale="1"), "scale"),
        Case(f"{name}: chunk_size 0", call(chunk_size=0), "chunk_size"),
        Case(f"{name}: chunk_size 2.5", call(chunk_size=2.5), "chunk_size"),
        Case(f"{name}: chunk_size True", call(chunk_size=True), "chunk_size"),
        Case(f"{name}: k on meta", call(*args(k=k.to("meta"))), "device"),
    ]
    new = [
        Case(f"{name}: layout 'BTH'", call(layout="BTH"), "layout"),
        Case(f"{name}: layout None", call(layout=None), "layout"),
        Case(f"{name}: BTHD beta in BHTD order", call(*args(beta=beta.new_zeros(1, 2, 5 + 1)), layout="BTHD"),
             "beta"),
    ]
    if "recurrent" not in name:
        new.append(Case(f"{name}: backend 'cuda'", call(backend="cuda"), "backend"))
    if gated:
        new += [
            Case(f"{name}: g > 0", lambda: op(q, k, v, beta, -lg), "g"),
            Case(f"{name}: g NaN", lambda: op(q, k, v, beta, _with(lg, math.nan)), "g"),
            Case(f"{name}: g wrong shape", lambda: op(q, k, v, beta, lg[..., :2]), "g"),
            Case(f"{name}: g int", lambda: op(q, k, v, beta, lg.long()), "g"),
            Case(f"{name}: fla's order (g, beta) swapped", lambda: op(q, k, v, lg, beta), "beta"),
        ]
        return [], cases + new
    return cases, new


def _feature_cases() -> list[Case]:
    x = torch.randn(3, 4)
    out = []
    for name, f in (("elu_plus_one", fw.elu_plus_one), ("dpfp", fw.dpfp), ("sum_normalize", fw.sum_normalize),
                    ("l2_normalize", fw.l2_normalize)):
        out += [
            Case(f"{name}: a list", lambda f=f: f(x.tolist()), "x"),
            Case(f"{name}: int64", lambda f=f: f(x.long()), "x"),
            Case(f"{name}: bool", lambda f=f: f(x > 0), "x"),
            Case(f"{name}: complex", lambda f=f: f(x.to(torch.complex64)), "x"),
            Case(f"{name}: NaN entry", lambda f=f: f(_with(x.abs(), math.nan)), "x"),
            Case(f"{name}: Inf entry", lambda f=f: f(_with(x.abs(), math.inf)), "x"),
        ]
    for name, f in (("sum_normalize", fw.sum_normalize), ("l2_normalize", fw.l2_normalize)):
        out += [
            Case(f"{name}: dim out of range", lambda f=f: f(x.abs(), dim=2), "dim"),
            Case(f"{name}: dim a float", lambda f=f: f(x.abs(), dim=1.0), "dim"),
        ]
    out += [
        Case("sum_normalize: signed input", lambda: fw.sum_normalize(x), "x"),
        Case("dpfp: nu = 0", lambda: fw.dpfp(x, 0), "nu"),
        Case("dpfp: nu = -1", lambda: fw.dpfp(x, -1), "nu"),
        Case("dpfp: nu = 1.5", lambda: fw.dpfp(x, 1.5), "nu"),
        Case("dpfp: nu = True", lambda: fw.dpfp(x, True), "nu"),
        Case("dpfp: nu >= 2d", lambda: fw.dpfp(x, 8), "nu"),
    ]
    return out


def _module_cases() -> list[Case]:
    M = fw.DeltaRuleFastWeights
    m = M(8, 2, 4)
    x = torch.randn(2, 5, 8)
    return [
        Case("module: d_model 0", lambda: M(0, 2, 4), "d_model"),
        Case("module: d_model 2.5", lambda: M(2.5, 2, 4), "d_model"),
        Case("module: n_heads -1", lambda: M(8, -1, 4), "n_heads"),
        Case("module: n_heads True", lambda: M(8, True, 4), "n_heads"),
        Case("module: d_head 0", lambda: M(8, 2, 0), "d_head"),
        Case("module: feature 'relu'", lambda: M(8, 2, 4, feature="relu"), "feature"),
        Case("module: chunk_size 0", lambda: M(8, 2, 4, chunk_size=0), "chunk_size"),
        Case("module: bias 'yes'", lambda: M(8, 2, 4, bias="yes"), "bias"),
        Case("module: x a list", lambda: m(x.tolist()), "x"),
        Case("module: x 2-d", lambda: m(x[0]), "x"),
        Case("module: x wrong d_model", lambda: m(x[..., :6]), "x"),
        Case("module: x int64", lambda: m(x.long()), "x"),
        Case("module: x NaN", lambda: m(_with(x, math.nan)), "x"),
        Case("module: x empty sequence", lambda: m(x[:, :0]), "T = 0"),
        Case("module: initial_state wrong shape", lambda: m(x, initial_state=torch.zeros(2, 2, 3, 4)),
             "initial_state"),
        Case("module: initial_state NaN", lambda: m(x, initial_state=torch.full((2, 2, 4, 4), math.nan)),
             "initial_state"),
    ]


def all_cases() -> tuple[list[Case], list[Case]]:
    """(cases of the API that older checkouts have, cases of the arguments added with the gated rule)."""
    old, new = _feature_cases() + _module_cases(), []
    for name, op, gated in (("delta_rule", fw.delta_rule, False),
                            ("delta_rule_recurrent", fw.delta_rule_recurrent, False),
                            ("gated_delta_rule", getattr(fw, "gated_delta_rule", None), True),
                            ("gated_delta_rule_recurrent", getattr(fw, "gated_delta_rule_recurrent", None), True)):
        o, n = _delta_cases(name, op, gated)
        old, new = old + o, new + n
    return old, new


_OLD, _NEW = all_cases()


@pytest.mark.parametrize("case", _OLD + _NEW, ids=lambda c: c.label)
def test_bad_input_gets_a_clear_error(case):
    assert_clear(case)


def test_the_contract_cases_are_many_and_distinct():
    labels = [c.label for c in _OLD + _NEW]
    assert len(labels) == len(set(labels)) and len(labels) >= 150
