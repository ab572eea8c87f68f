"""A/B in one session: PyTorch eager U-Net vs SD-UNet at 2 threads, 3x256x256, timed (a) each in a fresh
isolated worker, as run_cpu_matrix.py does (twice, plus each by registry name, SD-UNet then at its 1-channel
reference input) and (b) both in one interleaved process, as speed_interleaved.py does. Why: the interleaved
run's PyTorch SD-UNet ratio (2.3x) differed from the older sequential runs (0.87-1.22x).

    python benchmarks/ab_sdunet_pytorch.py    # ~3 min; writes benchmarks/results/ab/sdunet-pytorch.json
"""

from __future__ import annotations

import argparse
import datetime
import json

from edgeseg.artifacts import write_bytes_atomic
from edgeseg.bench.machine import machine_line
from edgeseg.study.paths import RESULTS

OUT = RESULTS / "ab" / "sdunet-pytorch.json"


def main(argv: list[str] | None = None) -> int:
    from edgeseg.bench.harness import make_config, run_config_isolated
    from edgeseg.bench.matrix import resolve_model
    from edgeseg.bench.matrix_interleaved import run_interleaved_matrix

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    out = {}
    for label in ("unet", "sdunet"):
        _, src, _, _ = resolve_model({"name": label, "model": label, "options": {}, "channels": 3}, (256, 256))
        for rep in range(2):
            r = run_config_isolated(make_config(model=label, backend="pytorch", artifact=src, threads=2,
                                                size=[256, 256], warmup=3, iters=15))
            out[f"seq-ckpt3-{label}-{rep}"] = r["latency_ms"]["p50"]
        r = run_config_isolated(make_config(model=label, backend="pytorch", artifact=label, threads=2,
                                            size=[256, 256], warmup=3, iters=15))
        out[f"seq-name-{label}"] = (r["latency_ms"]["p50"], r["input_shape"])
    doc = run_interleaved_matrix(["unet", "sdunet"], configs=(("pytorch", "fp32"),), threads=(2,), rounds=3, iters=5)
    for r in doc["results"]:
        out[f"inter-{r['model']}"] = r["latency_ms"]["p50"]
    doc = {"command": "python benchmarks/ab_sdunet_pytorch.py", "created": datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds"), "machine": machine_line(), "p50_ms": out}
    write_bytes_atomic(OUT, (json.dumps(doc, indent=1) + "\n").encode())  # the committed file's layout
    print(json.dumps(doc, indent=1))
    return 0
