"""`neurophys audit PAIR --impl package.module:function [--impl ...] [--public] [--device ...] [--out DIR]`.

Exit status: 0 audited (whatever the verdicts); 2 bad arguments: an unknown pair, an --impl that does not
import, is not callable or has the wrong signature (one line naming it), or an unusable --out.
"""

from __future__ import annotations

import argparse
import sys

import torch


def _device(choice: str) -> str:
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("neurophys audit: --device cuda was asked for but torch.cuda.is_available() is False")
    return choice


def _impls(args: argparse.Namespace, pair: str) -> dict:
    from suite.audit.plugins import load_impl, variants
    from suite.audit.public import installed

    impls = {}
    for spec in args.impl or []:
        impls[spec.rsplit(":", 1)[-1] if spec.count(":") == 1 else spec] = load_impl(spec, pair)
    if args.public:
        impls |= {name: fn for name, (_, fn) in installed(pair, args.device).items()}
    if args.plugins:
        impls |= variants().get(pair, {})
    return impls


def cmd_audit(args: argparse.Namespace) -> int:
    from suite import registry
    from suite.audit.plugins import ImplSpecError
    from suite.audit.properties import AUDITED_PAIRS
    from suite.audit.run import AuditOutputError, audit, check_out, write

    def fail(msg: str) -> int:
        print(f"neurophys audit: error: {msg}", file=sys.stderr)
        return 2

    try:
        check_out(args.out)
        device = _device(args.device)
        pairs = list(AUDITED_PAIRS) if args.pair == "all" else [args.pair]
        for p in pairs:
            registry.get_pair(p)
        if args.pair == "all" and args.impl:
            return fail("--impl needs one pair, not 'all'")
        if not (args.impl or args.public or args.plugins):
            return fail("nothing to audit: give --impl package.module:function, --public or --plugins")
        results = []
        for p in pairs:
            impls = _impls(args, p)
            if not impls:
                print(f"neurophys audit: {p}: no implementation to audit here (none installed for {device})",
                      file=sys.stderr)
                continue
            if device not in registry.get_pair(p).devices:
                continue
            print(f"auditing {p} on {device}: {', '.join(impls)}", file=sys.stderr)
            results.append(audit(p, impls, device, args.quick, timeout=args.timeout, speed=not args.no_speed))
    except ImplSpecError as exc:
        return fail(str(exc))
    except KeyError as exc:
        return fail(str(exc.args[0]) if exc.args else str(exc))
    except AuditOutputError as exc:
        return fail(str(exc))
    out = write(results, args.out)
    for res in results:
        for impl in dict.fromkeys(pr.impl for pr in res.properties):
            bad = res.failed(impl)
            print(f"{res.pair} {impl}: " + ("passes every property" if not bad else
                  "; ".join(f"{b.detail} [{b.example}]" for b in bad)))
    print(f"audit written to {out}/index.html")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `audit` on the `neurophys` command's subparsers."""
    ap = subparsers.add_parser("audit", help="judge implementations of a pair: properties, accuracy, speed",
                               description=__doc__.split("\n\n")[0])
    ap.add_argument("pair", help="pair name (see `neurophys list`), or 'all' with --public")
    ap.add_argument("--impl", action="append", metavar="package.module:function",
                    help="an implementation with the pair's signature (repeatable)")
    ap.add_argument("--public", action="store_true", help="also audit every installed public library's version")
    ap.add_argument("--plugins", action="store_true", help="also audit variants declared in the "
                                                           "neurophys.variants entry-point group")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--out", default="neurophys-audit", help="output folder: new, empty or an earlier audit")
    ap.add_argument("--quick", action="store_true", help="fewer hypothesis examples and the quick sizes")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per call of an audited implementation")
    ap.add_argument("--no-speed", action="store_true", help="skip the timing sweep")
    ap.set_defaults(func=cmd_audit)
    return ap


def main(argv: list[str] | None = None) -> int:
    """`python -m suite.audit ...`: the audit command on its own."""
    ap = argparse.ArgumentParser(prog="neurophys")
    add_parser(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(["audit", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
