"""The `neurophys` command (also `python -m suite`): `report`, `compare` and `list`."""

from __future__ import annotations

import argparse
import sys
import time

import torch

from suite import registry


def _devices(choice: str) -> list[str]:
    if choice == "cpu":
        return ["cpu"]
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("neurophys: --device cuda was asked for but torch.cuda.is_available() is False")
        return ["cuda"]
    return registry.available_devices()


def _only(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [d for v in values for d in v.split(",") if d]
    known = registry.domains()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"neurophys: --only got unknown domain(s) {unknown}; known: {known}")
    return names


def cmd_report(args: argparse.Namespace) -> int:
    from suite.report import generate

    devices = _devices(args.device)
    only = _only(args.only)
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        if not args.silent:
            print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    timeout = args.timeout if args.timeout > 0 else None
    res = generate(args.out, devices=devices, quick=args.quick, only=only, seed=args.seed, timeout=timeout,
                   progress=progress, speed=not args.no_speed)
    failed = [r for r in res.studies if r.error]
    print(f"report written to {args.out}/index.html ({len(res.pairs)} pairs, {len(res.studies)} study runs, "
          f"{len(failed)} failed, {time.perf_counter() - t0:.0f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from suite.report import compare

    try:
        out = compare(args.reports, args.out)
    except FileNotFoundError as exc:
        raise SystemExit(f"neurophys: {exc}") from None
    print(f"comparison written to {out}/index.html")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    only = _only(args.only)
    print("pairs (naive vs fixed):")
    for p in registry.pairs(only):
        extra = f" + {', '.join(p.variants)}" if p.variants else ""
        print(f"  {p.name:<34} claim {p.claim or '-':<3} sizes {p.size_label}={list(p.sizes)}{extra}")
    print("studies:")
    for s in registry.studies(only):
        print(f"  {s.name:<34} claims {','.join(s.claims) or '-':<12} {s.title}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="neurophys", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rep = sub.add_parser("report", help="measure every pair and study and write an HTML report")
    rep.add_argument("--out", default="neurophys-report", help="output folder (default: ./neurophys-report)")
    rep.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                     help="where to measure: all = CPU, plus CUDA when available (default)")
    rep.add_argument("--quick", action="store_true", help="reduced sweeps and sizes (minutes, not tens of minutes)")
    rep.add_argument("--only", action="append", metavar="DOMAIN", help="restrict to domain(s); repeatable or comma-separated")
    rep.add_argument("--seed", type=int, default=0, help="seed of every study and input (default 0)")
    rep.add_argument("--timeout", type=float, default=900, help="seconds per pair step or study before it is "
                     "marked failed (0: no limit; default 900)")
    rep.add_argument("--no-speed", action="store_true", help="skip the timing tables (accuracy and studies only)")
    rep.add_argument("--silent", action="store_true", help="no progress lines on stderr")
    rep.set_defaults(func=cmd_report)
    cmp_ = sub.add_parser("compare", help="put several reports (machines) side by side in one page")
    cmp_.add_argument("reports", nargs="+", help="report folders, e.g. reports/cpu reports/cuda-h100")
    cmp_.add_argument("--out", default="neurophys-compare", help="output folder (default: ./neurophys-compare)")
    cmp_.set_defaults(func=cmd_compare)
    lst = sub.add_parser("list", help="print the registered pairs and studies")
    lst.add_argument("--only", action="append", metavar="DOMAIN")
    lst.set_defaults(func=cmd_list)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
