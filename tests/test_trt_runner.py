"""TensorRTRunner: engine output vs ONNX Runtime on a GPU that can run it; clear refusals everywhere else.

The GPU tests build real engines and compare them with ONNX Runtime running the same ONNX graph; they skip
(saying why) only where no NVIDIA GPU that can run the engine is present. The refusal tests run anywhere
TensorRT-RTX is installed (it builds engines on the CPU).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeseg import trt_compat as tc
from edgeseg.artifacts import sidecar_path
from edgeseg.errors import EdgesegError
from edgeseg.models import get_model_info
from edgeseg.runtime.cuda import gpu_info

SIZE = 64
MODEL = "unet"  # the reference network (always registered)
NO_RTX_GPU = ("no NVIDIA GPU with compute capability 8.0/8.6/8.9/12.x: TensorRT-RTX engines cannot run here")


def _cuda_bindings() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("cuda", "pycuda"))


def _require_gpu(flavour: str) -> None:
    """Skip unless this machine has a GPU (and the libraries) that can run `flavour` engines."""
    import importlib.util

    gpu = gpu_info()
    if flavour == "tensorrt-rtx":
        if gpu is None or not tc.cc_runs(gpu["cc"], tc.RTX_DEFAULT_TARGETS, True):
            found = f" (found {gpu['name']}, compute capability {gpu['cc']})" if gpu else ""
            pytest.skip(NO_RTX_GPU + found)
    elif gpu is None:
        pytest.skip("no NVIDIA GPU: TensorRT builds and runs engines on the GPU itself")
    if importlib.util.find_spec(tc.MODULES[flavour]) is None:
        pytest.skip(f"{gpu['name']} present but {tc.MODULES[flavour]} is not installed: {tc.INSTALL_HINT[flavour]}")
    if not _cuda_bindings():
        pytest.skip(f"{gpu['name']} present but no CUDA Python bindings: pip install 'edgeseg[cuda]'")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("trt-runner")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESEG_CACHE", str(root / "cache"))
        yield root


@pytest.fixture(scope="module")
def onnx_fp32(work: Path) -> Path:
    from edgeseg.export import export_onnx

    return export_onnx(MODEL, size=(SIZE, SIZE), check=False)


@pytest.fixture(scope="module")
def rtx_engine(work: Path, onnx_fp32: Path) -> Path:
    from edgeseg.engine import build_engine

    return build_engine(onnx_fp32, backend="tensorrt-rtx", out=work / "unet-fp32.engine")


def _ort(onnx: Path, x: np.ndarray) -> np.ndarray:
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    with OnnxRuntimeRunner(onnx, threads=2) as r:
        return r.infer({"input": x})["logits"]


def _close(got: np.ndarray, ref: np.ndarray, tol: float, mask_agree: float) -> None:
    """Logits within tol * max(1, max|ref|), and the sigmoid > 0.5 masks agree on >= mask_agree of pixels."""
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.isfinite(got).all()
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(got - ref).max())
    assert err <= tol * scale, f"max |engine - onnxruntime| = {err:.4g} > {tol * scale:.4g}"
    agree = float(((got > 0) == (ref > 0)).mean())
    assert agree >= mask_agree, f"mask agreement {agree:.4f} < {mask_agree}"


# ------------------------------------------------------------------------------------ refusals (any machine)

def test_cc_targets() -> None:
    """Which GPUs a TensorRT-RTX engine built for the default / explicit targets runs on."""
    d = tc.RTX_DEFAULT_TARGETS
    assert all(tc.cc_runs(cc, d, True) for cc in ("8.0", "8.6", "8.9", "12.0", "12.1"))
    assert not tc.cc_runs("9.0", d, True)  # H100/H200: Hopper is not a TensorRT-RTX target
    assert not tc.cc_runs("7.5", d, True)  # Turing only when asked for
    assert tc.cc_runs("7.5", ["7.5"], False) and not tc.cc_runs("12.0", ["8.6"], False)
    assert [tc.parse_cc(v) for v in ("8.6", "86", "sm_120", "SM89")] == ["8.6", "8.6", "12.0", "8.9"]


def test_runner_refuses_without_suitable_gpu(rtx_engine: Path) -> None:
    """Here (no GPU, or an H100/H200) the runner says which GPUs can run the engine; it never crashes."""
    from edgeseg.runtime.trt_runner import TensorRTRunner

    gpu = gpu_info()
    if gpu is not None and tc.cc_runs(gpu["cc"], tc.RTX_DEFAULT_TARGETS, True):
        with TensorRTRunner(rtx_engine) as r:  # a supported GPU: it must load
            assert r.backend == "tensorrt-rtx" and r.output_names() == ["logits"]
        return
    with pytest.raises(EdgesegError) as e, TensorRTRunner(rtx_engine):
        pass
    msg = str(e.value)
    assert "8.0" in msg and "8.6" in msg and "8.9" in msg and "12" in msg
    assert ("no NVIDIA GPU" in msg) if gpu is None else ("not a target" in msg)


def test_runner_refuses_other_version(rtx_engine: Path, tmp_path: Path) -> None:
    from edgeseg.runtime.trt_runner import TensorRTRunner

    eng = tmp_path / "old.engine"
    shutil.copyfile(rtx_engine, eng)
    meta = json.loads(sidecar_path(rtx_engine).read_text())
    meta["trt_version"] = "1.0.0.21"
    sidecar_path(eng).write_text(json.dumps(meta))
    with pytest.raises(EdgesegError, match=r"built with tensorrt-rtx 1\.0\.0\.21.*rebuild"), TensorRTRunner(eng):
        pass
    with pytest.raises(EdgesegError, match="a tensorrt-rtx engine, asked to run as tensorrt"), \
            TensorRTRunner(rtx_engine, flavour="tensorrt"):
        pass


# ------------------------------------------------------------------------------ GPU: engine vs ONNX Runtime

@pytest.fixture(scope="module")
def calib(work: Path) -> Path:
    from edgeseg.calib import make_calib
    from edgeseg.data.synth import make_synthetic

    c = get_model_info(MODEL).reference_input[0]
    data = make_synthetic(work / "synth", n=4, size=SIZE, channels=c)
    return make_calib(data, n=4, out=work / "calib.json", size=(SIZE, SIZE), channels=c)


@pytest.mark.gpu
@pytest.mark.parametrize("flavour", ["tensorrt-rtx", "tensorrt"])
@pytest.mark.parametrize("precision,tol,agree", [("fp32", 1e-2, 0.995), ("fp16", 5e-2, 0.98), ("int8", 0.15, 0.95)])
def test_engine_matches_onnxruntime(work: Path, onnx_fp32: Path, calib: Path, flavour: str, precision: str,
                                    tol: float, agree: float) -> None:
    _require_gpu(flavour)
    from edgeseg.engine import build_engine_info
    from edgeseg.runtime.trt_runner import TensorRTRunner

    res = build_engine_info(onnx_fp32, precision=None if precision == "fp32" else precision, calib=str(calib),
                            backend=flavour, out=work / f"{flavour}-{precision}.engine")
    graph = Path(res.meta["onnx"]["path"])  # the FP16 / Q-DQ graph the engine was built from
    x = np.random.default_rng(0).random((1, get_model_info(MODEL).reference_input[0], SIZE, SIZE),
                                        dtype=np.float32)
    with TensorRTRunner(res.path) as r:
        got = r.infer({"input": x})["logits"]
        again = r.infer({"input": x})["logits"]
    _close(got, _ort(graph, x), tol, agree)
    np.testing.assert_array_equal(got, again)  # deterministic, buffers reused correctly


@pytest.mark.gpu
@pytest.mark.parametrize("flavour", ["tensorrt-rtx", "tensorrt"])
def test_dynamic_batch_cuda_graph_and_timing(work: Path, flavour: str) -> None:
    _require_gpu(flavour)
    from edgeseg.engine import build_engine
    from edgeseg.export import export_onnx
    from edgeseg.runtime.trt_runner import TensorRTRunner

    onnx = export_onnx(MODEL, size=(SIZE, SIZE), batch="dynamic", check=False)
    eng = build_engine(onnx, shapes=(1, 2, 4), backend=flavour, out=work / f"{flavour}-dyn.engine")
    c = get_model_info(MODEL).reference_input[0]
    rng = np.random.default_rng(1)
    cache = work / f"{flavour}.runtime-cache"
    for graph in (False, True):
        with TensorRTRunner(eng, cuda_graph=graph,
                            runtime_cache=cache if flavour == "tensorrt-rtx" else None) as r:
            assert r.input_metadata()["input"].shape == (None, c, SIZE, SIZE)
            for n in (1, 3, 4):
                x = rng.random((n, c, SIZE, SIZE), dtype=np.float32)
                _close(r.infer({"input": x})["logits"], _ort(onnx, x), 1e-2, 0.995)
            with pytest.raises(EdgesegError, match="exceeds the engine's profile"):
                r.infer({"input": np.zeros((5, c, SIZE, SIZE), np.float32)})
            r.set_input(rng.random((2, c, SIZE, SIZE), dtype=np.float32))
            r.infer_device_only()
            ms = r.time_compute(iters=20, warmup=3)
            assert len(ms) == 20 and all(0 < t < 1000 for t in ms)
    if flavour == "tensorrt-rtx":
        assert cache.is_file() and cache.stat().st_size > 0  # JIT kernels kept for the next run

