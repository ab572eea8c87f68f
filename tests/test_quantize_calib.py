"""One calibration set per data set: the quantizer preprocesses the manifest's images as the model records.

A set made at 64x64 calibrates a GPU-Net exported at 32x48 (GPU-Net's reference input is 192x256; small
sizes keep the test cheap), through `edgeseg build-engine --int8 --calib` with TensorRT-RTX on the CPU, while
a changed image is still refused. Also: ONNX Runtime's pre-processing hint is not printed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edgeseg.artifacts import read_sidecar
from edgeseg.calib import calib_batches, load_calib, make_calib, model_preprocess
from edgeseg.cli import main
from edgeseg.data.synth import make_synthetic
from edgeseg.errors import EdgesegError
from edgeseg.export import export_onnx
from edgeseg.quantize import _PreprocessHintFilter, quantize_int8


@pytest.fixture(scope="module")
def calib_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-image calibration set made at 64x64 (RGB images, as GPU-Net takes)."""
    d = tmp_path_factory.mktemp("qc")
    data = make_synthetic(d / "data", n=6, size=64, seed=1, channels=3)
    return make_calib(data, 4, out=d / "calib" / "s64.json", size=(64, 64))


@pytest.fixture(scope="module")
def gpunet_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("qo")
    return export_onnx("gpunet", d / "gpunet-32x48.onnx", size=(32, 48))


def test_calib_images_take_the_models_input_size(calib_set: Path, gpunet_onnx: Path) -> None:
    import onnx

    m = load_calib(calib_set)
    assert m["preprocess"]["height"] == 64 and m["preprocess"]["width"] == 64
    shape = [d.dim_value or None for d in onnx.load(str(gpunet_onnx)).graph.input[0].type.tensor_type.shape.dim]
    pre = model_preprocess(gpunet_onnx, shape, m)
    assert (pre.channels, pre.height, pre.width) == (3, 32, 48)
    assert pre.mean == tuple(read_sidecar(gpunet_onnx)["preprocess"]["mean"])  # the model's normalisation
    xs = list(calib_batches(m, 1, pre))
    assert [x.shape for x in xs] == [(1, 3, 32, 48)] * 4


def test_build_engine_int8_with_a_calib_set_of_another_size(calib_set: Path, gpunet_onnx: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "gpunet-int8.engine"
    rc = main(["build-engine", str(gpunet_onnx), "--int8", "--calib", str(calib_set), "--backend", "tensorrt-rtx",
               "--out", str(out)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "int8" and out.is_file()
    side = read_sidecar(out)
    int8 = Path(side["upstream"]["quantize"])
    calib = read_sidecar(int8)["calib"]
    assert calib["sha256"] == load_calib(calib_set)["manifest_sha256"]
    assert (calib["preprocess"]["height"], calib["preprocess"]["width"]) == (32, 48)


def test_changed_image_still_refused_at_another_size(calib_set: Path, gpunet_onnx: Path, tmp_path: Path) -> None:
    import shutil

    m = load_calib(calib_set)
    data = tmp_path / "data"
    shutil.copytree(m["root"], data)
    manifest = make_calib(data, 2, out=tmp_path / "c.json", size=(64, 64))
    first = data / json.loads(manifest.read_text())["images"][0]["path"]
    first.write_bytes(first.read_bytes() + b"\0")
    with pytest.raises(EdgesegError, match=f"{first}: changed since calibration set"):
        quantize_int8(gpunet_onnx, manifest, tmp_path / "q.onnx")
    assert not (tmp_path / "q.onnx").exists()


def test_colour_calib_images_refused_for_a_gray_model(calib_set: Path, tmp_path: Path) -> None:
    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    save_checkpoint(tmp_path / "gray.pt", create_model("tinyunet", 1, 1), preprocess=Preprocess(32, 32, 1).to_dict())
    gray = export_onnx(tmp_path / "gray.pt", tmp_path / "gray.onnx")
    with pytest.raises(EdgesegError, match="synth_.*png: colour image but the model takes 1 channel"):
        quantize_int8(gray, calib_set, tmp_path / "q.onnx")
    assert not (tmp_path / "q.onnx").exists()


def test_no_preprocessing_hint_from_onnx_runtime(calib_set: Path, gpunet_onnx: Path, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.DEBUG):
        out = quantize_int8(gpunet_onnx, calib_set, tmp_path / "q.onnx")
        logging.getLogger().warning("another root warning still shows")
    assert out.is_file()
    messages = [r.getMessage() for r in caplog.records]
    assert not any("pre-processing before quantization" in msg for msg in messages), messages
    assert "another root warning still shows" in messages  # only that one message is silenced
    assert "pre-processing before quantization" not in capfd.readouterr().err
    assert not any(isinstance(f, _PreprocessHintFilter) for f in logging.getLogger().filters)  # filter removed
