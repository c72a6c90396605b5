"""asv benchmarks generated from the registry: `time_*` for speed, `track_*` for error against the oracle.

Params are (pair case, implementation) x device; a combination that does not exist (an implementation a
pair lacks, CUDA without a GPU, a size over the memory limit, a name an older commit lacks) raises
NotImplementedError in setup, which asv reports as skipped.
"""

import torch

from benchmarks.cases import _pairs, case_id, cases, devices, find, prepare, registry, relative_error, timer

_CASES = [f"{case_id(p, s)}:{impl}" for p, s in cases() for impl in p.impls()]


class TimePairs:
    """Median time of one call, synchronised (CUDA) by suite.timing.timer.

    One flat param of the combinations that exist ("pair[size]:impl"), not a product with every
    implementation name: asv runs each combination in its own process, so absent ones cost real time.
    """

    params = (_CASES, devices())
    param_names = ("case", "device")
    timer = staticmethod(timer)
    warmup_time = 0.2
    timeout = 600

    def setup(self, case, device):
        name, impl = case.rsplit(":", 1)
        pair, size = find(name)
        self.fn, self.args = prepare(pair, size, impl, device)
        with torch.no_grad():
            self.fn(*self.args)  # warm-up: first-call allocation and plan creation are not the steady state

    def time_call(self, case, device):
        with torch.no_grad():
            self.fn(*self.args)


class TrackError:
    """Relative error vs the pair's oracle at its first quick size, so asv follows accuracy across commits."""

    params = ([f"{p.name}:{impl}" for p in _pairs() if p.oracle is not None for impl in p.impls()], devices())
    param_names = ("pair_impl", "device")
    unit = "relative error"
    version = "2"
    timeout = 600

    def setup(self, pair_impl, device):
        name, impl = pair_impl.rsplit(":", 1)
        if registry is None or name not in {p.name for p in _pairs()}:
            raise NotImplementedError(f"{name} is not registered in this version")
        self.pair = registry.get_pair(name)
        self.fn, self.args = prepare(self.pair, self.pair.timing_sizes(True)[0], impl, device)

    def track_rel_error(self, pair_impl, device):
        with torch.no_grad():
            out = self.pair.select(self.fn(*self.args))
        return relative_error(out, self.pair.oracle(*self.args))
