"""asv benchmarks in numpy's style, generated from the registry: one class per Pair.

    bench_pairs.<domain>_<pair>.time_call(impl, size, device)        seconds per call
    bench_pairs.<domain>_<pair>.track_rel_error(impl, size, device)  error vs the oracle, capped at 1
    bench_pairs.<domain>_<pair>.track_nonfinite(impl, size, device)  NaN/Inf entries in the output

`time_call` runs over every timing size, the tracks over the quick sizes (where the report measures
accuracy: some oracles are mpmath). `setup` builds the inputs and makes one warm-up call, apart from the
timed body. A combination that cannot run (no GPU, a size over a memory limit, a name an older commit
lacks) raises NotImplementedError in setup, which asv shows as n/a. Each benchmark has a fixed `version`,
so editing this file keeps the history; change a version only when that benchmark's meaning changes.

History across commits: asv discovers the benchmarks once, with the newest commit installed, and then
runs each older commit's package under the same names and parameter lists, addressing a combination by
its index. A class built from an older registry could have other lists (a pair without a new variant
or size) and would then time the wrong combination under the right label, so under `asv run` the lists
come from asv's own record of that discovery (`<results_dir>/benchmarks.json`) and the installed registry
decides only what runs.
"""

import ast
import json
import os
import sys

import torch

from benchmarks import cases

TIME_VERSION = "1"
TRACK_VERSION = "1"
_MODULE = __name__.split(".", 1)[-1]


def _class_name(pair_name: str) -> str:
    return pair_name.replace(".", "_")


def _discovered() -> dict[str, tuple[list, list]]:
    """{benchmark name: (params, param_names)} from the discovery of the `asv run` this process serves.

    Empty outside `asv run` (discovery itself, `asv check`, tests), so the registry then decides.
    """
    if os.path.basename(sys.argv[0]) != "benchmark.py" or sys.argv[1:2] not in (["run"], ["run_server"]):
        return {}
    try:
        conf_dir = os.environ["ASV_CONF_DIR"]
        with open(os.path.join(conf_dir, "asv.conf.json")) as f:
            results = json.load(f).get("results_dir", "results")
        with open(os.path.join(conf_dir, results, "benchmarks.json")) as f:
            found = json.load(f)
        return {name: ([[ast.literal_eval(v) for v in axis] for axis in b["params"]], b["param_names"])
                for name, b in found.items() if isinstance(b, dict) and b.get("params")}
    except (KeyError, OSError, ValueError, SyntaxError):
        return {}


def _benchmark_class(name: str, pair, known: dict) -> type:
    """The class for one pair (`pair` None: a name the installed version lacks, every combination n/a)."""

    def setup(self, impl, size, device):
        if pair is None:
            raise NotImplementedError(f"{name} is not registered in this version")
        if size not in cases.timing_sizes(pair, False, device) and size not in cases.accuracy_sizes(pair):
            raise NotImplementedError(f"{pair.size_label}={size} is not a size of {pair.name} on {device} here")
        self.fn, self.args = cases.prepare(pair, size, impl, device)
        with torch.no_grad():  # warm-up (first-call allocation, FFT plans) and the output the tracks read
            self.out = self.fn(*self.args)

    def time_call(self, impl, size, device):
        with torch.no_grad():
            self.fn(*self.args)

    def track_rel_error(self, impl, size, device):
        if pair.oracle is None or cases.relative_error is None:
            return float("nan")  # asv: n/a
        return cases.capped_error(pair, self.out, self.args)

    def track_nonfinite(self, impl, size, device):
        return cases.nonfinite(pair, self.out)

    attrs = {"setup": setup, "timer": staticmethod(cases.timer), "timeout": 600,
             "__doc__": f"{name}: naive vs fixed" + (f" - {pair.description}" if pair and pair.description else "")}
    specs = ((time_call, None, TIME_VERSION, lambda: cases.all_sizes(pair)),
             (track_rel_error, "relative error (capped at 1)", TRACK_VERSION, lambda: cases.accuracy_sizes(pair)),
             (track_nonfinite, "NaN/Inf entries", TRACK_VERSION, lambda: cases.accuracy_sizes(pair)))
    for fn, unit, version, sizes in specs:
        key = f"{_MODULE}.{name}.{fn.__name__}"
        if key in known:
            fn.params, fn.param_names = known[key]
        elif pair is not None and (fn is time_call or pair.oracle is not None) and cases.devices(pair):
            fn.params = [list(pair.impls()), sizes(), cases.devices(pair)]
            fn.param_names = ["impl", pair.size_label, "device"]
        else:
            continue
        fn.version = version
        if unit:
            fn.unit = unit
        attrs[fn.__name__] = fn
    return type(name, (), attrs)


def _generate() -> dict[str, type]:
    known = _discovered()
    classes = {_class_name(p.name): _benchmark_class(_class_name(p.name), p, known) for p in cases.pairs()}
    for key in known:  # names asv discovered that this version's registry lacks
        mod, cls, _ = key.rsplit(".", 2)
        if mod == _MODULE and cls not in classes:
            classes[cls] = _benchmark_class(cls, None, known)
    return classes


globals().update(_generate())
