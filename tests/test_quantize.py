"""FP32 -> FP16 / INT8 (Q/DQ) for every network: ORT runs them, TensorRT-RTX (strongly typed) builds them."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeseg.calib import make_calib
from edgeseg.errors import EdgesegError
from edgeseg.export import export_onnx
from edgeseg.models import get_model_info, list_models
from edgeseg.models.baselines import PAPER_BASELINES
from edgeseg.quantize import quantize_fp16, quantize_int8

logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's "consider pre-processing" chatter
BUILD_TIMES: dict[str, float] = {}


def trt_build(path: Path) -> float:
    """Build a strongly typed TensorRT-RTX engine from `path` with `edgeseg.engine` (no GPU needed to build);
    returns the build time. A graph TensorRT-RTX rejects raises EdgesegError."""
    from edgeseg.engine import build_engine_info

    res = build_engine_info(path, backend="tensorrt-rtx", out=path.with_suffix(".engine"))
    assert res.path.stat().st_size > 0 and res.meta["precision"] in ("fp16", "int8")
    return float(res.meta["build_seconds"])


def small_size(name: str) -> int:
    m = get_model_info(name).size_multiple
    return max(64, math.ceil(64 / m) * m)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> dict[int, Path]:
    from edgeseg.data.synth import make_synthetic

    root = tmp_path_factory.mktemp("synth")
    return {c: make_synthetic(root / f"c{c}", n=10, size=64, seed=0, channels=c) for c in (1, 3)}


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"] and [o.name for o in sess.get_outputs()] == ["logits"]
    assert sess.get_inputs()[0].type == "tensor(float)" and sess.get_outputs()[0].type == "tensor(float)"
    return sess.run(None, {"input": x})[0]


@pytest.mark.parametrize("name", [n for n in list_models(variants=False) if n not in PAPER_BASELINES])
def test_all_precisions_run_and_build(name: str, tmp_path: Path, synth: dict[int, Path]) -> None:
    import onnx

    s = small_size(name)
    c = get_model_info(name).reference_input[0]
    fp32 = export_onnx(name, tmp_path / f"{name}.onnx", size=(s, s))
    calib = make_calib(synth[3 if c == 3 else 1], n=4, out=tmp_path / "cal.json", size=(s, s), channels=c)
    fp16 = quantize_fp16(fp32, tmp_path / f"{name}-fp16.onnx")
    int8 = quantize_int8(fp32, calib, tmp_path / f"{name}-int8.onnx")

    from edgeseg.calib import calib_batches, load_calib

    x = next(calib_batches(load_calib(calib)))
    y32, y16, y8 = (_run(p, x) for p in (fp32, fp16, int8))
    assert y32.shape == y16.shape == y8.shape == (1, 1, s, s)
    span = float(np.abs(y32).max()) + 1e-6
    assert np.isfinite(y16).all() and np.isfinite(y8).all()
    assert float(np.abs(y16 - y32).max()) < 0.05 * span  # FP16 close to FP32

    # The INT8 graph is what TensorRT wants: symmetric int8, Q/DQ only on Conv/ConvTranspose/Gemm inputs.
    g = onnx.load(str(int8)).graph
    inits = {i.name: i for i in g.initializer}
    consumers = {t: n.op_type for n in g.node for t in n.input}
    qs = [n for n in g.node if n.op_type == "QuantizeLinear"]
    assert qs, "no activation was quantized"
    for n in g.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2:
            zp = onnx.numpy_helper.to_array(inits[n.input[2]])
            assert zp.dtype == np.int8 and not zp.any(), f"{n.name}: zero point must be int8 0"
        if n.op_type == "DequantizeLinear":
            assert consumers.get(n.output[0]) in ("Conv", "ConvTranspose", "Gemm"), n.name
    assert not any(n.op_type == "DequantizeLinear" and "bias" in n.input[0] for n in g.node)

    BUILD_TIMES[f"{name}-fp16"] = trt_build(fp16)
    BUILD_TIMES[f"{name}-int8"] = trt_build(int8)
    print(f"\nTensorRT-RTX build {name} {s}x{s}: fp16 {BUILD_TIMES[f'{name}-fp16']:.2f}s "
          f"int8 {BUILD_TIMES[f'{name}-int8']:.2f}s")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, synth) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tiny")
    fp32 = export_onnx("tinyunet", d / "t.onnx", size=(64, 64))
    calib = make_calib(synth[3], n=4, out=d / "cal.json", size=(64, 64), channels=3)
    return fp32, calib


def test_int8_byte_identical_and_reused(tiny, tmp_path: Path) -> None:
    fp32, calib = tiny
    a = quantize_int8(fp32, calib, tmp_path / "a.onnx")
    b = quantize_int8(fp32, calib, tmp_path / "b.onnx")
    assert a.read_bytes() == b.read_bytes()
    mtime = a.stat().st_mtime_ns
    assert quantize_int8(fp32, calib, a) == a and a.stat().st_mtime_ns == mtime  # same inputs: reused
    meta = __import__("json").loads((tmp_path / "a.onnx.json").read_text())
    assert meta["source"]["sha256"] and meta["calib"]["sha256"] and meta["method"] == "minmax"
    c = quantize_int8(fp32, calib, a, method="percentile")  # changed input: rebuilt
    assert c == a and a.stat().st_mtime_ns != mtime


def test_default_ort_qdq_is_rejected_by_tensorrt(tiny, tmp_path: Path) -> None:
    """Why the options matter: ORT's default QDQ output (int32 biases) fails the same builder check."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    from edgeseg.calib import calib_batches, load_calib

    fp32, calib = tiny
    xs = list(calib_batches(load_calib(calib)))

    class R(CalibrationDataReader):
        def get_next(self):  # noqa: ANN201
            return {"input": xs.pop()} if xs else None

    out = tmp_path / "default.onnx"
    quantize_static(str(fp32), str(out), R(), quant_format=QuantFormat.QDQ, per_channel=True)
    with pytest.raises(EdgesegError, match="cannot parse it|failed to build an engine"):
        trt_build(out)
    assert not out.with_suffix(".engine").exists()


def centred_checkpoint(path: Path, synth_dir: Path) -> Path:
    """A tinyunet checkpoint whose head bias puts the logits' median at 0, so predictions are not all empty."""
    import torch
    from torch import nn

    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.dataset import read_image
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    torch.manual_seed(0)
    model = create_model("tinyunet").eval()
    pre = Preprocess(64, 64, 3)
    x = torch.from_numpy(np.stack([pre.image(read_image(p)) for p in sorted((synth_dir / "images").iterdir())[:4]]))
    head = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.bias is not None][-1]
    with torch.no_grad():
        head.bias -= model(x).median()
    save_checkpoint(path, model, preprocess=pre.to_dict(), extra={"split": {"note": "test"}})
    return path


def test_dice_budget_leaves_sensitive_layers_in_float(tiny, synth, tmp_path: Path) -> None:
    _, calib = tiny
    ckpt = centred_checkpoint(tmp_path / "best.pt", synth[3])
    fp32 = export_onnx(ckpt, tmp_path / "c.onnx")
    data = tmp_path / "heldout"  # images only: the reference is the FP32 graph's own prediction
    shutil.copytree(synth[3] / "images", data / "images")
    out = quantize_int8(fp32, calib, tmp_path / "b.onnx", max_dice_drop=0.0, data=data)
    meta = __import__("json").loads((tmp_path / "b.onnx.json").read_text())
    b = meta["dice_budget"]
    assert b["history"][0]["drop_pp"] > 0, "INT8 changed no pixel; the budget test proves nothing"
    assert meta["float_nodes"] == b["excluded_nodes"] and b["excluded_nodes"]
    assert b["within_budget"] and b["drop_pp"] <= 0.0
    assert out.is_file()


def test_bad_onnx_and_mismatched_calib(tiny, tmp_path: Path) -> None:
    fp32, calib = tiny
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(fp32.read_bytes()[: 5000])
    for fn in (lambda o: quantize_fp16(bad, o), lambda o: quantize_int8(bad, calib, o)):
        out = tmp_path / "x.onnx"
        with pytest.raises(EdgesegError, match="trunc.onnx"):
            fn(out)
        assert not out.exists()
    # A calibration set of another size or channel count is no mismatch: the quantizer preprocesses its images
    # as the model records (tests/test_quantize_calib.py), and refuses only colour images for a gray model.


def test_cli_quantize(tiny, tmp_path: Path, capsys) -> None:
    from edgeseg.cli import main

    fp32, calib = tiny
    assert main(["quantize", str(fp32), "--fp16", "--out", str(tmp_path / "h.onnx")]) == 0
    assert main(["quantize", str(fp32), "--int8", "--calib", str(calib), "--out", str(tmp_path / "q.onnx")]) == 0
    assert (tmp_path / "h.onnx.json").is_file() and (tmp_path / "q.onnx.json").is_file()
    assert main(["quantize", str(fp32), "--int8", "--out", str(tmp_path / "z.onnx")]) == 2
    assert "--calib" in capsys.readouterr().err
    assert main(["quantize", str(fp32), "--int8", "--calib", str(calib), "--qdq", "conv-io",
                 "--out", str(tmp_path / "io.onnx")]) == 0
    assert __import__("json").loads((tmp_path / "io.onnx.json").read_text())["qdq_layout"] == "conv-io"


def _unet_b8(path: Path) -> Path:
    """A narrow U-Net (base=8: same topology as the 31M one, ~0.5M params) checkpoint, seeded."""
    import torch

    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    torch.manual_seed(0)
    save_checkpoint(path, create_model("unet", base=8), preprocess=Preprocess(64, 64, 3).to_dict())
    return path


@pytest.mark.parametrize("name", ["unet-b8", "tinyunet", "ulite"])
def test_conv_io_layout(name: str, tmp_path: Path, synth: dict[int, Path]) -> None:
    """qdq="conv-io" (for ONNX Runtime CPU): Q/DQ on Conv inputs and outputs, still symmetric int8 with float
    biases, runs in ORT, TensorRT-RTX builds it, and reruns give the same bytes."""
    import onnx

    from edgeseg.calib import calib_batches, load_calib
    from edgeseg.quantize import QUANT_OPS

    src = _unet_b8(tmp_path / "u.pt") if name == "unet-b8" else name
    fp32 = export_onnx(src, tmp_path / "m.onnx", size=(64, 64))
    calib = make_calib(synth[3], n=4, out=tmp_path / "cal.json", size=(64, 64), channels=3)
    io = quantize_int8(fp32, calib, tmp_path / "io.onnx", qdq="conv-io")
    again = quantize_int8(fp32, calib, tmp_path / "io2.onnx", qdq="conv-io")
    assert io.read_bytes() == again.read_bytes()
    meta = __import__("json").loads((tmp_path / "io.onnx.json").read_text())
    assert meta["qdq_layout"] == "conv-io"

    g = onnx.load(str(io)).graph
    inits = {i.name: i for i in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[str]] = {}
    for n in g.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n.op_type)
    graph_in = {i.name for i in g.input}
    qs = [n for n in g.node if n.op_type == "QuantizeLinear"]
    for n in g.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zp = onnx.numpy_helper.to_array(inits[n.input[2]])
            assert zp.dtype == np.int8 and not zp.any(), f"{n.name}: zero point must be int8 0"
        if n.op_type in QUANT_OPS and len(n.input) > 2:  # bias: a float initialiser, not dequantized
            assert n.input[2] in inits and inits[n.input[2]].data_type == onnx.TensorProto.FLOAT, n.name
    out_q = 0
    for q in qs:
        t = q.input[0]
        from_conv = t in prod and prod[t].op_type in QUANT_OPS
        dq_users = [u for d in g.node if d.op_type == "DequantizeLinear" and d.input[0] == q.output[0]
                    for u in consumers.get(d.output[0], [])]
        assert from_conv or t in graph_in or set(dq_users) & set(QUANT_OPS), f"{q.name} quantizes a non-Conv tensor"
        out_q += from_conv
    assert out_q > 0, "no Conv output was quantized: this is the conv-inputs layout"
    assert prod[g.output[0].name].op_type in QUANT_OPS  # logits come straight from a float-output Conv

    x = next(calib_batches(load_calib(calib)))
    y32, y8 = _run(fp32, x), _run(io, x)
    assert np.isfinite(y8).all() and float(np.abs(y8 - y32).max()) < 0.25 * (float(np.abs(y32).max()) + 1e-6)
    trt_build(io)


def test_conv_io_cache_name_and_budget(tiny, synth, tmp_path: Path, monkeypatch) -> None:
    """Default layout keeps its cache key/file; conv-io gets its own file; the Dice budget works with it."""
    monkeypatch.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
    fp32, calib = tiny
    a = quantize_int8(fp32, calib)
    b = quantize_int8(fp32, calib, qdq="conv-io")
    assert a != b and "-convio-" in b.name and "-convio-" not in a.name
    with pytest.raises(EdgesegError, match="conv-io"):
        quantize_int8(fp32, calib, tmp_path / "x.onnx", qdq="io")
    ckpt = centred_checkpoint(tmp_path / "best.pt", synth[3])
    src = export_onnx(ckpt, tmp_path / "c.onnx")
    data = tmp_path / "heldout"
    shutil.copytree(synth[3] / "images", data / "images")
    quantize_int8(src, calib, tmp_path / "b.onnx", max_dice_drop=0.0, data=data, qdq="conv-io")
    meta = __import__("json").loads((tmp_path / "b.onnx.json").read_text())
    assert meta["qdq_layout"] == "conv-io" and meta["dice_budget"]["within_budget"]


def test_bench_matrix_int8_io_rows(tiny, tmp_path: Path, monkeypatch) -> None:
    """`run_matrix` gives ONNX Runtime INT8 rows in both layouts and a ratio for each; the doc validates."""
    from edgeseg.bench import compute_ratios, run_matrix
    from edgeseg.bench.schema import validate

    monkeypatch.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
    doc = run_matrix(["tinyunet"], backends=("onnxruntime",), precisions=("fp32", "int8", "int8-io"), threads=(1,),
                     size=(64, 64), warmup=1, iters=2, isolate=False, device="cpu", log=lambda m: None)
    assert validate(doc) == [], validate(doc)
    rows = {r["precision"]: r for r in doc["results"]}
    assert set(rows) == {"fp32", "int8", "int8-io"}, doc["skipped"]
    assert "-convio-" in rows["int8-io"]["artifact"] and "-convio-" not in rows["int8"]["artifact"]
    assert {r["kind"] for r in compute_ratios(doc)} == {"int8_vs_fp32", "int8io_vs_fp32"}
