"""Latency-aware INT8 for ONNX Runtime CPU: quantize a Conv only where INT8 is faster on this machine.

INT8 Q/DQ is not uniformly faster in ONNX Runtime CPU: depthwise and small-channel convs are memory-bound, and
QLinearConv plus the Quantize/Dequantize around it can cost more than the float Conv (the committed CPU matrix:
TinyU-Net and U-Lite 2-4x *slower* in INT8). So, per layer:

1. `conv_layers`: every Conv of the FP32 graph with its input shape (ONNX shape inference).
2. `layer_pair`: two one-layer graphs, the float Conv and its INT8 form in the "conv-io" layout
   (Q -> DQ -> Conv -> Q -> DQ, which ORT fuses to QuantizeLinear -> QLinearConv -> DequantizeLinear), with the
   same weights and attributes. The INT8 time includes one Quantize and one Dequantize: an upper bound for a
   layer inside an INT8 chain, the true cost for an isolated one.
3. `measure_layers`: both graphs timed interleaved in one process (edgeseg.bench.timing), same threads.
4. `float_nodes_by_speed`: the Convs whose INT8 p50 is not below `min_speedup` x faster stay float.
5. `quantize_mixed`: the conv-io INT8 graph (edgeseg.quantize, same calibration) with those Convs left in float,
   precision label "mixed-int8"; the sidecar records the per-layer timings that decided it.

The real measurement belongs to a quiet machine (benchmarks/run_optimize.py); tests check the logic on a tiny
graph. The TensorRT Q/DQ graph (`qdq="conv-inputs"`) is not touched: TensorRT decides per layer itself.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import code_identity, library_versions, sha256_file
from edgeseg.errors import EdgesegError
from edgeseg.export import load_onnx_checked
from edgeseg.names import INPUT_NAME, MIXED_INT8

DEFAULT_MIN_SPEEDUP = 1.0


def conv_layers(onnx_path: str | Path) -> list[dict[str, Any]]:
    """[{"name", "input_shape", "output_shape", "weight_shape", "group"}] for every Conv (graph order)."""
    import onnx

    m = onnx.shape_inference.infer_shapes(load_onnx_checked(onnx_path))
    g = m.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*g.input, *g.value_info, *g.output]}
    inits = {i.name: list(i.dims) for i in g.initializer}
    out = []
    for n in g.node:
        if n.op_type != "Conv":
            continue
        if not n.name:
            raise EdgesegError(f"{onnx_path}: a Conv has no node name; re-export it with edgeseg export")
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        out.append({"name": n.name, "input_shape": shapes.get(n.input[0]), "output_shape": shapes.get(n.output[0]),
                    "weight_shape": inits.get(n.input[1]), "group": int(group)})
    return out


def _single_conv_model(src, node_name: str, in_shape: Sequence[int]):
    """A graph with just `node_name` (its initializers copied), input "input", output "logits"."""
    import onnx
    from onnx import helper

    g = src.graph
    node = next(n for n in g.node if n.name == node_name)
    inits = {i.name: i for i in g.initializer}
    for c in g.node:  # weights the exporter left as Constant nodes (fixed filters)
        if c.op_type == "Constant" and c.output[0] in node.input[1:]:
            t = onnx.TensorProto()
            t.CopyFrom(next(a.t for a in c.attribute if a.name == "value"))
            t.name = c.output[0]
            inits[t.name] = t
    new = helper.make_node("Conv", [INPUT_NAME, *node.input[1:]], ["logits"], name=node.name)
    new.attribute.extend(node.attribute)
    graph = helper.make_graph([new], "layer", [helper.make_tensor_value_info(INPUT_NAME, 1, list(in_shape))],
                              [helper.make_tensor_value_info("logits", 1, None)],
                              [inits[t] for t in node.input[1:] if t in inits])
    model = helper.make_model(graph, opset_imports=list(src.opset_import))
    model.ir_version = src.ir_version
    return onnx.shape_inference.infer_shapes(model)


def layer_pair(onnx_path: str | Path, node_name: str, in_shape: Sequence[int], out_dir: str | Path
               ) -> tuple[Path, Path]:
    """(fp32.onnx, int8.onnx) one-layer graphs for `node_name` (conv-io layout; random calibration: timing only)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from edgeseg.quantize import QUANT_OPS, qdq_options

    out_dir = Path(out_dir)
    fp32, int8 = out_dir / "fp32.onnx", out_dir / "int8.onnx"
    onnx.save(_single_conv_model(load_onnx_checked(onnx_path), node_name, in_shape), str(fp32))
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = [rng.standard_normal(tuple(in_shape)).astype(np.float32) for _ in range(2)]

        def get_next(self):  # noqa: ANN201
            return {INPUT_NAME: self.left.pop()} if self.left else None

    opts = qdq_options("conv-io")
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's pre-processing advice, per layer
    # A lone Conv's output is the graph output: keep its Q/DQ (here it stands for the next layer's input).
    quantize_static(str(fp32), str(int8), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=QUANT_OPS,
                    per_channel=True, reduce_range=False, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, extra_options=opts)
    return fp32, int8


def measure_layers(onnx_path: str | Path, threads: int = 2, rounds: int = 5, iters: int = 20, warmup: int = 3,
                   nodes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per Conv: FP32 and INT8 (conv-io) p50 in ms, timed interleaved in this process, and the speed-up."""
    from edgeseg.bench.timing import time_interleaved
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    rows = []
    for layer in conv_layers(onnx_path):
        if nodes is not None and layer["name"] not in nodes:
            continue
        shape = layer["input_shape"]
        if not shape or any(not d for d in shape):
            raise EdgesegError(f"{onnx_path}: Conv {layer['name']} has no static input shape; export with a "
                               f"fixed --batch and size")
        with tempfile.TemporaryDirectory() as td:
            fp32, int8 = layer_pair(onnx_path, layer["name"], shape, td)
            with OnnxRuntimeRunner(fp32, threads=threads) as a, OnnxRuntimeRunner(int8, threads=threads) as b:
                t = time_interleaved({"fp32": a, "int8": b}, {"fp32": shape, "int8": shape}, rounds, iters, warmup)
        f, q = t["fp32"]["latency_ms"]["p50"], t["int8"]["latency_ms"]["p50"]
        rows.append({**layer, "fp32_p50_ms": f, "int8_p50_ms": q, "speedup": f / q if q > 0 else float("inf")})
    return rows


def float_nodes_by_speed(rows: Sequence[dict[str, Any]], min_speedup: float = DEFAULT_MIN_SPEEDUP) -> list[str]:
    """Convs to leave in float: INT8 not at least `min_speedup` x faster than FP32 on this machine."""
    if min_speedup <= 0:
        raise EdgesegError(f"--min-speedup must be > 0, got {min_speedup}")
    return [r["name"] for r in rows if not r["speedup"] > min_speedup]


def quantize_mixed(onnx_path: str | Path, calib: str | Path | dict[str, Any], rows: Sequence[dict[str, Any]],
                   out: str | Path | None = None, min_speedup: float = DEFAULT_MIN_SPEEDUP,
                   method: str = "minmax") -> Path | None:
    """The conv-io INT8 graph with the Convs `rows` found not faster in INT8 left in float.

    Returns None when no Conv is faster in INT8 (the mixed graph would be the FP32 graph: nothing to build).
    """
    from edgeseg.calib import load_calib, model_preprocess
    from edgeseg.graph import graph_input
    from edgeseg.quantize import _carry, _quantize_static, _step

    src = Path(onnx_path)
    model = load_onnx_checked(src)
    keep = float_nodes_by_speed(rows, min_speedup)
    convs = [r["name"] for r in rows]
    if len(keep) == len(convs):
        return None
    manifest = calib if isinstance(calib, dict) else load_calib(calib, verify=True)
    shape = graph_input(model.graph, src)[1]
    pre = model_preprocess(src, shape, manifest)  # the model's size/normalisation, as quantize_int8
    step = _step("int8", src, {"step": "mixed-int8", "source_sha256": sha256_file(src), "calib_sha256":
                               manifest["manifest_sha256"], "method": method, "float_nodes": sorted(keep),
                               "versions": library_versions(), "code": code_identity(),
                               "calib_preprocess": pre.to_dict()}, out, "-mixed")
    if step.reused is not None:
        return step.out
    with step.writing() as tmp:
        _quantize_static(src, tmp, manifest, shape[0] or 1, method, keep, None, "conv-io", pre)
        load_onnx_checked(tmp)
    step.finish("onnx-int8-qdq", {
        "precision": MIXED_INT8, "qdq_layout": "conv-io",
        "calib": {"manifest": manifest["manifest_path"], "sha256": manifest["manifest_sha256"]},
        "method": method, "float_nodes": keep, "int8_nodes": [c for c in convs if c not in keep],
        "decided_by": {"rule": f"INT8 only where fp32_p50 / int8_p50 > {min_speedup} (one-layer graphs, "
                               f"interleaved, this machine)", "layers": list(rows)},
        **_carry(src)}, source=src)
    return step.out
