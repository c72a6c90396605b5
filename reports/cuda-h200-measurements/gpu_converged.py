"""The converged-regime study (claim F7) on CUDA, full mode, and fla's Pair variants' errors: raw JSON.

Run: PYTHONPATH=<tree> python gpu_converged.py OUT_DIR (fla-core importable for the fla rows).
"""

import json
import sys
import time

import torch

from suite import harness, registry
from suite.checks import relative_error

out = sys.argv[1]
registry.load_all()
t0 = time.time()
res = harness.execute(registry.get_study("fastweights.converged_regime"), quick=False, device="cuda", seed=0,
                      results={})
rows = json.loads(res.table.to_json(orient="records"))
summary = {"elapsed_s": round(time.time() - t0, 1), "measures": res.measures,
           "verdicts": [(v.claim, v.verdict, v.evidence) for v in res.verdicts], "table": rows,
           "device": torch.cuda.get_device_name(), "torch": torch.__version__}
variants = []
for pair_name in ("fastweights.delta_rule", "fastweights.gated_delta_rule"):
    pair = registry.get_pair(pair_name)
    for T in (1024, 4096):
        inputs = pair.inputs(T, "cuda", seed=0)
        ref = pair.oracle(*inputs)
        for name in ["fixed", *pair.variants]:
            if pair.skip_reason(name, T, "cuda") or name in ("chunk_loop_port", "recurrent"):
                continue
            with torch.no_grad():
                o = pair.select(pair.impl(name)(*inputs))
            variants.append(dict(pair=pair_name, T=T, impl=name, err=relative_error(o, ref)))
summary["pair_errors"] = variants
with open(f"{out}/converged.json", "w") as fh:
    json.dump(summary, fh, indent=1, default=str)
print(json.dumps({k: summary[k] for k in ("elapsed_s", "measures", "verdicts", "pair_errors")}, indent=1,
                 default=str))
