"""edgeseg.profile: FLOPs and bytes from a graph's shapes (hand-counted), the roofline arithmetic on given
ceilings, the device table's sources, and a real ONNX Runtime profile of a two-layer graph mapped back to it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.profile.costs import graph_costs
from edgeseg.profile.devices import DEVICES, Device, Figure, device_bounds, device_bounds_context
from edgeseg.profile.roofline import Ceilings, bound_kind, fused_ideal_s, network_bound_s, op_bound_s, ridge_intensity


def _two_layer(dtype: int = TensorProto.FLOAT):
    """x (1,2,4,4) -> Conv 3x3 pad 1, 3 filters, bias -> y (1,3,4,4) -> Conv 1x1, 4 filters, no bias -> z (1,4,4,4)."""
    np_t = np.float32 if dtype == TensorProto.FLOAT else np.float16
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np_t), "w1"),
             numpy_helper.from_array(rng.standard_normal(3).astype(np_t), "b1"),
             numpy_helper.from_array(rng.standard_normal((4, 3, 1, 1)).astype(np_t), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["y"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["y", "w2"], ["z"], name="conv2")]
    g = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("x", dtype, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("z", dtype, [1, 4, 4, 4])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


@pytest.mark.parametrize(("dtype", "size"), [(TensorProto.FLOAT, 4), (TensorProto.FLOAT16, 2)])
def test_two_layer_flops_and_bytes_by_hand(dtype: int, size: int) -> None:
    cost = graph_costs(_two_layer(dtype))
    c1, c2 = cost.ops
    # conv1: 48 outputs x 18 MACs x 2 + 48 bias adds; conv2: 64 outputs x 3 MACs x 2
    assert (c1.flops, c2.flops) == (2 * 48 * 18 + 48, 2 * 64 * 3)
    assert (c1.bytes_in, c1.bytes_weights, c1.bytes_out) == (32 * size, (54 + 3) * size, 48 * size)
    assert (c2.bytes_in, c2.bytes_weights, c2.bytes_out) == (48 * size, 12 * size, 64 * size)
    assert (cost.input_bytes, cost.output_bytes, cost.weight_bytes) == (32 * size, 64 * size, 69 * size)
    assert cost.flops == 2160 and {c1.compute, c2.compute} == {"float"}


def test_qdq_conv_reads_and_writes_int8() -> None:
    """DQ -> Conv -> Q is priced as the fused INT8 conv a runtime runs: 1-byte activations and weights."""
    w = numpy_helper.from_array(np.ones((3, 2, 3, 3), np.int8), "w_q")
    inits = [w, numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.int8), "zp"),
             numpy_helper.from_array(np.zeros(3, np.float32), "b")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="qx"),
             helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dqx"),
             helper.make_node("DequantizeLinear", ["w_q", "s", "zp"], ["wd"], name="dqw"),
             helper.make_node("Conv", ["xd", "wd", "b"], ["y"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["y", "s", "zp"], ["yq"], name="qy"),
             helper.make_node("DequantizeLinear", ["yq", "s", "zp"], ["out"], name="dqy")]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 4, 4])], inits)
    cost = graph_costs(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    conv = next(o for o in cost.ops if o.name == "conv")
    assert conv.compute == "int8"
    assert (conv.bytes_in, conv.bytes_weights, conv.bytes_out) == (32, 54 + 12, 48)
    assert [o.name for o in cost.ops] == ["qx", "conv"]  # the weight DQ folds, qy fuses, dqx/dqy are free


def test_roofline_arithmetic_on_given_ceilings() -> None:
    c = Ceilings({"float": 100.0, "int8": 400.0}, 10.0)  # GFLOP/s, GOP/s, GB/s
    assert op_bound_s(1e9, 1e8, "float", c) == pytest.approx(10e-3)  # both terms 10 ms
    assert op_bound_s(1e9, 1e6, "int8", c) == pytest.approx(2.5e-3)  # compute-bound at the INT8 peak
    assert op_bound_s(0.0, 1e9, "float", c) == pytest.approx(0.1)  # memory-bound
    assert bound_kind(1e9, 1e6, "float", c) == "compute" and bound_kind(1e6, 1e9, "float", c) == "memory"
    ops = [(1e9, 1e8, "float"), (1e9, 1e6, "int8"), (0.0, 1e9, "float")]
    assert network_bound_s(ops, c) == pytest.approx(0.1125)
    assert fused_ideal_s(ops, 1e7, c) == pytest.approx(12.5e-3)  # compute 10 + 2.5 ms > 1 ms of traffic
    assert fused_ideal_s(ops, 1e9, c) == pytest.approx(0.1)
    assert ridge_intensity(c) == 10.0 and ridge_intensity(c, "int8") == 40.0
    with pytest.raises(EdgesegError, match="positive"):
        Ceilings({"float": 0.0}, 10.0)


def test_device_entry_without_source_is_refused() -> None:
    with pytest.raises(EdgesegError, match="no source URL"):
        Figure(68.0, "GB/s", "")
    with pytest.raises(EdgesegError, match="no source URL"):
        Figure(68.0, "GB/s", "NVIDIA spec sheet")
    assert {"Jetson Orin Nano 8GB (15 W)", "Jetson Orin NX 16GB", "Jetson AGX Orin 64GB", "Raspberry Pi 5 (CPU)"} \
        <= {d.name for d in DEVICES}
    assert all(f.source.startswith("http") for d in DEVICES for f in (d.fp16, d.int8, d.bandwidth))


def test_device_bounds_by_hand(tmp_path) -> None:
    src = "https://example.org/spec"
    dev = Device("toy", "GPU", Figure(1.0, "TFLOP/s", src), Figure(4.0, "TOP/s", src), Figure(100.0, "GB/s", src))
    ops = [{"flops": 4e9, "elems": 1e6, "op_type": "Conv"}, {"flops": 1e6, "elems": 1e8, "op_type": "Relu"}]
    rows = {r["precision"]: r for r in device_bounds(ops, 1e6, (dev,))}
    # FP16: conv 4 ms compute vs 0.02 ms; relu 2 ms of traffic -> 6 ms. INT8: conv 1 ms, relu 1 ms -> 2 ms
    assert rows["fp16"]["per_op_bound_ms"] == pytest.approx(6.0)
    assert rows["int8"]["per_op_bound_ms"] == pytest.approx(2.0)
    assert rows["int8"]["fused_ideal_ms"] == pytest.approx(1.0 + 0.001)  # conv at 4 TOP/s + relu at 1 TFLOP/s
    doc = {"networks": {"sdunet": {"size": "1x1x256x256", "bounds": [{"device": "toy", **r} for r in rows.values()]}}}
    (tmp_path / "b.json").write_text(json.dumps(doc))
    line = device_bounds_context("sdunet", tmp_path / "b.json")
    assert line.startswith("Bound, not a measurement") and "toy >= 6.00 ms FP16 / 2.00 ms INT8" in line
    assert device_bounds_context("unet", tmp_path / "b.json") is None


def test_profile_two_layer_graph_in_onnxruntime(tmp_path, capsys) -> None:
    """The real ORT profiler: both convs found and mapped back, the network bound equals the hand sum."""
    pytest.importorskip("onnxruntime")
    from edgeseg.profile.profiler import profile_artifact

    path = tmp_path / "two.onnx"
    path.write_bytes(_two_layer().SerializeToString())
    ceil = {"gemm_fp32_gflops": 100.0, "gemm_int8_gops": 400.0, "bandwidth_gbs": 10.0}
    doc = profile_artifact(path, threads=1, iters=2, warmup=1, ceilings=ceil)
    covered = sum(sum(r["covers"].values()) for r in doc["rows"])
    assert covered == 2 and not doc["unmapped_exported_nodes"]
    # bound: conv1 max(1776 / 1e11, 548 / 1e10) + conv2 max(384 / 1e11, 496 / 1e10) seconds
    assert doc["network"]["per_op_bound_ms"] == pytest.approx((548 + 496) / 1e10 * 1e3)
    assert doc["network"]["flops"] == 2160 and doc["network"]["latency_ms"] > 0
    assert main(["profile", str(tmp_path / "missing.onnx")]) == 2
    assert "missing.onnx: no such ONNX file" in capsys.readouterr().err
    (tmp_path / "bad.onnx").write_bytes(b"not an onnx graph")
    assert main(["profile", str(tmp_path / "bad.onnx"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.onnx: not a readable ONNX graph" in err and "\n" not in err and not (tmp_path / "out").exists()
