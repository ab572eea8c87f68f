"""The runner interface every backend implements.

    with OnnxRuntimeRunner("m.onnx", threads=2) as r:
        out = r.infer({"input": x})          # dict of named float32 arrays -> dict of named arrays

`activate()` loads (session, engine, model), `deactivate()` frees it; `infer` checks the feed against
`input_metadata()` (names, dtypes, shapes with -1/None for dynamic axes) before running, so a wrong
shape is a clear error rather than a backend crash.

Optional capabilities are declared here with their "not available" answer (`max_batch`, `model_config`,
`time_compute`); a backend overrides what it has, and callers ask instead of probing attributes.
`as_predictor(runner)` is the plain callable (array in, logits out) that tiling, native scoring and the
timing loops take, as MONAI's `sliding_window_inference` takes a predictor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError


@dataclass(frozen=True)
class TensorMeta:
    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...]  # None = dynamic

    def check(self, arr: np.ndarray, where: str) -> None:
        if arr.dtype != self.dtype:
            raise EdgesegError(f"{where}: input {self.name!r} must be {self.dtype}, got {arr.dtype}")
        ok = len(arr.shape) == len(self.shape) and all(
            want is None or want == got for want, got in zip(self.shape, arr.shape, strict=False))
        if not ok:
            want = "x".join("?" if s is None else str(s) for s in self.shape)
            raise EdgesegError(f"{where}: input {self.name!r} must have shape {want}, got "
                               f"{'x'.join(map(str, arr.shape))}; export/build for this size (--size H W)")


class Runner(ABC):
    """A backend that runs one model. Use as a context manager."""

    #: short backend name used in results ("pytorch", "onnxruntime", "tensorrt", "tensorrt-rtx")
    backend: str = "?"
    #: the artifact file behind the runner (None: a model in memory); its sidecar records the network
    path: Path | None = None

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_active = False

    def __enter__(self) -> Runner:
        self.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    def activate(self) -> None:
        if not self.is_active:
            self.activate_impl()
            self.is_active = True

    def deactivate(self) -> None:
        if self.is_active:
            self.deactivate_impl()
            self.is_active = False

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.is_active:
            raise RuntimeError(f"{self.name}: runner is not active; use it inside `with`")
        meta = self.input_metadata()
        missing = set(meta) - set(feed)
        extra = set(feed) - set(meta)
        if missing or extra:
            raise EdgesegError(f"{self.name}: inputs must be {sorted(meta)}; got {sorted(feed)}")
        for k, m in meta.items():
            m.check(feed[k], self.name)
        return self.infer_impl(feed)

    # -- optional capabilities ---------------------------------------------------------------------------
    def max_batch(self, name: str) -> int | None:
        """The largest batch input `name` takes where its batch is dynamic (a TensorRT profile's maximum);
        None: no limit beyond the input's own shape."""
        return None

    def model_config(self) -> dict[str, Any] | None:
        """The registry config of the network behind the runner ({"name", "in_channels", ...}); None when
        unknown. Default: what the artifact's sidecar records (an engine: the sidecar of its ONNX)."""
        if self.path is None:
            return None
        from edgeseg.sidecars import read_engine_sidecar, read_onnx_sidecar

        engine = read_engine_sidecar(self.path)
        side = read_onnx_sidecar(engine.onnx_path if engine is not None and engine.onnx_path else self.path)
        return side.model if side is not None else None

    def time_compute(self, iters: int = 100, warmup: int = 10, x: np.ndarray | None = None) -> list[float] | None:
        """Per-iteration device compute time in ms (CUDA events, no host copies) on `x` (None: the inputs the
        last `infer` staged); None where the backend cannot measure it."""
        return None

    @abstractmethod
    def activate_impl(self) -> None: ...

    @abstractmethod
    def deactivate_impl(self) -> None: ...

    @abstractmethod
    def input_metadata(self) -> dict[str, TensorMeta]: ...

    @abstractmethod
    def output_names(self) -> list[str]: ...

    @abstractmethod
    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def as_predictor(runner: Runner, checked: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """An active runner as a predictor: N x C x H x W float32 -> its first output. `checked=False` skips the
    per-call feed check (timing loops, after one checked call)."""
    name = next(iter(runner.input_metadata()))
    out = runner.output_names()[0]
    run = runner.infer if checked else runner.infer_impl
    return lambda x: run({name: x})[out]
