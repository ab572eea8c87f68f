"""`edgeseg train`: one recipe for every network.

BCE + Dice (CE + Dice for label maps), Adam, per-step cosine schedule, augmentation on the training split
only, best checkpoint by validation Dice (`best.pt`), `last.pt` every epoch for `--resume`, `metrics.json`
with the history and the final val/test scores, `split.json` with the seeded train/val/test split.

Under `torchrun --nproc_per_node N` it trains with DistributedDataParallel (gloo on CPU, nccl on CUDA) and a
DistributedSampler; `--batch` is per process; only rank 0 validates and writes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from edgeseg.artifacts import cache_key, library_versions, read_sidecar, sha256_file, write_json_atomic, write_sidecar
from edgeseg.checkpoint import read_checkpoint, save_checkpoint
from edgeseg.data.augment import Augment
from edgeseg.data.dataset import LabelMap, SegFolder, is_gray, make_split, parse_foreground, read_image
from edgeseg.data.preprocess import Preprocess
from edgeseg.data.torchdata import SegArrays, split_dataset
from edgeseg.errors import EdgesegError
from edgeseg.metrics import NEVER_LEARNED, never_learned

MAX_DEFAULT_SIDE = 256
# Options that change neither the data nor the maths: may differ on --resume and stay out of the cache key.
RUNTIME_ONLY = ("workers", "quiet", "device")


@dataclass
class TrainConfig:
    model: str
    data: str
    size: tuple[int, int] | None = None  # None: the data's median side, rounded, at most 256
    epochs: int = 30
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0
    device: str = "cpu"
    seed: int = 0
    workers: int = 0
    foreground: str | None = None  # see edgeseg.data.dataset.parse_foreground
    channels: int | None = None  # None: 1 if every image is gray, else 3
    model_options: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # An explicit {"train", "val", "test"} stem split (e.g. a fixed campaign split or a k-fold fold) instead of
    # the seeded fractions: lets several training seeds share one split.
    split: dict[str, list[str]] | None = None
    augment: bool = True
    quiet: bool = False
    native_crop: bool = False  # random size-crops at native scale, no resize (NativeCrops); val on fixed crops

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["size"] = None if self.size is None else list(self.size)
        if not self.native_crop:
            del d["native_crop"]  # recorded only when set: earlier runs keep their cache key
        return d


# ------------------------------------------------------------------------------------------------ loss

def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice for one output channel, CE + soft Dice (mean over foreground classes) otherwise."""
    if logits.shape[-2:] != target.shape[-2:]:  # deep-supervision heads at a lower resolution
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    if logits.shape[1] == 1:
        t = target.unsqueeze(1).float()
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
        return F.binary_cross_entropy_with_logits(logits, t) + dice
    k = logits.shape[1]
    p = logits.softmax(1)
    onehot = F.one_hot(target, k).permute(0, 3, 1, 2).float()
    inter = (p * onehot).sum((0, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)
    return F.cross_entropy(logits, target) + dice[1:].mean()


def total_loss(out: torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...], target: torch.Tensor) -> torch.Tensor:
    """Deep supervision (UNet#): the mean of the loss over every returned logits tensor."""
    if isinstance(out, (list, tuple)):
        return torch.stack([seg_loss(o, target) for o in out]).mean()
    return seg_loss(out, target)


# ------------------------------------------------------------------------------------------------ setup

def _dist() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def default_size(folder: SegFolder, stems: list[str], multiple: int) -> tuple[int, int]:
    """Square side: the median of the images' shorter sides, capped at 256, rounded down to the model's multiple."""
    by = {s.stem: s for s in folder.samples}
    sides = []
    for st in stems:
        with Image.open(by[st].image) as im:
            sides.append(min(im.size))
    side = min(MAX_DEFAULT_SIDE, int(np.median(sides)))
    side = max(multiple, side // multiple * multiple)
    return side, side


def data_channels(folder: SegFolder) -> int:
    """1 if every image is gray (also gray stored as RGB), else 3."""
    return 1 if all(is_gray(read_image(s.image)) for s in folder.samples) else 3


def _check_resume(stored: dict[str, Any], given: dict[str, Any]) -> None:
    diff = [k for k, v in given.items() if k not in (*RUNTIME_ONLY, "epochs") and k in stored
            and json.dumps(_norm(v)) != json.dumps(_norm(stored[k]))]
    if diff:
        detail = ", ".join(f"{k}={given[k]!r} (run has {stored[k]!r})" for k in diff[:3])
        raise EdgesegError(f"--resume: options differ from the run being resumed: {detail}; drop them or train "
                           f"into a new --out")


def _explicit_split(given: dict[str, Any], stems: list[str], data: str) -> dict[str, Any]:
    """Check a user-given split against the folder: lists of known stems, disjoint, a non-empty val list."""
    known = set(stems)
    lists = {k: sorted(str(x) for x in given.get(k) or []) for k in ("train", "val", "test")}
    for name, items in lists.items():
        unknown = [x for x in items if x not in known]
        if unknown:
            raise EdgesegError(f"split {name}: {unknown[0]!r} is not an image stem of {data} ({len(unknown)} "
                               f"unknown); pass a split made for this folder")
    seen: set[str] = set()
    for name, items in lists.items():
        if seen & set(items):
            raise EdgesegError(f"split {name}: {sorted(seen & set(items))[0]!r} is in two splits; make them "
                               f"disjoint")
        seen |= set(items)
    if not lists["val"]:
        raise EdgesegError("split: the val list is empty; the best checkpoint is chosen on it")
    return {"seed": None, "explicit": True, **lists}


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


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


class _Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            from tqdm import tqdm

            tqdm.write(msg)


# ------------------------------------------------------------------------------------------------ train

def train(out: str | Path, *, resume: bool = False, **options: Any) -> dict[str, Any]:
    """Train into RUN_DIR `out`; returns the metrics.json content. `options` are TrainConfig fields.

    A RUN_DIR that already holds a finished run with the same inputs is reused (nothing retrained); one
    holding a different run needs --resume (same options) or a new --out.
    """
    out = Path(out)
    world, rank, local_rank = _dist()
    last_path, best_path = out / "last.pt", out / "best.pt"
    state = None
    if resume:
        if not last_path.is_file():
            raise EdgesegError(f"{out}: nothing to resume (no last.pt); start without --resume")
        state = read_checkpoint(last_path).get("train_state")
        if not state:
            raise EdgesegError(f"{last_path}: holds no training state; start a new run without --resume")
        _check_resume(state["config"], options)
        # --epochs may grow a finished run; everything else must match the run being resumed
        cfg_dict = {**state["config"], **{k: v for k, v in options.items() if k in (*RUNTIME_ONLY, "epochs")}}
        cfg_dict["size"] = None if cfg_dict["size"] is None else tuple(cfg_dict["size"])
        cfg = TrainConfig(**cfg_dict)
    else:
        if "model" not in options or "data" not in options:
            raise EdgesegError("train: MODEL and --data are required")
        cfg = TrainConfig(**options)

    from edgeseg.models import check_input_size, create_model, get_model_info, rebuild_model

    info = get_model_info(cfg.model)
    if cfg.epochs < 1 or cfg.batch < 1 or not cfg.lr > 0:
        raise EdgesegError(f"train: need --epochs >= 1, --batch >= 1, --lr > 0 (got {cfg.epochs}, {cfg.batch}, "
                           f"{cfg.lr})")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise EdgesegError("--device cuda: no CUDA GPU visible to PyTorch; use --device cpu")

    folder = SegFolder(cfg.data)
    labels: LabelMap = parse_foreground(cfg.foreground, folder.mask_values())
    if state:
        split = state["split"]
    elif cfg.split is not None:
        split = _explicit_split(cfg.split, folder.stems, cfg.data)
    else:
        split = make_split(folder.stems, cfg.seed, cfg.val_fraction, cfg.test_fraction)
    folder.subset(split["train"] + split["val"] + split["test"], "recorded split")
    if cfg.size is None:
        cfg.size = default_size(folder, split["train"], info.size_multiple)
    h, w = cfg.size
    check_input_size(cfg.model, h, w)
    if cfg.channels is None:
        cfg.channels = data_channels(folder)
    pp = Preprocess(h, w, cfg.channels, (0.5,), (0.5,), labels=labels.to_pairs(), native_scale=cfg.native_crop)

    fingerprint = folder.fingerprint()
    key = cache_key({"config": {k: v for k, v in cfg.as_dict().items() if k not in RUNTIME_ONLY},
                     "data": fingerprint, "versions": library_versions()})
    if not resume and last_path.exists():
        meta = read_sidecar(best_path)
        if meta and meta.get("cache_key") == key and meta.get("complete") and meta.get("sha256") == \
                sha256_file(best_path) and (out / "metrics.json").is_file():
            _Log(cfg.quiet or rank != 0)(f"{best_path}: up to date (same data and options); not retrained")
            return json.loads((out / "metrics.json").read_text())
        raise EdgesegError(f"{out}: already holds a training run; pass --resume to continue it or choose a new --out")

    # ---------------------------------------------------------------------------- distributed
    ddp = world > 1
    if ddp:
        import torch.distributed as dist

        backend = "nccl" if cfg.device.startswith("cuda") else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        if backend == "gloo":  # N processes share the cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    device = torch.device(f"cuda:{local_rank}" if cfg.device.startswith("cuda") and ddp else cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed)
    log = _Log(cfg.quiet or rank != 0)

    k = labels.num_classes
    if state:  # the recorded network (its options' legacy meaning included), not today's defaults
        model = rebuild_model(read_checkpoint(last_path)["model"]).to(device)
    else:
        model = create_model(cfg.model, cfg.channels, k, **cfg.model_options).to(device)
    nc = cfg.native_crop
    train_ds = split_dataset(nc, folder.subset(split["train"]), pp, labels, Augment() if cfg.augment else None,
                             cfg.seed, train=True)
    val_ds = split_dataset(nc, folder.subset(split["val"]), pp, labels, seed=cfg.seed)
    test_ds = split_dataset(nc, folder.subset(split["test"]), pp, labels, seed=cfg.seed) if split["test"] else None
    if len(train_ds) == 0:
        raise EdgesegError(f"{cfg.data}: the training split is empty; add images or lower the val/test fractions")

    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    per_rank = math.ceil(len(train_ds) / world)
    loader = DataLoader(train_ds, batch_size=cfg.batch, sampler=sampler, num_workers=cfg.workers,
                        drop_last=per_rank > cfg.batch and per_rank % cfg.batch == 1,  # a lone sample breaks BN
                        pin_memory=device.type == "cuda")
    steps = len(loader) * cfg.epochs
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))

    history: list[dict[str, Any]] = []
    best = {"val_dice": -1.0, "epoch": 0}
    start_epoch = 0
    # A resumed run restores the RNG, sampler and schedule, so it should equal an uninterrupted one; the
    # count is recorded so that a result that does not reproduce can be traced to it.
    resumes = int(state.get("resumes", 0)) + 1 if state else 0
    if state:
        model.load_state_dict(read_checkpoint(last_path)["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_torch"])
        history, best, start_epoch = list(state["history"]), dict(state["best"]), int(state["epoch"])
        log(f"resuming {out} at epoch {start_epoch + 1}/{cfg.epochs}")

    net: nn.Module = model
    if ddp:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def validate(ds: SegArrays) -> dict[str, Any]:
        from edgeseg.evaluate import score_arrays
        from edgeseg.runtime.torch_runner import TorchRunner

        with TorchRunner(model, device=str(device)) as r:
            m = score_arrays(r, ds.images, ds.masks, ds.stems, k, batch=max(cfg.batch, 8))
        model.train()
        return m.summary()

    untrained = None
    if rank == 0 and not state:
        untrained = validate(val_ds)["dice"]
    extra_common = {"split": split, "labels": labels.describe(), "train": cfg.as_dict(),
                    "data": str(Path(cfg.data).resolve())}

    def write_metrics(status: str, final: dict[str, Any] | None = None) -> dict[str, Any]:
        metrics = {"status": status, "model": cfg.model, "params": sum(p.numel() for p in model.parameters()),
                   "world_size": world, "val_dice_untrained": untrained if not state else state.get("untrained"),
                   "best_epoch": best["epoch"], "val_dice": best["val_dice"] if best["epoch"] else None,
                   "resumes": resumes,
                   "history": history, "foreground": labels.describe(), "input_shape": [cfg.channels, h, w],
                   "config": cfg.as_dict(), **(final or {})}
        write_json_atomic(out / "metrics.json", metrics)
        return metrics

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "split.json", {**split, "data": str(cfg.data), "n": len(folder)})

    t_start = time.perf_counter() - sum(e["seconds"] for e in history)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        net.train()
        total, n_seen = 0.0, 0
        from tqdm import tqdm

        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=cfg.quiet or rank != 0, leave=False)
        for step, (x, y) in enumerate(bar):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = total_loss(net(x), y)
            bad = torch.tensor([0.0 if torch.isfinite(loss).item() else 1.0], device=device)
            if ddp:
                torch.distributed.all_reduce(bad)  # every rank stops together
            if bad.item():
                msg = (f"{out}: loss became non-finite ({loss.item()}) at epoch {epoch + 1}, step {step + 1}; "
                       f"training stopped; ")
                msg += (f"last good checkpoint {last_path} (epoch {epoch})" if epoch > start_epoch or state
                        else "no epoch finished, nothing saved")
                if rank == 0:
                    write_metrics("diverged")
                _shutdown(ddp)
                raise EdgesegError(msg + "; lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
            n_seen += len(x)
            bar.set_postfix(loss=f"{total / n_seen:.4f}", val_dice=f"{best['val_dice']:.4f}" if history else "-")
        bar.close()
        if rank == 0:
            val = validate(val_ds)
            rec = {"epoch": epoch + 1, "loss": total / max(n_seen, 1), "val_dice": val["dice"],
                   "val_dice_pooled": val["dice_pooled"], "val_iou": val["iou"], "lr": sched.get_last_lr()[0],
                   "seconds": time.perf_counter() - t0}
            history.append(rec)
            if val["dice"] > best["val_dice"]:
                best = {"val_dice": val["dice"], "epoch": epoch + 1}
                save_checkpoint(best_path, model, preprocess=pp.to_dict(),
                                extra={**extra_common, "epoch": epoch + 1, "metrics": {"val_dice": val["dice"]}})
            save_checkpoint(last_path, model, preprocess=pp.to_dict(), extra={**extra_common, "train_state": {
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": epoch + 1,
                "rng_torch": torch.get_rng_state(), "history": history, "best": best, "config": cfg.as_dict(),
                "split": split, "untrained": untrained if not state else state.get("untrained"),
                "resumes": resumes}})
            write_metrics("training")
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {rec['loss']:.4f}  val Dice {val['dice']:.4f}  "
                f"(best {best['val_dice']:.4f} @ {best['epoch']})  {rec['seconds']:.1f}s")
        if ddp:
            torch.distributed.barrier()

    result: dict[str, Any] = {}
    if rank == 0:
        payload = read_checkpoint(best_path)
        model.load_state_dict(payload["state_dict"])
        test = validate(test_ds) if test_ds is not None and len(test_ds) else None
        final = {"test_dice": test["dice"] if test else None, "test_iou": test["iou"] if test else None,
                 "test": test, "train_seconds": time.perf_counter() - t_start,
                 "warning": never_learned_warning(history, cfg.epochs)}
        save_checkpoint(best_path, model, preprocess=pp.to_dict(), extra={
            **extra_common, "epoch": best["epoch"],
            "metrics": {"val_dice": best["val_dice"], "test_dice": final["test_dice"], "test_iou": final["test_iou"]}})
        write_sidecar(best_path, {"cache_key": key, "complete": True, "data": str(cfg.data),
                                  "data_fingerprint": fingerprint, "config": cfg.as_dict(),
                                  "versions": library_versions(), "input_shape": [1, cfg.channels, h, w],
                                  "preprocess": pp.to_dict(), "metrics": {k_: final[k_] for k_ in
                                                                          ("test_dice", "test_iou")}})
        result = write_metrics("complete", final)
        if final["warning"]:
            log(f"warning: {final['warning']}")
        log(f"best val Dice {best['val_dice']:.4f} (epoch {best['epoch']}); test Dice "
            f"{final['test_dice'] if final['test_dice'] is None else round(final['test_dice'], 4)} -> {best_path}")
    _shutdown(ddp)
    return result


def _shutdown(ddp: bool) -> None:
    if ddp:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
