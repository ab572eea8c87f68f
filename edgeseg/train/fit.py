"""`train`: the steps of one training run, in order (each lives in its own module of edgeseg.train)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from edgeseg.artifacts import write_json_atomic
from edgeseg.train.distributed import dist_env, setup_device, shutdown
from edgeseg.train.inputs import prepare_inputs
from edgeseg.train.loop import Log, Run, epochs, start
from edgeseg.train.options import load_config
from edgeseg.train.records import finish, finished_metrics, run_key


def train(out: str | Path, *, resume: bool = False, **options: Any) -> dict[str, Any]:
    """Train into RUN_DIR `out`; returns the metrics.json content. `options` are TrainConfig fields.

    A RUN_DIR that already holds a finished run with the same inputs is reused (nothing retrained); one
    holding a different run needs --resume (same options) or a new --out.
    """
    out = Path(out)
    world, rank, local_rank = dist_env()
    cfg, state = load_config(options, resume, out / "last.pt")
    inp = prepare_inputs(cfg, state)
    key = run_key(cfg, inp.fingerprint)
    log = Log(cfg.quiet or rank != 0)
    if not resume and (out / "last.pt").exists():
        metrics = finished_metrics(out, key)
        log(f"{out / 'best.pt'}: up to date (same data and options); not retrained")
        return metrics

    device = setup_device(cfg.device, world, local_rank)
    torch.manual_seed(cfg.seed)
    run = Run(out, cfg, inp, state, device, world, rank, log)
    opt, sched, loader, val_ds, test_ds = start(run)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "split.json", {**inp.split, "data": str(cfg.data), "n": len(inp.folder)})
    t_start = epochs(run, opt, sched, loader, val_ds)
    result = finish(run, test_ds, t_start, key) if rank == 0 else {}
    shutdown(run.ddp)
    return result
