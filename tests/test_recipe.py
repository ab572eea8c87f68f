"""The one recipe (edgeseg.recipe), the one resolver (edgeseg.source) and the one precision vocabulary
(edgeseg.names): every driver's artifact comes from `materialize`, every entry point agrees on what a path is."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from edgeseg.bench.schema import validate
from edgeseg.checkpoint import save_checkpoint
from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.models import create_model
from edgeseg.names import precision_label
from edgeseg.recipe import EngineSpec, Recipe, materialize, precision_label_of
from edgeseg.runtime.opener import describe_artifact
from edgeseg.source import resolve_source

logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's "consider pre-processing" chatter


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "small.ckpt"  # .ckpt: export and the runtime must both take it
    torch.manual_seed(0)
    save_checkpoint(path, create_model("unet", 1, 1, base=4), preprocess=Preprocess(32, 32, 1).to_dict())
    return path


def test_resolver_is_the_one_answer(ckpt: Path, tmp_path: Path) -> None:
    assert resolve_source(ckpt).kind == "checkpoint" and describe_artifact(ckpt).kind == "checkpoint"
    assert resolve_source("unet").kind == "registry" and resolve_source("m.ONNX").kind == "onnx"
    odd = tmp_path / "weights.bin"
    shutil.copy(ckpt, odd)
    with pytest.raises(EdgesegError, match="weights.bin: unknown artifact type '.bin'"):
        describe_artifact(odd)
    with pytest.raises(EdgesegError, match="weights.bin: unknown artifact type '.bin'"):
        materialize(Recipe(odd))
    with pytest.raises(EdgesegError, match="m.engine: already an engine"):
        materialize(Recipe(tmp_path / "m.engine"))


def test_recipe_checks_before_any_step(ckpt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EdgesegError, match="--int8 needs --calib"):
        materialize(Recipe(ckpt, "int8"))
    with pytest.raises(EdgesegError, match="int8-io is an ONNX Runtime layout"):
        materialize(Recipe(ckpt, "int8-io", calib="x", engine=EngineSpec()))
    with pytest.raises(EdgesegError, match="precision must be one of"):
        materialize(Recipe(ckpt, "int4"))
    assert not (tmp_path / "cache").exists()  # nothing exported for a recipe that cannot be made


def test_materialize_chains_reuses_and_labels(ckpt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from edgeseg.calib import make_calib
    from edgeseg.data.synth import make_synthetic

    monkeypatch.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
    data = make_synthetic(tmp_path / "synth", n=4, size=32, seed=0, channels=1)
    calib = make_calib(data, n=4, out=tmp_path / "calib.json", size=(32, 32), channels=1)
    made = materialize(Recipe(ckpt, "int8-io", calib=str(calib)))
    assert made.precision == "int8-io" and set(made.steps) == {"export", "quantize"}
    assert made.fp32 == Path(made.steps["export"]) and made.onnx == Path(made.steps["quantize"])
    assert precision_label_of(made.onnx) == "int8-io" and precision_label_of(made.fp32) == "fp32"
    stamp = made.onnx.stat().st_mtime_ns
    again = materialize(Recipe(made.fp32, "int8-io", calib=str(calib)))  # from the ONNX: no export step
    assert again.onnx == made.onnx and again.onnx.stat().st_mtime_ns == stamp and set(again.steps) == {"quantize"}
    as_is = materialize(Recipe(made.onnx))  # an ONNX as it is: its own label, nothing made
    assert as_is.onnx == made.onnx and as_is.precision == "int8-io" and as_is.steps == {}
    with pytest.raises(EdgesegError, match="graph is already int8"):
        materialize(Recipe(made.onnx, "fp16"))


def test_one_precision_vocabulary() -> None:
    assert [precision_label(*a) for a in [("fp16",), ("int8", "conv-inputs"), ("int8", "conv-io"),
                                          ("int8", "conv-io", "mixed-int8")]] == ["fp16", "int8", "int8-io",
                                                                                  "mixed-int8"]
    row = {"model": "unet", "backend": "onnxruntime", "precision": "mixed-int8", "device": "cpu", "threads": 1,
           "batch": 1, "input_shape": [1, 3, 64, 64], "latency_ms": None, "throughput_ips": None,
           "peak_mem_mb": None, "size_mb": None, "params": None, "dice": None, "iou": None,
           "energy_mj_per_image": None, "artifact": None, "notes": None}
    doc = {"schema": "edgeseg-bench/1", "created": "x", "command": "x",
           "env": {"cpu": None, "cores": None, "threads": None, "gpu": None, "versions": None}, "results": [row]}
    assert validate(doc) == []  # optimize makes mixed-int8 and the mission plot draws it: bench files carry it
    assert any("precision" in e for e in validate({**doc, "results": [{**row, "precision": "int4"}]}))


def test_runner_capabilities_and_predictor(ckpt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import numpy as np

    from edgeseg.runtime.base import as_predictor
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner
    from edgeseg.runtime.torch_runner import TorchRunner

    monkeypatch.setenv("EDGESEG_CACHE", str(tmp_path / "cache"))
    onnx = materialize(Recipe(ckpt, batch="dynamic")).onnx
    x = np.random.default_rng(0).standard_normal((3, 1, 32, 32)).astype(np.float32)
    with OnnxRuntimeRunner(onnx, threads=1) as ort_r, TorchRunner(ckpt, threads=1) as torch_r:
        for r in (ort_r, torch_r):  # the network from the sidecar (ONNX) or the loaded model (PyTorch)
            assert r.model_config()["name"] == "unet" and r.model_config()["in_channels"] == 1
            assert r.max_batch("input") is None and r.time_compute(2, 0, x) is None  # CPU: no compute-only timer
        want = ort_r.infer({"input": x})["logits"]
        assert np.array_equal(as_predictor(ort_r)(x), want)
        assert np.array_equal(as_predictor(ort_r, checked=False)(x), want)
        np.testing.assert_allclose(as_predictor(torch_r)(x), want, atol=1e-4)
        with pytest.raises(EdgesegError, match="must be float32"):  # the checked predictor checks the feed
            as_predictor(ort_r)(x.astype(np.float64))
