"""Symplectic integration (research report section 4.3.2): a Pair and the Studies behind F5, F6 and X1.

Studies return named measures; the claim rules declared beside them turn those into verdicts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from baselines import symplectic as nv
from suite import harness
from suite import symplectic as sy
from suite.plots import axes, plot_clipped
from suite.registry import Domain, Pair, Rule, Study, StudyContext, StudyResult, register
from suite.symplectic_references import oscillator_flow

H_OSC = 0.1  # step of the oscillator pair (Euler multiplies the energy by 1 + h^2 per step: x20959 after 1000 steps at h = 0.1)
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
    return oscillator_flow(q0, p0, H_OSC, steps)


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
METHODS = {"euler": nv.euler, "leapfrog": sy.leapfrog}


def _systems(ctx: StudyContext):
    """(system id, system, q0, p0, h, steps) in float64 on the study's device; Kepler: e = 0.6."""
    kq, kp = sy.Kepler.initial(0.6)
    one, zero = torch.tensor([1.0]), torch.tensor([0.0])
    systems = [("oscillator", sy.HarmonicOscillator(), one, zero, 0.1, ctx.p.steps),
               ("pendulum", sy.Pendulum(), 2 * one, zero, 0.1, ctx.p.steps),
               ("kepler", sy.Kepler(), kq, kp, 0.01, int(round(ctx.p.kepler_periods * 2 * math.pi / 0.01)))]
    return [(n, s, q.to(ctx.device, torch.float64), p.to(ctx.device, torch.float64), h, k)
            for n, s, q, p, h, k in systems]


def _reversal_error(system, q0, p0, h, steps, integ) -> float:
    """Run `steps` forward, negate p, run back: relative distance to (q0, p0) (exact in exact arithmetic)."""
    with torch.no_grad():
        qf, pf = integ(system.grad_potential, q0, p0, h, steps)
        qb, pb = integ(system.grad_potential, qf[-1], -pf[-1], h, steps)
    return float(torch.cat([qb[-1] - q0, -pb[-1] - p0]).double().norm() / torch.cat([q0, p0]).double().norm())


def _energy_figure(curves: dict, systems: list) -> Figure:
    fig = Figure(figsize=(12, 3.6))
    for ax, (name, *_rest) in zip(fig.subplots(1, 3), systems):
        ax.set_yscale("log")
        for method in METHODS:
            t, rel = curves[(name, method)]
            plot_clipped(ax, t[1:], rel[1:], lower=1e-17, upper=1e150, label=method)  # t = 0: error 0 by definition
        ax.set(xlabel="time (units of 1/omega)", ylabel="|H - H0| / |H0|", title=name)
        ax.legend(fontsize=7)
    return fig


def energy_drift(ctx: StudyContext) -> StudyResult:
    """Relative energy error |H_n - H_0| / |H_0| along Euler and leapfrog trajectories (three systems), the
    Kepler angular momentum, and time reversibility (F5): run N steps, negate p, run N steps back, in
    float64 and float32 (Hairer, Lubich & Wanner, Geometric Numerical Integration, ch. I and V)."""
    rows, curves, systems = [], {}, _systems(ctx)
    for name, system, q0, p0, h, steps in systems:
        H0 = float(system.energy(q0, p0))
        for method, integ in METHODS.items():
            with torch.no_grad():
                q, p = integ(system.grad_potential, q0, p0, h, steps)
            rel = ((system.energy(q, p) - H0).abs() / abs(H0)).nan_to_num(nan=math.inf).cpu()
            curves[(name, method)] = (np.arange(steps + 1) * h, rel.numpy())
            half = steps // 2
            row = dict(part="energy", system=name, method=method, dtype="float64", h=h, steps=steps,
                       final_rel_energy_error=float(rel[-1]), max_rel_energy_error=float(rel.max()),
                       max_first_half=float(rel[:half + 1].max()), max_second_half=float(rel[half:].max()))
            if name == "kepler":
                L = sy.Kepler.angular_momentum(q, p)
                row.update(final_energy=float(system.energy(q[-1], p[-1])),
                           angular_momentum_error=float((L - L[0]).abs().max()))
            rows.append(row)
        for method, dt in (("leapfrog", torch.float64), ("leapfrog", torch.float32), ("euler", torch.float64)):
            rows.append(dict(part="reversibility", system=name, method=method, dtype=str(dt)[6:], steps=steps,
                             reversal_rel_error=_reversal_error(system, q0.to(dt), p0.to(dt), h, steps,
                                                                METHODS[method])))
    df = pd.DataFrame(rows)
    en = df[df.part == "energy"].set_index(["method", "system"]).sort_index()
    rev = df[df.part == "reversibility"].set_index(["method", "dtype", "system"]).sort_index().reversal_rel_error
    lf, eu = en.loc["leapfrog"], en.loc["euler"]
    return StudyResult(table=df, figure=_energy_figure(curves, systems), measures=dict(
        leapfrog_max_error=float(lf.max_rel_energy_error.max()),
        leapfrog_bounded=bool((lf.max_second_half <= 2 * lf.max_first_half + 1e-12).all()),
        euler_over_leapfrog=float((eu.final_rel_energy_error / np.maximum(lf.max_rel_energy_error, 1e-300)).min()),
        euler_oscillator_final=float(eu.loc["oscillator", "final_rel_energy_error"]),
        kepler_leapfrog_H=float(lf.loc["kepler", "final_energy"]),
        kepler_leapfrog_dL=float(lf.loc["kepler", "angular_momentum_error"]),
        kepler_euler_H=float(eu.loc["kepler", "final_energy"]),
        reversal_f64=float(rev.loc["leapfrog", "float64"].max()),
        reversal_f32=float(rev.loc["leapfrog", "float32"].max()),
        reversal_euler=float(rev.loc["euler", "float64"].min())))


# ----------------------------------------------------------------------------------- SympNet vs MLP
def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _pendulum_flow(x: torch.Tensor, h: float, sub: int = 10) -> torch.Tensor:
    """Reference one-step map of the pendulum: leapfrog with `sub` substeps (error ~1e-7 per step)."""
    q, p = sy.leapfrog(sy.Pendulum().grad_potential, x[..., :1], x[..., 1:], h / sub, sub)
    return torch.cat([q[-1], p[-1]], dim=-1)


def _rollout(step, x0: torch.Tensor, horizon: int) -> torch.Tensor:
    with torch.no_grad():
        xs = [x0]
        for _ in range(horizon):
            xs.append(step(xs[-1]))
    return torch.stack(xs)


def _fit(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, steps: int) -> float:
    """Adam (lr 1e-2, cosine schedule) on the one-step MSE; returns the final training MSE."""
    harness.adam(model.parameters(), lambda: ((model(X) - Y) ** 2).mean(), steps, 1e-2, cosine=True)
    with torch.no_grad():
        return float(((model(X) - Y) ** 2).mean())


def sympnet(ctx: StudyContext) -> StudyResult:
    """A small G-SympNet (Jin et al. 2020, SympNets) vs an unconstrained residual MLP with the same parameter
    count, trained on pendulum trajectories (one-step map, h = 0.1) with the same optimiser and steps, then
    rolled out far beyond the training horizon and scored by the energy error |H - H0| / |H0|."""
    h, dt, dev, gen, pend = 0.1, torch.float64, ctx.device, ctx.generator(), sy.Pendulum()
    # training orbits: libration, away from the separatrix (H = 1)
    q0 = (torch.rand(ctx.p.n_traj, 1, generator=gen, dtype=dt) * 2 - 1) * 1.5
    p0 = (torch.rand(ctx.p.n_traj, 1, generator=gen, dtype=dt) * 2 - 1) * 0.8
    traj = _rollout(lambda x: _pendulum_flow(x, h), torch.cat([q0, p0], -1).to(dev), ctx.p.traj_len)
    X, Y = traj[:-1].reshape(-1, 2), traj[1:].reshape(-1, 2)
    symp = sy.GSympNet(1, layers=4, width=12).to(dev, dt)
    models = {"sympnet": symp, "mlp": nv.ResidualMLP(1, max(1, round((_n_params(symp) - 2) / 5))).to(dev, dt)}
    test = torch.tensor([[1.0, 0.0], [0.5, 0.5], [-1.2, 0.3]], dtype=dt, device=dev)
    H0 = pend.energy(test[:, :1], test[:, 1:])
    ref = _rollout(lambda x: _pendulum_flow(x, h), test, ctx.p.horizon)
    rows, curves = [], {}
    for name, model in models.items():
        mse = _fit(model, X, Y, ctx.p.train_steps)
        z = _rollout(model, test, ctx.p.horizon)
        rel = ((pend.energy(z[..., :1], z[..., 1:]) - H0).abs() / H0.abs()).nan_to_num(nan=math.inf).cpu()
        curves[name] = rel.max(-1).values.numpy()
        rows.append(dict(model=name, params=_n_params(model), train_mse=mse, horizon_steps=ctx.p.horizon,
                         max_rel_energy_error=float(rel.max()), final_rel_energy_error=float(rel[-1].max()),
                         final_state_rel_error=float(((z[-1] - ref[-1]).norm(dim=-1) / ref[-1].norm(dim=-1)).max())))
    df = pd.DataFrame(rows).set_index("model")
    fig, ax = axes("", "time (pendulum units)", "max |H - H0| / |H0| over 3 test orbits", logy=True, figsize=(6, 4))
    for name, c in curves.items():
        plot_clipped(ax, np.arange(1, len(c)) * h, c[1:], lower=1e-17, upper=1e150,
                     label=f"{name} ({df.params[name]} params)")
    ax.axvline(ctx.p.traj_len * h, color="k", ls=":", label="training horizon")
    ax.legend()
    e = df.max_rel_energy_error
    return StudyResult(table=df.reset_index(), figure=fig, measures=dict(
        sympnet_max_error=float(e["sympnet"]), mlp_max_error=float(e["mlp"]),
        mlp_over_sympnet=float(e["mlp"] / max(e["sympnet"], 1e-300)),
        sympnet_train_mse=float(df.train_mse["sympnet"]), mlp_train_mse=float(df.train_mse["mlp"]),
        params=int(df.params["sympnet"]), horizon_over_training=ctx.p.horizon / ctx.p.traj_len))


_SYMPNET_SHOWS = ("sympnet_max_error", "mlp_max_error", "sympnet_train_mse", "mlp_train_mse", "params",
                  "horizon_over_training")
register(
    Domain("symplectic", "Symplectic integration (report section 4.3.2)", claims=("F5", "F6")),
    Study("symplectic.energy_drift", "Energy drift and reversibility: explicit Euler vs leapfrog, three systems",
          energy_drift, threads=1, sweep=dict(steps=(1000, 10000), kepler_periods=(2, 10)),
          key=("leapfrog_max_error", "euler_over_leapfrog", "reversal_f64"),
          rules=(Rule("F6", "leapfrog_max_error < 1e-2 and leapfrog_bounded == True and euler_over_leapfrog >= 10",
                      shows=("euler_oscillator_final", "kepler_leapfrog_H", "kepler_leapfrog_dL", "kepler_euler_H"),
                      about="relative energy error on oscillator, pendulum and Kepler orbits"),
                 Rule("F5", "reversal_f64 < 1e-9 and reversal_f32 < 1e-4", qualified="reversal_f64 < 1e-9",
                      shows=("reversal_euler",), value="reversal_f32",
                      about="negate p and run back: relative distance to the initial state"))),
    Study("symplectic.sympnet", "SympNet vs unconstrained MLP on the pendulum: long-horizon energy error",
          sympnet, threads=1, key=("sympnet_max_error", "mlp_max_error"),
          sweep=dict(n_traj=(8, 16), traj_len=(30, 60), train_steps=(200, 2000), horizon=(300, 5000)),
          rules=(Rule("F6", "mlp_over_sympnet >= 3", otherwise="qualified", shows=_SYMPNET_SHOWS,
                      value="sympnet_max_error", about="learned integrators, energy error far past training"),
                 Rule("X1", "mlp_over_sympnet >= 3", otherwise="qualified", shows=_SYMPNET_SHOWS,
                      about="symplecticity by construction (SympNet) vs none (MLP)"))),
)
