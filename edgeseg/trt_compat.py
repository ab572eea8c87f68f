"""What differs between the `tensorrt` (TensorRT 10/11, JetPack) and `tensorrt_rtx_bindings` (TensorRT-RTX) modules.

Both expose the same Builder / OnnxParser / Runtime / ICudaEngine API; the differences we handle:

* Precision: we always build STRONGLY TYPED networks (precision comes from the ONNX graph: FP16 tensors,
  INT8 Q/DQ). TensorRT 11 removed the FP16/INT8 builder flags and calibrators; TensorRT 10 has the
  STRONGLY_TYPED creation flag too (EXPLICIT_BATCH is implicit since 10); TensorRT-RTX has only STRONGLY_TYPED.
* Targets: TensorRT engines run on the GPU model they were built on (we record its compute capability);
  TensorRT-RTX builds ahead-of-time on the CPU for a list of compute capabilities
  (`IBuilderConfig.set_compute_capability`; none set = its default: 8.0, 8.6, 8.9, 12.x, per the
  TensorRT-RTX "CPU-only AOT" docs) and JIT-compiles kernels at run time.
* Caches: TensorRT has a build-time timing cache (ITimingCache). In TensorRT-RTX ITimingCache is a deprecated
  no-op that also forces a GPU query during the AOT build; its counterpart is the *runtime* cache
  (IRuntimeConfig.set_runtime_cache) that keeps the JIT-compiled kernels between runs.
* TensorRT 10 (JetPack 6: 10.3) vs 11: the name-based I/O API (num_io_tensors, get_tensor_name/mode/shape,
  set_input_shape, set_tensor_address, execute_async_v3) is the same in both; 11 removed the weak-typing builder
  flags, calibrators and the V1 memory-size getters, and accepts STRONGLY_TYPED as a no-op (every network is
  strongly typed). So the one switch is `network_flags`: the flag is required on 10 and harmless on 11; < 10
  is refused. TensorRT 11 does not support JetPack, so a Jetson stays on 10.x.
* I/O dtypes: `trt.nptype` raises TypeError for BF16, FP8, INT4, FP4 and E8M0 (numpy has no such types; checked
  against the bindings): `io_dtype` refuses those I/O tensors in one line instead of crashing.
* Engine header: TensorRT-RTX 1.x plans start with b"vtrt"; observed layout (1.7): magic, u32, u64,
  u64 total plan size in bytes. Used to refuse foreign/truncated files before deserializing.
"""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.names import FLAVOURS

MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx_bindings"}

INSTALL_HINT = {
    "tensorrt": "on a Jetson use JetPack's TensorRT (JetPack 6: TensorRT 10.3, `apt install nvidia-jetpack`, "
                "then use the system python3); on a desktop/server GPU `pip install tensorrt`",
    "tensorrt-rtx": 'pip install "edgeseg[trt-rtx]" (TensorRT-RTX: builds on any x86-64 CPU, runs on '
                    "RTX/Ampere/Ada/Blackwell GPUs)",
}

# TensorRT-RTX engines: what an engine built without --compute-capability runs on (docs: "8.0, 8.6, 8.9,
# 12.0, and later"); 7.5 (Turing) only when named explicitly. Hopper 9.0 (H100/H200) is not a target.
RTX_DEFAULT_TARGETS = ["8.0", "8.6", "8.9", "12.0", "12.1"]
RTX_SUPPORTED_HINT = "compute capability 8.0, 8.6, 8.9 or 12.x (Ampere/Ada/Blackwell; not Hopper 9.0 H100/H200)"
RTX_MAGIC = b"vtrt"
RTX_HEADER = struct.Struct("<4sIQQ")  # magic, ?, ?, total plan size (observed in TensorRT-RTX 1.7)


def import_trt(flavour: str) -> ModuleType:
    """Import the module for a flavour, or say how to get it."""
    import importlib

    if flavour not in MODULES:
        raise ValueError(f"unknown TensorRT flavour {flavour!r}; one of {FLAVOURS}")
    try:
        return importlib.import_module(MODULES[flavour])
    except ImportError as e:
        raise MissingDependencyError(
            f"{flavour}: the Python module {MODULES[flavour]!r} is not installed ({e}); {INSTALL_HINT[flavour]}"
        ) from None


def resolve_flavour(backend: str = "auto") -> str:
    """`auto`: the full TensorRT when present (Jetson/JetPack, datacenter GPUs), else TensorRT-RTX."""
    if backend in FLAVOURS:
        return backend
    if backend != "auto":
        raise MissingDependencyError(f"--backend must be auto, tensorrt or tensorrt-rtx; got {backend!r}")
    import importlib.util

    for flavour in FLAVOURS:
        if importlib.util.find_spec(MODULES[flavour]) is not None:
            return flavour
    raise MissingDependencyError(
        f"no TensorRT installed: {INSTALL_HINT['tensorrt']}; or {INSTALL_HINT['tensorrt-rtx']}")


def trt_version(trt: ModuleType) -> str:
    return str(getattr(trt, "__version__", "unknown"))


def major_version(trt: ModuleType) -> int:
    try:
        return int(trt_version(trt).split(".")[0])
    except ValueError:
        return 0


def network_flags(trt: ModuleType, flavour: str) -> int:
    """STRONGLY_TYPED: precision is what the ONNX graph says (FP16 tensors, INT8 Q/DQ), on every flavour."""
    if flavour == "tensorrt" and major_version(trt) < 10:
        raise MissingDependencyError(
            f"TensorRT {trt_version(trt)} is too old: edgeseg builds strongly typed networks, which need "
            f"TensorRT >= 10 (JetPack 6); upgrade JetPack/TensorRT")
    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


# TensorRT DataType name -> (numpy dtype name or None where numpy cannot hold it, bits per element).
DTYPE_BITS = {"FLOAT": ("float32", 32), "HALF": ("float16", 16), "BF16": (None, 16), "INT8": ("int8", 8),
              "INT32": ("int32", 32), "INT64": ("int64", 64), "BOOL": ("bool", 8), "UINT8": ("uint8", 8),
              "FP8": (None, 8), "INT4": (None, 4), "FP4": (None, 4), "E8M0": (None, 8)}


def dtype_name(dt: Any) -> str:
    """trt.DataType.HALF -> "HALF" (also for the plain ints some bindings hand back)."""
    return getattr(dt, "name", None) or str(dt).split(".")[-1]


def io_dtype(dt: Any, tensor: str, where: str = "engine") -> Any:
    """The numpy dtype for an I/O tensor of TensorRT type `dt`; a one-line EdgesegError where numpy has none."""
    import numpy as np

    name = dtype_name(dt)
    np_name, _ = DTYPE_BITS.get(name, (None, 0))
    if np_name is None:
        raise EdgesegError(f"{where}: I/O tensor {tensor!r} is {name}, which numpy cannot hold; export the model "
                           f"with float32 (or float16/int8) inputs and outputs and rebuild the engine")
    return np.dtype(np_name)


def make_logger(trt: ModuleType, echo_min: Any = None) -> Any:
    """An ILogger that records every message; the sidecar keeps the warnings/errors (why a build did X)."""

    class CaptureLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.records: list[tuple[str, str]] = []

        def log(self, severity: Any, msg: str) -> None:
            self.records.append((str(severity).split(".")[-1], msg))

        def of(self, *levels: str) -> list[str]:
            return [m for s, m in self.records if s in levels]

        @property
        def warnings(self) -> list[str]:
            return self.of("WARNING")

        @property
        def errors(self) -> list[str]:
            return self.of("ERROR", "INTERNAL_ERROR")

    return CaptureLogger()


def parse_cc(text: str) -> str:
    """'8.6' / '86' / 'sm_86' / 'SM86' -> '8.6'."""
    t = text.strip().lower().removeprefix("sm_").removeprefix("sm")
    if "." in t:
        major, minor = t.split(".", 1)
    elif t.isdigit() and len(t) >= 2:
        major, minor = t[:-1], t[-1]
    else:
        raise ValueError(text)
    if not (major.isdigit() and minor.isdigit()):
        raise ValueError(text)
    return f"{int(major)}.{int(minor)}"


def rtx_cc_enum(trt: ModuleType, cc: str) -> Any:
    """'8.6' -> trt.ComputeCapability.SM86, or None if this TensorRT-RTX cannot target it."""
    return getattr(trt.ComputeCapability, "SM" + cc.replace(".", ""), None)


def rtx_known_targets(trt: ModuleType) -> list[str]:
    names = [n for n in trt.ComputeCapability.__members__ if n.startswith("SM")]
    return [f"{n[2:-1]}.{n[-1]}" for n in names]


def cc_runs(cc: str, targets: list[str], default_targets: bool) -> bool:
    """Can an engine built for `targets` run on compute capability `cc`?"""
    if cc in targets:
        return True
    # "12.0 and later" for engines built with the default target list.
    return default_targets and int(cc.split(".")[0]) >= 12


def read_rtx_header(head: bytes) -> tuple[bytes, int] | None:
    """(magic, recorded plan size) from the first bytes of a TensorRT-RTX engine, or None if too short."""
    if len(head) < RTX_HEADER.size:
        return None
    magic, _, _, size = RTX_HEADER.unpack_from(head)
    return magic, size
