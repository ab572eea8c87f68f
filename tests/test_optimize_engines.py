"""TensorRT engines as `edgeseg optimize` candidates: real where a TensorRT runtime and an NVIDIA GPU exist,
and a plain reason where they do not (no mock: this checks the machine it runs on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeseg.optimize import Candidate, _tensorrt_candidates, tensorrt_unavailable


def test_no_engine_candidates_without_runtime_or_gpu_says_why() -> None:
    why = tensorrt_unavailable()
    if why is None:
        pytest.skip("a TensorRT runtime and an NVIDIA GPU are present here (the gpu test covers this machine)")
    cands, skipped = _tensorrt_candidates([])
    assert cands == [] and len(skipped) == 1
    assert skipped[0]["label"] == "tensorrt *" and why in skipped[0]["reason"]
    assert "TensorRT runtime" in why or "no NVIDIA GPU" in why


@pytest.mark.gpu
def test_engine_candidates_build_and_run(tmp_path: Path) -> None:
    why = tensorrt_unavailable()
    if why is not None:
        pytest.skip(f"needs TensorRT and an NVIDIA GPU: {why}")
    from edgeseg.export import export_onnx
    from edgeseg.runtime.trt_runner import TensorRTRunner

    onnx = export_onnx("tinyunet", size=(64, 64), batch=1, out=tmp_path / "t.onnx")
    cands, skipped = _tensorrt_candidates([Candidate("fp32 b1", "fp32", "none", 1, str(onnx))])
    assert not skipped and [c.label for c in cands] == ["trt-fp32 b1"] and cands[0].backend == "tensorrt"
    with TensorRTRunner(cands[0].path) as r:
        name, meta = next(iter(r.input_metadata().items()))
        out = r.infer({name: np.zeros((1, *[int(d) for d in meta.shape[1:]]), np.float32)})
    assert all(np.isfinite(v).all() for v in out.values())
