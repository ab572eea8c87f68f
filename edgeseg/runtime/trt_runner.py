"""TensorRT / TensorRT-RTX engines behind the runner interface (needs an NVIDIA GPU and cuda-python or pycuda).

    with TensorRTRunner("unet.engine", cuda_graph=True) as r:
        out = r.infer({"input": x})            # end to end: H2D copy, execute, D2H copy
        r.set_input(x); ms = r.time_compute(100)   # GPU compute only, CUDA-event timed (bench)

`edgeseg.runtime.engine_loader` checks the engine file against its sidecar before TensorRT sees it (truncated
/ foreign -> EdgesegError), and the runtime against the sidecar (TensorRT flavour and version, GPU compute
capability vs the built targets); this runner only deserializes and runs what it passed.
I/O is bound by tensor name; buffers are allocated once for the largest profile shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeseg import trt_compat as tc
from edgeseg.errors import EdgesegError
from edgeseg.runtime.base import Runner, TensorMeta
from edgeseg.runtime.cuda import open_cuda
from edgeseg.runtime.engine_loader import load_engine


class TensorRTRunner(Runner):
    """Run a TensorRT or TensorRT-RTX engine (flavour from its sidecar). See module docstring."""

    def __init__(self, engine_path: str | Path, cuda_graph: bool = False, sidecar_check: bool = True,
                 runtime_cache: str | Path | None = None, flavour: str | None = None) -> None:
        super().__init__(str(engine_path))
        self.path = Path(engine_path)
        self.cuda_graph = cuda_graph
        self.sidecar_check = sidecar_check
        self.runtime_cache = Path(runtime_cache) if runtime_cache else None
        self.flavour = flavour
        self.meta: dict[str, Any] = {}
        self.backend = flavour or "tensorrt"
        self.runtime_cache_loaded: bool | None = None  # TensorRT-RTX: did the last activation reuse the cache?
        self._reset()

    def _reset(self) -> None:
        self.trt: Any = None
        self.engine: Any = None
        self.context: Any = None
        self.cuda: Any = None
        self.stream: Any = None
        self._rt_config: Any = None
        self._rt_cache: Any = None
        self._io: dict[str, dict[str, Any]] = {}   # name -> {mode, dtype, dev, host, host_token, shape}
        self._graph: Any = None
        self.gpu: dict[str, str] | None = None
        self._runtime: Any = None
        self._logger: Any = None

    # -- loading ------------------------------------------------------------------------------------------
    def activate_impl(self) -> None:
        checked = load_engine(self.path, self.sidecar_check, self.flavour)  # every refusal happens there
        self.meta, self.backend, self.gpu = checked.meta, checked.flavour, checked.gpu
        self.cuda = open_cuda()
        try:
            self._load(checked.trt, checked.flavour)
        except BaseException:
            self.deactivate_impl()
            raise

    def _load(self, trt: Any, flavour: str) -> None:
        self.trt = trt
        # TensorRT keeps a raw pointer to the logger: it must live as long as the runtime.
        self._logger = logger = tc.make_logger(trt)
        runtime = trt.Runtime(logger)
        data = self.path.read_bytes()
        if flavour == "tensorrt-rtx" and hasattr(runtime, "get_engine_validity"):
            validity, diag = runtime.get_engine_validity(data[:runtime.engine_header_size])
            if validity == trt.EngineValidity.INVALID:
                reasons = [n for n, v in trt.EngineInvalidityDiagnostics.__members__.items() if int(diag) & int(v)]
                raise EdgesegError(f"{self.path}: TensorRT-RTX says this engine cannot run here "
                                   f"({', '.join(reasons) or 'invalid'}); rebuild it with edgeseg build-engine")
        self._runtime = runtime
        self.engine = runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            errs = "; ".join(logger.errors)[:300]
            raise EdgesegError(f"{self.path}: {flavour} could not deserialize the engine ({errs}); rebuild it")
        if flavour == "tensorrt-rtx":
            cfg = self.engine.create_runtime_config()
            if self.cuda_graph:
                # TensorRT-RTX captures and replays CUDA graphs itself (dynamic shapes included); manual
                # stream capture would also need engines built with REQUIRE_USER_ALLOCATION.
                cfg.cuda_graph_strategy = trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE
            if self.runtime_cache is not None:
                self._rt_cache = self._open_runtime_cache(cfg)
            self._rt_config = cfg
            self.context = self.engine.create_execution_context(cfg)
        else:
            self.context = self.engine.create_execution_context()
        if self.context is None:
            raise EdgesegError(f"{self.path}: could not create an execution context (GPU memory?)")
        self.stream = self.cuda.stream()
        self._allocate()

    def _open_runtime_cache(self, cfg: Any) -> Any:
        """The RTX runtime cache (JIT kernels): read if the file exists; a stale/foreign one is reset, not fatal.

        The IRuntimeCache must outlive the config and every context made from it: the runner keeps it."""
        cache = cfg.create_runtime_cache()
        if cache is None:
            raise EdgesegError(f"{self.path}: TensorRT-RTX could not create a runtime cache; run without one")
        self.runtime_cache_loaded = False
        if self.runtime_cache.is_file():
            self.runtime_cache_loaded = bool(cache.deserialize(self.runtime_cache.read_bytes()))
            if not self.runtime_cache_loaded:
                cache.reset()  # another TensorRT-RTX/CUDA/GPU wrote it: start empty, overwrite on close
        if not cfg.set_runtime_cache(cache):
            raise EdgesegError(f"{self.path}: TensorRT-RTX refused the runtime cache {self.runtime_cache}")
        return cache

    def _allocate(self) -> None:
        """Device + pinned host buffers for every I/O tensor at the largest profile shape."""
        trt, eng, ctx = self.trt, self.engine, self.context
        names = [eng.get_tensor_name(i) for i in range(eng.num_io_tensors)]
        for name in names:
            mode = eng.get_tensor_mode(name)
            shape = tuple(eng.get_tensor_shape(name))
            if mode == trt.TensorIOMode.INPUT:
                if -1 in shape:
                    shape = tuple(eng.get_tensor_profile_shape(name, 0)[2])  # (min, opt, max) -> max
                ctx.set_input_shape(name, shape)
            self._io[name] = {"input": mode == trt.TensorIOMode.INPUT, "max_shape": shape,
                              "dtype": tc.io_dtype(eng.get_tensor_dtype(name), name, str(self.path))}
        for name, io in self._io.items():
            if not io["input"]:
                io["max_shape"] = tuple(ctx.get_tensor_shape(name))
            if -1 in io["max_shape"]:
                raise EdgesegError(f"{self.path}: output {name!r} has a data-dependent shape; not supported")
            n = int(np.prod(io["max_shape"])) * io["dtype"].itemsize
            io["dev"] = self.cuda.malloc(n)
            io["host_max"], io["host_token"] = self.cuda.host_empty(io["max_shape"], io["dtype"])
            io["shape"] = io["max_shape"]
            if not ctx.set_tensor_address(name, io["dev"]):
                raise EdgesegError(f"{self.path}: TensorRT refused the buffer for {name!r}")

    def deactivate_impl(self) -> None:
        cuda = self.cuda
        if cuda is not None:
            try:
                if self.stream is not None:
                    cuda.sync(self.stream)
                self._drop_graph()
                for io in self._io.values():
                    if "dev" in io:
                        cuda.free(io["dev"])
                    if "host_token" in io:
                        cuda.host_free(io["host_token"])
                if self.stream is not None:
                    cuda.stream_destroy(self.stream)
            finally:
                self._save_runtime_cache()
                # TensorRT objects before the CUDA context; the runtime cache after the contexts that use it
                self.context = self.engine = self._runtime = None
                self._rt_config = self._rt_cache = None
                if hasattr(cuda, "close"):
                    cuda.close()
        self._reset()

    def _save_runtime_cache(self) -> None:
        if self.runtime_cache is None or self._rt_config is None:
            return
        from edgeseg.artifacts import write_bytes_atomic

        cache = self._rt_config.get_runtime_cache()
        blob = cache.serialize() if cache is not None else None
        if blob is not None:
            write_bytes_atomic(self.runtime_cache, memoryview(blob).tobytes())

    # -- metadata -------------------------------------------------------------------------------------------
    def input_metadata(self) -> dict[str, TensorMeta]:
        out = {}
        for name, io in self._io.items():
            if io["input"]:
                shape = tuple(self.engine.get_tensor_shape(name))
                out[name] = TensorMeta(name, io["dtype"], tuple(None if d < 0 else int(d) for d in shape))
        return out

    def output_names(self) -> list[str]:
        return [n for n, io in self._io.items() if not io["input"]]

    # -- execution ------------------------------------------------------------------------------------------
    def set_input(self, feed: dict[str, np.ndarray] | np.ndarray) -> None:
        """Copy inputs to the device and set shapes (synchronously): then `infer_device_only` / `time_compute`."""
        if isinstance(feed, np.ndarray):
            feed = {n: feed for n, io in self._io.items() if io["input"]}
        self._stage(feed)
        self.cuda.sync(self.stream)

    def _stage(self, feed: dict[str, np.ndarray]) -> None:
        ctx = self.context
        shapes_changed = False
        for name, arr in feed.items():
            io = self._io[name]
            if any(a > m for a, m in zip(arr.shape, io["max_shape"], strict=True)):
                raise EdgesegError(f"{self.name}: input {name!r} shape {arr.shape} exceeds the engine's profile "
                                   f"maximum {io['max_shape']}; rebuild with a larger --shapes")
            if tuple(arr.shape) != io["shape"]:
                if not ctx.set_input_shape(name, arr.shape):
                    raise EdgesegError(f"{self.name}: engine rejects input shape {arr.shape} for {name!r}")
                io["shape"] = tuple(arr.shape)
                shapes_changed = True
            host = io["host_max"].reshape(-1)[:arr.size].reshape(arr.shape)
            np.copyto(host, arr, casting="no")
            self.cuda.h2d(io["dev"], host, self.stream)
        if shapes_changed:
            for name, io in self._io.items():
                if not io["input"]:
                    io["shape"] = tuple(ctx.get_tensor_shape(name))
            self._drop_graph()

    def _enqueue(self) -> None:
        if self.cuda_graph and self.backend != "tensorrt-rtx":
            if self._graph is None:
                self._capture()
            self.cuda.launch(self._graph[1], self.stream)
        elif not self.context.execute_async_v3(self.cuda.stream_handle(self.stream)):
            raise EdgesegError(f"{self.name}: TensorRT execute_async_v3 failed")

    def _capture(self) -> None:
        """Record one enqueue into a CUDA graph (valid for the current shapes; recaptured when they change)."""
        handle = self.cuda.stream_handle(self.stream)
        capturable = getattr(self.context, "is_stream_capturable", None)  # TensorRT >= 10.x / RTX; int handle
        if capturable is not None and not capturable(handle):
            raise EdgesegError(f"{self.name}: TensorRT says this engine cannot be captured on this stream into a "
                               f"CUDA graph; run without --cuda-graph")
        # One plain run first: TensorRT does shape-dependent setup outside capturable work.
        if not self.context.execute_async_v3(handle):
            raise EdgesegError(f"{self.name}: TensorRT execute_async_v3 failed")
        self.cuda.sync(self.stream)
        self.cuda.begin_capture(self.stream)
        try:
            ok = self.context.execute_async_v3(handle)
        finally:
            graph = self.cuda.end_capture(self.stream)
        if not ok:
            self.cuda.graph_destroy(*graph)
            raise EdgesegError(f"{self.name}: this engine cannot be captured into a CUDA graph; run without it")
        self._graph = graph

    def _drop_graph(self) -> None:
        if self._graph is not None:
            self.cuda.graph_destroy(*self._graph)
            self._graph = None

    def infer_device_only(self) -> None:
        """Run on the inputs already on the device (set_input); waits for completion; no copies."""
        self._enqueue()
        self.cuda.sync(self.stream)

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._stage(feed)
        self._enqueue()
        outs = {}
        for name in self.output_names():
            io = self._io[name]
            host = io["host_max"].reshape(-1)[:int(np.prod(io["shape"]))].reshape(io["shape"])
            self.cuda.d2h(host, io["dev"], self.stream)
            outs[name] = host
        self.cuda.sync(self.stream)
        return {k: v.copy() for k, v in outs.items()}

    def max_batch(self, name: str) -> int | None:
        """The optimisation profile's maximum batch of input `name` (None before activation)."""
        shape = self._io.get(name, {}).get("max_shape")
        return int(shape[0]) if shape else None

    def time_compute(self, iters: int = 100, warmup: int = 10, x: np.ndarray | None = None) -> list[float]:
        """Per-iteration GPU time (ms) of the engine alone, measured with CUDA events on the stream
        (on `x` when given, else on the inputs already staged)."""
        if not self.is_active:
            raise RuntimeError(f"{self.name}: runner is not active; use it inside `with`")
        if x is not None:
            self.set_input(x)
        for _ in range(warmup):
            self._enqueue()
        self.cuda.sync(self.stream)
        start, end = self.cuda.event(), self.cuda.event()
        times = []
        try:
            for _ in range(iters):
                self.cuda.record(start, self.stream)
                self._enqueue()
                self.cuda.record(end, self.stream)
                times.append(self.cuda.elapsed_ms(start, end))
        finally:
            self.cuda.event_destroy(start)
            self.cuda.event_destroy(end)
        return times
