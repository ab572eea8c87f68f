"""The epochs: one `Run` holds what the loop changes (model, optimizer, history, best epoch); each epoch trains,
validates on rank 0, and saves `best.pt` (when validation Dice improves) and `last.pt` (always, for --resume)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeseg.artifacts import write_json_atomic
from edgeseg.checkpoint import read_checkpoint, save_checkpoint
from edgeseg.data.torchdata import SegArrays
from edgeseg.errors import EdgesegError
from edgeseg.train.distributed import all_ranks_flag, barrier, shutdown, wrap
from edgeseg.train.inputs import Inputs, make_datasets, make_loader
from edgeseg.train.loss import total_loss
from edgeseg.train.options import TrainConfig


class Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            from tqdm import tqdm

            tqdm.write(msg)


@dataclass
class Run:
    out: Path
    cfg: TrainConfig
    inp: Inputs
    state: dict[str, Any] | None  # the training state being resumed, or None
    device: torch.device
    world: int
    rank: int
    log: Callable[[str], None]
    model: nn.Module = field(init=False)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"val_dice": -1.0, "epoch": 0})
    start_epoch: int = 0
    resumes: int = 0
    untrained: float | None = None

    @property
    def ddp(self) -> bool:
        return self.world > 1

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"

    def extra(self) -> dict[str, Any]:
        """What every checkpoint of the run records beside the weights."""
        return {"split": self.inp.split, "labels": self.inp.labels.describe(), "train": self.cfg.as_dict(),
                "data": str(Path(self.cfg.data).resolve())}

    def validate(self, ds: SegArrays) -> dict[str, Any]:
        from edgeseg.evaluate import score_arrays
        from edgeseg.runtime.torch_runner import TorchRunner

        with TorchRunner(self.model, device=str(self.device)) as r:
            m = score_arrays(r, ds.images, ds.masks, ds.stems, self.inp.labels.num_classes,
                             batch=max(self.cfg.batch, 8))
        self.model.train()
        return m.summary()


def write_metrics(run: Run, status: str, final: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = run.cfg
    metrics = {"status": status, "model": cfg.model, "params": sum(p.numel() for p in run.model.parameters()),
               "world_size": run.world, "val_dice_untrained": run.untrained, "best_epoch": run.best["epoch"],
               "val_dice": run.best["val_dice"] if run.best["epoch"] else None, "resumes": run.resumes,
               "history": run.history, "foreground": run.inp.labels.describe(),
               "input_shape": [cfg.channels, *cfg.size], "config": cfg.as_dict(), **(final or {})}
    write_json_atomic(run.out / "metrics.json", metrics)
    return metrics


def start(run: Run) -> tuple[Any, Any, Any, SegArrays, SegArrays | None]:
    """Build (or, on --resume, restore) the model, optimizer and schedule, and the datasets and loader.
    Returns (optimizer, scheduler, loader, val set, test set) and sets run.model."""
    from edgeseg.models import create_model, rebuild_model

    cfg, state = run.cfg, run.state
    if state:  # the recorded network (its options' legacy meaning included), not today's defaults
        run.model = rebuild_model(read_checkpoint(run.last_path)["model"]).to(run.device)
    else:
        run.model = create_model(cfg.model, cfg.channels, run.inp.labels.num_classes,
                                 **cfg.model_options).to(run.device)
    train_ds, val_ds, test_ds = make_datasets(cfg, run.inp)
    loader = make_loader(cfg, train_ds, run.world, run.rank, run.device.type == "cuda")
    steps = len(loader) * cfg.epochs
    opt = torch.optim.Adam(run.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    # A resumed run restores the RNG, sampler and schedule, so it should equal an uninterrupted one; the
    # count is recorded so that a result that does not reproduce can be traced to it.
    if state:
        run.resumes = int(state.get("resumes", 0)) + 1
        run.model.load_state_dict(read_checkpoint(run.last_path)["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_torch"])
        run.history, run.best, run.start_epoch = list(state["history"]), dict(state["best"]), int(state["epoch"])
        run.untrained = state.get("untrained")
        run.log(f"resuming {run.out} at epoch {run.start_epoch + 1}/{cfg.epochs}")
    elif run.rank == 0:
        run.untrained = run.validate(val_ds)["dice"]
    return opt, sched, loader, val_ds, test_ds


def epochs(run: Run, opt: Any, sched: Any, loader: Any, val_ds: SegArrays) -> float:
    """Train from run.start_epoch to cfg.epochs; returns the run's start time (perf_counter, resumed epochs'
    seconds included). A non-finite loss stops every rank with the last good checkpoint kept."""
    from tqdm import tqdm

    cfg, net = run.cfg, wrap(run.model, run.device, run.ddp)
    t_start = time.perf_counter() - sum(e["seconds"] for e in run.history)
    for epoch in range(run.start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        loader.sampler.set_epoch(epoch)
        loader.dataset.set_epoch(epoch)
        net.train()
        total, n_seen = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=cfg.quiet or run.rank != 0, leave=False)
        for step, (x, y) in enumerate(bar):
            x, y = x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True)
            loss = total_loss(net(x), y)
            if all_ranks_flag(not torch.isfinite(loss).item(), run.device, run.ddp):
                msg = (f"{run.out}: loss became non-finite ({loss.item()}) at epoch {epoch + 1}, step {step + 1}; "
                       f"training stopped; ")
                msg += (f"last good checkpoint {run.last_path} (epoch {epoch})" if epoch > run.start_epoch
                        or run.state else "no epoch finished, nothing saved")
                if run.rank == 0:
                    write_metrics(run, "diverged")
                shutdown(run.ddp)
                raise EdgesegError(msg + "; lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
            n_seen += len(x)
            bar.set_postfix(loss=f"{total / n_seen:.4f}",
                            val_dice=f"{run.best['val_dice']:.4f}" if run.history else "-")
        bar.close()
        if run.rank == 0:
            _end_epoch(run, epoch, total / max(n_seen, 1), time.perf_counter() - t0, opt, sched, val_ds)
        barrier(run.ddp)
    return t_start


def _end_epoch(run: Run, epoch: int, loss: float, seconds: float, opt: Any, sched: Any, val_ds: SegArrays) -> None:
    val = run.validate(val_ds)
    rec = {"epoch": epoch + 1, "loss": loss, "val_dice": val["dice"], "val_dice_pooled": val["dice_pooled"],
           "val_iou": val["iou"], "lr": sched.get_last_lr()[0], "seconds": seconds}
    run.history.append(rec)
    pp = run.inp.pp.to_dict()
    if val["dice"] > run.best["val_dice"]:
        run.best = {"val_dice": val["dice"], "epoch": epoch + 1}
        save_checkpoint(run.best_path, run.model, preprocess=pp,
                        extra={**run.extra(), "epoch": epoch + 1, "metrics": {"val_dice": val["dice"]}})
    save_checkpoint(run.last_path, run.model, preprocess=pp, extra={**run.extra(), "train_state": {
        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": epoch + 1,
        "rng_torch": torch.get_rng_state(), "history": run.history, "best": run.best, "config": run.cfg.as_dict(),
        "split": run.inp.split, "untrained": run.untrained, "resumes": run.resumes}})
    write_metrics(run, "training")
    run.log(f"epoch {epoch + 1}/{run.cfg.epochs}: loss {rec['loss']:.4f}  val Dice {val['dice']:.4f}  "
            f"(best {run.best['val_dice']:.4f} @ {run.best['epoch']})  {rec['seconds']:.1f}s")
