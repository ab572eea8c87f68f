"""`edgeseg build-engine`: real TensorRT-RTX AOT builds on the CPU (no GPU needed), sidecars, reuse, file checks.

Every registered network is exported at 64x64 (or its size multiple), converted to FP16 and INT8 Q/DQ with
the quantize helper (INT8 calibrated on 4 synthetic images), and built. Engines are cheap to build (the
TensorRT-RTX AOT step takes ~0.5-3 s on 2 shared cores); export + quantize dominate.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from edgeseg import trt_compat as tc
from edgeseg.artifacts import read_sidecar, sha256_file, sidecar_path
from edgeseg.engine import build_engine_info
from edgeseg.errors import EdgesegError
from edgeseg.graph import onnx_precision
from edgeseg.models import get_model_info, list_models
from edgeseg.models.baselines import PAPER_BASELINES
from edgeseg.runtime.engine_file import check_engine_file

# Installed by the test command (pip install -e ".[dev,trt-rtx]"): builds need no GPU, so no skip.
trt = tc.import_trt("tensorrt-rtx")

BUILD_TIMES: dict[str, dict[str, float]] = {}


def _size(name: str) -> int:
    m = get_model_info(name).size_multiple
    return max(64, m)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("engines")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESEG_CACHE", str(root / "cache"))
        yield root


@pytest.fixture(scope="module")
def calib_sets(work: Path) -> dict[tuple[int, int], Path]:
    """One 4-image calibration manifest per (channels, size) the networks need."""
    from edgeseg.calib import make_calib
    from edgeseg.data.synth import make_synthetic

    out = {}
    for name in list_models(variants=False):
        c, s = get_model_info(name).reference_input[0], _size(name)
        if (c, s) not in out:
            data = make_synthetic(work / f"synth-c{c}-{s}", n=4, size=s, channels=c)
            out[(c, s)] = make_calib(data, n=4, out=work / f"calib-c{c}-{s}.json", size=(s, s), channels=c)
    return out


class _Engines:
    """name -> {"onnx": fp32 onnx, "fp16": EngineResult, "int8": EngineResult}, built on first use so one
    network's failure fails only its own tests."""

    def __init__(self, work: Path, calib_sets: dict) -> None:
        self.work, self.calib_sets, self.done = work, calib_sets, {}

    def __getitem__(self, name: str) -> dict[str, object]:
        if name not in self.done:
            self.done[name] = self._build(name)
        return self.done[name]

    def _build(self, name: str) -> dict[str, object]:
        from edgeseg.export import export_onnx

        c, s = get_model_info(name).reference_input[0], _size(name)
        t0 = time.perf_counter()
        # check=False: the export's own ORT-vs-PyTorch check is tests/test_export.py's business
        onnx = export_onnx(name, size=(s, s), check=False)
        res: dict[str, object] = {"onnx": onnx}
        times = {"export_s": time.perf_counter() - t0}
        for prec in ("fp16", "int8"):
            t0 = time.perf_counter()
            res[prec] = build_engine_info(onnx, precision=prec, calib=str(self.calib_sets[(c, s)]),
                                          backend="tensorrt-rtx", out=self.work / f"{name}-{prec}.engine")
            times[f"{prec}_total_s"] = time.perf_counter() - t0
            times[f"{prec}_build_s"] = res[prec].meta["build_seconds"]
        BUILD_TIMES[name] = {k: round(v, 2) for k, v in times.items()}
        report = os.environ.get("EDGESEG_ENGINE_TIMES")
        if report:  # per-network times, when asked (for the README/bench numbers)
            Path(report).write_text(json.dumps(BUILD_TIMES, indent=2) + "\n")
        return res


@pytest.fixture(scope="module")
def engines(work: Path, calib_sets: dict) -> _Engines:
    return _Engines(work, calib_sets)


@pytest.mark.parametrize("name", [n for n in list_models(variants=False) if n not in PAPER_BASELINES])
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_engine_built_with_sidecar(engines: dict, name: str, precision: str) -> None:
    res = engines[name][precision]
    s = _size(name)
    c = get_model_info(name).reference_input[0]
    assert res.path.is_file() and res.path.stat().st_size > 1000 and not res.reused
    meta = read_sidecar(res.path)
    assert meta is not None and meta == check_engine_file(res.path)
    assert meta["flavour"] == "tensorrt-rtx" and meta["trt_version"] == trt.__version__
    assert meta["precision"] == precision == onnx_precision(meta["onnx"]["path"])
    assert meta["onnx"]["sha256"] == sha256_file(meta["onnx"]["path"])
    assert meta["target_compute_capabilities"] == ["8.0", "8.6", "8.9", "12.0", "12.1"] and meta["default_targets"]
    assert meta["inputs"] == [{"name": "input", "shape": [1, c, s, s], "dtype": "float32"}]
    assert meta["profiles"] == [{"input": [[1, c, s, s]] * 3}]
    assert [o["name"] for o in meta["outputs"]] == ["logits"]
    assert meta["outputs"][0]["shape"][2:] == [s, s] and meta["outputs"][0]["dtype"] == "float32"
    assert meta["build_seconds"] > 0 and isinstance(meta["warnings"], list)
    assert meta["header_magic"] == b"vtrt".hex() and meta["size_bytes"] == res.path.stat().st_size


def test_int8_engine_smaller_than_fp16(engines: dict) -> None:
    """INT8 weights are stored as int8: the plan must be clearly smaller than the FP16 one (UNet: 31M params)."""
    fp16, int8 = engines["unet"]["fp16"].meta["size_bytes"], engines["unet"]["int8"].meta["size_bytes"]
    assert int8 < 0.7 * fp16, (int8, fp16)


def test_rebuild_same_inputs_is_cache_hit(engines: dict, calib_sets: dict, work: Path) -> None:
    name = list_models()[0]
    first = engines[name]["int8"]
    mtime = first.path.stat().st_mtime_ns
    c, s = get_model_info(name).reference_input[0], _size(name)
    t0 = time.perf_counter()
    again = build_engine_info(engines[name]["onnx"], precision="int8", calib=str(calib_sets[(c, s)]),
                              backend="tensorrt-rtx", out=first.path)
    assert again.reused and again.path == first.path and first.path.stat().st_mtime_ns == mtime
    assert again.meta["cache_key"] == first.meta["cache_key"]
    assert time.perf_counter() - t0 < 30
    # a changed option is a different engine
    other = build_engine_info(engines[name]["onnx"], precision="fp16", backend="tensorrt-rtx",
                              compute_capabilities=["8.6"], out=first.path)
    assert not other.reused and other.meta["target_compute_capabilities"] == ["8.6"]
    assert not other.meta["default_targets"] and other.meta["cache_key"] != first.meta["cache_key"]
    engines[name]["int8"] = other  # the file now holds this build


def _copy_engine(res, dst: Path, sidecar: bool = True) -> Path:
    shutil.copyfile(res.path, dst)
    if sidecar:
        shutil.copyfile(sidecar_path(res.path), sidecar_path(dst))
    return dst


def test_truncated_engine_refused(engines: dict, tmp_path: Path) -> None:
    res = engines["unet"]["fp16"]
    bad = _copy_engine(res, tmp_path / "trunc.engine")
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgesegError, match="truncated engine file"):
        check_engine_file(bad)
    sidecar_path(bad).unlink()  # without a sidecar: refused unless asked, then the RTX header catches it
    with pytest.raises(EdgesegError, match="no sidecar.*--no-sidecar-check"):
        check_engine_file(bad)
    with pytest.raises(EdgesegError, match="truncated TensorRT-RTX engine"):
        check_engine_file(bad, sidecar_check=False)
    # The runner refuses it the same way, before TensorRT deserializes anything (no GPU needed for that).
    from edgeseg.runtime.trt_runner import TensorRTRunner

    with pytest.raises(EdgesegError, match="truncated"), TensorRTRunner(bad, sidecar_check=False):
        pass


def test_foreign_header_refused(engines: dict, tmp_path: Path) -> None:
    res = engines["unet"]["int8"]
    bad = _copy_engine(res, tmp_path / "foreign.engine")
    data = bytearray(bad.read_bytes())
    data[:8] = b"ftrt\x00\x01\x02\x03"
    bad.write_bytes(bytes(data))
    with pytest.raises(EdgesegError, match="foreign engine header"):
        check_engine_file(bad)
    sidecar_path(bad).unlink()
    with pytest.raises(EdgesegError, match="no sidecar"):
        check_engine_file(bad)
    # unchecked: not recognisably TensorRT-RTX; the runner cannot tell the flavour and refuses
    from edgeseg.runtime.trt_runner import TensorRTRunner

    with pytest.raises(EdgesegError, match="flavour"), TensorRTRunner(bad, sidecar_check=False):
        pass
    with pytest.raises(EdgesegError, match="foreign engine header"), \
            TensorRTRunner(bad, sidecar_check=False, flavour="tensorrt-rtx"):
        pass
    # a flipped byte after the header: caught by the sidecar's sha256
    ok = _copy_engine(res, tmp_path / "flip.engine")
    data = bytearray(ok.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ok.write_bytes(bytes(data))
    with pytest.raises(EdgesegError, match="changed since it was built"):
        check_engine_file(ok)


def test_dynamic_batch_profile_and_targets(work: Path) -> None:
    """--shapes 1:2:4 on a dynamic-batch export; explicit AOT targets recorded."""
    from edgeseg.export import export_onnx

    name = "unetsharp" if "unetsharp" in list_models() else list_models()[0]
    s = _size(name)
    onnx = export_onnx(name, size=(s, s), batch="dynamic", check=False)
    res = build_engine_info(onnx, shapes=(1, 2, 4), backend="tensorrt-rtx", compute_capabilities=["8.6", "sm_120"],
                            out=work / "dyn.engine")
    c = get_model_info(name).reference_input[0]
    assert res.meta["profiles"] == [{"input": [[1, c, s, s], [2, c, s, s], [4, c, s, s]]}]
    assert res.meta["inputs"][0]["shape"] == [-1, c, s, s] and res.meta["precision"] == "fp32"
    assert res.meta["target_compute_capabilities"] == ["8.6", "12.0"]
    with pytest.raises(EdgesegError, match="batch is fixed"):
        build_engine_info(export_onnx(name, size=(s, s), check=False), shapes=(1, 2, 4), backend="tensorrt-rtx")


def test_cli_build_engine(engines: dict, work: Path, capsys: pytest.CaptureFixture) -> None:
    from edgeseg.cli import main

    name = list_models(variants=False)[-1]
    onnx = str(engines[name]["onnx"])
    out = work / "cli.engine"
    assert main(["build-engine", onnx, "--backend", "tensorrt-rtx", "--out", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["engine"] == str(out) and rep["precision"] == "fp32" and not rep["reused"]
    assert main(["build-engine", onnx, "--backend", "tensorrt-rtx", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["reused"] is True
    # RTX has no build-time timing cache; an unknown target is named with the valid ones
    assert main(["build-engine", onnx, "--backend", "tensorrt-rtx", "--timing-cache", str(work / "t.cache")]) == 2
    assert "no build-time timing cache" in capsys.readouterr().err
    assert main(["build-engine", onnx, "--backend", "tensorrt-rtx", "--compute-capability", "9.0"]) == 2
    err = capsys.readouterr().err
    assert "cannot target it" in err and "8.6" in err


def test_missing_tensorrt_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither module importable, build-engine names JetPack and the edgeseg[trt-rtx] extra."""
    import importlib.util

    from edgeseg import trt_compat

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n, *a: None if n in trt_compat.MODULES.values() else real(n, *a))
    with pytest.raises(EdgesegError, match=r"JetPack.*edgeseg\[trt-rtx\]"):
        build_engine_info("unet")


def test_the_loader_refuses_before_the_runner_gets_the_bytes(engines: dict, tmp_path: Path) -> None:
    """`load_engine` (the loader) checks file, flavour, runtime version and GPU in that order, on a real
    TensorRT-RTX engine: asked as another flavour it names both; a version other than this runtime's is refused;
    on a machine without an NVIDIA GPU it names the compute capabilities the engine targets."""
    import json

    from edgeseg.runtime.cuda import gpu_info
    from edgeseg.runtime.engine_loader import load_engine

    res = engines["tinyunet"]["fp16"]
    with pytest.raises(EdgesegError, match="a tensorrt-rtx engine, asked to run as tensorrt"):
        load_engine(res.path, flavour="tensorrt")
    other = _copy_engine(res, tmp_path / "version.engine")
    side = sidecar_path(other)
    meta = json.loads(side.read_text())
    side.write_text(json.dumps({**meta, "trt_version": "0.0.1"}))
    with pytest.raises(EdgesegError, match=r"built with tensorrt-rtx 0\.0\.1, this runtime is"):
        load_engine(other)
    if gpu_info() is None:
        with pytest.raises(EdgesegError, match=r"no NVIDIA GPU with compute capability 8\.0, 8\.6"):
            load_engine(res.path)
    else:
        checked = load_engine(res.path)
        assert checked.flavour == "tensorrt-rtx" and checked.gpu["cc"]
