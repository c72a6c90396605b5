"""asv benchmarks generated from the registry: `time_*` for speed, `track_*` for error against the oracle.

Params are pair case x implementation x device; a combination that does not exist (an implementation a
pair lacks, CUDA without a GPU, a size over the memory limit, a name an older commit lacks) raises
NotImplementedError in setup, which asv reports as skipped.
"""

import torch

from benchmarks.cases import (_pairs, case_id, cases, devices, find, impl_names, prepare, registry,
                              relative_error, timer)

_CASES = [case_id(p, s) for p, s in cases()]


class TimePairs:
    """Median time of one call, synchronised (CUDA) by suite.timing.timer."""

    params = (_CASES, impl_names(), devices())
    param_names = ("case", "impl", "device")
    timer = staticmethod(timer)
    warmup_time = 0.2
    timeout = 600

    def setup(self, case, impl, device):
        pair, size = find(case)
        self.fn, self.args = prepare(pair, size, impl, device)
        with torch.no_grad():
            self.fn(*self.args)  # warm-up: first-call allocation and plan creation are not the steady state

    def time_call(self, case, impl, device):
        with torch.no_grad():
            self.fn(*self.args)


class TrackError:
    """Relative error vs the pair's oracle at its first quick size, so asv follows accuracy across commits."""

    params = ([p.name for p in _pairs() if p.oracle is not None], impl_names(), devices())
    param_names = ("pair", "impl", "device")
    unit = "relative error"
    version = "1"
    timeout = 600

    def setup(self, pair, impl, device):
        if registry is None or pair not in {p.name for p in registry.pairs()}:
            raise NotImplementedError(f"{pair} is not registered in this version")
        self.pair = registry.get_pair(pair)
        self.fn, self.args = prepare(self.pair, self.pair.timing_sizes(True)[0], impl, device)

    def track_rel_error(self, pair, impl, device):
        with torch.no_grad():
            out = self.pair.select(self.fn(*self.args))
        return relative_error(out, self.pair.oracle(*self.args))
