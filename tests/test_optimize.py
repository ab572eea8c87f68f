"""edgeseg optimize and its parts: paired bootstrap, interleaved timing, latency-aware mixed INT8, selection,
the mission plot. Logic only: timings here are never asserted (speed is measured in benchmarks/)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgeseg.bench.timing import round_orders, time_interleaved
from edgeseg.errors import EdgesegError
from edgeseg.optimize import select

logging.getLogger().setLevel(logging.ERROR)


def test_round_orders_rotate() -> None:
    orders = round_orders(["a", "b", "c"], 3)
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    for pos in range(3):  # every candidate takes every position once
        assert sorted(o[pos] for o in orders) == ["a", "b", "c"]


def _row(label: str, prec: str, p50: float, high: float, mean: float = 0.0, **kw) -> dict:
    return {"label": label, "precision": prec, "threads": 2, "batch": 1, "p50_ms": p50,
            "drop_pp": {"mean": mean, "low": mean - 0.1, "high": high}, **kw}


def test_select_fastest_within_budget_by_ci_upper_bound() -> None:
    rows = [_row("fp32", "fp32", 10.0, 0.0), _row("int8", "int8-io", 4.0, 0.6, 0.3),
            _row("fp16", "fp16", 7.0, 0.2, 0.1), _row("mixed", "mixed-int8", 5.0, 0.45, 0.2)]
    best = select(rows, 0.5)
    assert best["label"] == "mixed"  # int8-io is faster but its CI reaches 0.6 > 0.5
    assert [r["within_budget"] for r in rows] == [True, False, True, True]
    assert sum(r["selected"] for r in rows) == 1 and not best.get("notes")
    assert select(rows, 0.1)["label"] == "fp32"
    ref_only = [_row("fp32", "fp32", 3.0, 0.0, reference_only=True), _row("int8", "int8-io", 4.0, 0.05)]
    best = select(ref_only, 0.1)
    assert best["label"] == "int8" and "SLOWER than FP32" in best["notes"][0]  # said, not silent
    assert select([_row("int8", "int8-io", 4.0, 0.6)], 0.5) is None


# ------------------------------------------------------------------------------------- tiny graphs


def _two_conv_graph(path: Path) -> Path:
    """input (1, 16, 16, 16) -> Conv 3x3 16->16 -> Relu -> depthwise 3x3 -> logits."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 16, 3, 3)).astype(np.float32) * 0.1, "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((16, 1, 3, 3)).astype(np.float32) * 0.1, "w2")
    nodes = [helper.make_node("Conv", ["input", "w1"], ["a"], name="conv_full", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["b"], name="relu"),
             helper.make_node("Conv", ["b", "w2"], ["logits"], name="conv_dw", pads=[1, 1, 1, 1], group=16)]
    g = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16, 16, 16])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 16, 16, 16])], [w1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_time_interleaved_structure(tmp_path: Path) -> None:
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    p = _two_conv_graph(tmp_path / "g.onnx")
    with OnnxRuntimeRunner(p, threads=1) as a, OnnxRuntimeRunner(p, threads=1) as b:
        res = time_interleaved({"a": a, "b": b}, {"a": (1, 16, 16, 16), "b": (1, 16, 16, 16)}, rounds=3, iters=2,
                               warmup=0)
    for r in res.values():
        assert r["iters"] == 6 and len(r["round_p50_ms"]) == 3 and r["batch"] == 1
        assert r["latency_ms"]["min"] <= r["latency_ms"]["p50"] <= r["latency_ms"]["max"]
    with pytest.raises(EdgesegError):
        time_interleaved({"a": None}, {"a": (1,)}, rounds=0)


def test_mixed_int8_layers_and_graph(tmp_path: Path) -> None:
    """The per-layer measurement runs on a tiny graph; the mixed graph keeps exactly the chosen Convs in float."""
    from edgeseg.calib import make_calib
    from edgeseg.data.synth import make_synthetic
    from edgeseg.mixed_int8 import conv_layers, float_nodes_by_speed, measure_layers, quantize_mixed

    p = _two_conv_graph(tmp_path / "g.onnx")
    layers = conv_layers(p)
    assert [(c["name"], c["input_shape"], c["group"]) for c in layers] == [
        ("conv_full", [1, 16, 16, 16], 1), ("conv_dw", [1, 16, 16, 16], 16)]
    rows = measure_layers(p, threads=1, rounds=1, iters=2, warmup=0)
    assert [r["name"] for r in rows] == ["conv_full", "conv_dw"]
    assert all(r["fp32_p50_ms"] > 0 and r["int8_p50_ms"] > 0 for r in rows)
    # The decision rule, on given timings (the real ones come from a quiet machine):
    rows = [{**rows[0], "speedup": 2.0}, {**rows[1], "speedup": 0.5}]
    assert float_nodes_by_speed(rows) == ["conv_dw"]
    assert float_nodes_by_speed(rows, min_speedup=3.0) == ["conv_full", "conv_dw"]

    # A real mixed graph on a network: its sidecar says mixed-int8, and the float Convs read float weights.
    from edgeseg.export import export_onnx

    data = make_synthetic(tmp_path / "d", n=6, size=32, seed=0, channels=3)
    fp32 = export_onnx("unet", tmp_path / "u.onnx", size=(32, 32), rewrites="none")
    calib = make_calib(data, n=4, out=tmp_path / "calib.json", size=(32, 32), channels=3)
    convs = conv_layers(fp32)
    fake = [{**c, "fp32_p50_ms": 1.0, "int8_p50_ms": 0.5 if i % 2 else 2.0,
             "speedup": 2.0 if i % 2 else 0.5} for i, c in enumerate(convs)]
    mixed = quantize_mixed(fp32, calib, fake, out=tmp_path / "m.onnx")
    meta = json.loads(Path(f"{mixed}.json").read_text())
    assert meta["precision"] == "mixed-int8" and meta["float_nodes"] == [c["name"] for c in convs[0::2]]
    g = onnx.load(str(mixed)).graph
    dq_out = {n.output[0] for n in g.node if n.op_type == "DequantizeLinear"}
    weight_quantized = {n.name: n.input[1] in dq_out for n in g.node if n.op_type == "Conv"}
    assert all(not weight_quantized[c["name"]] for c in convs[0::2])
    assert all(weight_quantized[c["name"]] for c in convs[1::2])
    assert quantize_mixed(fp32, calib, [{**r, "speedup": 0.5} for r in fake]) is None  # nothing faster: no graph


# ------------------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny U-Net trained a few epochs on synthetic data (train/val/test split recorded)."""
    from edgeseg.data.synth import make_synthetic
    from edgeseg.train import train

    root = tmp_path_factory.mktemp("opt")
    data = make_synthetic(root / "d", n=40, size=32, seed=0)
    train(root / "run", data=str(data), epochs=5, batch=4, model="unet", model_options={"base": 4}, quiet=True)
    return root / "run" / "best.pt", data


def test_optimize_picks_within_budget_and_refuses(trained, tmp_path: Path, capsys) -> None:
    from edgeseg.cli import main
    from edgeseg.optimize import optimize

    ckpt, data = trained
    small = {"batches": (1, 2), "threads": (1,), "rounds": 1, "iters": 2, "warmup": 0}
    doc = optimize(str(ckpt), str(data), tmp_path / "out", max_dice_drop=0.5, variants=("none",), **small)
    sel = doc["selected"]
    rows = doc["rows"]
    assert {r["precision"] for r in rows} == {"fp32", "fp16", "int8", "int8-io", "mixed-int8"} or any(
        s["label"].startswith("mixed-int8") for s in doc["skipped"])
    eligible = [r for r in rows if r["within_budget"] and not r["reference_only"]]
    assert sel["drop_pp"]["high"] <= 0.5 and sel["p50_ms"] == min(r["p50_ms"] for r in eligible)
    assert {r["n"] for r in rows} == {6}  # the validation split's 6 images, never the test split
    for f in ("optimize.json", "optimize.md", "optimize.png"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    assert "(selected)" in (tmp_path / "out" / "optimize.md").read_text()

    fp16 = next(r for r in rows if r["precision"] == "fp16" and r["batch"] == 1)
    assert fp16["drop_pp"]["high"] > 0, "FP16 changed no validation pixel; the refusal test proves nothing"
    capsys.readouterr()
    rc = main(["optimize", str(ckpt), "--data", str(data), "--out", str(tmp_path / "none"), "--precisions", "fp16",
               "--rewrites", "none", "--batches", "1", "--threads", "1", "--rounds", "1", "--iters", "2",
               "--warmup", "0", "--max-dice-drop", "0", "--no-plot"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("edgeseg: error: no candidate of") and "--max-dice-drop 0.0" in err[-1]
    assert json.loads((tmp_path / "none" / "optimize.json").read_text())["selected"] is None


def test_optimize_bad_input_one_line(tmp_path: Path) -> None:
    from edgeseg.optimize import optimize

    with pytest.raises(EdgesegError, match="bare network name"):
        optimize("unet", str(tmp_path), tmp_path / "o")
    with pytest.raises(EdgesegError, match="max-dice-drop -1.* >= 0"):
        optimize("unet", str(tmp_path), tmp_path / "o", max_dice_drop=-1)


def test_mission_points_and_plot(tmp_path: Path) -> None:
    from edgeseg.bench.mission import macs_at, main, merge_points, mission_points

    models = [{"name": "unet", "macs": 100.0, "input_shape": [3, 256, 256]},
              {"name": "tiny", "macs": 3.0, "input_shape": [3, 128, 128]}]
    macs = macs_at(models, (256, 256))
    assert macs == {"unet": 100.0, "tiny": 12.0}  # rescaled by the pixel ratio

    def res(model, backend, prec, p50, threads=2):
        return {"model": model, "backend": backend, "precision": prec, "threads": threads, "batch": 1,
                "device": "cpu", "latency_ms": {"p50": p50}, "input_shape": [1, 3, 256, 256]}

    results = [res("unet", "onnxruntime", "fp32", 100.0), res("tiny", "onnxruntime", "fp32", 30.0),
               res("tiny", "onnxruntime", "int8-io", 60.0), res("tiny", "onnxruntime", "fp32", 1.0, threads=1)]
    pts = {(p["model"], p["precision"]): p for p in mission_points(results, macs)}
    assert pts[("tiny", "fp32")]["mac_ratio"] == pytest.approx(0.12)
    assert pts[("tiny", "fp32")]["latency_ratio"] == pytest.approx(0.30)
    assert pts[("tiny", "int8-io")]["latency_ratio"] == pytest.approx(0.60)
    with pytest.raises(EdgesegError, match="U-Net ONNX Runtime FP32"):
        mission_points(results[1:], macs)
    # two files with the same point: the newest `created` wins whatever the argument order; a file without its
    # own U-Net reference is refused, or skipped when not strict (the claims report's reading)
    old, new = tmp_path / "b-old.json", tmp_path / "a-new.json"
    old.write_text(json.dumps({"created": "2026-01-01T00:00:00"}))
    new.write_text(json.dumps({"created": "2026-06-01T00:00:00"}))
    newer = [res("unet", "onnxruntime", "fp32", 100.0), res("tiny", "onnxruntime", "fp32", 50.0)]
    merged = merge_points({str(new): newer, str(old): results}, models)
    by = {(p["model"], p["precision"]): p["latency_ratio"] for p in merged}
    assert by[("tiny", "fp32")] == pytest.approx(0.50) and by[("tiny", "int8-io")] == pytest.approx(0.60)
    with pytest.raises(EdgesegError, match="U-Net ONNX Runtime FP32"):
        merge_points({str(new): newer[1:], str(old): results}, models)
    assert len(merge_points({str(new): newer[1:], str(old): results}, models, strict=False)) == 3
    pytest.importorskip("matplotlib")
    repo = Path(__file__).resolve().parents[1] / "benchmarks" / "results"  # the committed matrix, old or new
    assert main([str(repo / "cpu-matrix.json"), "--models", str(repo / "models.json"),
                 "--out", str(tmp_path / "mission.png")]) == 0
    assert (tmp_path / "mission.png").stat().st_size > 10_000
