"""PyTorch eager (CPU or CUDA, FP32 or FP16) behind the runner interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.names import INPUT_NAME, OUTPUT_NAME
from edgeseg.runtime.base import Runner, TensorMeta


class TorchRunner(Runner):
    backend = "pytorch"

    def __init__(self, model: nn.Module | str | Path, input_shape: tuple[int, ...] | None = None,
                 device: str = "cpu", precision: str = "fp32", threads: int | None = None) -> None:
        super().__init__(model if isinstance(model, (str, Path)) else type(model).__name__)
        self.source = model
        self.input_shape = input_shape
        self.device = device
        self.precision = precision
        self.threads = threads
        self.model: nn.Module | None = None

    def activate_impl(self) -> None:
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise EdgesegError("--device cuda: no CUDA GPU visible to PyTorch; use --device cpu")
        if self.precision not in ("fp32", "fp16"):
            raise EdgesegError(f"PyTorch runner precision must be fp32 or fp16, got {self.precision}")
        if self.precision == "fp16" and not self.device.startswith("cuda"):
            raise EdgesegError("PyTorch FP16 runs on CUDA only here; use --device cuda or fp32")
        if self.threads:
            torch.set_num_threads(self.threads)
        if isinstance(self.source, (str, Path)):
            from edgeseg.checkpoint import load_checkpoint

            model, _ = load_checkpoint(self.source)
        else:
            model = self.source
        model = model.eval().to(self.device)
        self.model = model.half() if self.precision == "fp16" else model

    def deactivate_impl(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def input_metadata(self) -> dict[str, TensorMeta]:
        shape = tuple(self.input_shape) if self.input_shape else (None, None, None, None)
        return {INPUT_NAME: TensorMeta(INPUT_NAME, np.dtype(np.float32), shape)}

    def output_names(self) -> list[str]:
        return [OUTPUT_NAME]

    @torch.inference_mode()
    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        assert self.model is not None
        x = torch.from_numpy(feed[INPUT_NAME]).to(self.device)
        if self.precision == "fp16":
            x = x.half()
        y = self.model(x)
        if isinstance(y, (list, tuple)):  # deep supervision in train mode; eval returns a tensor
            y = y[-1]
        return {OUTPUT_NAME: y.float().cpu().numpy()}

    def model_config(self) -> dict[str, Any] | None:
        for m in (self.model, self.source):  # the loaded network, or the one given in memory
            conf = getattr(m, "edgeseg_config", None)
            if conf:
                return dict(conf)
        return None

    def time_compute(self, iters: int = 100, warmup: int = 10, x: np.ndarray | None = None) -> list[float] | None:
        """CUDA-event time of the network alone on `x` already on the device (CUDA only; else None)."""
        if x is None or not self.device.startswith("cuda") or self.model is None:
            return None
        xd = torch.from_numpy(x).to(self.device)
        for _ in range(warmup):
            self.infer_torch(xd)
        samples = []
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            self.infer_torch(xd)
            b.record()
            b.synchronize()
            samples.append(a.elapsed_time(b))
        return samples

    def infer_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Tensor in, tensor out on the runner's device: the bench times this without host copies."""
        assert self.model is not None
        with torch.inference_mode():
            return self.model(x.half() if self.precision == "fp16" else x)
