"""`edgeseg eval` / `predict`: one metric path for checkpoint and ONNX, CSV, splits, bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.cli import main
from edgeseg.data.synth import make_synthetic
from edgeseg.errors import EdgesegError
from edgeseg.evaluate import evaluate_artifact, evaluate_runner
from edgeseg.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = make_synthetic(root / "d", n=16, size=48, seed=5)
    train(root / "run", model="unet", data=str(data), size=(32, 32), epochs=2, batch=4, lr=3e-3,
          model_options={"base": 4}, quiet=True)
    return data, root / "run" / "best.pt"


@pytest.fixture(scope="module")
def onnx_file(trained: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, ckpt = trained
    out = tmp_path_factory.mktemp("onnx") / "m.onnx"
    try:
        from edgeseg.export import export_onnx

        return export_onnx(ckpt, out, batch="dynamic")
    except ImportError:  # the export helper's module is not there: export directly, sidecar by hand
        import torch

        from edgeseg.artifacts import write_sidecar
        from edgeseg.checkpoint import load_checkpoint

        model, payload = load_checkpoint(ckpt)
        torch.onnx.export(model, (torch.zeros(1, 1, 32, 32),), str(out), input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}}, dynamo=False)
        write_sidecar(out, {"preprocess": payload["preprocess"], "split": payload["split"]})
        return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_checkpoint_and_onnx_score_the_same(trained: tuple[Path, Path], onnx_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data, ckpt = trained
    a = _json(capsys, ["eval", str(ckpt), "--data", str(data), "--json", "--csv", str(tmp_path / "pt.csv")])
    b = _json(capsys, ["eval", str(onnx_file), "--data", str(data), "--json"])
    assert a["backend"] == "pytorch" and b["backend"] == "onnxruntime"
    assert a["split"] == b["split"] == "test" and a["n_images"] == b["n_images"] >= 1
    for k in ("dice", "iou", "accuracy", "precision", "recall", "dice_pooled", "n_images"):
        assert a[k] == pytest.approx(b[k], abs=1e-3), k
    assert 0 < a["dice"] < 1 or a["dice"] == 1.0
    rows = list(csv.DictReader(open(tmp_path / "pt.csv")))
    assert len(rows) == a["n_images"] and {"image", "dice", "iou", "tp", "fp", "fn", "tn"} <= set(rows[0])
    assert np.mean([float(r["dice"]) for r in rows]) == pytest.approx(a["dice"], abs=1e-5)
    # the training run's own test score is the same number (one metric implementation)
    import torch

    assert torch.load(ckpt, weights_only=True)["metrics"]["test_dice"] == pytest.approx(a["dice"], abs=1e-6)
    everything = _json(capsys, ["eval", str(onnx_file), "--data", str(data), "--split", "all", "--json"])
    assert everything["n_images"] == 16


def test_onnx_without_split_needs_split_file(trained: tuple[Path, Path], onnx_file: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data, ckpt = trained
    bare = tmp_path / "bare.onnx"
    shutil.copy(onnx_file, bare)
    meta = json.loads(Path(str(onnx_file) + ".json").read_text())
    meta.pop("split", None)
    Path(str(bare) + ".json").write_text(json.dumps(meta))
    with pytest.raises(EdgesegError, match="--split-file"):
        evaluate_artifact(bare, data, split="test")
    res = evaluate_artifact(bare, data, split_file=ckpt.parent / "split.json")
    ref = evaluate_artifact(ckpt, data)
    assert res["split"] == "test" and res["dice"] == pytest.approx(ref["dice"], abs=1e-3)
    Path(str(bare) + ".json").unlink()
    with pytest.raises(EdgesegError, match="no preprocessing recorded"):
        evaluate_artifact(bare, data)


def test_evaluate_runner_library_call(trained: tuple[Path, Path], onnx_file: Path) -> None:
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    data, _ = trained
    meta = json.loads(Path(str(onnx_file) + ".json").read_text())
    with OnnxRuntimeRunner(onnx_file) as r:
        res = evaluate_runner(r, data, meta["preprocess"])
    assert res["n_images"] == 16 and len(res["per_image"]) == 16 and 0 <= res["dice"] <= 1


def test_predict_masks_at_original_size(trained: tuple[Path, Path], onnx_file: Path, tmp_path: Path) -> None:
    data, ckpt = trained
    img = np.asarray(Image.open(data / "images" / "synth_000.png").resize((60, 44)))
    Image.fromarray(img).save(tmp_path / "odd.png")
    for art in (ckpt, onnx_file):
        out = tmp_path / f"out-{art.suffix[1:]}"
        assert main(["predict", str(art), str(tmp_path / "odd.png"), str(data / "images" / "synth_001.png"),
                     "--out", str(out)]) == 0
        m = np.asarray(Image.open(out / "masks" / "odd.png"))
        assert m.shape == (44, 60) and set(np.unique(m)) <= {0, 255}
        ov = np.asarray(Image.open(out / "overlays" / "odd.png"))
        assert ov.shape == (44, 60, 3)
        assert np.asarray(Image.open(out / "masks" / "synth_001.png")).shape == (48, 48)


def test_bad_inputs(trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, ckpt = trained
    # an unreadable image among the inputs: nothing written
    (tmp_path / "junk.png").write_bytes(b"junk")
    assert main(["predict", str(ckpt), str(data / "images" / "synth_000.png"), str(tmp_path / "junk.png"),
                 "--out", str(tmp_path / "p")]) == 2
    assert "junk.png: not a readable image" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    # colour images into a 1-channel model
    rgb = make_synthetic(tmp_path / "rgb", n=3, size=32, seed=0, channels=3)
    assert main(["eval", str(ckpt), "--data", str(rgb), "--split", "all"]) == 2
    err = capsys.readouterr().err
    assert "colour image but the model takes 1 channel" in err and "synth_000.png" in err
    # a mask with a value the recorded mapping does not know
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    m = np.asarray(Image.open(bad / "masks" / "synth_003.png")).copy()
    m[0, 0] = 128
    Image.fromarray(m).save(bad / "masks" / "synth_003.png")
    assert main(["eval", str(ckpt), "--data", str(bad), "--split", "all"]) == 2
    assert "synth_003.png: mask has unexpected values [128]" in capsys.readouterr().err
    # the checkpoint's split names images this folder does not have
    assert main(["eval", str(ckpt), "--data", str(rgb)]) == 2
    assert "not in this folder" in capsys.readouterr().err
    # not a checkpoint
    (tmp_path / "x.pt").write_bytes(b"nope")
    assert main(["eval", str(tmp_path / "x.pt"), "--data", str(data)]) == 2
    assert "x.pt" in capsys.readouterr().err


def test_native_resolution_scores_what_predict_writes(trained: tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from edgeseg.metrics import SegMetrics

    data, ckpt = trained  # images are 48x48, the model runs at 32x32
    res = _json(capsys, ["eval", str(ckpt), "--data", str(data), "--split", "all", "--native", "--json"])
    assert res["resolution"] == "native" and res["n_images"] == 16
    imgs = sorted((data / "images").glob("*.png"))
    assert main(["predict", str(ckpt), *map(str, imgs), "--out", str(tmp_path / "p")]) == 0
    m = SegMetrics(1)
    for p in imgs:
        pred = np.asarray(Image.open(tmp_path / "p" / "masks" / p.name)) > 0
        gt = np.asarray(Image.open(data / "masks" / p.name)) > 0
        m.add(pred.astype(np.int64), gt.astype(np.int64), p.stem)
    assert m.summary()["dice"] == pytest.approx(res["dice"], abs=1e-9)
