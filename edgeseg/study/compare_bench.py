"""`edgeseg compare --device-bench`: `edgeseg optimize` of each network's best seed on this machine.

Per network: the best seed's checkpoint (`<checkpoints>/<set>/<variant>/f<fold>-s<seed>/best.pt`, where
`edgeseg campaign run` keeps it) goes through `edgeseg.optimize.optimize` (candidates scored on the
VALIDATION split, fastest within the Dice budget), giving the selected artifact's p50/p99 latency per
image; its peak memory is the resident-set growth while opening and running it (`bench.harness.PeakRss`).
A network without a checkpoint is reported missing, with the path looked for, not silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError


def checkpoint(checkpoints: Path, row: dict[str, Any]) -> Path:
    fold = (row.get("folds") or [0])[0]
    return checkpoints / row["dataset"] / row["network"] / f"f{fold}-s{row['best_seed']}" / "best.pt"


def _peak_here(path: str, threads: int, batch: int, iters: int) -> float:
    import numpy as np

    from edgeseg.bench.harness import PeakRss
    from edgeseg.graph import onnx_input
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    name, shape = onnx_input(path)
    x = np.random.default_rng(0).standard_normal((batch, *[int(d) for d in shape[1:]])).astype(np.float32)
    rss = PeakRss().start()
    with OnnxRuntimeRunner(path, threads=threads) as r:
        for _ in range(iters):
            r.infer({name: x})
    return round(rss.stop(), 1)


def peak_memory_mb(path: str, threads: int, batch: int, iters: int = 20) -> float | None:
    """Resident-set growth (MiB) while opening the artifact and running `iters` inferences, in a fresh process
    (in this one, optimize already ran it: the allocator's arenas are reused and the growth reads 0)."""
    import subprocess
    import sys

    code = (f"from edgeseg.study.compare_bench import _peak_here; "
            f"print(_peak_here({path!r}, {threads}, {batch}, {iters}))")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def bench_network(row: dict[str, Any], ckpt: Path, data: Path, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    from edgeseg.optimize import optimize

    try:
        doc = optimize(str(ckpt), str(data), out, **opts)
    except EdgesegError as e:  # none within budget: the table is still written
        return {"checkpoint": str(ckpt), "missing": str(e), "optimize": str(out / "optimize.json")}
    sel = doc["selected"]
    best = next(r for r in doc["rows"] if r["selected"])
    return {"checkpoint": str(ckpt), "artifact": sel["label"], "precision": sel["precision"], "threads": sel["threads"],
            "batch": sel["batch"], "p50_ms": best["p50_ms"], "p99_ms": best["p99_ms"],
            "val_dice_drop_pp": sel["drop_pp"], "peak_mem_mb": peak_memory_mb(sel["path"], sel["threads"],
                                                                               sel["batch"]),
            "optimize": str(out / "optimize.json"), "skipped": doc["skipped"], "env_cpu": doc["env"].get("cpu")}


def device_bench(doc: dict[str, Any], checkpoints: str | Path, out_dir: str | Path, *,
                 data: Callable[[str], Path], opts: dict[str, Any],
                 log: Callable[[str], None] = print, only: Sequence[str] | None = None) -> None:
    """Add `device` to every network row of `doc` that has a best seed (in place)."""
    checkpoints, out_dir = Path(checkpoints), Path(out_dir)
    for row in doc["networks"]:
        if row["best_seed"] is None or (only and row["network"] not in only):
            continue
        ckpt = checkpoint(checkpoints, row)
        if not ckpt.is_file():
            row["device"] = {"checkpoint": str(ckpt), "missing": f"no checkpoint at {ckpt} (train the best seed "
                                                                 f"with edgeseg campaign run ... --runs)"}
            log(f"{row['dataset']} {row['network']}: device bench MISSING ({ckpt} not found)")
            continue
        log(f"{row['dataset']} {row['network']}: optimize {ckpt}")
        row["device"] = bench_network(row, ckpt, data(row["dataset"]), out_dir / "optimize" / row["dataset"] /
                                      row["network"], opts)
    doc["device_bench"] = {"options": opts, "engines": engine_note(doc)}


def engine_note(doc: dict[str, Any]) -> str:
    """What the optimize runs said about TensorRT engine candidates (the same line for every network)."""
    for row in doc["networks"]:
        for s in (row.get("device") or {}).get("skipped") or []:
            if s["label"].startswith("tensorrt"):
                return s["reason"]
    return "TensorRT engines were candidates (see each network's optimize.json)"


def load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
