"""What a run leaves behind: its cache key, metrics.json at the end (`loop.write_metrics`), the never-learned flag,
and the finished best.pt with its sidecar; and the check that reuses a finished run with the same inputs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edgeseg.artifacts import cache_key, library_versions, read_sidecar, sha256_file, write_sidecar
from edgeseg.checkpoint import read_checkpoint, save_checkpoint
from edgeseg.data.torchdata import SegArrays
from edgeseg.errors import EdgesegError
from edgeseg.metrics import NEVER_LEARNED, never_learned
from edgeseg.train.loop import Run, write_metrics
from edgeseg.train.options import TrainConfig


def run_key(cfg: TrainConfig, fingerprint: Any) -> str:
    """The cache key of a run: its keyed options, the data's fingerprint and the library versions."""
    return cache_key({"config": cfg.keyed(), "data": fingerprint, "versions": library_versions()})


def finished_metrics(out: Path, key: str) -> dict[str, Any]:
    """metrics.json of the finished run in `out` when it was made with `key`; otherwise an error, because
    `out` holds another run (or an unfinished one)."""
    best = out / "best.pt"
    meta = read_sidecar(best)
    if meta and meta.get("cache_key") == key and meta.get("complete") and meta.get("sha256") == \
            sha256_file(best) and (out / "metrics.json").is_file():
        return json.loads((out / "metrics.json").read_text())
    raise EdgesegError(f"{out}: already holds a training run; pass --resume to continue it or choose a new --out")


def never_learned_warning(history: list[dict[str, Any]], epochs: int) -> str | None:
    """The warning for a finished run whose pooled validation Dice stayed below NEVER_LEARNED at every epoch:
    it predicts (almost) no foreground where the masks have it. Pooled, because the mean over images scores an
    empty prediction on an empty mask 1 (Kvasir's native crops: mean 0.567 from a U-Net that found no polyp);
    a history recorded before the pooled value existed is judged on the mean, and a resumed one on the epochs
    that have it. With label maps the pooled value averages the classes, and a class absent from the validation
    images scores 1, so a collapse there may go unflagged. The campaign saw collapses on SD-UNet (a dead
    2-channel ReLU pre-head; README). Only a finished run is judged (`epochs` = the planned count; `train` calls
    it at the end): a late start is not a collapse (in the campaign TinyU-Net finds its first ISBI foreground at
    epoch 17-23 of 30, its first Kvasir one at epoch 7-8 of 15)."""
    pooled = [h["val_dice_pooled"] for h in history if h.get("val_dice_pooled") is not None]
    if len(history) < epochs or not never_learned(pooled or [h["val_dice"] for h in history]):
        return None
    return (f"validation Dice stayed below {NEVER_LEARNED} at all {len(history)} epochs: the network predicts no "
            "foreground (a run that never learned); retrain with another --seed")


def finish(run: Run, test_ds: SegArrays | None, t_start: float, key: str) -> dict[str, Any]:
    """Score the best checkpoint on the test split, write best.pt's final form and sidecar and metrics.json."""
    cfg, pp = run.cfg, run.inp.pp.to_dict()
    run.model.load_state_dict(read_checkpoint(run.best_path)["state_dict"])
    test = run.validate(test_ds) if test_ds is not None and len(test_ds) else None
    final = {"test_dice": test["dice"] if test else None, "test_iou": test["iou"] if test else None,
             "test": test, "train_seconds": time.perf_counter() - t_start,
             "warning": never_learned_warning(run.history, cfg.epochs)}
    save_checkpoint(run.best_path, run.model, preprocess=pp, extra={
        **run.extra(), "epoch": run.best["epoch"],
        "metrics": {"val_dice": run.best["val_dice"], "test_dice": final["test_dice"], "test_iou": final["test_iou"]}})
    write_sidecar(run.best_path, {"cache_key": key, "complete": True, "data": str(cfg.data),
                                  "data_fingerprint": run.inp.fingerprint, "config": cfg.as_dict(),
                                  "versions": library_versions(), "input_shape": [1, cfg.channels, *cfg.size],
                                  "preprocess": pp, "metrics": {k: final[k] for k in ("test_dice", "test_iou")}})
    result = write_metrics(run, "complete", final)
    if final["warning"]:
        run.log(f"warning: {final['warning']}")
    td = final["test_dice"]
    run.log(f"best val Dice {run.best['val_dice']:.4f} (epoch {run.best['epoch']}); test Dice "
            f"{td if td is None else round(td, 4)} -> {run.best_path}")
    return result
