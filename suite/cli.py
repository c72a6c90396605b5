"""The `neurophys` command (also `python -m suite`): `report`, `compare`, `list` and `audit`.

Exit status:
  0    done (report: nothing failed, or --allow-failures)
  1    report: written, but a pair or study failed (listed on stderr); any command: stdout closed early
  2    bad arguments (a value out of range, an unknown --only domain, --device cuda without CUDA, a --baseline
       or compare input that is not a report, an --out that cannot be used): nothing measured or written
  130  stopped by Ctrl-C; 143 stopped by SIGTERM: no half-written output, an earlier report left intact
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable

import torch

import suite
from suite import registry
from suite.audit import cli as audit_cli

SEED_MAX = 2**63 - 1


class UsageError(ValueError):
    """An argument argparse cannot check alone (an unknown domain, CUDA asked for but absent): exit 2."""


def _version() -> str:
    """The installed distribution's version, or the source tree's when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neurophys-suite")
    except PackageNotFoundError:
        return suite.__version__


def _timeout(text: str) -> float:
    """--timeout: seconds >= 0 (0 or inf: no limit)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds (0: no limit), got {text}")
    return value


def _seed(text: str) -> int:
    """--seed: an integer in [0, 2**63 - 1] (torch generators take 64 bits; studies add small offsets)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63 - 1 = {SEED_MAX}], got {text}")
    return value


def _devices(choice: str) -> list[str]:
    if choice == "cpu":
        return ["cpu"]
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for but torch.cuda.is_available() is False")
        return ["cuda"]
    return registry.available_devices()


def _only(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [d for v in values for d in v.split(",") if d]
    known = registry.domains()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UsageError(f"--only got unknown domain(s) {unknown}; known: {known}")
    return names


def expected_steps(devices: list[str], only: list[str] | None, quick: bool, speed: bool) -> int:
    """How many progress messages `collect` sends for this run: one per measured (pair, impl, device, size)
    of the accuracy and timing passes, one per study run (skipped combinations send none).

    Derived from the registry, so the bar's count is exact while collect keeps that rhythm; when it does
    not, the bar grows its total rather than overflow (see `Progress`).
    """
    n = 0
    for device in devices:
        for pair in registry.pairs(only):
            if device not in pair.devices:
                continue
            passes = ([True] if pair.oracle is not None else []) + ([quick] if speed else [])
            n += sum(pair.skip_reason(impl, size, device) is None
                     for sizes_quick in passes for size in pair.timing_sizes(sizes_quick) for impl in pair.impls())
        n += sum(device in s.devices for s in registry.studies(only))
    return n


class Progress:
    """The `progress(msg)` callback `collect` calls: a tqdm bar with count and ETA on a terminal, plain
    numbered lines otherwise, nothing when silent. Multi-line messages (tracebacks) and failures are printed
    in full above the bar and do not count as a step unless they are one line."""

    def __init__(self, total: int, *, silent: bool = False, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.done, self.silent = total, 0, silent
        self.t0 = time.perf_counter()
        self.bar = None
        if not silent and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=self.stream, unit="step", dynamic_ncols=True, leave=True,
                            bar_format="{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {desc}")

    def __call__(self, msg: str) -> None:
        if self.silent:
            return
        step = "\n" not in msg
        if step:
            self.done += 1
            self.total = max(self.total, self.done)
        if self.bar is None:
            count = f" {self.done:>4}/{self.total}" if step else ""
            print(f"[{time.perf_counter() - self.t0:7.1f}s{count}] {msg}", file=self.stream, flush=True)
            return
        if not step or "FAILED" in msg or "(failed)" in msg:
            self.bar.write(msg, file=self.stream)
        if step:
            self.bar.total = self.total
            self.bar.set_description_str(" ".join(msg.split())[:60], refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _guarded(work: Callable[[], int]) -> int:
    """Run `work`, turning a bad argument or an unusable --out (exit 2) and Ctrl-C / SIGTERM (130 / 143)
    into one line on stderr."""
    from suite.report import BaselineError, OutputError, Terminated

    try:
        return work()
    except (UsageError, OutputError, BaselineError) as exc:
        print(f"neurophys: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Terminated) else 2
        what = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        print(f"\nneurophys: stopped by {what}; no partial output or temporary folder left behind", file=sys.stderr)
        return 128 + signum


def cmd_report(args: argparse.Namespace) -> int:
    from suite.report import check_output, generate, load_baseline
    from suite.report.tables import run_failures

    check_output(args.out)  # first: an unusable --out or --baseline fails in a second, before any loading
    load_baseline(args.baseline)
    devices = _devices(args.device)
    only = _only(args.only)
    t0 = time.perf_counter()
    timeout = args.timeout if 0 < args.timeout < math.inf else None
    total = 0 if args.silent else expected_steps(devices, only, args.quick, not args.no_speed)
    progress = Progress(total, silent=args.silent)
    try:
        res = generate(args.out, devices=devices, quick=args.quick, only=only, seed=args.seed, timeout=timeout,
                       progress=progress, speed=not args.no_speed, baseline=args.baseline)
    finally:
        progress.close()
    failed = run_failures(res)
    limit = f"time limit {timeout:g} s per step" if timeout else "no time limit"
    print(f"report written to {args.out}/index.html ({len(res.pairs)} pairs, {len(res.studies)} study runs, "
          f"{len(failed)} failed, {limit}, {time.perf_counter() - t0:.0f} s)")
    if failed and not args.allow_failures:
        for line in failed[:10]:
            print(f"  failed: {line}", file=sys.stderr)
        more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
        print(f"neurophys: {len(failed)} step(s) failed{more}; exit status 1 (--allow-failures: 0)", file=sys.stderr)
        return 1
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from suite.report import compare

    try:
        out = compare(args.reports, args.out)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    print(f"comparison written to {out}/index.html")
    return 0


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as lines with every column but the last padded to its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip() for r in rows]


def cmd_list(args: argparse.Namespace) -> int:
    only = _only(args.only)
    pairs = [["name", "claim", "sizes", "implementations"]] + [
        [p.name, p.claim or "-", f"{p.size_label}={list(p.sizes)}", ", ".join(p.impls())] for p in registry.pairs(only)]
    studies = [["name", "claims", "title"]] + [
        [s.name, ",".join(s.claims) or "-", s.title] for s in registry.studies(only)]
    print("pairs (naive vs fixed):")
    print("\n".join(f"  {line}" for line in _table(pairs)))
    print("studies:")
    print("\n".join(f"  {line}" for line in _table(studies)))
    return 0


REPORT_EPILOG = """\
writes (into --out, swapped in only when complete):
  index.html    the self-contained page (figures and the Japanese glyphs it needs embedded)
  results.json  everything measured (the input of `neurophys compare` and of --baseline)
  results.csv   accuracy and speed rows;  machine.json  the machine, commit, mode, seed

exit status:
  0    written and nothing failed (or --allow-failures)
  1    written, but a pair, study or installed plugin variant failed (each listed on stderr); or stdout
       was closed early
  2    nothing measured: a bad value (--seed, --timeout), an unknown --only domain, --device cuda without
       CUDA, a --baseline that is not a report, or an --out that is not new, empty or an earlier report
  130  stopped by Ctrl-C; 143 stopped by SIGTERM: nothing half-written, an earlier report left intact

examples:
  neurophys report --quick --device cpu --out reports/quick
  neurophys report --out reports/cpu                              # full run: the report's verdicts
  neurophys report --quick --baseline reports/cpu --out reports/q # first screen: verdicts that differ
"""

COMPARE_EPILOG = """\
writes index.html (each report's mode, commit, devices and date; a warning when quick and full runs or
different commits are mixed; verdicts, speed and accuracy side by side) and reports/claims/speed/
accuracy .csv into --out.

exit status: 0 written; 1 stdout closed early; 2 an input that is not a report folder or an unusable
--out (nothing written); 130 / 143 stopped by Ctrl-C / SIGTERM.
"""


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    ap = argparse.ArgumentParser(prog="neurophys", description=__doc__.split("\n\n")[0], formatter_class=raw,
                                 epilog=__doc__.split("\n\n", 1)[1].strip())
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = ap.add_subparsers(dest="cmd", metavar="{report,compare,list,audit}")
    rep = sub.add_parser("report", help="measure every pair and study and write an HTML report",
                         description="Measure every naive/fixed pair (accuracy vs an oracle, speed) and every\n"
                                     "study, judge each claim of the research report by its declared rule, and\n"
                                     "write a self-contained HTML report.",
                         epilog=REPORT_EPILOG, formatter_class=raw)
    rep.add_argument("--out", default="neurophys-report",
                     help="output folder (default: ./neurophys-report); must be new, empty or an earlier report")
    rep.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                     help="where to measure: all = CPU, plus CUDA when available (default)")
    rep.add_argument("--quick", action="store_true",
                     help="reduced sweeps and sizes (minutes, not tens of minutes); its verdicts are "
                          "indicative only and can differ from a full run's")
    rep.add_argument("--only", action="append", metavar="DOMAIN",
                     help="restrict to domain(s); repeatable or comma-separated (`neurophys list` names them)")
    rep.add_argument("--seed", type=_seed, default=0, help="seed of every study and input, 0 .. 2**63-1 (default 0)")
    rep.add_argument("--timeout", type=_timeout, default=900, metavar="SECONDS",
                     help="seconds per pair step or study before it is marked failed (0 or inf: no limit; "
                          "default 900)")
    rep.add_argument("--no-speed", action="store_true", help="skip the timing tables (accuracy and studies only)")
    rep.add_argument("--baseline", metavar="DIR",
                     help="an earlier report folder (or its results.json), typically a full run: the first "
                          "screen lists the claims whose verdict differs from it; checked before measuring")
    rep.add_argument("--allow-failures", action="store_true",
                     help="exit 0 even when a pair or study failed (default: exit 1)")
    rep.add_argument("--silent", action="store_true",
                     help="no progress on stderr (default: a progress bar on a terminal, numbered lines otherwise)")
    rep.set_defaults(func=cmd_report)
    cmp_ = sub.add_parser("compare", help="put several reports (machines) side by side in one page",
                          description="Put several `neurophys report` folders (machines, devices) side by side.",
                          epilog=COMPARE_EPILOG, formatter_class=raw)
    cmp_.add_argument("reports", nargs="+", metavar="REPORT", help="report folders, e.g. reports/cpu reports/cuda-h100")
    cmp_.add_argument("--out", default="neurophys-compare",
                      help="output folder (default: ./neurophys-compare); must be new, empty or an earlier one")
    cmp_.set_defaults(func=cmd_compare)
    lst = sub.add_parser("list", help="print the registered pairs and studies",
                         description="Print the registered pairs (naive vs fixed) and studies.",
                         epilog="exit status: 0 printed; 1 stdout closed early; 2 an unknown --only domain.",
                         formatter_class=raw)
    lst.add_argument("--only", action="append", metavar="DOMAIN", help="restrict to domain(s), as for report")
    lst.set_defaults(func=cmd_list)
    audit_cli.add_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmd is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return _guarded(lambda: args.func(args))
    except BrokenPipeError:  # `neurophys list | head`: the reader left; no traceback (Python docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
