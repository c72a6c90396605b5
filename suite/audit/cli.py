"""`neurophys audit PAIR --impl package.module:function [--impl ...] [--public] [--plugins] [--device ...]
[--out DIR]`: the `audit` subcommand of `neurophys` (suite/cli.py registers it with `add_parser`).

Exit status: 0 audited (whatever the verdicts); 2 bad arguments: an unknown pair, an --impl that does not
import, is not callable or has the wrong signature (one line naming it), --device cuda without CUDA, or an
unusable --out (nothing is written then).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys


class AuditArgumentError(ValueError):
    """A bad argument of `neurophys audit` (the message is the one line the user sees)."""


def _device(choice: str) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise AuditArgumentError("--device cuda was asked for but torch.cuda.is_available() is False")
    return choice


def _impl_name(spec: str) -> str:
    """The name an --impl is shown under: its function's name (the whole spec when it does not parse)."""
    return spec.rsplit(":", 1)[-1] if spec.count(":") == 1 else spec


def _impls(args: argparse.Namespace, pair: str) -> dict:
    from suite.audit.plugins import installed as plugin_variants
    from suite.audit.plugins import load_impl
    from suite.audit.public import installed

    impls = {_impl_name(spec): load_impl(spec, pair) for spec in args.impl or []}
    if args.public:
        impls |= {name: fn for name, (_, fn) in installed(pair, args.device).items()}
    if args.plugins:
        impls |= plugin_variants().get(pair, {})
    return impls


def _pairs(args: argparse.Namespace) -> list[str]:
    """The pairs to audit, checked: every audited pair for 'all', else the one named (KeyError if unknown)."""
    from suite import registry
    from suite.audit.properties import AUDITED_PAIRS

    if args.pair == "all" and args.impl:
        raise AuditArgumentError("--impl needs one pair, not 'all'")
    if not (args.impl or args.public or args.plugins):
        raise AuditArgumentError("nothing to audit: give --impl package.module:function, --public or --plugins")
    pairs = list(AUDITED_PAIRS) if args.pair == "all" else [args.pair]
    for p in pairs:
        registry.get_pair(p)
    return pairs


def cmd_audit(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("hypothesis") is None:
        return _fail("the audit's property search needs hypothesis: pip install 'neurophys-suite[audit]'")
    from suite import registry
    from suite.audit.plugins import ImplSpecError
    from suite.audit.run import AuditOutputError, audit, check_out, write

    try:
        check_out(args.out)
        device = _device(args.device)
        todo = [(p, _impls(args, p)) for p in _pairs(args)]  # every --impl checked before anything runs
    except (ImplSpecError, AuditArgumentError, AuditOutputError) as exc:
        return _fail(str(exc))
    except KeyError as exc:  # an unknown pair: registry.get_pair's message lists the registered ones
        return _fail(str(exc.args[0]) if exc.args else str(exc))
    results = []
    for p, impls in todo:
        if not impls or device not in registry.get_pair(p).devices:
            print(f"neurophys audit: {p}: no implementation to audit on {device}", file=sys.stderr)
            continue
        print(f"auditing {p} on {device}: {', '.join(impls)}", file=sys.stderr)
        results.append(audit(p, impls, device, args.quick, timeout=args.timeout, speed=not args.no_speed))
    out = write(results, args.out)
    for res in results:
        for impl in dict.fromkeys(pr.impl for pr in res.properties):
            bad = res.failed(impl)
            print(f"{res.pair} {impl}: " + ("passes every property" if not bad else
                  "; ".join(f"{b.detail} [{b.example}]" for b in bad)))
    print(f"audit written to {out}/index.html")
    return 0


def _fail(msg: str) -> int:
    print(f"neurophys audit: error: {msg}", file=sys.stderr)
    return 2


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `audit` on the `neurophys` command's subparsers."""
    ap = subparsers.add_parser("audit", help="judge implementations of a pair: properties, accuracy, speed",
                               description=__doc__.split("\n\n")[0],
                               epilog=__doc__.split("\n\n", 1)[1].strip())
    ap.add_argument("pair", help="pair name (see `neurophys list`), or 'all' with --public / --plugins")
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
