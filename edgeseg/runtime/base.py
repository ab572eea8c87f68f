"""The runner interface every backend implements.

    with OnnxRuntimeRunner("m.onnx", threads=2) as r:
        out = r.infer({"input": x})          # dict of named float32 arrays -> dict of named arrays

`activate()` loads (session, engine, model), `deactivate()` frees it; `infer` checks the feed against
`input_metadata()` (names, dtypes, shapes with -1/None for dynamic axes) before running, so a wrong
shape is a clear error rather than a backend crash.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

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
