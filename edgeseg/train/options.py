"""The training config (`TrainConfig`), how --resume restores it, and its checks."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from edgeseg.checkpoint import read_checkpoint
from edgeseg.errors import EdgesegError

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

    def keyed(self) -> dict[str, Any]:
        """The options that enter the run's cache key."""
        return {k: v for k, v in self.as_dict().items() if k not in RUNTIME_ONLY}


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def check_resume(stored: dict[str, Any], given: dict[str, Any]) -> None:
    diff = [k for k, v in given.items() if k not in (*RUNTIME_ONLY, "epochs") and k in stored
            and json.dumps(_norm(v)) != json.dumps(_norm(stored[k]))]
    if diff:
        detail = ", ".join(f"{k}={given[k]!r} (run has {stored[k]!r})" for k in diff[:3])
        raise EdgesegError(f"--resume: options differ from the run being resumed: {detail}; drop them or train "
                           f"into a new --out")


def load_config(options: dict[str, Any], resume: bool, last_path: Path) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The run's config and, on --resume, the training state stored in `last_path`; checked."""
    state = None
    if resume:
        if not last_path.is_file():
            raise EdgesegError(f"{last_path.parent}: nothing to resume (no last.pt); start without --resume")
        state = read_checkpoint(last_path).get("train_state")
        if not state:
            raise EdgesegError(f"{last_path}: holds no training state; start a new run without --resume")
        check_resume(state["config"], options)
        # --epochs may grow a finished run; everything else must match the run being resumed
        cfg_dict = {**state["config"], **{k: v for k, v in options.items() if k in (*RUNTIME_ONLY, "epochs")}}
        cfg_dict["size"] = None if cfg_dict["size"] is None else tuple(cfg_dict["size"])
        cfg = TrainConfig(**cfg_dict)
    else:
        if "model" not in options or "data" not in options:
            raise EdgesegError("train: MODEL and --data are required")
        cfg = TrainConfig(**options)
    if cfg.epochs < 1 or cfg.batch < 1 or not cfg.lr > 0:
        raise EdgesegError(f"train: need --epochs >= 1, --batch >= 1, --lr > 0 (got {cfg.epochs}, {cfg.batch}, "
                           f"{cfg.lr})")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise EdgesegError("--device cuda: no CUDA GPU visible to PyTorch; use --device cpu")
    return cfg, state
