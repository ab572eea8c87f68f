"""`edgeseg bench` / `edgeseg plot` on real backends (ONNX Runtime and PyTorch on the CPU), tiny inputs.

Nothing is mocked: each run times the real runtime on a real (random-init) TinyU-Net at 64x64.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeseg.bench.harness import make_config, precheck, run_config, run_config_isolated
from edgeseg.bench.schema import validate
from edgeseg.cli import main
from edgeseg.errors import EdgesegError

SIZE = (64, 64)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("bench")
    old = os.environ.get("EDGESEG_CACHE")
    os.environ["EDGESEG_CACHE"] = str(d / "cache")  # the matrix's artifacts stay in the test's folder
    yield d
    if old is None:
        os.environ.pop("EDGESEG_CACHE", None)
    else:
        os.environ["EDGESEG_CACHE"] = old


@pytest.fixture(scope="module")
def tiny_onnx(work: Path) -> Path:
    from edgeseg.export import export_onnx

    return export_onnx("tinyunet", out=work / "tiny64.onnx", size=SIZE, batch=1)


@pytest.fixture(scope="module")
def synth(work: Path) -> Path:
    from edgeseg.data.synth import make_synthetic

    return make_synthetic(work / "synth", n=6, size=64, seed=1, channels=3)


def _check_result(r: dict, backend: str) -> None:
    assert r["backend"] == backend and r["input_shape"] == [1, 3, 64, 64] and r["output_shape"] == [1, 1, 64, 64]
    lat = r["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"]
    assert r["iters"] == 5 and r["throughput_ips"] > 0
    assert r["params"] == 481105  # TinyU-Net 3->1 (same network in both backends)
    assert r["peak_mem_mb"] is not None and r["peak_mem_mb"] > 0  # loading a model grows RSS
    assert r["energy_mj_per_image"] is None and "energy not measured" in r["notes"]  # no sensor on a CPU box


def test_cli_onnxruntime_json_schema_valid(tiny_onnx: Path, work: Path, capsys: pytest.CaptureFixture) -> None:
    out = work / "ort.json"
    rc = main(["bench", "--onnx", str(tiny_onnx), "--threads", "1", "--warmup", "2", "--iters", "5",
               "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert validate(doc) == []
    assert doc["env"]["cores"] >= 1 and doc["env"]["versions"]["onnxruntime"]
    (r,) = doc["results"]
    _check_result(r, "onnxruntime")
    assert r["threads"] == 1 and r["isolated"] is True
    assert r["size_mb"] == pytest.approx(tiny_onnx.stat().st_size / 2**20)
    assert "| onnxruntime |" in capsys.readouterr().out


def test_pytorch_run_isolated_schema_valid() -> None:
    r = run_config_isolated(make_config(model="tinyunet", backend="pytorch", artifact="tinyunet", threads=1,
                                        size=list(SIZE), warmup=2, iters=5))
    _check_result(r, "pytorch")
    assert validate({"schema": "edgeseg-bench/1", "created": "t", "command": "c",
                     "env": {"cpu": {}, "cores": 1, "threads": 1, "gpu": None, "versions": {}},
                     "results": [r]}) == []


def test_dice_matches_edgeseg_eval(tiny_onnx: Path, synth: Path) -> None:
    """--data scores with the same code as `edgeseg eval`: identical Dice/IoU for the same artifact."""
    from edgeseg.evaluate import evaluate_artifact

    r = run_config(make_config(model="tinyunet", backend="onnxruntime", artifact=str(tiny_onnx), threads=1,
                               warmup=1, iters=2, data=str(synth)))
    ref = evaluate_artifact(tiny_onnx, synth, split="all", threads=1)
    assert r["dice"] == pytest.approx(ref["dice"], abs=1e-9) and r["iou"] == pytest.approx(ref["iou"], abs=1e-9)
    assert "6 images" in r["notes"]


def test_matrix_tiny_with_auto_calib_and_ratios(work: Path) -> None:
    from edgeseg.bench import compute_ratios, run_matrix

    doc = run_matrix(["tinyunet"], backends=("onnxruntime", "pytorch"), precisions=("fp32", "int8"), threads=(1,),
                     size=SIZE, warmup=1, iters=3)
    assert validate(doc) == [], validate(doc)
    got = {(r["backend"], r["precision"]) for r in doc["results"]}
    assert got == {("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("pytorch", "fp32")}, doc["skipped"]
    int8 = next(r for r in doc["results"] if r["precision"] == "int8")
    assert "generated images" in int8["notes"]  # no --calib/--data: says where the calibration came from
    kinds = {r["kind"] for r in compute_ratios(doc)}
    assert kinds == {"ort_fp32_vs_torch", "int8_vs_fp32", "best_vs_torch"}  # no U-Net here: no best share


def test_interleaved_matrix_times_every_network_in_rotated_rounds(work: Path) -> None:
    """Real ONNX Runtime and PyTorch: every network of a group in one process, the same 3-channel input for all
    (SD-UNet's reference input has 1), one median per round, and the rows read by the claims as interleaved."""
    from edgeseg.bench.matrix_interleaved import run_interleaved_matrix

    specs = ["tinyunet", "sdunet", {"name": "unetsharp-l1", "model": "unetsharp", "options": {"level": 1}}]
    doc = run_interleaved_matrix(specs, configs=(("onnxruntime", "fp32"), ("pytorch", "fp32")), threads=(1,),
                                 size=SIZE, rounds=3, iters=2, warmup=1)
    assert validate(doc) == [] and doc["failed"] == [], (validate(doc), doc["failed"])
    rows = {(r["model"], r["backend"]): r for r in doc["results"]}
    assert set(rows) == {(m, b) for m in ("tinyunet", "sdunet", "unetsharp-l1") for b in ("onnxruntime", "pytorch")}
    for r in rows.values():
        assert r["input_shape"] == [1, 3, *SIZE] and r["timing"] == "interleaved" and r["iters"] == 6
        assert len(r["round_p50_ms"]) == 3 and r["latency_ms"]["p50"] > 0 and r["peak_mem_mb"] is None
    assert rows[("unetsharp-l1", "onnxruntime")]["params"] < rows[("tinyunet", "onnxruntime")]["params"]


def test_plot_writes_png(work: Path) -> None:
    res = work / "ort.json"
    if not res.exists():
        pytest.fail("needs test_cli_onnxruntime_json_schema_valid's output")
    out = work / "plot.png"
    assert main(["plot", str(res), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------- bad input


def test_missing_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--onnx", str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgeseg: error:") and "nope.onnx: no such ONNX file" in err and "\n" not in err


def test_size_and_batch_mismatch(tiny_onnx: Path) -> None:
    with pytest.raises(EdgesegError, match=r"exported for 64x64 inputs but --size 128 128.*--size 64 64"):
        precheck(make_config(backend="onnxruntime", artifact=str(tiny_onnx), size=[128, 128]))
    with pytest.raises(EdgesegError, match=r"exported for batch 1 but --batch 4"):
        precheck(make_config(backend="onnxruntime", artifact=str(tiny_onnx), batch=4))


def test_engine_without_gpu_names_the_gpus(tmp_path: Path) -> None:
    from edgeseg.bench.machine import has_nvidia_gpu

    if has_nvidia_gpu():
        pytest.skip("an NVIDIA GPU is present: the no-GPU refusal cannot be exercised here")
    eng = tmp_path / "m.engine"
    eng.write_bytes(b"\0" * 64)
    (tmp_path / "m.engine.json").write_text(json.dumps({"kind": "engine", "flavour": "tensorrt-rtx",
                                                         "target_compute_capabilities": ["8.6", "8.9"]}))
    with pytest.raises(EdgesegError, match=r"no NVIDIA GPU found.*TensorRT-RTX.*compute capability 8\.6, 8\.9"):
        precheck(make_config(backend="tensorrt-rtx", artifact=str(eng), device="cuda"))
    (tmp_path / "m.engine.json").unlink()
    with pytest.raises(EdgesegError, match=r"8\.0, 8\.6, 8\.9 or 12\.x"):
        precheck(make_config(backend="tensorrt", artifact=str(eng), device="cuda"))


def test_unknown_torch_model_lists_valid_names() -> None:
    with pytest.raises(EdgesegError, match="valid names"):
        precheck(make_config(backend="pytorch", artifact="resnet9000"))


@pytest.mark.gpu
def test_pytorch_cuda_compute_and_e2e_timed_separately() -> None:
    """On an NVIDIA GPU: CUDA-event compute-only latency beside end-to-end, device memory reported."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to PyTorch on this machine")
    r = run_config(make_config(model="tinyunet", backend="pytorch", artifact="tinyunet", device="cuda",
                               precision="fp16", size=list(SIZE), warmup=2, iters=5))
    assert r["latency_compute_ms"]["p50"] > 0 and r["peak_mem_mb"] > 0
    assert r["latency_compute_ms"]["p50"] <= r["latency_ms"]["p50"] * 1.5  # compute-only excludes the copies


def test_truncated_onnx_is_one_line_error(tiny_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(tiny_onnx.read_bytes()[:1000])
    assert main(["bench", "--onnx", str(bad)]) == 2
    assert "trunc.onnx: not a valid ONNX file" in capsys.readouterr().err
