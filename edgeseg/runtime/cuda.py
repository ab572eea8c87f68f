"""CUDA shims for the TensorRT runner and GPU discovery: cuda-python (preferred) or pycuda (JetPack images).

Imported lazily by their users; nothing here imports CUDA at module level, so `import edgeseg.runtime.cuda`
works on a machine without a GPU (`gpu_info()` is then None). GPU discovery itself is edgeseg.runtime.gpu.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, MissingDependencyError

CUDA_HINT = 'pip install "edgeseg[cuda]" (cuda-python); JetPack images also ship pycuda'


def gpu_info(device: int = 0) -> dict[str, str] | None:
    """{"name", "cc"} of CUDA-visible GPU `device` (edgeseg.runtime.gpu, the one GPU description); None if none."""
    from edgeseg.runtime.gpu import first_gpu

    g = first_gpu(device)
    return g.short() if g is not None else None


class _CudaPython:
    """The handful of CUDA runtime calls we need, through cuda-python (errors -> EdgesegError)."""

    name = "cuda-python"

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # cuda-python < 12.6
        self.rt = cudart

    def _ok(self, res: Any, what: str) -> Any:
        err, *rest = res if isinstance(res, tuple) else (res,)
        if int(err) != 0:
            _, name = self.rt.cudaGetErrorName(err)
            raise EdgesegError(f"CUDA {what} failed: {name.decode() if isinstance(name, bytes) else name}")
        return rest[0] if len(rest) == 1 else rest

    def malloc(self, n: int) -> int:
        return int(self._ok(self.rt.cudaMalloc(max(n, 1)), "cudaMalloc"))

    def free(self, ptr: int) -> None:
        self._ok(self.rt.cudaFree(ptr), "cudaFree")

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, Any]:
        """Page-locked host array (async copies need pinned memory to overlap)."""
        n = max(int(np.prod(shape)) * dtype.itemsize, 1)
        ptr = int(self._ok(self.rt.cudaMallocHost(n), "cudaMallocHost"))
        buf = (ctypes.c_byte * n).from_address(ptr)
        return np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape))).reshape(shape), ptr

    def host_free(self, token: Any) -> None:
        self._ok(self.rt.cudaFreeHost(token), "cudaFreeHost")

    def stream(self) -> Any:
        return self._ok(self.rt.cudaStreamCreate(), "cudaStreamCreate")

    def stream_handle(self, s: Any) -> int:
        return int(s)

    def stream_destroy(self, s: Any) -> None:
        self._ok(self.rt.cudaStreamDestroy(s), "cudaStreamDestroy")

    def sync(self, s: Any) -> None:
        self._ok(self.rt.cudaStreamSynchronize(s), "cudaStreamSynchronize")

    def h2d(self, dst: int, src: np.ndarray, s: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._ok(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, s), "cudaMemcpyAsync H2D")

    def d2h(self, dst: np.ndarray, src: int, s: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._ok(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, s), "cudaMemcpyAsync D2H")

    def event(self) -> Any:
        return self._ok(self.rt.cudaEventCreate(), "cudaEventCreate")

    def record(self, e: Any, s: Any) -> None:
        self._ok(self.rt.cudaEventRecord(e, s), "cudaEventRecord")

    def elapsed_ms(self, start: Any, end: Any) -> float:
        self._ok(self.rt.cudaEventSynchronize(end), "cudaEventSynchronize")
        return float(self._ok(self.rt.cudaEventElapsedTime(start, end), "cudaEventElapsedTime"))

    def event_destroy(self, e: Any) -> None:
        self._ok(self.rt.cudaEventDestroy(e), "cudaEventDestroy")

    def begin_capture(self, s: Any) -> None:
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._ok(self.rt.cudaStreamBeginCapture(s, mode), "cudaStreamBeginCapture")

    def end_capture(self, s: Any) -> Any:
        graph = self._ok(self.rt.cudaStreamEndCapture(s), "cudaStreamEndCapture")
        return graph, self._ok(self.rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")

    def launch(self, graph_exec: Any, s: Any) -> None:
        self._ok(self.rt.cudaGraphLaunch(graph_exec, s), "cudaGraphLaunch")

    def graph_destroy(self, graph: Any, graph_exec: Any) -> None:
        self._ok(self.rt.cudaGraphExecDestroy(graph_exec), "cudaGraphExecDestroy")
        self._ok(self.rt.cudaGraphDestroy(graph), "cudaGraphDestroy")


class _PyCuda:
    """Fallback for JetPack images that ship pycuda but not cuda-python (no CUDA graph capture)."""

    name = "pycuda"

    def __init__(self) -> None:
        import pycuda.driver as drv

        drv.init()
        self.drv = drv
        # TensorRT uses the runtime API's primary context; share it.
        self.ctx = drv.Device(0).retain_primary_context()
        self.ctx.push()
        self._allocs: dict[int, Any] = {}

    def malloc(self, n: int) -> int:
        a = self.drv.mem_alloc(max(n, 1))
        self._allocs[int(a)] = a
        return int(a)

    def free(self, ptr: int) -> None:
        self._allocs.pop(ptr).free()

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, Any]:
        a = self.drv.pagelocked_empty(shape, dtype)
        return a, a

    def host_free(self, token: Any) -> None:
        # Free now, while our context is current: left to the garbage collector, the free would run after
        # close() popped the context (cuMemFreeHost then fails in a destructor, where nobody sees it).
        base = getattr(token, "base", None)
        if base is not None and hasattr(base, "free"):
            base.free()

    def stream(self) -> Any:
        return self.drv.Stream()

    def stream_handle(self, s: Any) -> int:
        return int(s.handle)

    def stream_destroy(self, s: Any) -> None:
        return None

    def sync(self, s: Any) -> None:
        s.synchronize()

    def h2d(self, dst: int, src: np.ndarray, s: Any) -> None:
        self.drv.memcpy_htod_async(dst, src, s)

    def d2h(self, dst: np.ndarray, src: int, s: Any) -> None:
        self.drv.memcpy_dtoh_async(dst, src, s)

    def event(self) -> Any:
        return self.drv.Event()

    def record(self, e: Any, s: Any) -> None:
        e.record(s)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(end.time_since(start))

    def event_destroy(self, e: Any) -> None:
        return None

    def begin_capture(self, *args: Any) -> None:
        raise EdgesegError(f"CUDA graph capture needs cuda-python ({CUDA_HINT}); run without --cuda-graph")

    def end_capture(self, *args: Any) -> Any:
        return self.begin_capture()

    def launch(self, *args: Any) -> None:
        self.begin_capture()

    def graph_destroy(self, *args: Any) -> None:
        return None

    def close(self) -> None:
        self.ctx.pop()


def open_cuda() -> _CudaPython | _PyCuda:
    """The CUDA runtime calls a TensorRT runner needs: cuda-python, else pycuda, else a one-line error."""
    try:
        return _CudaPython()
    except ImportError:
        pass
    try:
        return _PyCuda()
    except ImportError:
        raise MissingDependencyError(f"running TensorRT engines needs CUDA Python bindings: {CUDA_HINT}") from None
