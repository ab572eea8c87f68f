"""`edgeseg export`: export (torch.export-based, or TorchScript where the table says) + onnxsim + ORT-vs-PyTorch
check + sidecar + cache reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.export import export_onnx, load_onnx_checked
from edgeseg.names import DEFAULT_OPSET


def test_bare_name_export_sidecar_and_reuse(tmp_path: Path, capsys) -> None:
    out = export_onnx("tinyunet", tmp_path / "t.onnx", size=(64, 64))
    assert "random" in capsys.readouterr().err  # said loudly
    meta = json.loads((tmp_path / "t.onnx.json").read_text())
    assert meta["weights"] == "random-init" and meta["check"]["ok"] is True
    assert meta["check"]["max_abs_diff"] <= meta["check"]["tolerance"]
    assert meta["inputs"] == [{"name": "input", "shape": [1, 3, 64, 64], "dtype": "float32"}]
    assert meta["outputs"][0]["name"] == "logits" and meta["outputs"][0]["shape"] == [1, 1, 64, 64]
    assert meta["preprocess"]["height"] == 64 and meta["opset"] == DEFAULT_OPSET and meta["versions"]["onnx"]
    model = load_onnx_checked(out)
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)  # folded into the convs
    mtime = out.stat().st_mtime_ns
    assert export_onnx("tinyunet", out, size=(64, 64)) == out and out.stat().st_mtime_ns == mtime  # reused
    export_onnx("tinyunet", out, size=(32, 32))  # changed input: rebuilt
    assert json.loads((tmp_path / "t.onnx.json").read_text())["inputs"][0]["shape"] == [1, 3, 32, 32]


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    a = export_onnx("tinyunet", tmp_path / "a.onnx", size=(32, 32))
    b = export_onnx("tinyunet", tmp_path / "b.onnx", size=(32, 32))
    assert a.read_bytes() == b.read_bytes()


def test_checkpoint_export_carries_preprocess_and_dynamic_batch(tmp_path: Path) -> None:
    import onnxruntime as ort
    import torch

    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    torch.manual_seed(1)
    pre = Preprocess(32, 32, 1, (0.3,), (0.2,))
    save_checkpoint(tmp_path / "best.pt", create_model("tinyunet", in_channels=1),
                    preprocess=pre.to_dict(), extra={"split": {"seed": 3}})
    out = export_onnx(tmp_path / "best.pt", tmp_path / "c.onnx", batch="dynamic")
    meta = json.loads((tmp_path / "c.onnx.json").read_text())
    assert meta["weights"] == "checkpoint" and meta["source"]["sha256"] and meta["exporter"] == "dynamo"
    assert meta["preprocess"] == pre.to_dict() and meta["split"] == {"seed": 3}
    assert meta["inputs"][0]["shape"] == ["batch", 1, 32, 32]
    y = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"input": np.zeros((3, 1, 32, 32), np.float32)})[0]
    assert y.shape == (3, 1, 32, 32)


def test_sdunet_weight_standardisation_folded(tmp_path: Path) -> None:
    out = export_onnx("sdunet", tmp_path / "s.onnx", size=(32, 32))
    meta = json.loads((tmp_path / "s.onnx.json").read_text())
    assert "fold_for_export" in meta["folded"] and meta["check"]["ok"]  # checked against the unfolded model
    # No per-forward weight statistics left in the graph: every Conv weight is a stored tensor (GroupNorm's
    # export form does use ReduceMean/ReduceSum, on activations).
    g = load_onnx_checked(out).graph
    stored = {i.name for i in g.initializer} | {n.output[0] for n in g.node if n.op_type == "Constant"}
    assert all(n.input[1] in stored for n in g.node if n.op_type == "Conv")


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(EdgesegError, match="multiples"):
        export_onnx("tinyunet", tmp_path / "x.onnx", size=(30, 30))
    with pytest.raises(EdgesegError, match="unknown model"):
        export_onnx("nosuchnet", tmp_path / "x.onnx")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(EdgesegError, match="bad.pt"):
        export_onnx(bad, tmp_path / "x.onnx")
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(b"\x08\x07garbage")
    with pytest.raises(EdgesegError, match="trunc.onnx"):
        load_onnx_checked(trunc)
    assert not (tmp_path / "x.onnx").exists()


def test_cli_export(tmp_path: Path, capsys) -> None:
    from edgeseg.cli import main

    assert main(["export", "tinyunet", "--out", str(tmp_path / "m.onnx"), "--size", "32", "32"]) == 0
    assert json.loads(capsys.readouterr().out)["check"]["ok"] is True
    assert main(["export", "tinyunet", "--out", str(tmp_path / "n.onnx"), "--size", "30", "30"]) == 2
    assert "multiples" in capsys.readouterr().err


@pytest.mark.parametrize("ws", ["channel", "layer", "none"])
def test_sdunet_ws_modes_equal_in_onnx(tmp_path: Path, ws: str) -> None:
    """Each weight-standardization axis exports to plain depthwise convs that ONNX Runtime runs like PyTorch."""
    import onnxruntime as ort
    import torch

    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    torch.manual_seed(1)
    model = create_model("sdunet", 1, 1, base=16, ws=ws).eval()
    save_checkpoint(tmp_path / "s.pt", model, preprocess=Preprocess(32, 32, 1, (0.5,), (0.5,)).to_dict())
    out = export_onnx(tmp_path / "s.pt", tmp_path / f"s-{ws}.onnx")
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()  # the unfolded module, standardizing on the fly
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))
    assert json.loads(out.with_name(out.name + ".json").read_text())["model"]["options"]["ws"] == ws  # in the key


def test_exporter_is_the_tables_and_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each network's exporter is the one `TORCHSCRIPT_KEPT` says (dynamo otherwise), recorded with its reason;
    a network kept on TorchScript carries its measured reason, and the exporter is part of the cache key."""
    from edgeseg import onnx_exporter as ex
    from edgeseg.models import list_models

    assert set(ex.TORCHSCRIPT_KEPT) <= set(list_models())
    for name in list_models():
        kept = ex.TORCHSCRIPT_KEPT.get(name)
        assert ex.exporter_for(name) == (("torchscript", kept) if kept else ("dynamo", ex.DYNAMO_REASON))
        assert kept is None or "measured" in kept  # a reason from the measurement, not a habit
    out = export_onnx("tinyunet", tmp_path / "t.onnx", size=(32, 32))
    meta = json.loads((tmp_path / "t.onnx.json").read_text())
    assert (meta["exporter"], meta["exporter_reason"]) == ex.exporter_for("tinyunet")
    monkeypatch.setitem(ex.TORCHSCRIPT_KEPT, "tinyunet", "measured: a reason")
    export_onnx("tinyunet", out, size=(32, 32))  # same path, another exporter: a new key, rebuilt
    kept = json.loads((tmp_path / "t.onnx.json").read_text())
    assert (kept["exporter"], kept["exporter_reason"]) == ("torchscript", "measured: a reason")
    assert kept["cache_key"] != meta["cache_key"] and kept["check"]["ok"] is True
    with pytest.raises(EdgesegError, match="--exporter"):
        ex.exporter_for("tinyunet", "onnxscript")


def test_dynamo_graph_equals_pytorch_under_ort(tmp_path: Path) -> None:
    """TinyU-Net through the torch.export-based exporter: ONNX Runtime equals the PyTorch module on an input the
    export check did not see, within the check's tolerance."""
    import onnxruntime as ort
    import torch

    from edgeseg.export import CHECK_RTOL, reference_model

    out = export_onnx("tinyunet", tmp_path / "d.onnx", size=(32, 32), exporter="dynamo")
    meta = json.loads((tmp_path / "d.onnx.json").read_text())
    assert meta["exporter"] == "dynamo" and meta["opset"] == DEFAULT_OPSET
    x = np.random.default_rng(7).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = reference_model("tinyunet")(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    tol = CHECK_RTOL * max(float(want.max() - want.min()), float(np.abs(want).max()))
    assert got.shape == want.shape and float(np.abs(got - want).max()) <= tol


def test_dynamo_gelu_is_one_ort_kernel(tmp_path: Path) -> None:
    """aten.gelu is exported in the order ONNX Runtime fuses (torchlib's order left U-Lite's GELUs unfused)."""
    from edgeseg.rewrites import reorder_report

    out = export_onnx("ulite", tmp_path / "u.onnx", size=(32, 32), exporter="dynamo")
    ops = reorder_report(out)["ops"]
    assert ops.get("Gelu@microsoft") == 11 and "Erf" not in ops  # 5 encoders, 5 decoders, the bottleneck
