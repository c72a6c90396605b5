"""Symplectic integration (research report section 4.3.2): a Pair and the Studies behind F5, F6 and X1.

Every verdict is computed from the study's own numbers; thresholds are stated in the evidence text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from baselines import symplectic as nv
from suite import symplectic as sy
from suite.registry import Pair, Study, StudyContext, StudyResult, Verdict, register
from suite.timing import threads

H_OSC = 0.1  # step of the oscillator pair (ANCHORS: Euler's energy x20959 after 1000 steps at h = 0.1)
_OSC = sy.HarmonicOscillator()


# ============================================================================================ pair
def _osc_inputs(size, device, dtype, gen):
    """A batch of 64 oscillators with random (q0, p0) ~ N(0, 1), integrated for `size` steps."""
    q0 = torch.randn(64, 1, generator=gen, dtype=torch.float64)
    p0 = torch.randn(64, 1, generator=gen, dtype=torch.float64)
    return q0.to(dtype).to(device), p0.to(dtype).to(device), size


def euler_osc(q0, p0, steps):
    return nv.euler(_OSC.grad_potential, q0, p0, H_OSC, int(steps))[0]


def leapfrog_osc(q0, p0, steps):
    return sy.leapfrog(_OSC.grad_potential, q0, p0, H_OSC, int(steps))[0]


def osc_oracle(q0, p0, steps):
    """Exact flow q(t) = q0 cos t + p0 sin t at t = n h (float64, analytic)."""
    t = torch.arange(int(steps) + 1, dtype=torch.float64) * H_OSC
    q0, p0 = (x.detach().to("cpu", torch.float64) for x in (q0, p0))
    return q0 * torch.cos(t)[:, None, None] + p0 * torch.sin(t)[:, None, None]


register(Pair(
    name="symplectic.integrate",
    naive=euler_osc,
    fixed=leapfrog_osc,
    make_inputs=_osc_inputs,
    sizes=(1000, 10000),
    quick_sizes=(100,),
    oracle=osc_oracle,
    claim="F6",
    size_label="steps",
    description="64 harmonic oscillators, h = 0.1: explicit Euler (naive) vs Stormer-Verlet leapfrog (fixed); "
                "output: the position trajectory; oracle: the exact solution. Euler's amplitude grows as "
                "(1 + h^2)^(n/2); leapfrog's error is a bounded phase drift (O(h^2) per unit time).",
))


# ============================================================================================ studies
def _systems(quick: bool):
    """(name, system, q0, p0, h, steps) in float64; Kepler: e = 0.6, 10 periods (2 in quick mode)."""
    kq, kp = sy.Kepler.initial(0.6)
    periods = 2 if quick else 10
    return [
        ("harmonic oscillator", sy.HarmonicOscillator(), torch.tensor([1.0], dtype=torch.float64),
         torch.tensor([0.0], dtype=torch.float64), 0.1, 1000 if quick else 10000),
        ("pendulum (q0 = 2 rad)", sy.Pendulum(), torch.tensor([2.0], dtype=torch.float64),
         torch.tensor([0.0], dtype=torch.float64), 0.1, 1000 if quick else 10000),
        ("Kepler (e = 0.6)", sy.Kepler(), kq, kp, 0.01, int(round(periods * 2 * math.pi / 0.01))),
    ]


def run_energy_drift(ctx: StudyContext) -> StudyResult:
    with threads(1):
        return _energy_drift(ctx)


def _energy_drift(ctx: StudyContext) -> StudyResult:
    """Relative energy error |H_n - H_0| / |H_0| along Euler and leapfrog trajectories (three systems), the
    Kepler angular momentum, and time reversibility (F5): run N steps, negate p, run N steps back."""
    rows, rev_rows, curves = [], [], {}
    for name, system, q0, p0, h, steps in _systems(ctx.quick):
        H0 = float(system.energy(q0, p0))
        for method, integ in (("Euler (naive)", nv.euler), ("leapfrog (fixed)", sy.leapfrog)):
            with torch.no_grad():
                q, p = integ(system.grad_potential, q0, p0, h, steps)
            rel = ((system.energy(q, p) - H0).abs() / abs(H0)).nan_to_num(nan=math.inf)
            curves[(name, method)] = (np.arange(steps + 1) * h, rel.numpy())
            half = steps // 2
            row = dict(system=name, method=method, h=h, steps=steps, H0=H0,
                       final_rel_energy_error=float(rel[-1]), max_rel_energy_error=float(rel.max()),
                       max_first_half=float(rel[:half + 1].max()), max_second_half=float(rel[half:].max()))
            if isinstance(system, sy.Kepler):
                L = sy.Kepler.angular_momentum(q, p)
                row["final_energy"] = float(system.energy(q[-1], p[-1]))
                row["angular_momentum_error"] = float((L - L[0]).abs().max())
            rows.append(row)
        # reversibility: forward, negate p, backward; float64 and float32 for leapfrog, float64 for Euler
        for method, integ, dt in (("leapfrog (fixed)", sy.leapfrog, torch.float64),
                                  ("leapfrog (fixed)", sy.leapfrog, torch.float32),
                                  ("Euler (naive)", nv.euler, torch.float64)):
            a, b = q0.to(dt), p0.to(dt)
            with torch.no_grad():
                qf, pf = integ(system.grad_potential, a, b, h, steps)
                qb, pb = integ(system.grad_potential, qf[-1], -pf[-1], h, steps)
            err = float(torch.cat([qb[-1] - a, -pb[-1] - b]).double().norm() / torch.cat([a, b]).double().norm())
            rev_rows.append(dict(system=name, method=method, dtype=str(dt).replace("torch.", ""), steps=steps,
                                 reversal_rel_error=err))
    df = pd.DataFrame(rows)
    rev = pd.DataFrame(rev_rows)
    table = pd.concat([df.assign(part="energy"), rev.assign(part="reversibility")], ignore_index=True)
    fig = Figure(figsize=(12, 3.6))
    for ax, (name, *_rest) in zip(fig.subplots(1, 3), _systems(ctx.quick)):
        for method in ("Euler (naive)", "leapfrog (fixed)"):
            t, rel = curves[(name, method)]
            ax.semilogy(t, np.clip(rel, 1e-17, 1e150), label=method)
        ax.set_xlabel("time (units of 1/omega)")
        ax.set_ylabel("|H - H0| / |H0|")
        ax.set_title(name)
        ax.legend(fontsize=7)
    lf, eu = df[df.method == "leapfrog (fixed)"], df[df.method == "Euler (naive)"]
    lf_max = float(lf.max_rel_energy_error.max())
    bounded = bool((lf.max_second_half <= 2 * lf.max_first_half + 1e-12).all())
    ratio = float((eu.final_rel_energy_error.values / np.maximum(lf.max_rel_energy_error.values, 1e-300)).min())
    osc_eu = float(eu[eu.system.str.startswith("harmonic")].final_rel_energy_error.iloc[0])
    kep = df[df.system.str.startswith("Kepler")].set_index("method")
    f6 = lf_max < 1e-2 and bounded and ratio >= 10
    ev6 = (f"leapfrog's relative energy error stays <= {lf_max:.2g} on all three systems and does not grow "
           f"(second-half max <= 2x first-half max: {bounded}); Euler ends >= {ratio:.3g}x worse (oscillator: "
           f"{osc_eu:.3g} after {int(eu.steps.iloc[0])} steps, = (1+h^2)^n - 1); Kepler: leapfrog H = "
           f"{kep.loc['leapfrog (fixed)', 'final_energy']:.4f}, |dL| = "
           f"{kep.loc['leapfrog (fixed)', 'angular_momentum_error']:.1e}; Euler H = "
           f"{kep.loc['Euler (naive)', 'final_energy']:.3f} (confirmed if leapfrog < 1e-2, bounded, Euler >= 10x)")
    lf64 = rev[(rev.method == "leapfrog (fixed)") & (rev.dtype == "float64")].reversal_rel_error.max()
    lf32 = rev[(rev.method == "leapfrog (fixed)") & (rev.dtype == "float32")].reversal_rel_error.max()
    eu64 = rev[rev.method == "Euler (naive)"].reversal_rel_error.min()
    v5 = "confirmed" if lf64 < 1e-9 and lf32 < 1e-4 else ("qualified" if lf64 < 1e-9 else "refuted")
    ev5 = (f"negate p and run back: leapfrog recovers the initial state to {lf64:.2g} (float64) and {lf32:.2g} "
           f"(float32) relative error after up to {int(rev.steps.max())} steps, Euler only to {eu64:.2g}; "
           f"exact in exact arithmetic, round-off limited in floating point (confirmed if float64 < 1e-9 and "
           f"float32 < 1e-4, qualified if only float64)")
    return StudyResult(table=table, figure=fig,
                       verdicts=[Verdict("F6", "confirmed" if f6 else "refuted", ev6, value=lf_max),
                                 Verdict("F5", v5, ev5, value=float(lf32))],
                       key=f"leapfrog max |dH|/H {lf_max:.2g} vs Euler x{ratio:.3g}; reversal f64 {lf64:.1e}")


# ----------------------------------------------------------------------------------- SympNet vs MLP
class ResidualMLP(nn.Module):
    """Unconstrained baseline x -> x + MLP(x) (one tanh hidden layer), sized to match the SympNet."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, hidden), nn.Tanh(), nn.Linear(hidden, 2 * dim))

    def forward(self, x):
        return x + self.net(x)


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _pendulum_flow(x: torch.Tensor, h: float, sub: int = 10) -> torch.Tensor:
    """Reference one-step map of the pendulum: leapfrog with `sub` substeps (error ~1e-7 per step)."""
    q, p = sy.leapfrog(sy.Pendulum().grad_potential, x[..., :1], x[..., 1:], h / sub, sub)
    return torch.cat([q[-1], p[-1]], dim=-1)


def run_sympnet(ctx: StudyContext) -> StudyResult:
    with threads(1):
        return _sympnet(ctx)


def _sympnet(ctx: StudyContext) -> StudyResult:
    """A small G-SympNet vs an unconstrained residual MLP with the same parameter count, both trained on
    pendulum trajectories (one-step map, h = 0.1) with the same optimiser and steps; then rolled out far
    beyond the training horizon and scored by the energy error |H - H0| / |H0|."""
    h = 0.1
    torch.manual_seed(ctx.seed)  # module initialisation
    gen = ctx.generator(51)
    n_traj, traj_len = (8, 30) if ctx.quick else (16, 60)
    train_steps = 200 if ctx.quick else 2000
    horizon = 300 if ctx.quick else 5000
    dt = torch.float64
    pend = sy.Pendulum()
    # training trajectories: libration, |H0 + 1| small enough to stay away from the separatrix (H = 1)
    q0 = (torch.rand(n_traj, 1, generator=gen, dtype=dt) * 2 - 1) * 1.5
    p0 = (torch.rand(n_traj, 1, generator=gen, dtype=dt) * 2 - 1) * 0.8
    x = torch.cat([q0, p0], -1)
    xs = [x]
    with torch.no_grad():
        for _ in range(traj_len):
            x = _pendulum_flow(x, h)
            xs.append(x)
    traj = torch.stack(xs)  # [traj_len + 1, n_traj, 2]
    X, Y = traj[:-1].reshape(-1, 2), traj[1:].reshape(-1, 2)
    symp = sy.GSympNet(1, layers=4, width=12).to(dt)
    n_sym = _n_params(symp)
    hidden = max(1, round((n_sym - 2) / 5))  # 2->hidden->2: 5 hidden + 2 parameters
    mlp = ResidualMLP(1, hidden).to(dt)
    models = {"G-SympNet": symp, "MLP": mlp}
    rows, curves = [], {}
    test = torch.tensor([[1.0, 0.0], [0.5, 0.5], [-1.2, 0.3]], dtype=dt)
    H0 = pend.energy(test[:, :1], test[:, 1:])
    with torch.no_grad():
        ref = [test]
        for _ in range(horizon):
            ref.append(_pendulum_flow(ref[-1], h))
        ref = torch.stack(ref)
    for name, model in models.items():
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, train_steps)
        for _ in range(train_steps):
            loss = ((model(X) - Y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            one_step = float(((model(X) - Y) ** 2).mean())
            z = [test]
            for _ in range(horizon):
                z.append(model(z[-1]))
            z = torch.stack(z)
            H = pend.energy(z[..., :1], z[..., 1:])
            rel = ((H - H0).abs() / H0.abs()).nan_to_num(nan=math.inf)
            curves[name] = rel.max(-1).values.numpy()
            state_err = float(((z[-1] - ref[-1]).norm(dim=-1) / ref[-1].norm(dim=-1)).max())
        rows.append(dict(model=name, params=_n_params(model), train_mse=one_step, horizon_steps=horizon,
                         max_rel_energy_error=float(rel.max()), final_rel_energy_error=float(rel[-1].max()),
                         final_state_rel_error=state_err))
    df = pd.DataFrame(rows).set_index("model")
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name, c in curves.items():
        ax.semilogy(np.arange(len(c)) * h, np.clip(c, 1e-17, 1e150), label=f"{name} ({df.loc[name, 'params']} params)")
    ax.axvline(traj_len * h, color="k", ls=":", label="training horizon")
    ax.set_xlabel("time (s, pendulum units)")
    ax.set_ylabel("max |H - H0| / |H0| over 3 test orbits")
    ax.legend(fontsize=7)
    e_s, e_m = df.loc["G-SympNet", "max_rel_energy_error"], df.loc["MLP", "max_rel_energy_error"]
    f_s, f_m = df.loc["G-SympNet", "final_rel_energy_error"], df.loc["MLP", "final_rel_energy_error"]
    ratio = e_m / max(e_s, 1e-300)
    better = ratio >= 3
    ev = (f"pendulum, {horizon} steps of h = {h} ({horizon // traj_len}x the training horizon): G-SympNet "
          f"({df.loc['G-SympNet', 'params']} params, train MSE {df.loc['G-SympNet', 'train_mse']:.1e}) max "
          f"energy error {e_s:.3g} (final {f_s:.3g}) vs MLP ({df.loc['MLP', 'params']} params, train MSE "
          f"{df.loc['MLP', 'train_mse']:.1e}) {e_m:.3g} (final {f_m:.3g}): {ratio:.3g}x "
          f"(confirmed if the MLP's error is >= 3x the SympNet's)")
    verdicts = [Verdict("F6", "confirmed" if better else "qualified", "learned integrators: " + ev, value=e_s),
                Verdict("X1", "confirmed" if better else "qualified",
                        "symplecticity by construction (SympNet) vs none (MLP): " + ev, value=ratio)]
    return StudyResult(table=df.reset_index(), figure=fig, verdicts=verdicts,
                       key=f"energy error SympNet {e_s:.2g} vs MLP {e_m:.2g}")


register(
    Study("symplectic.energy_drift", "Energy drift and reversibility: explicit Euler vs leapfrog, three systems",
          run_energy_drift, claims=("F5", "F6")),
    Study("symplectic.sympnet", "SympNet vs unconstrained MLP on the pendulum: long-horizon energy error",
          run_sympnet, claims=("F6", "X1")),
)
