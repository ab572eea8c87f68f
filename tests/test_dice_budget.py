"""The INT8 Dice budget (`quantize_int8(max_dice_drop=..., data=...)`): scored exactly as `edgeseg eval`
scores, a missed budget writes nothing unless asked, bad budgets and data are one-line errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.artifacts import write_sidecar
from edgeseg.calib import make_calib
from edgeseg.cli import main
from edgeseg.data.preprocess import Preprocess
from edgeseg.data.synth import make_synthetic
from edgeseg.dice_budget import dice_drop, within_budget
from edgeseg.errors import EdgesegError
from edgeseg.evaluate import evaluate_artifact
from edgeseg.quantize import quantize_int8

logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's "consider pre-processing" chatter
SIZE = 32


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A centred TinyU-Net checkpoint (logits straddle 0, so INT8 flips pixels), its ONNX, a calibration set
    and a held-out folder (other seed: no calibration image in it)."""
    import torch
    from torch import nn

    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.dataset import read_image
    from edgeseg.export import export_onnx
    from edgeseg.models import create_model

    root = tmp_path_factory.mktemp("budget")
    train = make_synthetic(root / "train", n=6, size=SIZE, seed=0)
    held = make_synthetic(root / "held", n=6, size=SIZE, seed=9)
    for m in sorted((held / "masks").iterdir()):  # palette masks (index 1 = foreground, drawn blue): eval reads
        fg = np.asarray(Image.open(m)) > 0      # the indices, an RGB reader would see red = 0 everywhere
        im = Image.fromarray(fg.astype(np.uint8), mode="P")
        im.putpalette([0, 0, 0, 0, 0, 255])
        im.save(m)
    torch.manual_seed(0)
    model = create_model("tinyunet").eval()
    pre = Preprocess(SIZE, SIZE, 3)
    x = torch.from_numpy(np.stack([pre.image(read_image(p)) for p in sorted((train / "images").iterdir())]))
    head = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.bias is not None][-1]
    with torch.no_grad():
        head.bias -= model(x).median()
    save_checkpoint(root / "best.pt", model, preprocess=pre.to_dict())
    onnx = export_onnx(root / "best.pt", root / "m.onnx")
    calib = make_calib(train, n=4, out=root / "cal.json", size=(SIZE, SIZE), channels=3)
    return {"root": root, "onnx": onnx, "calib": calib, "held": held}


def test_budget_dice_is_the_dice_of_edgeseg_eval(setup: dict[str, Path], tmp_path: Path) -> None:
    out = quantize_int8(setup["onnx"], setup["calib"], tmp_path / "q.onnx", max_dice_drop=100.0,
                        data=setup["held"])
    b = json.loads((tmp_path / "q.onnx.json").read_text())["dice_budget"]
    assert b["images"] == 6 and b["reference"] == "ground-truth masks" and b["within_budget"]
    fp32 = evaluate_artifact(setup["onnx"], setup["held"], split="all")
    int8 = evaluate_artifact(out, setup["held"], split="all")
    assert fp32["n_images"] == int8["n_images"] == 6 and fp32["foreground"] == "0:0,1:1"
    assert 0.05 < fp32["dice"] < 0.95  # a real score, not an empty-vs-empty 1.0
    assert b["dice_fp32"] == pytest.approx(fp32["dice"], abs=1e-12)
    assert b["dice_int8"] == pytest.approx(int8["dice"], abs=1e-12)
    assert b["drop_pp"] == pytest.approx(100 * (fp32["dice"] - int8["dice"]), abs=1e-9)
    # the interval is optimize's (the one rule): the same bootstrap of the same per-image Dice
    rows = [{r["image"]: r["dice"] for r in res["per_image"]} for res in (fp32, int8)]
    assert b["drop_pp_interval"] == dice_drop(*rows)
    assert b["drop_pp_interval"]["low"] <= b["drop_pp"] <= b["drop_pp_interval"]["high"]


def test_budget_is_the_upper_bound_not_the_mean() -> None:
    ref = {f"i{k}": 0.8 for k in range(10)}
    cand = {**ref, "i0": 0.7, "i1": 0.9}  # mean drop 0, but one image lost 10 pp
    drop = dice_drop(ref, cand)
    assert drop["mean"] == pytest.approx(0.0, abs=1e-9) and drop["high"] > 0.5
    assert not within_budget(drop, 0.5) and within_budget(drop, drop["high"])
    with pytest.raises(EdgesegError, match="same validation images"):
        dice_drop(ref, {"i0": 0.8})


def test_quantize_and_optimize_state_one_budget_rule(capsys: pytest.CaptureFixture[str]) -> None:
    helps = []
    for cmd in ("quantize", "optimize"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        helps.append(" ".join(capsys.readouterr().out.split()))
    assert all("upper bound of the 95% bootstrap interval" in h and "whole validation split" in h for h in helps)


def _one_conv_graph(path: Path, calib: Path) -> Path:
    """input -> one 3x3 Conv -> logits, bias centred on the calibration images' median logit: with a single
    quantized op nothing can be left in float, and INT8 rounding flips pixels near 0."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from edgeseg.calib import calib_batches, load_calib

    w = np.random.default_rng(0).standard_normal((1, 3, 3, 3)).astype(np.float32)

    def save(bias: float) -> None:
        g = helper.make_graph(
            [helper.make_node("Conv", ["input", "w", "b"], ["logits"], name="conv", pads=[1, 1, 1, 1])], "one",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
            [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([bias], np.float32), "b")])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))

    save(0.0)
    x = next(calib_batches(load_calib(calib), 1))
    y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    save(-float(np.median(y)))
    write_sidecar(path, {"kind": "onnx", "preprocess": Preprocess(SIZE, SIZE, 3).to_dict()})
    return path


def test_missed_budget_writes_nothing_unless_kept(setup: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    one = _one_conv_graph(tmp_path / "one.onnx", setup["calib"])
    images = tmp_path / "images-only"  # reference = the FP32 graph's prediction: any flipped pixel is a drop
    (images / "images").mkdir(parents=True)
    for p in sorted((setup["held"] / "images").iterdir()):
        (images / "images" / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "q.onnx"
    argv = ["quantize", str(one), "--int8", "--calib", str(setup["calib"]), "--max-dice-drop", "0",
            "--data", str(images), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "over --max-dice-drop" in err[0] and "--keep-over-budget" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images-only", "one.onnx", "one.onnx.json"]
    assert main([*argv, "--keep-over-budget"]) == 0
    report = json.loads(capsys.readouterr().out)
    meta = json.loads((tmp_path / "q.onnx.json").read_text())
    assert report["kept_over_budget"] and not report["within_budget"] and report["drop_pp"] > 0
    assert meta["dice_budget"]["kept_over_budget"] and not meta["dice_budget"]["within_budget"]
    assert meta["dice_budget"]["excluded_nodes"] == []  # the only Conv stays quantized: still an INT8 graph


def test_bad_budget_and_data(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.onnx"
    assert main(["quantize", str(setup["onnx"]), "--int8", "--calib", str(setup["calib"]), "--max-dice-drop",
                 "-1", "--data", str(setup["held"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-dice-drop -1" in err[0] and not out.exists()
    # calibrated on a run's training split: the budget uses that run's validation images, never a fallback
    from edgeseg.calib import load_calib

    manifest = load_calib(setup["calib"])
    ckpt = tmp_path / "run.pt"
    import torch

    payload = torch.load(setup["root"] / "best.pt", weights_only=True)
    payload["split"] = {"train": ["x"], "val": ["not-in-this-folder"], "test": ["y"]}
    torch.save(payload, ckpt)
    manifest.update(split="train", checkpoint=str(ckpt))
    with pytest.raises(EdgesegError, match="validation images"):
        quantize_int8(setup["onnx"], manifest, out, max_dice_drop=1.0, data=setup["held"])
    assert not out.exists()
