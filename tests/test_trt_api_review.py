"""The API review of issue 25, checked against the installed TensorRT-RTX bindings (signatures, enum names,
dtype maps, version switches) without a GPU. Points only a GPU can check are listed in GPU_ONLY and run by
`edgeseg doctor --gpu` (README, "The first GPU run")."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pytest

from edgeseg import trt_compat as tc
from edgeseg.errors import EdgesegError, MissingDependencyError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx_bindings") is None,
                                reason="tensorrt_rtx_bindings not installed: pip install 'edgeseg[trt-rtx]'")

GPU_ONLY = {
    "capture mode": "cudaStreamBeginCapture(ThreadLocal) after one warm-up execute_async_v3: doctor tensorrt stage",
    "cuda-python (err, value)": "cuda-python is not installed here; the doctor's engine stages call every shim",
    "pinned memory": "cudaMallocHost / pycuda pagelocked lifetimes: the doctor loads each engine twice",
    "NVML energy (mJ)": "nvmlDeviceGetTotalEnergyConsumption needs a driver: the doctor's energy_mj_per_image",
    "engine for another GPU": "engine_loader.check_runtime compares the live GPU: needs one",
}


@pytest.fixture(scope="module")
def trt() -> types.ModuleType:
    return tc.import_trt("tensorrt-rtx")


def _doc(fn: object) -> str:
    return (getattr(fn, "__doc__", None) or "").strip()


def test_tensor_io_enumeration_and_modes(trt: types.ModuleType) -> None:
    """Name-based I/O (TensorRT >= 10, TensorRT-RTX): index -> name, name -> mode; no binding API left."""
    eng = trt.ICudaEngine
    assert isinstance(eng.num_io_tensors, property)
    assert "index: typing.SupportsInt) -> str" in _doc(eng.get_tensor_name)
    assert "name: str) -> tensorrt_rtx_bindings.tensorrt_rtx.TensorIOMode" in _doc(eng.get_tensor_mode)
    assert {"INPUT", "OUTPUT"} <= set(trt.TensorIOMode.__members__)
    assert not hasattr(eng, "get_binding_shape") and not hasattr(trt.IExecutionContext, "execute_async_v2")
    assert "-> list[" in _doc(eng.get_tensor_profile_shape)  # [min, opt, max]: the runner takes [2]


def test_shapes_then_addresses_then_execute(trt: types.ModuleType) -> None:
    ctx = trt.IExecutionContext
    assert all(f"shape: {t})" in _doc(ctx.set_input_shape) for t in ("tuple", "list"))
    assert "name: str, memory: typing.SupportsInt) -> bool" in _doc(ctx.set_tensor_address)
    # the stream is a plain integer handle (cudaStream_t as int, pycuda Stream.handle)
    assert "stream_handle: typing.SupportsInt) -> bool" in _doc(ctx.execute_async_v3)
    assert "stream: typing.SupportsInt) -> bool" in _doc(ctx.is_stream_capturable)
    src = Path(tc.__file__).with_name("runtime").joinpath("trt_runner.py").read_text()
    alloc = src[src.index("def _allocate"):src.index("def deactivate_impl")]
    order = [alloc.index(k) for k in ("set_input_shape", "ctx.get_tensor_shape(name)", "set_tensor_address")]
    assert order == sorted(order)  # output shapes are known only once every input shape is set


def test_cuda_graphs_in_tensorrt_rtx_are_a_runtime_config(trt: types.ModuleType) -> None:
    assert "WHOLE_GRAPH_CAPTURE" in trt.CudaGraphStrategy.__members__
    assert hasattr(trt.IRuntimeConfig, "cuda_graph_strategy")
    assert "runtime_config" in _doc(trt.ICudaEngine.create_execution_context)


def test_dtype_map_covers_every_tensorrt_type(trt: types.ModuleType) -> None:
    """trt.nptype raises TypeError for BF16/FP8/INT4/FP4/E8M0; io_dtype refuses those in one line."""
    import numpy as np

    assert set(trt.DataType.__members__) <= set(tc.DTYPE_BITS)
    for name, dt in trt.DataType.__members__.items():
        try:
            want = np.dtype(trt.nptype(dt))
        except TypeError:
            want = None
        if want is None:
            with pytest.raises(EdgesegError, match=f"is {name}, which numpy cannot hold") as e:
                tc.io_dtype(dt, "logits")
            assert "\n" not in str(e.value)
            assert name in ("BF16", "FP8", "INT4", "FP4", "E8M0")
        else:
            assert tc.io_dtype(dt, "logits") == want
            assert tc.DTYPE_BITS[name][1] == want.itemsize * 8


def test_runtime_cache_api(trt: types.ModuleType) -> None:
    cfg, cache = trt.IRuntimeConfig, trt.IRuntimeCache
    assert {"create_runtime_cache", "set_runtime_cache", "get_runtime_cache"} <= set(dir(cfg))
    assert "-> bool" in _doc(cfg.set_runtime_cache) and "blob: typing_extensions.Buffer) -> bool" in _doc(
        cache.deserialize)
    assert {"serialize", "reset"} <= set(dir(cache))
    src = Path(tc.__file__).with_name("runtime").joinpath("trt_runner.py").read_text()
    assert "self._rt_cache = self._open_runtime_cache(cfg)" in src  # kept alive as long as the context


def test_engine_validity_api(trt: types.ModuleType) -> None:
    assert {"VALID", "SUBOPTIMAL", "INVALID"} <= set(trt.EngineValidity.__members__)
    assert {"VERSION_MISMATCH", "UNSUPPORTED_CC"} <= set(trt.EngineInvalidityDiagnostics.__members__)
    assert "buffer: typing_extensions.Buffer) -> tuple" in _doc(trt.Runtime.get_engine_validity)
    assert {"SM80", "SM86", "SM89", "SM120"} <= set(trt.ComputeCapability.__members__)
    assert "SM90" not in trt.ComputeCapability.__members__  # Hopper is no TensorRT-RTX target
    assert set(tc.RTX_DEFAULT_TARGETS) <= set(tc.rtx_known_targets(trt))


def test_engine_validity_on_a_real_plan(trt: types.ModuleType, tmp_path: Path) -> None:
    """get_engine_validity reads the plan header and answers (validity, diagnostics) without deserializing."""
    from edgeseg.engine import build_engine
    from edgeseg.export import export_onnx

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
        onnx = export_onnx("tinyunet", size=(32, 32), check=False)
        eng = build_engine(onnx, backend="tensorrt-rtx", out=tmp_path / "t.engine", compute_capabilities=["8.6"])
    runtime = trt.Runtime(tc.make_logger(trt))
    data = eng.read_bytes()
    validity, diag = runtime.get_engine_validity(data[:runtime.engine_header_size])
    assert validity in tuple(trt.EngineValidity.__members__.values()) and isinstance(int(diag), int)
    assert tc.read_rtx_header(data[:64]) == (tc.RTX_MAGIC, len(data))


def test_trt10_vs_trt11_switch(trt: types.ModuleType) -> None:
    """STRONGLY_TYPED is the one switch: required on TensorRT 10 (JetPack 6), a no-op on 11; < 10 refused."""
    flag = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    assert tc.network_flags(trt, "tensorrt-rtx") == flag
    enum = trt.NetworkDefinitionCreationFlag
    for version in ("10.3.0.30", "11.1.0"):  # a module stand-in carrying only the version and the enum
        assert tc.network_flags(types.SimpleNamespace(__version__=version, NetworkDefinitionCreationFlag=enum),
                                "tensorrt") == flag
    old = types.SimpleNamespace(__version__="8.6.2", NetworkDefinitionCreationFlag=enum)
    with pytest.raises(MissingDependencyError, match="TensorRT >= 10"):
        tc.network_flags(old, "tensorrt")


def test_nvml_absence_is_reported_not_raised() -> None:
    from edgeseg.power import open_power_meter
    from edgeseg.power.nvml import nvml_available

    ok, why = nvml_available()
    if ok:
        pytest.skip("NVML answers here: its absence cannot be exercised")
    assert why
    meter, note = open_power_meter("auto", device="cuda")
    assert meter is None and "energy not measured" in note

