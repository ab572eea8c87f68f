"""ONNX Runtime on the CPU, configured for speed (all graph optimisations, threads pinned as asked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg.artifacts import read_sidecar
from edgeseg.errors import EdgesegError
from edgeseg.integrity import verify_recorded
from edgeseg.runtime.base import Runner, TensorMeta

_ORT_DTYPES = {"tensor(float)": np.dtype(np.float32), "tensor(float16)": np.dtype(np.float16),
               "tensor(int64)": np.dtype(np.int64), "tensor(int32)": np.dtype(np.int32),
               "tensor(uint8)": np.dtype(np.uint8), "tensor(int8)": np.dtype(np.int8)}


class OnnxRuntimeRunner(Runner):
    backend = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None, profile: bool = False) -> None:
        super().__init__(str(path))
        self.path = Path(path)
        self.threads = threads
        self.profile = profile
        self.session = None

    def activate_impl(self) -> None:
        import onnxruntime as ort

        if not self.path.is_file():
            raise EdgesegError(f"{self.path}: no such ONNX file; create it with edgeseg export")
        verify_recorded(self.path, read_sidecar(self.path))  # its bytes, before ONNX Runtime parses them
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.add_session_config_entry("session.intra_op.allow_spinning", "1")
        so.enable_profiling = self.profile
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # corrupt/truncated/unsupported graph
            msg = str(e).splitlines()[0][:200]
            raise EdgesegError(f"{self.path}: ONNX Runtime cannot load it ({msg}); re-export with "
                               f"edgeseg export") from None

    def deactivate_impl(self) -> None:
        self.session = None

    def input_metadata(self) -> dict[str, TensorMeta]:
        assert self.session is not None
        return {i.name: TensorMeta(i.name, _ORT_DTYPES.get(i.type, np.dtype(np.float32)),
                                   tuple(d if isinstance(d, int) else None for d in i.shape))
                for i in self.session.get_inputs()}

    def output_names(self) -> list[str]:
        assert self.session is not None
        return [o.name for o in self.session.get_outputs()]

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        assert self.session is not None
        outs = self.session.run(None, feed)
        return dict(zip(self.output_names(), outs, strict=True))

    def end_profiling(self) -> str | None:
        """Stop ORT's profiler; returns the JSON trace path (names the slow nodes)."""
        return self.session.end_profiling() if self.session is not None and self.profile else None
