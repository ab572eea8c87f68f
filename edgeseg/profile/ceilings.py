"""This machine's roofline ceilings, measured in the same run as the profile, through ONNX Runtime itself.

* Compute: a dense square GEMM in ORT at the profile's thread count, FP32 (`MatMul`) and INT8 (`MatMulInteger`,
  uint8 x int8 -> int32: the MLAS kernels QLinearConv uses, VNNI where the CPU has it). Best of `reps` runs.
* Bandwidth: STREAM "Add" (c = a + b, 3 streams) in ORT at the same threads and in numpy, and STREAM "Copy"
  (numpy; numpy runs one thread), on arrays far larger than the caches (64 MiB each by default). The highest
  of them is the roof.
  Bytes counted as STREAM does (no write-allocate traffic), so the true bus rate is at least this.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _session(model: Any, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _best_s(fn: Any, reps: int) -> float:
    fn()  # warm-up: first-touch pages, thread pool
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _graph(op: str, a_type: int, b_type: int, out_type: int, a: tuple[int, ...], b: tuple[int, ...],
           out: tuple[int, ...]) -> Any:
    from onnx import helper

    g = helper.make_graph([helper.make_node(op, ["a", "b"], ["c"])], op,
                          [helper.make_tensor_value_info("a", a_type, list(a)),
                           helper.make_tensor_value_info("b", b_type, list(b))],
                          [helper.make_tensor_value_info("c", out_type, list(out))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def gemm_gflops(threads: int, n: int = 1024, int8: bool = False, reps: int = 5) -> float:
    """Dense n x n x n GEMM rate in ORT (GFLOP/s, or GOP/s for INT8; a multiply-add is 2)."""
    from onnx import TensorProto as T

    if int8:
        m = _graph("MatMulInteger", T.UINT8, T.INT8, T.INT32, (n, n), (n, n), (n, n))
        rng = np.random.default_rng(0)
        feed = {"a": rng.integers(0, 255, (n, n), dtype=np.uint8), "b": rng.integers(-127, 127, (n, n),
                                                                                      dtype=np.int8)}
    else:
        m = _graph("MatMul", T.FLOAT, T.FLOAT, T.FLOAT, (n, n), (n, n), (n, n))
        feed = {"a": np.random.default_rng(0).random((n, n), dtype=np.float32),
                "b": np.random.default_rng(1).random((n, n), dtype=np.float32)}
    s = _session(m, threads)
    return 2.0 * n ** 3 / _best_s(lambda: s.run(None, feed), reps) / 1e9


def stream_gbs(threads: int, mib: int = 64, reps: int = 5) -> dict[str, float]:
    """{"add_ort": GB/s of c = a + b in ORT at `threads`, "add_numpy" / "copy_numpy": one thread, into a
    preallocated output (no page faults)}."""
    from onnx import TensorProto as T

    n = mib * 2 ** 20 // 4
    a = np.random.default_rng(0).random(n, dtype=np.float32)
    b = np.random.default_rng(1).random(n, dtype=np.float32)
    s = _session(_graph("Add", T.FLOAT, T.FLOAT, T.FLOAT, (n,), (n,), (n,)), threads)
    add = 3 * a.nbytes / _best_s(lambda: s.run(None, {"a": a, "b": b}), reps) / 1e9
    dst = np.empty_like(a)
    copy = 2 * a.nbytes / _best_s(lambda: np.copyto(dst, a), reps) / 1e9
    add_np = 3 * a.nbytes / _best_s(lambda: np.add(a, b, out=dst), reps) / 1e9
    return {"add_ort": add, "add_numpy": add_np, "copy_numpy": copy}


def measure_ceilings(threads: int, gemm_n: int = 1024, stream_mib: int = 64, reps: int = 10) -> dict[str, Any]:
    """-> {"gemm_fp32_gflops", "gemm_int8_gops", "stream_gbs": {...}, "bandwidth_gbs", "threads", "cpu"}."""
    from edgeseg.bench.machine import cpu_info

    sgb = stream_gbs(threads, stream_mib, reps)
    return {"threads": threads, "gemm_n": gemm_n, "stream_mib": stream_mib,
            "gemm_fp32_gflops": gemm_gflops(threads, gemm_n, False, reps),
            "gemm_int8_gops": gemm_gflops(threads, gemm_n, True, reps),
            "stream_gbs": sgb, "bandwidth_gbs": max(sgb.values()), "cpu": cpu_info()}
